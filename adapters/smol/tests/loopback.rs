//! End to end on loopback with real HTTP and real swarms, in one process: a boot node serving
//! `/status`, a client driven by the core.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use pyrsia_boot_core::{AddressPolicy, Config, Event, Failure, NatVerdict};
use pyrsia_boot_libp2p::{BootNodeConfig, Output};
use pyrsia_boot_smol::{client, http, start_boot_node, BootNodeHandle};

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn boot_node() -> BootNodeHandle {
    let config = BootNodeConfig {
        private_network: true,
        ..BootNodeConfig::default()
    };
    start_boot_node(
        Keypair::generate_ed25519(),
        "/ip4/127.0.0.1/tcp/0".parse().expect("valid"),
        localhost(0),
        config,
    )
    .await
    .expect("boot node starts")
}

/// An HTTP server that answers request `i` with `replies[i]` (the last one repeats). Dropping
/// the task stops it.
async fn scripted_server(replies: Vec<(u16, Vec<u8>)>) -> (String, smol::Task<()>) {
    let listener = http::bind(localhost(0)).await.expect("bind");
    let url = format!("http://{}/status", listener.local_addr().expect("addr"));
    let served = Arc::new(AtomicUsize::new(0));
    let replies = Arc::new(replies);
    let task = smol::spawn(http::serve(listener, move |_req| {
        let i = served.fetch_add(1, Ordering::SeqCst).min(replies.len() - 1);
        let (status, body) = replies[i].clone();
        http::response(status, "application/json", body)
    }));
    (url, task)
}

/// A document in exactly the three fields a Pyrsia boot node serves.
fn pyrsia_document(addrs: &[&Multiaddr]) -> Vec<u8> {
    let peer_addrs: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    let first = addrs[0].iter().last().map(|p| match p {
        Protocol::P2p(id) => id.to_string(),
        _ => String::new(),
    });
    serde_json::json!({"peers_count": 0, "peer_id": first, "peer_addrs": peer_addrs})
        .to_string()
        .into_bytes()
}

fn connected_via(events: &[Event]) -> Vec<PeerId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Connected { peer, .. } => Some(*peer),
            _ => None,
        })
        .collect()
}

/// Runs a client over `urls` until it is connected and has a verdict, or gives up; returns
/// every report. Bounded by the core's own budget plus a guard.
async fn run_client(urls: Vec<String>) -> Vec<Event> {
    run_client_with(urls, |_| {}, connected_with_verdict).await
}

fn connected_with_verdict(events: &[Event]) -> bool {
    let connected = events.iter().any(|e| matches!(e, Event::Connected { .. }));
    let verdict = events.iter().any(|e| matches!(e, Event::NatChanged(_)));
    connected && verdict
}

/// Like [`run_client`], with a configuration hook and a stop condition (giving up always
/// stops).
async fn run_client_with(
    urls: Vec<String>,
    tune: impl FnOnce(&mut Config),
    mut done: impl FnMut(&[Event]) -> bool,
) -> Vec<Event> {
    let mut config = Config::with_urls(urls);
    config.policy = AddressPolicy::allow_private();
    config.budget = Duration::from_secs(20);
    tune(&mut config);
    let listen = "/ip4/127.0.0.1/tcp/0".parse().expect("valid");
    let (mut driver, mut swarm) = client(Keypair::generate_ed25519(), config, listen)
        .await
        .expect("client starts");
    let mut events = Vec::new();
    let guard = smol::Timer::after(Duration::from_secs(30));
    let mut guard = std::pin::pin!(guard);
    loop {
        let next = futures::FutureExt::fuse(driver.next(&mut swarm));
        let mut next = std::pin::pin!(next);
        futures::select! {
            out = next => {
                if let Output::Report(e) = out {
                    events.push(e);
                }
            }
            _ = futures::FutureExt::fuse(&mut guard) => panic!("no outcome within 30 s: {events:?}"),
        }
        let gave_up = events.iter().any(|e| matches!(e, Event::GaveUp(_)));
        if gave_up || done(&events) {
            return events;
        }
    }
}

#[test]
fn a_client_connects_through_a_boot_node_and_learns_it_is_reachable() {
    smol::block_on(async {
        let boot = boot_node().await;
        let events = run_client(vec![boot.status_url()]).await;
        let connected = events.iter().find_map(|e| match e {
            Event::Connected { peer, elapsed } => Some((*peer, *elapsed)),
            _ => None,
        });
        let (peer, elapsed) = connected.unwrap_or_else(|| panic!("not connected: {events:?}"));
        assert_eq!(peer, boot.peer_id);
        assert!(
            elapsed < Duration::from_secs(5),
            "connected after {elapsed:?}"
        );
        let public = events
            .iter()
            .any(|e| matches!(e, Event::NatChanged(NatVerdict::Public(_))));
        assert!(public, "loopback is reachable: {events:?}");

        // The boot node's /metrics counts what just happened. The boot node's own dial request
        // may be answered a moment after the client's verdict: poll until every line is there
        // (bounded), then check.
        let metrics_url = boot.status_url().replace("/status", "/metrics");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let text = loop {
            let reply = http::get(metrics_url.clone(), 1 << 20)
                .await
                .expect("GET /metrics");
            assert_eq!(reply.status, 200);
            let text = String::from_utf8(reply.body).expect("utf-8");
            if text.contains("outcome=\"reachable\"} 1") || std::time::Instant::now() > deadline {
                break text;
            }
            smol::Timer::after(Duration::from_millis(20)).await;
        };
        for line in [
            "pyrsia_boot_status_requests_total 1",
            "pyrsia_boot_dial_requests_total{outcome=\"sent\"} 1",
            "pyrsia_boot_dial_requests_total{outcome=\"reachable\"} 1",
            "pyrsia_boot_autonat_probes_served_total{outcome=\"request\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in:\n{text}"
            );
        }
        // The client has already gone (run_client drops it), so the gauge may read 0 or 1.
        assert!(
            text.lines()
                .any(|l| l.starts_with("pyrsia_boot_connected_peers ")),
            "{text}"
        );
        assert!(
            text.contains("libp2p_swarm_connections_established_total"),
            "{text}"
        );
    });
}

#[test]
fn a_dead_first_url_falls_through_to_a_live_one() {
    smol::block_on(async {
        let boot = boot_node().await;
        // A port nobody listens on: bind, read the port, close.
        let dead = std::net::TcpListener::bind(localhost(0)).expect("bind");
        let dead_url = format!("http://{}/status", dead.local_addr().expect("addr"));
        drop(dead);
        let events = run_client(vec![dead_url.clone(), boot.status_url()]).await;
        let failed = events
            .iter()
            .any(|e| matches!(e, Event::SourceFailed(t) if t.source.to_string() == dead_url));
        assert!(failed, "{events:?}");
        assert!(
            events.iter().any(|e| matches!(e, Event::Connected { .. })),
            "{events:?}"
        );
    });
}

#[test]
fn a_500_from_the_first_url_falls_through_to_the_second() {
    smol::block_on(async {
        let boot = boot_node().await;
        let (bad, _server) = scripted_server(vec![(500, b"boom".to_vec())]).await;
        let events = run_client(vec![bad, boot.status_url()]).await;
        let failed = events
            .iter()
            .any(|e| matches!(e, Event::SourceFailed(t) if t.failure == Failure::HttpStatus(500)));
        assert!(failed, "{events:?}");
        assert_eq!(connected_via(&events), [boot.peer_id]);
    });
}

#[test]
fn a_garbage_body_then_a_good_document_connects() {
    smol::block_on(async {
        let boot = boot_node().await;
        let good = pyrsia_document(&[&boot.p2p_addr]);
        let (url, _server) =
            scripted_server(vec![(200, b"\x00<html>".to_vec()), (200, good)]).await;
        // One URL, twice: the garbage round fails, the retry round gets the document.
        let events = run_client(vec![url]).await;
        let bad = events.iter().any(
            |e| matches!(e, Event::SourceFailed(t) if matches!(t.failure, Failure::BadDocument(_))),
        );
        assert!(bad, "{events:?}");
        assert_eq!(connected_via(&events), [boot.peer_id]);
    });
}

#[test]
fn one_dead_boot_peer_of_three_is_skipped() {
    smol::block_on(async {
        let (a, b) = (boot_node().await, boot_node().await);
        let dead_port = {
            let l = std::net::TcpListener::bind(localhost(0)).expect("bind");
            l.local_addr().expect("addr").port()
        };
        let dead: Multiaddr = format!("/ip4/127.0.0.1/tcp/{dead_port}/p2p/{}", PeerId::random())
            .parse()
            .expect("valid");
        let (url, _server) = scripted_server(vec![(
            200,
            pyrsia_document(&[&dead, &a.p2p_addr, &b.p2p_addr]),
        )])
        .await;
        let events = run_client_with(
            vec![url],
            |c| c.max_concurrent_dials = 1,
            connected_with_verdict,
        )
        .await;
        let dial_failed = events.iter().any(|e| matches!(e, Event::DialFailed(_)));
        assert!(dial_failed, "{events:?}");
        assert_eq!(connected_via(&events), [a.peer_id]);
    });
}

#[test]
fn a_killed_boot_node_makes_the_client_bootstrap_again_through_another() {
    smol::block_on(async {
        let (a, b) = (boot_node().await, boot_node().await);
        let (a_url, b_url, a_id) = (a.status_url(), b.status_url(), a.peer_id);
        let mut a = Some(a);
        let events = run_client_with(
            vec![a_url, b_url],
            |_| {},
            |events| {
                // Once connected through A with a verdict, kill A: dropping its handle stops
                // its swarm and its HTTP server. Done when connected a second time.
                if connected_via(events).len() == 1 && connected_with_verdict(events) {
                    a.take();
                }
                connected_via(events).len() == 2
            },
        )
        .await;
        assert!(a.is_none(), "A was never killed: {events:?}");
        assert_eq!(connected_via(&events), [a_id, b.peer_id], "{events:?}");
        let rebootstrapped = events.contains(&Event::Rebootstrapping);
        assert!(rebootstrapped, "{events:?}");
    });
}

#[test]
fn our_client_works_with_a_document_of_only_the_three_pyrsia_fields() {
    smol::block_on(async {
        let boot = boot_node().await;
        let body = pyrsia_document(&[&boot.p2p_addr]);
        let keys: Vec<String> =
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body)
                .expect("object")
                .keys()
                .cloned()
                .collect();
        assert_eq!(keys.len(), 3, "{keys:?}");
        let (url, _server) = scripted_server(vec![(200, body)]).await;
        let events = run_client(vec![url]).await;
        assert_eq!(connected_via(&events), [boot.peer_id], "{events:?}");
    });
}

/// What Pyrsia's node runs: identify (as "ipfs/1.0.0") and AutoNAT v1 with Pyrsia's settings.
#[derive(libp2p::swarm::NetworkBehaviour)]
struct PyrsiaLike {
    identify: libp2p::identify::Behaviour,
    autonat: libp2p::autonat::Behaviour,
}

#[test]
fn a_pyrsia_style_client_works_against_our_boot_node() {
    use futures::StreamExt;
    use libp2p::autonat::{self, InboundProbeEvent, OutboundProbeEvent};
    use libp2p::core::upgrade::Version;
    use libp2p::swarm::SwarmEvent;
    use libp2p::Transport;

    smol::block_on(async {
        let boot = boot_node().await;
        let key = Keypair::generate_ed25519();
        let transport = libp2p_tcp::async_io::Transport::new(libp2p_tcp::Config::default())
            .upgrade(Version::V1Lazy)
            .authenticate(libp2p::noise::Config::new(&key).expect("noise"))
            .multiplex(libp2p::yamux::Config::default())
            .boxed();
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
        let config = libp2p::swarm::Config::with_executor(|f| smol::spawn(f).detach())
            .with_idle_connection_timeout(Duration::from_secs(60));
        let mut swarm = libp2p::Swarm::new(transport, behaviour, key.public().to_peer_id(), config);
        swarm
            .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("valid"))
            .expect("listen");

        // GET /status, take peer_addrs[0], add it as the AutoNAT server: Pyrsia's steps.
        let reply = http::get(boot.status_url(), 65536)
            .await
            .expect("GET /status");
        let doc: serde_json::Value = serde_json::from_slice(&reply.body).expect("json");
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

        let guard = smol::Timer::after(Duration::from_secs(15));
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
                _ = futures::FutureExt::fuse(&mut guard) => panic!(
                    "within 15 s: inbound request {inbound_request}, own probe answered {own_answer}"
                ),
            }
        }
    });
}

#[test]
fn a_dns_boot_address_is_resolved_and_dialed() {
    smol::block_on(async {
        let boot = boot_node().await;
        let port = boot
            .p2p_addr
            .iter()
            .find_map(|p| match p {
                Protocol::Tcp(port) => Some(port),
                _ => None,
            })
            .expect("a tcp port");
        let named: Multiaddr = format!("/dns4/localhost/tcp/{port}/p2p/{}", boot.peer_id)
            .parse()
            .expect("valid");
        let (url, _server) = scripted_server(vec![(200, pyrsia_document(&[&named]))]).await;
        let events = run_client(vec![url]).await;
        let via_ip = events.iter().any(|e| {
            matches!(e, Event::BootPeerConnected { addr: Some(a), .. } if a.to_string().starts_with("/ip4/127.0.0.1/"))
        });
        assert!(via_ip, "{events:?}");
        assert_eq!(connected_via(&events), [boot.peer_id]);
    });
}

#[test]
fn cluster_members_list_each_others_load() {
    smol::block_on(async {
        let fast = || BootNodeConfig {
            private_network: true,
            load_interval: Duration::from_millis(100),
            ..BootNodeConfig::default()
        };
        let mut nodes = Vec::new();
        for _ in 0..2 {
            let n = start_boot_node(
                Keypair::generate_ed25519(),
                "/ip4/127.0.0.1/tcp/0".parse().expect("valid"),
                localhost(0),
                fast(),
            )
            .await
            .expect("boot node starts");
            nodes.push(n);
        }
        nodes[0].board.set_cluster(vec![nodes[1].p2p_addr.clone()]);
        nodes[1].board.set_cluster(vec![nodes[0].p2p_addr.clone()]);
        // A client on B, kept alive while A's document is checked.
        let mut config = Config::with_urls([nodes[1].status_url()]);
        config.policy = AddressPolicy::allow_private();
        config.max_concurrent_dials = 1; // B's document lists A too; dial only B
        let (mut driver, mut swarm) = client(
            Keypair::generate_ed25519(),
            config,
            "/ip4/127.0.0.1/tcp/0".parse().expect("valid"),
        )
        .await
        .expect("client starts");
        loop {
            if let Output::Report(Event::Connected { .. }) = driver.next(&mut swarm).await {
                break;
            }
        }
        let b = nodes[1].peer_id.to_string();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let doc = loop {
            // Keep the client's swarm polled while waiting on A's next load poll.
            let pump = futures::FutureExt::fuse(driver.next(&mut swarm));
            let mut pump = std::pin::pin!(pump);
            futures::select! {
                _ = pump => {},
                _ = futures::FutureExt::fuse(smol::Timer::after(Duration::from_millis(50))) => {},
            }
            let reply = http::get(nodes[0].status_url(), 65536).await.expect("GET");
            let doc: serde_json::Value = serde_json::from_slice(&reply.body).expect("json");
            let listed = doc["peer_loads"].as_array().is_some_and(|l| {
                l.iter()
                    .any(|e| e["peer_id"] == b.as_str() && e["peers_count"] == 1)
            });
            if listed || std::time::Instant::now() > deadline {
                break doc;
            }
        };
        let loads = doc["peer_loads"].as_array().cloned().unwrap_or_default();
        assert!(
            loads
                .iter()
                .any(|e| e["peer_id"] == b.as_str() && e["peers_count"] == 1),
            "A's document should list B with its one client (cluster links not counted): {doc}"
        );
        assert_eq!(doc["peers_count"], 0, "A's own load excludes B: {doc}");
    });
}
