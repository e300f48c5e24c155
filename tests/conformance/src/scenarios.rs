//! The scenarios, each generic over the [`Adapter`] it runs on.

use pyrsia_boot_libp2p::libp2p;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use libp2p::autonat::{self, InboundProbeEvent, OutboundProbeEvent};
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId};
use pyrsia_boot_core::{Event, Failure, GiveUpReason, NatVerdict, StatusDocument};
use pyrsia_boot_libp2p::state_file::{self, Loaded};
use pyrsia_boot_libp2p::{AbuseLimits, BootNodeConfig, Output, Runtime, Signing};

pub use crate::autonat_v2::{
    a_v2_only_boot_peer_gives_our_client_a_verdict,
    a_v2_only_boot_peer_makes_the_client_fully_connected,
    a_v2_only_client_gets_a_verdict_from_our_boot_node,
    a_v2_result_our_boot_node_could_not_dial_back_reads_as_unreachable,
};
pub use crate::cancel::{
    an_own_select_loop_on_the_event_driven_api_connects_while_dropping_wait,
    next_dropped_at_random_points_still_connects_with_a_verdict,
};
pub use crate::dial_back::{
    a_boot_peer_that_never_asks_but_answers_ours_makes_the_client_connected,
    a_dial_request_naming_another_peer_is_answered_bad_request,
    a_server_that_answers_ok_without_dialing_back_does_not_make_the_client_public,
    a_server_that_dials_back_from_another_identity_makes_the_client_public,
    a_verified_public_verdict_reaches_the_swarms_external_addresses,
    the_runtime_dials_from_a_chosen_source_address,
};
use crate::harness::*;
pub use crate::js::{
    a_js_libp2p_v2_client_gets_a_verdict_from_our_boot_node,
    a_js_libp2p_v2_only_boot_node_makes_our_client_fully_connected,
    our_client_gets_a_verdict_from_a_js_libp2p_v2_server,
};
use crate::Adapter;

/// The happy path: GET /status, dial, the boot node's dial-back request ⇒ Connected, and a
/// public verdict on loopback; the boot node's /metrics counts it.
pub fn a_client_connects_through_a_boot_node_and_learns_it_is_reachable<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let mut client = Client::<A>::start(loopback_config(vec![boot.status_url()])).await;
        client.run_until(connected_with_verdict).await;
        let events = client.events.clone();
        let connected = events.iter().find_map(|e| match e {
            Event::Connected { peer, elapsed, .. } => Some((*peer, *elapsed)),
            _ => None,
        });
        let (peer, elapsed) = connected.unwrap_or_else(|| panic!("not connected: {events:?}"));
        assert_eq!(peer, boot.peer_id);
        assert!(
            elapsed < Duration::from_secs(5),
            "connected after {elapsed:?}"
        );
        let public = events.iter().any(
            |e| matches!(e, Event::NatChanged(r) if matches!(r.verdict, NatVerdict::Public(_))),
        );
        assert!(public, "loopback is reachable: {events:?}");

        // The client answers the boot node's dial request a moment after its own verdict: keep
        // it running and poll /metrics until every line is there (bounded), then check.
        let metrics_url = boot.status_url().replace("/status", "/metrics");
        let deadline = Instant::now() + Duration::from_secs(5);
        let text = loop {
            let text = get_text::<A>(metrics_url.clone()).await;
            if text.contains("outcome=\"reachable\"} 1") || Instant::now() > deadline {
                break text;
            }
            client.pump_for(Duration::from_millis(20)).await;
        };
        for line in [
            "pyrsia_boot_status_requests_total 1",
            "pyrsia_boot_dial_requests_total{outcome=\"sent\"} 1",
            "pyrsia_boot_dial_requests_total{outcome=\"reachable\"} 1",
            "pyrsia_boot_autonat_probes_served_total{outcome=\"request\"} 1",
            // The joiner's wait from its finished handshake to its dial request, measured.
            "pyrsia_boot_handshake_to_dial_request_seconds_count 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in:\n{text}"
            );
        }
        assert!(
            text.contains("libp2p_swarm_connections_established_total"),
            "{text}"
        );
    });
}

/// A URL where nothing listens fails at once and the next URL is used.
pub fn a_dead_first_url_falls_through_to_a_live_one<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let dead_url = format!("http://{}/status", localhost(dead_port()));
        let events = run_client::<A>(vec![dead_url.clone(), boot.status_url()]).await;
        let failed = events
            .iter()
            .any(|e| matches!(e, Event::SourceFailed(t) if t.source.to_string() == dead_url));
        assert!(failed, "{events:?}");
        assert_eq!(connected_via(&events), [boot.peer_id], "{events:?}");
    });
}

/// An HTTP 500 is a failed source, named with its status.
pub fn a_500_from_the_first_url_falls_through_to_the_second<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let bad = scripted_server::<A>(vec![(500, b"boom".to_vec())]).await;
        let events = run_client::<A>(vec![bad.url.clone(), boot.status_url()]).await;
        let failed = events
            .iter()
            .any(|e| matches!(e, Event::SourceFailed(t) if t.failure == Failure::HttpStatus(500)));
        assert!(failed, "{events:?}");
        assert_eq!(connected_via(&events), [boot.peer_id]);
    });
}

/// One URL answering 500, then (on the retry round) a good document.
pub fn a_500_then_a_good_document_from_the_same_url_connects<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let good = pyrsia_document(&[&boot.p2p_addr]);
        let server = scripted_server::<A>(vec![(500, b"busy".to_vec()), (200, good)]).await;
        let events = run_client::<A>(vec![server.url.clone()]).await;
        let failed = events
            .iter()
            .any(|e| matches!(e, Event::SourceFailed(t) if t.failure == Failure::HttpStatus(500)));
        assert!(failed, "{events:?}");
        let retried = events
            .iter()
            .any(|e| matches!(e, Event::RetryScheduled { .. }));
        assert!(retried, "{events:?}");
        assert_eq!(connected_via(&events), [boot.peer_id]);
        assert_eq!(server.served.load(std::sync::atomic::Ordering::SeqCst), 2);
    });
}

/// One URL answering garbage, then (on the retry round) a good document.
pub fn a_garbage_body_then_a_good_document_connects<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let good = pyrsia_document(&[&boot.p2p_addr]);
        let server = scripted_server::<A>(vec![(200, b"\x00<html>".to_vec()), (200, good)]).await;
        let events = run_client::<A>(vec![server.url.clone()]).await;
        let bad = events.iter().any(
            |e| matches!(e, Event::SourceFailed(t) if matches!(t.failure, Failure::BadDocument(_))),
        );
        assert!(bad, "{events:?}");
        assert_eq!(connected_via(&events), [boot.peer_id]);
        assert_eq!(server.served.load(std::sync::atomic::Ordering::SeqCst), 2);
    });
}

/// A listed peer that refuses connections is skipped for the next one.
pub fn one_dead_boot_peer_of_three_is_skipped<A: Adapter>() {
    A::block_on(async {
        let (a, b) = (boot_node::<A>().await, boot_node::<A>().await);
        let dead: Multiaddr = format!(
            "/ip4/127.0.0.1/tcp/{}/p2p/{}",
            dead_port(),
            PeerId::random()
        )
        .parse()
        .expect("valid");
        let server = scripted_server::<A>(vec![(
            200,
            pyrsia_document(&[&dead, &a.p2p_addr, &b.p2p_addr]),
        )])
        .await;
        let mut config = loopback_config(vec![server.url.clone()]);
        config.max_concurrent_dials = 1;
        let events = run_client_with::<A>(config, connected_with_verdict).await;
        let dial_failed = events.iter().any(|e| matches!(e, Event::DialFailed(_)));
        assert!(dial_failed, "{events:?}");
        assert_eq!(connected_via(&events), [a.peer_id]);
    });
}

/// Losing the boot peer after Connected starts a new bootstrap, which goes through another.
pub fn a_killed_boot_node_makes_the_client_bootstrap_again_through_another<A: Adapter>() {
    A::block_on(async {
        let (a, b) = (boot_node::<A>().await, boot_node::<A>().await);
        let (a_url, b_url, a_id) = (a.status_url(), b.status_url(), a.peer_id);
        let mut a = Some(a);
        let events = run_client_with::<A>(loopback_config(vec![a_url, b_url]), |events| {
            // Once connected through A with a verdict, kill A (dropping its handle stops its
            // swarm and its HTTP listener). Done when connected a second time.
            if connected_via(events).len() == 1 && connected_with_verdict(events) {
                a.take();
            }
            connected_via(events).len() == 2
        })
        .await;
        assert!(a.is_none(), "A was never killed: {events:?}");
        assert_eq!(connected_via(&events), [a_id, b.peer_id], "{events:?}");
        assert!(events.contains(&Event::Rebootstrapping), "{events:?}");
    });
}

/// Nothing answers: the client gives up within its rounds, naming every source it tried.
pub fn every_source_dead_gives_up_naming_each_one<A: Adapter>() {
    A::block_on(async {
        let dead: Vec<String> = (0..2)
            .map(|_| format!("http://{}/status", localhost(dead_port())))
            .collect();
        let mut config = loopback_config(dead.clone());
        config.backoff.initial = Duration::from_millis(20);
        config.backoff.max_rounds = 2;
        let events = run_client_with::<A>(config, |_| false).await;
        let gave_up = events
            .iter()
            .find_map(|e| match e {
                Event::GaveUp(g) => Some(g.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no GaveUp: {events:?}"));
        assert_eq!(gave_up.reason, GiveUpReason::RoundsExhausted, "{gave_up}");
        assert_eq!(gave_up.rounds, 2, "{gave_up}");
        let text = gave_up.to_string();
        for url in &dead {
            assert!(text.contains(url.as_str()), "{url} not named in: {text}");
        }
        assert!(connected_via(&events).is_empty());
    });
}

/// Pyrsia compatibility, our side: a boot document of only Pyrsia's three fields.
pub fn our_client_works_with_a_document_of_only_the_three_pyrsia_fields<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let body = pyrsia_document(&[&boot.p2p_addr]);
        let fields = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body)
            .expect("object")
            .len();
        assert_eq!(fields, 3);
        let server = scripted_server::<A>(vec![(200, body)]).await;
        let events = run_client::<A>(vec![server.url.clone()]).await;
        assert_eq!(connected_via(&events), [boot.peer_id], "{events:?}");
    });
}

/// What Pyrsia's node runs: identify (as "ipfs/1.0.0") and AutoNAT v1.
#[derive(libp2p::swarm::NetworkBehaviour)]
#[behaviour(prelude = "libp2p::swarm::derive_prelude")]
#[allow(missing_debug_implementations)] // a test behaviour
pub struct PyrsiaLike {
    identify: libp2p::identify::Behaviour,
    autonat: autonat::Behaviour,
}

/// Pyrsia compatibility, their side: Pyrsia's client steps (GET /status, take
/// `peer_addrs[0]`, add it as AutoNAT server) against our boot node reach both of Pyrsia's
/// signals: an inbound probe request from the boot node and an answer to its own probe.
pub fn a_pyrsia_style_client_works_against_our_boot_node<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let key = Keypair::generate_ed25519();
        // Pyrsia's AutoNAT settings (pyrsia_node src/network/p2p.rs), except two a loopback
        // test needs: a 1 s boot delay instead of 5 s, and non-global IPs allowed.
        let autonat_config = autonat::Config {
            retry_interval: Duration::from_secs(10),
            refresh_interval: Duration::from_secs(30),
            boot_delay: Duration::from_secs(1),
            throttle_server_period: Duration::ZERO,
            only_global_ips: false,
            ..autonat::Config::default()
        };
        let behaviour = PyrsiaLike {
            identify: libp2p::identify::Behaviour::new(libp2p::identify::Config::new(
                "ipfs/1.0.0".into(),
                key.public(),
            )),
            autonat: autonat::Behaviour::new(key.public().to_peer_id(), autonat_config),
        };
        let mut swarm = A::swarm(&key, behaviour);
        swarm.listen_on(any_loopback_port()).expect("listen");

        let doc: serde_json::Value =
            serde_json::from_str(&get_text::<A>(boot.status_url()).await).expect("json");
        let first: Multiaddr = doc["peer_addrs"][0]
            .as_str()
            .expect("a string")
            .parse()
            .expect("a multiaddr");
        let Some(Protocol::P2p(peer)) = first.iter().last() else {
            panic!("peer_addrs[0] has no /p2p/: {first}");
        };
        assert_eq!(peer, boot.peer_id);
        swarm.behaviour_mut().autonat.add_server(peer, Some(first));

        let guard = A::runtime()
            .timer(Instant::now() + Duration::from_secs(15))
            .fuse();
        let mut guard = std::pin::pin!(guard);
        let (mut inbound_request, mut own_answer) = (false, false);
        while !(inbound_request && own_answer) {
            futures::select! {
                e = swarm.select_next_some() => match e {
                    SwarmEvent::Behaviour(PyrsiaLikeEvent::Autonat(autonat::Event::InboundProbe(
                        InboundProbeEvent::Request { peer: p, .. },
                    ))) if p == peer => inbound_request = true,
                    SwarmEvent::Behaviour(PyrsiaLikeEvent::Autonat(autonat::Event::OutboundProbe(
                        OutboundProbeEvent::Response { peer: p, .. },
                    ))) if p == peer => own_answer = true,
                    _ => {}
                },
                () = guard => panic!(
                    "within 15 s: inbound request {inbound_request}, own probe answered {own_answer}"
                ),
            }
        }
    });
}

/// A `/dns4/localhost/…` boot address is resolved by the adapter and the IP dialed.
pub fn a_dns_boot_address_is_resolved_and_dialed<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let port = tcp_port(&boot.p2p_addr);
        let named: Multiaddr = format!("/dns4/localhost/tcp/{port}/p2p/{}", boot.peer_id)
            .parse()
            .expect("valid");
        let server = scripted_server::<A>(vec![(200, pyrsia_document(&[&named]))]).await;
        let events = run_client::<A>(vec![server.url.clone()]).await;
        let via_ip = events.iter().any(|e| {
            matches!(e, Event::BootPeerConnected { addr: Some(a), .. }
                if a.to_string().starts_with("/ip4/127.0.0.1/"))
        });
        assert!(via_ip, "{events:?}");
        assert_eq!(connected_via(&events), [boot.peer_id]);
    });
}

/// A boot list of `/dnsaddr` names, as Kubo's is, against a nameserver the test runs on
/// loopback: `boot.test` points at `ams.boot.test`, whose records list another peer and the
/// boot node; the client follows both levels, dials only the boot node's own record, and
/// connects. A name the nameserver does not know fails its own dial, naming the answer.
pub fn a_dnsaddr_boot_address_is_followed_through_a_local_nameserver<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let stranger = Keypair::generate_ed25519().public().to_peer_id();
        let dns = crate::dns::Nameserver::start(&[
            (
                "_dnsaddr.boot.test.",
                vec![format!(
                    "dnsaddr=/dnsaddr/ams.boot.test/p2p/{}",
                    boot.peer_id
                )],
            ),
            (
                "_dnsaddr.ams.boot.test.",
                vec![
                    format!("dnsaddr=/ip4/127.0.0.1/tcp/9/p2p/{stranger}"),
                    format!("dnsaddr={}", boot.p2p_addr),
                ],
            ),
        ]);
        let listed: Multiaddr = format!("/dnsaddr/boot.test/p2p/{}", boot.peer_id)
            .parse()
            .expect("valid");
        let missing: Multiaddr = format!("/dnsaddr/missing.test/p2p/{stranger}")
            .parse()
            .expect("valid");
        let server = scripted_server::<A>(vec![(200, pyrsia_document(&[&listed, &missing]))]).await;
        let mut client = Client::<A>::start(loopback_config(vec![server.url.clone()])).await;
        client.driver.set_nameserver(dns.addr);
        client
            .run_until(|events| {
                connected_with_verdict(events)
                    && events.iter().any(|e| matches!(e, Event::DialFailed(_)))
            })
            .await;
        let events = &client.events;
        assert_eq!(connected_via(events), [boot.peer_id], "{events:?}");
        let via = events.iter().find_map(|e| match e {
            Event::BootPeerConnected { addr: Some(a), .. } => Some(a.to_string()),
            _ => None,
        });
        let boot_addr = pyrsia_boot_core::without_p2p(&boot.p2p_addr).to_string();
        assert_eq!(via.as_deref(), Some(boot_addr.as_str()), "{events:?}");
        let failed = events.iter().find_map(|e| match e {
            Event::DialFailed(t) => Some(t.failure.to_string()),
            _ => None,
        });
        assert!(
            failed
                .as_deref()
                .is_some_and(|f| f.contains("_dnsaddr.missing.test") && f.contains("no such name")),
            "{failed:?}"
        );
        let mut asked = dns.asked();
        asked.sort();
        asked.dedup();
        assert_eq!(
            asked,
            [
                "_dnsaddr.ams.boot.test.",
                "_dnsaddr.boot.test.",
                "_dnsaddr.missing.test."
            ],
        );
    });
}

/// Two cluster members exchange loads; A's document lists B's one client.
pub fn cluster_members_list_each_others_load<A: Adapter>() {
    A::block_on(async {
        let fast = || BootNodeConfig {
            private_network: true,
            load_interval: Duration::from_millis(100),
            ..BootNodeConfig::default()
        };
        let (a, b) = (
            boot_node_with::<A>(fast()).await,
            boot_node_with::<A>(fast()).await,
        );
        a.set_cluster(vec![b.p2p_addr.clone()]);
        b.set_cluster(vec![a.p2p_addr.clone()]);
        // A client on B (B's document lists A too: dial only B), kept alive while A's
        // document is checked.
        let mut config = loopback_config(vec![b.status_url()]);
        config.max_concurrent_dials = 1;
        let mut client = Client::<A>::start(config).await;
        client
            .run_until(|e| e.iter().any(|e| matches!(e, Event::Connected { .. })))
            .await;
        let b_id = b.peer_id.to_string();
        let lists_b = |doc: &serde_json::Value| {
            doc["peer_loads"].as_array().is_some_and(|l| {
                l.iter()
                    .any(|e| e["peer_id"] == b_id.as_str() && e["peers_count"] == 1)
            })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let doc = loop {
            client.pump_for(Duration::from_millis(50)).await;
            let doc: serde_json::Value =
                serde_json::from_str(&get_text::<A>(a.status_url()).await).expect("json");
            if lists_b(&doc) || Instant::now() > deadline {
                break doc;
            }
        };
        assert!(
            lists_b(&doc),
            "A's document should list B with its one client: {doc}"
        );
        assert_eq!(doc["peers_count"], 0, "A's own load excludes B: {doc}");
    });
}

/// State that survives a restart: the first run's snapshot, written to a state file and read
/// back, makes the second run dial the cached peer first (its boot URL is now dead) and report
/// the old verdict as stale until it is confirmed again.
pub fn a_restart_with_a_state_file_connects_through_the_cached_peer<A: Adapter>() {
    A::block_on(async {
        let dir = TempDir::new();
        let path = dir.0.join("state.json");
        let boot = boot_node::<A>().await;

        let mut first = Client::<A>::start(loopback_config(vec![boot.status_url()])).await;
        first.run_until(connected_with_verdict).await;
        // The snapshot after the verdict may still be queued in the driver.
        for out in first.driver.flush(&mut first.swarm) {
            if let Output::Persist(s) = out {
                first.persisted.push(s);
            }
        }
        let snapshot = first.persisted.last().cloned().expect("a snapshot");
        assert!(
            matches!(snapshot.nat, NatVerdict::Public(_)),
            "{snapshot:?}"
        );
        state_file::save(&path, &snapshot).expect("save");
        drop(first);

        let Loaded::Snapshot(loaded) = state_file::load(&path) else {
            panic!("state file unreadable: {:?}", state_file::load(&path));
        };
        assert_eq!(loaded.good_peers.len(), 1);
        let dead_url = format!("http://{}/status", localhost(dead_port()));
        let mut config = loopback_config(vec![dead_url]);
        config.restore(loaded);
        let mut second = Client::<A>::start(config).await;
        let status = second.driver.machine().status();
        assert!(status.nat_stale && matches!(status.nat, NatVerdict::Public(_)));
        second.run_until(connected_with_verdict).await;
        let events = &second.events;
        assert_eq!(connected_via(events), [boot.peer_id], "{events:?}");
        let fetched = events
            .iter()
            .any(|e| matches!(e, Event::StatusFetched { .. } | Event::SourceFailed(_)));
        assert!(
            !fetched,
            "the cached peer should be tried before any URL: {events:?}"
        );
        assert!(!second.driver.machine().status().nat_stale);
    });
}

/// The adapter's embedding example, built beside this test binary:
/// target/<profile>/deps/<test> → target/<profile>/examples/<example>.
fn embed_example<A: Adapter>() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let example = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples").join(A::EMBED_EXAMPLE))
        .expect("target layout");
    assert!(example.exists(), "{} not built", example.display());
    example
}

/// The embedding example, run as a newcomer would: `--help` prints a usage line and exits 0;
/// a typo in a boot URL is named with the usage and exits 2, instead of being taken for a boot
/// URL and retried round after round.
pub fn the_embedding_example_shows_its_usage_and_refuses_a_typo<A: Adapter>() {
    let example = embed_example::<A>();
    let run = |args: &[&str]| {
        std::process::Command::new(&example)
            .args(args)
            .output()
            .expect("the example runs")
    };
    let help = run(&["--help"]);
    assert!(help.status.success(), "{help:?}");
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("usage:"),
        "{help:?}"
    );
    for args in [&["boot.example/status"][..], &["--verbose"][..]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(args[0]) && stderr.contains("usage:"),
            "{stderr}"
        );
    }
}

/// The adapter's embedding example, as a user runs it: pyrsia-boot in the example's own swarm
/// beside its own identify, AutoNAT and protocol, on the event-driven API. It connects, prints
/// a verdict and shuts down cleanly with its state written. The first run stops by itself
/// once it has a verdict. The second starts from the first's state with a second boot node's
/// URL as well; once connected, the boot node it connected through is killed, it bootstraps
/// again through the other, and Ctrl-C (SIGINT) stops it.
pub fn the_embedding_example_connects_through_a_boot_node<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let mut other = Some(boot_node::<A>().await);
        let other_id = other.as_ref().map(|b| b.peer_id).expect("started");
        let other_url = other.as_ref().map(|b| b.status_url()).expect("started");
        let mut boot = Some(boot);
        let (boot_id, boot_url) = boot
            .as_ref()
            .map(|b| (b.peer_id, b.status_url()))
            .expect("started");
        let example = embed_example::<A>();
        let dir = TempDir::new();
        let state = dir.0.join("state.json");
        for run in ["first", "second"] {
            let mut command = std::process::Command::new(&example);
            command.arg(&boot_url).arg("--state").arg(&state);
            if run == "first" {
                command.arg("--until-verdict");
            } else {
                command.arg(&other_url);
            }
            let mut child = command
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("the example starts");
            // Its lines as they come, read on a thread of their own.
            let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
            let stdout = child.stdout.take().expect("piped");
            let reader = std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                {
                    let _ = lines_tx.send(line);
                }
            });
            let deadline = Instant::now() + GUARD;
            let (mut output, mut interrupted) = (String::new(), false);
            let mut killed = None;
            let status = loop {
                while let Ok(line) = lines.try_recv() {
                    output.push_str(&line);
                    output.push('\n');
                }
                if run == "second" && killed.is_none() && output.contains("verdict: ") {
                    // Kill the boot node it connected through (dropping the handle stops it).
                    if output.contains(&format!("connected via {boot_id}")) {
                        killed = boot.take().map(|b| b.peer_id);
                    } else if output.contains(&format!("connected via {other_id}")) {
                        killed = other.take().map(|b| b.peer_id);
                    }
                }
                let survivor = match killed {
                    Some(id) if id == boot_id => Some(other_id),
                    Some(_) => Some(boot_id),
                    None => None,
                };
                let again =
                    survivor.is_some_and(|id| output.contains(&format!("connected via {id}")));
                if again && !interrupted {
                    let sent = std::process::Command::new("kill")
                        .args(["-INT", &child.id().to_string()])
                        .status()
                        .expect("kill runs");
                    assert!(sent.success(), "SIGINT not delivered");
                    interrupted = true;
                }
                if let Some(status) = child.try_wait().expect("wait") {
                    break status;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "{} ({run} run) did not finish within {GUARD:?} (killed {killed:?}, \
                         SIGINT sent: {interrupted}): {output}",
                        A::EMBED_EXAMPLE
                    );
                }
                // The boot node runs on the runtime's own threads; this only paces the polling.
                A::runtime()
                    .timer(Instant::now() + Duration::from_millis(10))
                    .await;
            };
            reader.join().expect("reader");
            while let Ok(line) = lines.try_recv() {
                output.push_str(&line);
                output.push('\n');
            }
            assert!(status.success(), "{run} run: {status}: {output}");
            assert_eq!(interrupted, run == "second", "{run} run: {output}");
            if run == "second" {
                assert!(output.contains("Rebootstrapping"), "{output}");
            }
            for line in [
                "connected via ".to_string(),
                "verdict: ".to_string(),
                "shut down cleanly".to_string(),
            ] {
                assert!(output.contains(&line), "{run} run lacks {line:?}: {output}");
            }
            match state_file::load(&state) {
                Loaded::Snapshot(snapshot) => assert!(
                    snapshot.good_peers.iter().any(|p| p.peer.id == boot_id),
                    "{run} run's snapshot lacks the boot peer: {snapshot:?}"
                ),
                other => panic!("{run} run left no usable state: {other:?}"),
            }
            assert_eq!(
                output.contains("restored state from"),
                run == "second",
                "{run} run: {output}"
            );
        }
    });
}

/// A boot node's per-IP connection limit counts connections from the TCP accept: two raw
/// connections from 127.0.0.1 that never finish a handshake fill it, a client from the same
/// address is refused and gives up, and once they close a client gets in again.
pub fn a_boot_node_refuses_connections_past_its_per_ip_limit<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node_with::<A>(BootNodeConfig {
            private_network: true,
            limits: AbuseLimits {
                max_per_ip: 2,
                ..AbuseLimits::default()
            },
            ..BootNodeConfig::default()
        })
        .await;
        let port = tcp_port(&boot.p2p_addr);
        let squatters: Vec<std::net::TcpStream> = (0..2)
            .map(|_| std::net::TcpStream::connect(localhost(port)).expect("connect"))
            .collect();
        let mut config = loopback_config(vec![boot.status_url()]);
        config.backoff.initial = Duration::from_millis(20);
        config.backoff.max_rounds = 2;
        let refused = run_client_with::<A>(config.clone(), |_| false).await;
        assert!(connected_via(&refused).is_empty(), "{refused:?}");
        assert!(
            refused.iter().any(|e| matches!(e, Event::GaveUp(_))),
            "{refused:?}"
        );

        // The squatters leave; the slots come back (bounded: the close reaches the boot node
        // within moments).
        drop(squatters);
        let deadline = Instant::now() + GUARD;
        loop {
            let events = run_client_with::<A>(config.clone(), |e| {
                e.iter().any(|e| matches!(e, Event::Connected { .. }))
            })
            .await;
            if connected_via(&events) == [boot.peer_id] {
                break;
            }
            assert!(Instant::now() < deadline, "never admitted: {events:?}");
        }
    });
}

/// The HTTP server's limits: connections over the per-address cap are closed on accept (all
/// of these come from 127.0.0.1), a slot comes back when a connection ends, and no
/// connection outlives the connection time.
pub fn the_status_server_caps_connections_and_their_lifetime<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node_with::<A>(BootNodeConfig {
            private_network: true,
            limits: AbuseLimits {
                http_max_connections: 3,
                http_max_per_ip: 2,
                http_connection_time: Duration::from_millis(300),
                ..AbuseLimits::default()
            },
            ..BootNodeConfig::default()
        })
        .await;
        // Two idle connections (no request sent) take both slots.
        let idle: Vec<std::net::TcpStream> = (0..2)
            .map(|_| std::net::TcpStream::connect(boot.http_addr).expect("connect"))
            .collect();
        let refused = A::runtime().http_get(boot.status_url(), 65536).await;
        assert!(
            refused.is_err(),
            "a third connection was served: {refused:?}"
        );

        // The server closes the idle ones at the connection time: read sees end of stream.
        for mut s in idle {
            s.set_read_timeout(Some(GUARD)).expect("timeout");
            let mut buf = [0u8; 16];
            let n = std::io::Read::read(&mut s, &mut buf).unwrap_or(0);
            assert_eq!(n, 0, "the server should have closed the idle connection");
        }
        // Slots are back: a request is served (bounded retry, the closes may still be settling).
        let deadline = Instant::now() + GUARD;
        loop {
            if let Ok(reply) = A::runtime().http_get(boot.status_url(), 65536).await {
                assert_eq!(reply.status, 200);
                break;
            }
            assert!(Instant::now() < deadline, "no slot came back");
            A::runtime()
                .timer(Instant::now() + Duration::from_millis(20))
                .await;
        }
    });
}

/// Hostile boot documents, each served by a URL listed before a good one: every one fails
/// with a reason naming the cause (or, where the document still holds a usable peer, is used
/// with the bad entries counted), and the client still connects.
pub fn hostile_documents_fail_with_their_cause_and_the_next_source_is_used<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let me = boot.p2p_addr.to_string();
        // One client's identity is fixed so a document can name it (each case runs a new
        // client; only that case uses this identity, the boot node sees each id once).
        let client_key = Keypair::generate_ed25519();
        let client_id = client_key.public().to_peer_id();
        // 20,000 deep fits under the 64 KiB body limit: the parser must get through (or stop
        // at) the depth without exhausting its stack. 100,000 deep does not fit.
        let deep_by = |field: &str, depth: usize| {
            format!(
                r#"{{"{field}": {}{}}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            )
            .into_bytes()
        };
        let deep = |field: &str| deep_by(field, 20_000);
        let own = format!("/ip4/127.0.0.1/tcp/9/p2p/{client_id}");
        let many: Vec<String> = (0..100_000)
            .map(|i| format!("/ip4/10.0.{}.{}/tcp/1", i / 256 % 256, i % 256))
            .collect();
        let cases: Vec<(&str, u16, Vec<u8>, Option<&str>)> = vec![
            ("10 MiB body", 200, vec![b' '; 10 << 20], Some("body exceeds 65536 bytes")),
            ("100k entries", 200, serde_json::json!({ "peer_addrs": many }).to_string().into_bytes(), Some("body exceeds")),
            ("nested 20k deep in an unknown field", 200, deep("x"), Some("no peer_addrs field")),
            ("nested 20k deep in peer_addrs", 200, deep("peer_addrs"), Some("recursion limit exceeded")),
            ("nested 100k deep", 200, deep_by("peer_addrs", 100_000), Some("body exceeds 65536 bytes")),
            ("the same peer 10k times", 200, serde_json::json!({ "peer_addrs": vec![me.clone(); 10_000] }).to_string().into_bytes(), Some("body exceeds 65536 bytes")),
            ("only the client's own peer id", 200, serde_json::json!({ "peer_addrs": [own.clone(), own.clone()] }).to_string().into_bytes(), Some("2 naming this node")),
            ("204 no content", 204, Vec::new(), Some("not valid JSON")),
            ("404", 404, b"not found".to_vec(), Some("HTTP status 404")),
            ("503", 503, b"busy".to_vec(), Some("HTTP status 503")),
            ("HTML", 200, b"<html><body>maintenance</body></html>".to_vec(), Some("not valid JSON")),
            ("invalid UTF-8", 200, b"{\"peer_addrs\": [\"\xff\xfe\"]}".to_vec(), Some("not valid JSON")),
            ("huge numbers", 200, br#"{"peers_count": 1e400, "peer_addrs": [1e400, 18446744073709551616]}"#.to_vec(), Some("number out of range")),
            ("only unspecified addresses", 200, serde_json::json!({ "peer_addrs": [format!("/ip4/0.0.0.0/tcp/1/p2p/{}", boot.peer_id)] }).to_string().into_bytes(), Some("not routable")),
            ("not an object", 200, b"[]".to_vec(), Some("not a JSON object")),
            ("peer_addrs not an array", 200, br#"{"peer_addrs": 7}"#.to_vec(), Some("peer_addrs is not")),
            // Still usable: one good entry after 500 copies of itself.
            ("the same peer 500 times", 200, serde_json::json!({ "peer_addrs": vec![me.clone(); 500] }).to_string().into_bytes(), None),
        ];
        check_peak_rss("building the hostile documents (boot node up, no client yet)");
        for (name, status, body, expected) in cases {
            let key = if body.windows(own.len()).any(|w| w == own.as_bytes()) {
                client_key.clone()
            } else {
                Keypair::generate_ed25519()
            };
            let bad = scripted_server::<A>(vec![(status, body)]).await;
            let config = loopback_config(vec![bad.url.clone(), boot.status_url()]);
            let mut client = Client::<A>::start_as(key, config).await;
            client.run_until(connected_with_verdict).await;
            let events = client.events;
            assert_eq!(connected_via(&events), [boot.peer_id], "{name}: {events:?}");
            assert_source_outcome(name, &events, &bad.url, expected);
            if expected.is_none() {
                let deduplicated = events.iter().any(
                    |e| matches!(e, Event::StatusFetched { url, peers: 1, .. } if *url == bad.url),
                );
                assert!(deduplicated, "{name}: {events:?}");
            }
        }
        check_peak_rss("the hostile documents");
    });
}

/// Misbehaving HTTP servers (raw sockets, same behaviour under every runtime), each listed
/// before a good URL: every one ends in a failure naming its cause within the HTTP timeout,
/// or (an HTTP/1.0 answer, where the adapter's client reads one) is used, and the client
/// still connects.
pub fn misbehaving_http_servers_fail_in_bounded_time_and_the_next_source_is_used<A: Adapter>() {
    use std::io::Write;
    type Handler = Box<dyn Fn(std::net::TcpStream, std::net::SocketAddr) + Send + Sync>;
    fn handler(
        f: impl Fn(std::net::TcpStream, std::net::SocketAddr) + Send + Sync + 'static,
    ) -> Handler {
        Box::new(f)
    }
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let doc = pyrsia_document(&[&boot.p2p_addr]);
        let cases: Vec<(&str, Handler, Option<&str>)> = vec![
            (
                "accepts and never answers",
                handler(|c, _| {
                    let _c = c;
                    std::thread::park_timeout(GUARD)
                }),
                Some("no response within"),
            ),
            (
                "answers one byte per second",
                handler(|mut c, _| {
                    read_request(&mut c);
                    for b in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}" {
                        if c.write_all(&[*b]).is_err() {
                            return;
                        }
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }),
                Some("no response within"),
            ),
            (
                "chunked body that never ends",
                handler(|mut c, _| {
                    read_request(&mut c);
                    let _ = c.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                    let chunk = format!("400\r\n{}\r\n", " ".repeat(1024));
                    while c.write_all(chunk.as_bytes()).is_ok() {}
                }),
                Some("body exceeds 65536 bytes"),
            ),
            (
                "declares 10 MiB, sends 10 bytes, closes",
                handler(|mut c, _| {
                    read_request(&mut c);
                    let _ = c.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n{\"peer_ad",
                    );
                }),
                Some("transfer failed"),
            ),
            (
                "redirect loop",
                handler(|mut c, addr| {
                    read_request(&mut c);
                    let _ = write!(c, "HTTP/1.1 302 Found\r\nLocation: http://{addr}/status\r\nContent-Length: 0\r\n\r\n");
                }),
                Some("HTTP status 302"),
            ),
            (
                "redirect to another host",
                handler(|mut c, _| {
                    read_request(&mut c);
                    let _ = c.write_all(b"HTTP/1.1 301 Moved\r\nLocation: http://198.51.100.9/status\r\nContent-Length: 0\r\n\r\n");
                }),
                Some("HTTP status 301"),
            ),
            (
                "503 with Retry-After",
                handler(|mut c, _| {
                    read_request(&mut c);
                    let _ = c.write_all(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 3600\r\nContent-Length: 0\r\n\r\n");
                }),
                Some("HTTP status 503"),
            ),
            (
                "an HTTP/1.0 answer without a length",
                handler({
                    let doc = doc.clone();
                    move |mut c, _| {
                        read_request(&mut c);
                        let _ = c.write_all(
                            b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n",
                        );
                        let _ = c.write_all(&doc);
                    }
                }),
                (!A::READS_HTTP_1_0).then_some("Unsupported HTTP version"),
            ),
            (
                "declares 10 MiB and sends it",
                handler(|mut c, _| {
                    read_request(&mut c);
                    let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n");
                    let block = [b' '; 64 * 1024];
                    for _ in 0..160 {
                        if c.write_all(&block).is_err() {
                            return;
                        }
                    }
                }),
                Some("body exceeds 65536 bytes"),
            ),
            (
                "a good document labelled text/html",
                handler(move |mut c, _| {
                    read_request(&mut c);
                    let _ = write!(
                        c,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n",
                        doc.len()
                    );
                    let _ = c.write_all(&doc);
                }),
                // The content is judged, not its label (static hosts mislabel JSON).
                None,
            ),
        ];
        for (name, handler, expected) in cases {
            let server = RawServer::start(handler);
            let mut config = loopback_config(vec![server.url.clone(), boot.status_url()]);
            config.timeouts.http = Duration::from_millis(1500);
            // Bounded by the client's HTTP timeout; `run_until` fails the test after GUARD.
            let events = run_client_with::<A>(config, connected_with_verdict).await;
            assert_eq!(connected_via(&events), [boot.peer_id], "{name}: {events:?}");
            assert_source_outcome(name, &events, &server.url, expected);
        }
        check_peak_rss("the misbehaving servers");
    });
}

/// A client trusting an operator key: unsigned, stranger-signed, tampered and expired
/// documents are each refused by name, and the boot node signing with the operator key is
/// used.
pub fn with_trusted_keys_only_the_operators_signed_list_is_used<A: Adapter>() {
    A::block_on(async {
        let operator = Keypair::generate_ed25519();
        let boot = boot_node_with::<A>(BootNodeConfig {
            private_network: true,
            signing: Some(Signing::new(operator.clone())),
            ..BootNodeConfig::default()
        })
        .await;
        let now = pyrsia_boot_libp2p::unix_time().expect("a clock after 1970");
        let listing = |addrs: Vec<String>| StatusDocument {
            peers_count: 0,
            peer_id: boot.peer_id.to_string(),
            peer_addrs: addrs,
            peer_loads: Vec::new(),
            signature: None,
        };
        let signed_by = |key: &Keypair, issued: u64, expires: u64| {
            let mut doc = listing(vec![boot.p2p_addr.to_string()]);
            doc.sign(key, issued, expires, 1).expect("ed25519 signs");
            doc.to_json()
        };
        // A man in the middle adds its own peer to a genuinely signed list.
        let attacker = format!("/ip4/127.0.0.1/tcp/9/p2p/{}", PeerId::random());
        let genuine = String::from_utf8(signed_by(&operator, now, now + 600)).expect("utf-8");
        let tampered = genuine.replacen(
            r#""peer_addrs":[""#,
            &format!(r#""peer_addrs":["{attacker}",""#),
            1,
        );
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "unsigned",
                listing(vec![boot.p2p_addr.to_string()]).to_json(),
                "document is unsigned",
            ),
            (
                "another key",
                signed_by(&Keypair::generate_ed25519(), now, now + 600),
                "not a trusted key",
            ),
            (
                "tampered",
                tampered.into_bytes(),
                "signature does not verify",
            ),
            (
                "expired",
                signed_by(&operator, now - 7200, now - 3600),
                "document expired at",
            ),
        ];
        let mut urls = Vec::new();
        let mut servers = Vec::new();
        for (_, body, _) in &cases {
            let server = scripted_server::<A>(vec![(200, body.clone())]).await;
            urls.push(server.url.clone());
            servers.push(server);
        }
        urls.push(boot.status_url());
        let mut config = loopback_config(urls);
        config.trusted = vec![operator.public()];
        config.max_concurrent_dials = 1;
        let events = run_client_with::<A>(config, connected_with_verdict).await;
        assert_eq!(connected_via(&events), [boot.peer_id], "{events:?}");
        for ((name, _, cause), server) in cases.iter().zip(&servers) {
            assert_source_outcome(name, &events, &server.url, Some(cause));
        }
        let signed = events.iter().find_map(|e| match e {
            Event::StatusFetched { signed, .. } => signed.clone(),
            _ => None,
        });
        assert_eq!(signed.map(|s| s.key), Some(operator.public()));
    });
}

/// `url` failed with an error naming `expected`, or (`None`) did not fail at all.
fn assert_source_outcome(name: &str, events: &[Event], url: &str, expected: Option<&str>) {
    let failure = events.iter().find_map(|e| match e {
        Event::SourceFailed(t) if t.source.to_string() == url => Some(t.failure.to_string()),
        _ => None,
    });
    match (expected, failure) {
        (Some(cause), Some(failure)) => assert!(
            failure.contains(cause),
            "{name}: {failure:?} should name {cause:?}"
        ),
        (Some(_), None) => panic!("{name}: not refused: {events:?}"),
        (None, failure) => assert!(failure.is_none(), "{name}: refused: {failure:?}"),
    }
}

/// A boot node on the internet's settings (only public addresses advertised) on loopback has
/// no address of its own to put in `/status`; its dial request to a joining peer must still
/// carry its listen port, or the peer's AutoNAT server refuses it and the peer is never "fully
/// connected". The client reaches it through a seed.
pub fn a_boot_node_advertising_no_address_still_makes_its_peers_fully_connected<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node_with::<A>(BootNodeConfig::default()).await;
        let doc: serde_json::Value =
            serde_json::from_str(&get_text::<A>(boot.status_url()).await).expect("json");
        assert_eq!(
            doc["peer_addrs"],
            serde_json::json!([]),
            "nothing public to advertise"
        );
        let mut config = loopback_config(Vec::new());
        config.seeds = vec![
            pyrsia_boot_core::KnownPeer::from_p2p_addr(&boot.p2p_addr).expect("a /p2p address")
        ];
        let mut client = Client::<A>::start(config).await;
        client
            .run_until(|events| events.iter().any(|e| matches!(e, Event::Connected { .. })))
            .await;
        assert_eq!(
            connected_via(&client.events),
            [boot.peer_id],
            "{:?}",
            client.events
        );
    });
}

/// A boot list served as a plain file by a static web server (what `sign --out` is for). Such
/// a server knows only origin-form request targets (`GET /status HTTP/1.1`, RFC 9112 §3.2.1)
/// and answers anything else with 404. The query string is part of the target.
pub fn a_static_file_server_that_takes_only_origin_form_targets_is_used<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let document = get_text::<A>(boot.status_url()).await;
        let targets = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let seen = targets.clone();
        let server = RawServer::start(move |mut conn, _| {
            use std::io::Write;
            let head = read_request_head(&mut conn);
            let line = head.lines().next().unwrap_or_default().to_string();
            let target = line.split(' ').nth(1).unwrap_or_default().to_string();
            seen.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(target.clone());
            let reply = if target == "/boot/status?cluster=eu" {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{document}",
                    document.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = conn.write_all(reply.as_bytes());
        });
        let url = server.url.replace("/status", "/boot/status?cluster=eu");
        let events = run_client::<A>(vec![url.clone()]).await;
        let fetched = events
            .iter()
            .any(|e| matches!(e, Event::StatusFetched { url: u, .. } if *u == url));
        let targets = targets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        assert!(fetched, "request targets {targets:?}: {events:?}");
        assert_eq!(targets, ["/boot/status?cluster=eu"]);
        assert_eq!(connected_via(&events), [boot.peer_id]);
    });
}
