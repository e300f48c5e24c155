//! Loopback latency benchmarks, measured side by side in one run.
//! Run: `cargo bench -p pyrsia-boot-smol --bench connect`.
//!
//! 1. Start → Connected, broken down by the client's own reports, against a bare baseline in
//!    the same run (one HTTP GET + one libp2p dial + identify, nothing else).
//! 2. Boot node: time from a peer's connection to its `InboundProbe::Request`, with 1, 10 and
//!    100 peers joining at once (p50/p99).
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::autonat::{self, InboundProbeEvent};
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{identify, Multiaddr, Swarm};
use pyrsia_boot_core::{AddressPolicy, Config, Event};
use pyrsia_boot_libp2p::{Behaviour, BootNodeConfig, Event as BEvent, Output, Role};
use pyrsia_boot_smol::{build_swarm, client, http, start_boot_node, BootNodeHandle};

const ROUNDS: usize = 31;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

async fn boot() -> BootNodeHandle {
    start_boot_node(
        Keypair::generate_ed25519(),
        "/ip4/127.0.0.1/tcp/0".parse().expect("valid"),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        BootNodeConfig {
            private_network: true,
            ..BootNodeConfig::default()
        },
    )
    .await
    .expect("boot node starts")
}

/// Milestones of one bootstrap, from the client's start.
#[derive(Debug, Default, Clone, Copy)]
struct Milestones {
    status: Duration,
    boot_connected: Duration,
    connected: Duration,
    verdict: Duration,
}

async fn one_bootstrap(url: &str) -> Milestones {
    let mut config = Config::with_urls([url.to_string()]);
    config.policy = AddressPolicy::allow_private();
    config.max_concurrent_dials = 1;
    let start = Instant::now();
    let (mut driver, mut swarm) = client(
        Keypair::generate_ed25519(),
        config,
        "/ip4/127.0.0.1/tcp/0".parse().expect("valid"),
    )
    .await
    .expect("client starts");
    let mut m = Milestones::default();
    let (mut connected, mut verdict) = (false, false);
    while !(connected && verdict) {
        let Output::Report(event) = driver.next(&mut swarm).await else {
            continue;
        };
        let at = start.elapsed();
        match event {
            Event::StatusFetched { .. } => m.status = at,
            Event::BootPeerConnected { .. } => m.boot_connected = at,
            Event::Connected { .. } => (m.connected, connected) = (at, true),
            Event::NatChanged(_) => (m.verdict, verdict) = (at, true),
            Event::GaveUp(g) => panic!("bench bootstrap gave up: {g}"),
            _ => {}
        }
    }
    m
}

/// The bare minimum: GET /status, dial the boot peer, wait for identify's answer.
async fn baseline(url: &str, boot_addr: &Multiaddr) -> Duration {
    let start = Instant::now();
    let mut swarm = build_swarm(&Keypair::generate_ed25519(), Role::Node).expect("swarm");
    let reply = http::get(url.to_string(), 65536, &http::Tls::default())
        .await
        .expect("GET");
    assert_eq!(reply.status, 200);
    swarm.dial(boot_addr.clone()).expect("dial");
    loop {
        if let SwarmEvent::Behaviour(BEvent::Identify(e)) = swarm.select_next_some().await {
            if let identify::Event::Received { .. } = *e {
                return start.elapsed();
            }
        }
    }
}

/// `n` nodes dial the boot node at once; for each, the time from its connection to the boot
/// node's dial request arriving (its `InboundProbe::Request`).
async fn join_at_once(boot: &BootNodeHandle, n: usize) -> Vec<Duration> {
    let mut swarms: Vec<Swarm<Behaviour>> = (0..n)
        .map(|_| build_swarm(&Keypair::generate_ed25519(), Role::Node).expect("swarm"))
        .collect();
    for s in &mut swarms {
        s.listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("valid"))
            .expect("listen");
    }
    let tasks: Vec<_> = swarms
        .into_iter()
        .map(|mut s| {
            let addr = boot.p2p_addr.clone();
            let boot_id = boot.peer_id;
            smol::spawn(async move {
                s.dial(addr).expect("dial");
                let mut connected = None;
                loop {
                    match s.select_next_some().await {
                        SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == boot_id => {
                            connected.get_or_insert_with(Instant::now);
                        }
                        SwarmEvent::Behaviour(BEvent::Autonat(autonat::Event::InboundProbe(
                            InboundProbeEvent::Request { peer, .. },
                        ))) if peer == boot_id => {
                            return connected.map(|t| t.elapsed()).unwrap_or_default();
                        }
                        _ => {}
                    }
                }
            })
        })
        .collect();
    futures::future::join_all(tasks).await
}

fn main() {
    smol::block_on(async {
        let node = boot().await;
        let url = node.status_url();
        // Warm up both paths once.
        one_bootstrap(&url).await;
        baseline(&url, &node.p2p_addr).await;
        let (mut runs, mut bases) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            runs.push(one_bootstrap(&url).await);
            bases.push(baseline(&url, &node.p2p_addr).await);
        }
        let median = |f: &dyn Fn(&Milestones) -> Duration| {
            let mut v: Vec<Duration> = runs.iter().map(f).collect();
            percentile(&mut v, 0.5)
        };
        let base = percentile(&mut bases, 0.5);
        let connected = median(&|m| m.connected);
        println!("## Start → Connected on loopback (median of {ROUNDS}, interleaved with the baseline)\n");
        println!("| milestone (from client start) | median |");
        println!("|---|---:|");
        println!(
            "| /status fetched and parsed | {:.2} ms |",
            ms(median(&|m| m.status))
        );
        println!(
            "| boot peer connected (dial + noise + yamux) | {:.2} ms |",
            ms(median(&|m| m.boot_connected))
        );
        println!(
            "| Connected (boot peer's AutoNAT dial request arrived) | {:.2} ms |",
            ms(connected)
        );
        println!(
            "| own NAT verdict (our dial-back answered) | {:.2} ms |",
            ms(median(&|m| m.verdict))
        );
        println!(
            "| baseline: one GET + one dial + identify | {:.2} ms |",
            ms(base)
        );
        println!(
            "\nConnected / baseline: **{:.2}×** (goal ≤ 2×)\n",
            ms(connected) / ms(base)
        );

        println!("## Boot node: connection → InboundProbe::Request, peers joining at once\n");
        println!("100 samples per row (100 joins of 1 peer, 10 joins of 10, 1 join of 100).\n");
        println!("| peers | p50 | p99 | max |");
        println!("|---:|---:|---:|---:|");
        let mut p99s = Vec::new();
        for n in [1usize, 10, 100] {
            // 100 samples per size: 100 joins of 1 peer, 10 of 10, 1 of 100.
            let mut lat = Vec::new();
            for _ in 0..100 / n {
                lat.extend(join_at_once(&node, n).await);
            }
            let (p50, p99) = (percentile(&mut lat, 0.5), percentile(&mut lat, 0.99));
            let max = *lat.iter().max().expect("n > 0");
            println!(
                "| {n} | {:.2} ms | {:.2} ms | {:.2} ms |",
                ms(p50),
                ms(p99),
                ms(max)
            );
            p99s.push(p99);
        }
        println!(
            "\np99 at 100 / p99 at 1: **{:.2}×** (goal ≤ 2×)",
            ms(p99s[2]) / ms(p99s[0])
        );
    });
}
