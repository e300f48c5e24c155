//! Signed boot documents from the command line: `keygen`, a node with `--signing-key`, a client
//! with `--trust`; `sign` for a document served by any HTTP server; every refusal by name.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Output;

use common::{json, loopback_boot_node, loopback_bootstrap, run};
use pyrsia_boot_conformance::harness::{read_request, RawServer, TempDir};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// `file` in `dir`, as a command-line argument.
fn path(dir: &TempDir, file: &str) -> String {
    dir.0.join(file).display().to_string()
}

/// `keygen --out dir/name`; returns the printed public key.
fn keygen(dir: &TempDir, name: &str) -> String {
    let out = run(&["keygen", "--out", &path(dir, name)]);
    assert!(out.status.success(), "{out:?}");
    stdout(&out)
}

/// `bootstrap --url … --trust …` with a state file, as JSON.
fn bootstrap(url: &str, trust: &str, state: &str) -> (Output, serde_json::Value) {
    let out = loopback_bootstrap(
        "smol",
        &[
            "--url",
            url,
            "--trust",
            trust,
            "--state",
            state,
            "--timeout",
            "3",
            "--json",
        ],
    );
    let report = json(&out);
    (out, report)
}

/// The error messages of the report's failed sources.
fn source_errors(report: &serde_json::Value) -> Vec<String> {
    report["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event"] == "source_failed")
        .map(|e| e["error"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn signed_sequence(report: &serde_json::Value) -> Option<u64> {
    report["events"]
        .as_array()?
        .iter()
        .find(|e| e["event"] == "status_fetched")?["signed"]["sequence"]
        .as_u64()
}

#[test]
fn keygen_node_with_signing_key_and_trusting_client_round_trip() {
    let dir = TempDir::new();
    let public = keygen(&dir, "operator.key");
    let shown = run(&["public-key", &path(&dir, "operator.key")]);
    assert_eq!(
        stdout(&shown),
        public,
        "public-key prints what keygen printed"
    );
    let again = run(&["keygen", "--out", &path(&dir, "operator.key")]);
    assert_eq!(again.status.code(), Some(2), "keys are never overwritten");
    assert!(stderr(&again).contains("already exists"), "{again:?}");

    let key = path(&dir, "operator.key");
    let state = path(&dir, "state.json");
    let node = loopback_boot_node(&["--signing-key", &key, "--sequence", "3"]);
    let (out, report) = bootstrap(&node.url, &public, &state);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(signed_sequence(&report), Some(3), "{report}");
    // The key file works as --trust too.
    let (out, _) = bootstrap(&node.url, &key, &path(&dir, "other-state.json"));
    assert!(out.status.success(), "{out:?}");
    let saved = std::fs::read_to_string(&state).expect("state written");
    assert!(saved.contains("\"boot_sequences\""), "{saved}");
    drop(node);

    // The operator redeploys an older list (sequence 2): the client remembers 3 and refuses.
    let old = loopback_boot_node(&["--signing-key", &key, "--sequence", "2"]);
    let (out, report) = bootstrap(&old.url, &public, &state);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let errors = source_errors(&report);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("rolled back: sequence 2 is lower than 3")),
        "{errors:?}"
    );

    // Another operator's key, and no signature at all: refused by name.
    let stranger = keygen(&dir, "stranger.key");
    let (out, report) = bootstrap(&old.url, &stranger, &path(&dir, "s2.json"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        source_errors(&report)
            .iter()
            .any(|e| e.contains("which is not a trusted key")),
        "{report}"
    );
    let unsigned = loopback_boot_node(&[]);
    let (out, report) = bootstrap(&unsigned.url, &public, &path(&dir, "s3.json"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        source_errors(&report)
            .iter()
            .any(|e| e.contains("document is unsigned")),
        "{report}"
    );
}

#[test]
fn bad_trust_and_signing_arguments_are_named() {
    let out = run(&[
        "bootstrap",
        "--url",
        "http://127.0.0.1:9/status",
        "--trust",
        "nonsense",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("--trust nonsense: neither a public key"),
        "{out:?}"
    );
    let out = run(&["node", "--signing-key", "/nonexistent/operator.key"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(stderr(&out).contains("--signing-key"), "{out:?}");
    let out = run(&["sign", "--key", "/nonexistent/operator.key"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}

/// A static web server: every request gets `body` as JSON.
fn static_server(body: Vec<u8>) -> RawServer {
    RawServer::start(move |mut conn, _| {
        read_request(&mut conn);
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = conn.write_all(head.as_bytes());
        let _ = conn.write_all(&body);
    })
}

fn sign(key: &str, doc: &Path, out: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "sign",
        "--key",
        key,
        "--in",
        doc.to_str().expect("utf-8 path"),
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn a_document_signed_with_sign_and_served_statically_is_trusted_and_an_expired_one_is_not() {
    let dir = TempDir::new();
    let public = keygen(&dir, "operator.key");
    let key = path(&dir, "operator.key");
    // The list an operator publishes: one live boot node (which does not sign by itself).
    let node = loopback_boot_node(&[]);
    let doc = dir.0.join("status.json");
    std::fs::write(
        &doc,
        serde_json::json!({"peers_count": 0, "peer_id": "", "peer_addrs": [node.p2p_addr]})
            .to_string(),
    )
    .expect("write");
    let fresh = path(&dir, "fresh.json");
    let out = sign(
        &key,
        &doc,
        &fresh,
        &["--sequence", "5", "--valid-for", "600"],
    );
    assert!(out.status.success(), "{out:?}");
    let expired = path(&dir, "expired.json");
    // Issued two hours ago for one hour.
    let two_hours_ago = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        - 7200)
        .to_string();
    let out = sign(
        &key,
        &doc,
        &expired,
        &[
            "--sequence",
            "5",
            "--valid-for",
            "3600",
            "--issued-at",
            &two_hours_ago,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        stderr(&out).contains("clients will refuse it as expired"),
        "{out:?}"
    );
    let out = sign(&key, &doc, &path(&dir, "zero.json"), &["--valid-for", "0"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // A document without the signed field is refused up front.
    std::fs::write(dir.0.join("bad.json"), br#"{"peer_id":"x"}"#).expect("write");
    let out = sign(&key, &dir.0.join("bad.json"), &path(&dir, "x.json"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no peer_addrs field"), "{out:?}");

    let stale = static_server(std::fs::read(&expired).expect("signed"));
    let good = static_server(std::fs::read(&fresh).expect("signed"));
    let out = loopback_bootstrap(
        "smol",
        &[
            "--url",
            &stale.url,
            "--url",
            &good.url,
            "--trust",
            &public,
            "--timeout",
            "5",
            "--json",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let report = json(&out);
    assert_eq!(signed_sequence(&report), Some(5), "{report}");
    let errors = source_errors(&report);
    assert!(
        errors.iter().any(|e| e.contains("document expired at")),
        "{errors:?}"
    );
}
