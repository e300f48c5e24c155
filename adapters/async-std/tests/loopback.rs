//! The async-std client against a boot node on loopback (the boot node runs on smol in the
//! same process; the client's swarm, timers and HTTP run on async-std).

use std::net::SocketAddr;
use std::time::Duration;

use libp2p::identity::Keypair;
use pyrsia_boot_core::{AddressPolicy, Config, Event, HttpError, NatVerdict};
use pyrsia_boot_libp2p::{BootNodeConfig, Output};

#[test]
fn an_async_std_client_connects_and_learns_it_is_reachable() {
    let boot = smol::block_on(pyrsia_boot_smol::start_boot_node(
        Keypair::generate_ed25519(),
        "/ip4/127.0.0.1/tcp/0".parse().expect("valid"),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        BootNodeConfig {
            private_network: true,
            ..BootNodeConfig::default()
        },
    ))
    .expect("boot node starts");
    let events = async_std::task::block_on(async {
        let mut config = Config::with_urls([boot.status_url()]);
        config.policy = AddressPolicy::allow_private();
        let (mut driver, mut swarm) = pyrsia_boot_async_std::client(
            Keypair::generate_ed25519(),
            config,
            "/ip4/127.0.0.1/tcp/0".parse().expect("valid"),
        )
        .await
        .expect("client starts");
        let mut events = Vec::new();
        let run = async {
            loop {
                if let Output::Report(e) = driver.next(&mut swarm).await {
                    let done = matches!(e, Event::NatChanged(_) | Event::GaveUp(_));
                    events.push(e);
                    if done {
                        return;
                    }
                }
            }
        };
        async_std::future::timeout(Duration::from_secs(30), run)
            .await
            .expect("an outcome within 30 s");
        events
    });
    let connected = events
        .iter()
        .any(|e| matches!(e, Event::Connected { peer, .. } if *peer == boot.peer_id));
    assert!(connected, "{events:?}");
    let public = events
        .iter()
        .any(|e| matches!(e, Event::NatChanged(NatVerdict::Public(_))));
    assert!(public, "{events:?}");
}

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
