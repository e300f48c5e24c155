//! `/status` requests per second: a boot node (`pyrsia-boot node`, release build, smol) next to
//! nginx serving the same document as a static file, and a boot node signing its document with
//! an operator key (`--signing-key`), all under `wrk` in one run, in rotating order.
//! Run: `cargo bench -p pyrsia-boot --bench status_throughput` (needs `nginx` and `wrk`).
//!
//! Each server gets one core's worth of work (nginx: one worker; the boot node: smol's one
//! executor thread); wrk runs one thread with 64 connections for 5 s per sample.
#![allow(clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{free_port, loopback_boot_node, nginx, BIN};
use pyrsia_boot_conformance::harness::TempDir;

const SAMPLES: usize = 5;

/// GET with curl-free std: one request on a fresh connection.
fn get(url: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').expect("a path");
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).expect("read");
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers");
    assert!(reply.starts_with(b"HTTP/1.1 200"), "{url}: not 200");
    reply[split + 4..].to_vec()
}

/// Requests per second from one wrk run.
fn wrk(url: &str) -> f64 {
    let out = Command::new("wrk")
        .args(["-t1", "-c64", "-d5s", url])
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let non_2xx = text.contains("Non-2xx");
    assert!(!non_2xx, "errors from {url}:\n{text}");
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in:\n{text}"))
}

fn main() {
    for tool in ["nginx", "wrk"] {
        if Command::new(tool).arg("-v").output().is_err() {
            println!("{tool} is not installed (apt-get install nginx-light wrk); nothing measured");
            return;
        }
    }
    // wrk connects from 127.0.0.1 too: lift the per-address HTTP cap.
    let node = loopback_boot_node(&["--http-max-connections-per-ip", "256"]);
    let status_url = node.url.clone();
    let scratch = TempDir::new();
    let dir = &scratch.0;
    let key = dir.join("operator.key");
    let made = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .expect("keygen runs");
    assert!(made.status.success(), "{made:?}");
    let key = key.display().to_string();
    let signing = loopback_boot_node(&[
        "--http-max-connections-per-ip",
        "256",
        "--signing-key",
        &key,
    ]);
    let signed_url = signing.url.clone();
    assert!(String::from_utf8_lossy(&get(&signed_url)).contains("\"signature\""));
    // The static file is the boot node's own document, byte for byte.
    let document = get(&status_url);
    std::fs::write(dir.join("status.json"), &document).expect("write");
    let port = free_port();
    let upstream = status_url
        .trim_start_matches("http://")
        .trim_end_matches("/status");
    let _nginx = nginx(dir, port, &[upstream.to_string()]);
    let static_url = format!("http://127.0.0.1:{port}/static-status");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(get(&static_url), document);

    let urls = [&status_url, &static_url, &signed_url];
    let mut samples: [Vec<f64>; 3] = Default::default();
    for i in 0..SAMPLES {
        // Rotate which goes first.
        for k in 0..3 {
            let j = (i + k) % 3;
            samples[j].push(wrk(urls[j]));
        }
    }
    let [mut ours, mut theirs, mut signed] = samples;
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (o, t, s) = (median(&mut ours), median(&mut theirs), median(&mut signed));
    println!(
        "/status under wrk -t1 -c64 -d5s, {SAMPLES} samples each, median requests/s ({} byte document)",
        document.len()
    );
    println!("boot node (hyper on smol, rendered per request): {o:.0}");
    println!("nginx static file (1 worker):                    {t:.0}");
    println!("boot node signing /status (cached signatures):  {s:.0}");
    println!("ratio boot node / nginx: {:.2}× (goal ≥ 0.5×)", o / t);
    println!("ratio signing / unsigned boot node: {:.2}×", s / o);
}
