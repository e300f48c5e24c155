//! Replays every committed fuzz seed (and, when present locally, the live fuzzing corpus)
//! through the same functions the fuzz targets call, on stable Rust.

use std::path::{Path, PathBuf};

fn files(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut out = Vec::new();
    for dir in ["seeds", "corpus"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        out.extend(
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file()),
        );
    }
    out.sort();
    out
}

fn replay(target: &str, body: fn(&[u8])) {
    let files = files(target);
    assert!(!files.is_empty(), "no seed files for {target}");
    for path in &files {
        let data = match std::fs::read(path) {
            Ok(data) => data,
            // A live fuzzer may remove a file it has just reduced.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{}: {e}", path.display()),
        };
        let outcome = std::panic::catch_unwind(|| body(&data));
        assert!(outcome.is_ok(), "{target} fails on {}", path.display());
    }
}

#[test]
fn status_parser_corpus_replays_cleanly() {
    replay("status_parser", pyrsia_boot_tests::fuzz::status_parser);
}

#[test]
fn machine_corpus_replays_cleanly() {
    replay("machine", pyrsia_boot_tests::fuzz::machine);
}

#[test]
fn bootnode_corpus_replays_cleanly() {
    replay("bootnode", pyrsia_boot_tests::fuzz::bootnode);
}

/// A committed seed of the status parser's corpus.
fn status_seed(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds/status_parser")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_pyrsia_sample_is_in_the_seed_corpus_and_parses() {
    let body = status_seed("pyrsia_sample.json");
    let options = pyrsia_boot_core::ParseOptions {
        policy: pyrsia_boot_core::AddressPolicy::allow_private(),
        ..Default::default()
    };
    let list = pyrsia_boot_core::parse_status(&body, &options).expect("parses");
    assert_eq!(list.peers.len(), 1);
}

#[test]
fn the_signed_seed_passes_the_trusted_pass() {
    // So the fuzzer starts from a document whose signature verifies, and mutates from there.
    let body = status_seed("signed_by_trusted_key.json");
    let options = pyrsia_boot_core::ParseOptions {
        policy: pyrsia_boot_core::AddressPolicy::allow_private(),
        trust: pyrsia_boot_core::Trust {
            keys: vec![pyrsia_boot_tests::fuzz::trusted_signer().public()],
            unix_time: Some(pyrsia_boot_tests::fuzz::FUZZ_NOW),
            sequences: Vec::new(),
        },
        ..Default::default()
    };
    let list = pyrsia_boot_core::parse_status(&body, &options).expect("verifies");
    assert_eq!(list.signed_by.map(|s| s.sequence), Some(7));
}
