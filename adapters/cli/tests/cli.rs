//! The `pyrsia-boot` binary as a user runs it: separate processes for the boot node and the
//! client, on loopback. Every spawned process is killed when its guard drops.

mod common;

use common::{json, loopback_boot_node, loopback_bootstrap, run, Running};
use pyrsia_boot_conformance::harness::TempDir;

/// Starts `pyrsia-boot node` on ephemeral loopback ports; returns it and its /status URL.
fn start_node() -> (Running, String) {
    start_node_on("smol")
}

/// [`start_node`] on the given `--runtime`.
fn start_node_on(runtime: &str) -> (Running, String) {
    let node = loopback_boot_node(&["--runtime", runtime]);
    (node.process, node.url)
}

#[test]
fn demo_connects_and_reports_a_verdict() {
    let out = run(&["demo", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let report = json(&out);
    assert_eq!(report["connected"], true, "{report}");
    assert_eq!(report["nat"]["verdict"], "public", "{report}");
}

#[test]
fn a_client_process_bootstraps_through_a_boot_node_process_on_either_runtime() {
    for node_rt in ["smol", "async-std"] {
        let (_node, url) = start_node_on(node_rt);
        for client_rt in ["smol", "async-std"] {
            let out = loopback_bootstrap(client_rt, &["--url", &url, "--json"]);
            let pair = format!("{client_rt} client, {node_rt} node");
            assert!(out.status.success(), "{pair}: {out:?}");
            let report = json(&out);
            assert_eq!(report["connected"], true, "{pair}: {report}");
            assert_eq!(report["nat"]["verdict"], "public", "{pair}: {report}");
        }
    }
}

#[test]
fn gives_up_with_a_reason_naming_what_was_tried_when_nothing_answers() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/status", dead.local_addr().expect("addr"));
    drop(dead);
    let out = run(&["bootstrap", "--url", &url, "--timeout", "3"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&url) && stderr.contains("connect failed"),
        "{stderr}"
    );
}

#[test]
fn bad_arguments_exit_2_and_help_explains_the_exit_codes() {
    assert_eq!(
        run(&["bootstrap", "--seed", "not-a-multiaddr"])
            .status
            .code(),
        Some(2)
    );
    // A multiaddr without /p2p/ is bad input too, for a seed and for a cluster peer, and the
    // message says what is missing.
    for args in [
        &["bootstrap", "--seed", "/ip4/198.51.100.1/tcp/4001"][..],
        &[
            "node",
            "--cluster-peer",
            "/ip4/198.51.100.1/tcp/44000",
            "--http",
            "127.0.0.1:0",
        ][..],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("/p2p/<peer id>"), "{stderr}");
    }
    let help = run(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Exit codes"), "{text}");
}

#[test]
fn a_typo_in_a_boot_url_exits_2_at_once_naming_the_value() {
    for (url, why) in [
        ("boot.example/status", "no scheme"),
        ("ftp://boot.example/status", "scheme ftp"),
        ("http://boot.example:99999/status", "port"),
    ] {
        let out = run(&["bootstrap", "--url", url, "--timeout", "60"]);
        assert_eq!(out.status.code(), Some(2), "{url}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(url) && stderr.contains(why),
            "{url}: {stderr}"
        );
        // Refused while reading the arguments, not after a round of retries: no timeline.
        assert!(out.stdout.is_empty(), "{url}: {out:?}");
    }
}

#[test]
fn a_state_file_lets_the_next_start_connect_through_the_cached_peer() {
    let (_node, url) = start_node();
    let dir = TempDir::new();
    let state = dir.0.join("state.json");
    let state_arg = state.to_str().expect("utf-8 path");
    let with_state =
        |url: &str| loopback_bootstrap("smol", &["--url", url, "--json", "--state", state_arg]);

    let first = with_state(&url);
    assert!(first.status.success(), "{first:?}");
    let saved = std::fs::read_to_string(&state).expect("the state file was written");
    assert!(
        saved.contains("\"good_peers\"") && saved.contains("\"last_seen\""),
        "{saved}"
    );
    assert!(
        saved.contains("\"public\""),
        "the final verdict is saved too: {saved}"
    );

    // Second start: the only URL is dead, but the cached boot peer is alive.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}/status", dead.local_addr().expect("addr"));
    drop(dead);
    let second = with_state(&dead_url);
    assert!(second.status.success(), "{second:?}");
    let report = json(&second);
    let fetched = report["events"]
        .as_array()
        .expect("events")
        .iter()
        .any(|e| e["event"] == "status_fetched" || e["event"] == "source_failed");
    assert!(
        !fetched,
        "connected from the cache without touching the URL: {report}"
    );
    assert_eq!(report["nat"]["verdict"], "public", "{report}");
    assert_eq!(
        report["nat_stale"], false,
        "re-confirmed in this run: {report}"
    );

    // A corrupt state file is ignored with a warning naming it, and the run still works.
    std::fs::write(&state, b"{not json").expect("write");
    let third = with_state(&url);
    assert!(third.status.success(), "{third:?}");
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert!(
        stderr.contains(state_arg) && stderr.contains("ignored"),
        "{stderr}"
    );
}

#[test]
fn the_demo_runs_on_async_std_too() {
    let out = run(&["--runtime", "async-std", "demo", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let report = json(&out);
    assert_eq!(report["connected"], true, "{report}");
    assert_eq!(report["nat"]["verdict"], "public", "{report}");
}

#[test]
fn https_on_async_std_and_an_unreadable_ca_file_are_refused_as_bad_arguments() {
    let out = run(&[
        "--runtime",
        "async-std",
        "bootstrap",
        "--url",
        "https://127.0.0.1:1/status",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("https://127.0.0.1:1/status") && stderr.contains("--runtime smol"),
        "{stderr}"
    );

    let missing = std::env::temp_dir().join(format!("pyrsia-boot-no-ca-{}", std::process::id()));
    let missing = missing.to_string_lossy().into_owned();
    let out = run(&[
        "bootstrap",
        "--url",
        "https://127.0.0.1:1/status",
        "--ca-cert",
        &missing,
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&missing), "{stderr}");
}

#[test]
fn a_pinned_boot_peer_is_the_only_one_accepted() {
    let (_node, url) = start_node();
    let status = json(&loopback_bootstrap("smol", &["--url", &url, "--json"]));
    let boot_peer = status["boot_peer"].as_str().expect("connected").to_string();

    let pinned = loopback_bootstrap(
        "smol",
        &["--url", &url, "--json", "--boot-peer", &boot_peer],
    );
    assert!(pinned.status.success(), "{pinned:?}");
    assert_eq!(json(&pinned)["boot_peer"], boot_peer.as_str());

    // Pinned to someone else: the list is refused, naming why, and the run gives up.
    let stranger = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
    let refused = loopback_bootstrap(
        "smol",
        &["--url", &url, "--timeout", "3", "--boot-peer", stranger],
    );
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("not pinned"), "{stderr}");
}

#[test]
fn listen_is_repeatable_for_both_address_families_on_node_and_client() {
    let node = loopback_boot_node(&["--listen", "/ip6/::1/tcp/0"]);
    // The node listens on both loopbacks (its first --listen is loopback_boot_node's
    // 127.0.0.1) and advertises both: on loopback there is nothing else to advertise.
    let url = node.url.clone();
    let status = smol::block_on(async move {
        use futures::{AsyncReadExt, AsyncWriteExt};
        let (host, path) = url
            .trim_start_matches("http://")
            .split_once('/')
            .expect("a path");
        let mut s = smol::net::TcpStream::connect(host).await.expect("connects");
        let req = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("writes");
        let mut response = String::new();
        s.read_to_string(&mut response).await.expect("reads");
        response
    });
    assert!(status.contains("/ip4/127.0.0.1/tcp/"), "{status}");
    assert!(status.contains("/ip6/::1/tcp/"), "{status}");
    let out = loopback_bootstrap(
        "smol",
        &["--listen", "/ip6/::1/tcp/0", "--url", &node.url, "--json"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(json(&out)["connected"], true);
}

/// The process's threads whose name starts with `prefix` (Linux: /proc/PID/task/*/comm), once
/// at least `want` are there or 5 s have passed: a new thread names itself after it starts.
fn threads_named(pid: u32, prefix: &str, want: usize) -> usize {
    let count = || {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("a Linux /proc");
        (tasks.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok()))
            .filter(|name| name.starts_with(prefix))
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let n = count();
        if n >= want || std::time::Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn a_boot_node_runs_its_connection_tasks_on_one_thread_per_core_or_as_told() {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    // smol's global executor runs one thread unless told: the CLI tells it.
    let node = loopback_boot_node(&[]);
    assert_eq!(threads_named(node.process.0.id(), "smol-", cores), cores);
    let node = loopback_boot_node(&["--threads", "3"]);
    assert_eq!(threads_named(node.process.0.id(), "smol-", 3), 3);
    // async-std's grows past its minimum when tasks block; the minimum is what is asked for.
    let node = loopback_boot_node(&["--runtime", "async-std", "--threads", "3"]);
    assert!(threads_named(node.process.0.id(), "async-std/runti", 3) >= 3);
    let out = run(&["--threads", "0", "demo"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
