//! What only the async-std adapter does (the shared scenarios are in `conformance.rs`).

use pyrsia_boot_core::HttpError;

#[test]
fn https_is_refused_with_a_reason_naming_the_runtime_that_supports_it() {
    let err = async_std::task::block_on(pyrsia_boot_async_std::get(
        "https://127.0.0.1:1/status".into(),
        1024,
    ))
    .expect_err("refused");
    assert!(
        matches!(&err, HttpError::InvalidUrl(m) if m.contains("smol") && m.contains("advisories")),
        "{err}"
    );
}
