//! `pyrsia-boot demo`: three boot nodes and a client on loopback, in one process.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use libp2p::identity::Keypair;
use pyrsia_boot_core::signing::encode_key;
use pyrsia_boot_core::{AddressPolicy, Config};
use pyrsia_boot_libp2p::{BootNodeConfig, BootNodeHandle, Signing};
use pyrsia_boot_smol::http::Tls;

use crate::bootstrap::start_client;
use crate::node::start_boot_node;
use crate::{start_failed, RuntimeChoice};

pub(crate) async fn demo(rt: RuntimeChoice, as_json: bool) -> ExitCode {
    let operator = Keypair::generate_ed25519();
    let mut nodes: Vec<BootNodeHandle> = Vec::new();
    for _ in 0..3 {
        let config = BootNodeConfig {
            private_network: true,
            signing: Some(Signing::new(operator.clone())),
            ..BootNodeConfig::default()
        };
        let started = start_boot_node(
            rt,
            Keypair::generate_ed25519(),
            "/ip4/127.0.0.1/tcp/0".parse().expect("a valid literal"),
            SocketAddr::from(([127, 0, 0, 1], 0)),
            config,
        )
        .await;
        match started {
            Ok(h) => nodes.push(h),
            Err(e) => return start_failed("starting a demo boot node", e),
        }
    }
    // Each node lists the other two after itself, as a cluster does.
    for (i, n) in nodes.iter().enumerate() {
        let others = nodes
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, o)| o.p2p_addr.clone())
            .collect();
        n.set_cluster(others);
    }
    if !as_json {
        println!(
            "demo: three boot nodes on loopback, signing /status with operator key {}",
            encode_key(&operator.public())
        );
        for n in &nodes {
            println!("  {}  /status at {}", n.p2p_addr, n.status_url());
        }
    }
    let mut config = Config::with_urls(nodes.iter().map(|n| n.status_url()));
    config.policy = AddressPolicy::allow_private();
    config.budget = Duration::from_secs(30);
    config.trusted = vec![operator.public()];
    let listen = "/ip4/127.0.0.1/tcp/0".parse().expect("a valid literal");
    let report = crate::bootstrap::Report {
        as_json,
        state: None,
        linger: Duration::ZERO,
    };
    start_client(rt, Tls::default(), config, vec![listen], report).await
}
