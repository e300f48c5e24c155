//! End to end on loopback with real HTTP and real swarms, in one process: a boot node serving
//! `/status`, a client driven by the core.

use std::net::SocketAddr;
use std::time::Duration;

use libp2p::identity::Keypair;
use pyrsia_boot_core::{AddressPolicy, Config, Event, NatVerdict};
use pyrsia_boot_libp2p::{BootNodeConfig, Output};
use pyrsia_boot_smol::{client, start_boot_node, BootNodeHandle};

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

/// Runs a client over `urls` until it is connected and has a verdict, or gives up; returns
/// every report. Bounded by the core's own budget plus a guard.
async fn run_client(urls: Vec<String>) -> Vec<Event> {
    let mut config = Config::with_urls(urls);
    config.policy = AddressPolicy::allow_private();
    config.budget = Duration::from_secs(20);
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
        let connected = events.iter().any(|e| matches!(e, Event::Connected { .. }));
        let verdict = events.iter().any(|e| matches!(e, Event::NatChanged(_)));
        let gave_up = events.iter().any(|e| matches!(e, Event::GaveUp(_)));
        if gave_up || (connected && verdict) {
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
