//! Stock libp2p-autonat 0.14 on both sides, as Pyrsia ran it, for the NAT lab's side-by-side
//! verdict times (`cargo bench -p pyrsia-boot --bench natlab_verdicts`).
//!
//! `stock_autonat server LISTEN`: identify + the stock AutoNAT server (non-global IPs allowed,
//! for the lab), on the smol transport with the same 10 s connection timeout our boot node
//! had; prints its `/p2p/` address, then serves until killed.
//!
//! `stock_autonat client SERVER_P2P_ADDR LISTEN`: identify + the stock AutoNAT client with
//! Pyrsia's settings (pyrsia_node `src/network/p2p.rs`: boot delay 5 s, retry 10 s, refresh
//! 30 s), the server added as its AutoNAT server; prints `{"verdict": …, "at_ms": …}` at the
//! first status change and exits (60 s at most).
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{autonat, identify, Multiaddr, Swarm};

#[derive(libp2p::swarm::NetworkBehaviour)]
#[allow(missing_debug_implementations)] // an example's behaviour
struct Stock {
    identify: identify::Behaviour,
    autonat: autonat::Behaviour,
}

fn swarm(key: &Keypair, autonat: autonat::Config) -> Swarm<Stock> {
    let behaviour = Stock {
        identify: identify::Behaviour::new(identify::Config::new(
            "ipfs/1.0.0".into(),
            key.public(),
        )),
        autonat: autonat::Behaviour::new(key.public().to_peer_id(), autonat),
    };
    Swarm::new(
        pyrsia_boot_smol::build_transport(key).expect("noise keys"),
        behaviour,
        key.public().to_peer_id(),
        pyrsia_boot_smol::swarm_config(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parse = |s: &String| s.parse::<Multiaddr>().expect("a multiaddr");
    smol::block_on(async {
        match args.as_slice() {
            [mode, listen] if mode == "server" => {
                let key = Keypair::generate_ed25519();
                let config = autonat::Config {
                    only_global_ips: false,
                    ..autonat::Config::default()
                };
                let mut s = swarm(&key, config);
                s.listen_on(parse(listen)).expect("listen");
                loop {
                    if let SwarmEvent::NewListenAddr { address, .. } = s.select_next_some().await {
                        println!("{}", address.with(Protocol::P2p(key.public().to_peer_id())));
                        break;
                    }
                }
                loop {
                    s.select_next_some().await;
                }
            }
            [mode, server, listen] if mode == "client" => {
                let start = Instant::now();
                let key = Keypair::generate_ed25519();
                let config = autonat::Config {
                    retry_interval: Duration::from_secs(10),
                    refresh_interval: Duration::from_secs(30),
                    boot_delay: Duration::from_secs(5),
                    throttle_server_period: Duration::ZERO,
                    only_global_ips: false,
                    ..autonat::Config::default()
                };
                let mut s = swarm(&key, config);
                s.listen_on(parse(listen)).expect("listen");
                // Listening first, as a running node is: libp2p-tcp reuses the listening port
                // for dials only once the listener is up, and the server dials that port back.
                loop {
                    if let SwarmEvent::NewListenAddr { .. } = s.select_next_some().await {
                        break;
                    }
                }
                let server = parse(server);
                let Some(Protocol::P2p(id)) = server.iter().last() else {
                    panic!("{server} has no /p2p/");
                };
                s.behaviour_mut()
                    .autonat
                    .add_server(id, Some(server.clone()));
                s.dial(server).expect("dial");
                let deadline = smol::Timer::after(Duration::from_secs(60));
                let mut deadline = std::pin::pin!(futures::FutureExt::fuse(deadline));
                loop {
                    futures::select! {
                        e = s.select_next_some() => {
                            if let SwarmEvent::Behaviour(StockEvent::Autonat(
                                autonat::Event::StatusChanged { new, .. },
                            )) = e
                            {
                                let verdict = match new {
                                    autonat::NatStatus::Public(_) => "public",
                                    autonat::NatStatus::Private => "private",
                                    autonat::NatStatus::Unknown => "unknown",
                                };
                                let ms = start.elapsed().as_millis();
                                println!("{{\"verdict\": \"{verdict}\", \"at_ms\": {ms}}}");
                                return;
                            }
                        }
                        _ = deadline => {
                            println!("{{\"verdict\": \"none\", \"at_ms\": 60000}}");
                            return;
                        }
                    }
                }
            }
            _ => panic!("usage: stock_autonat server LISTEN | client SERVER_P2P_ADDR LISTEN"),
        }
    });
}
