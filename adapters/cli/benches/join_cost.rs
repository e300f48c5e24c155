//! What one joining peer costs a boot node: the boot-node machine alone (its policy, in this
//! process, no IO) beside the whole boot node (a `pyrsia-boot node` process, release build:
//! TCP, noise, yamux, identify, AutoNAT, the HTTP server, the machine), measured side by side
//! in one run, rounds alternating.
//!
//! A join, for the machine: a `/status` request, an inbound connection (which makes it send a
//! dial request), the peer's answer, the connection closing. For the process: a client fetches
//! `/status`, connects, gets the dial request (Connected), gets its own dial-back (verdict),
//! and disconnects; the cost is the node's user + system CPU time over a batch, per join.
//!
//! Beside them, the handshake floor: libp2p's own components doing a join's three connections
//! (noise, yamux, identify) and nothing else, the boot node's share (see `handshake_floor`),
//! in memory and over TCP on loopback, and the whole process's cost over each.
//!
//! Run: `cargo bench -p pyrsia-boot --bench join_cost` (`JOIN_ROUNDS`, `JOIN_BATCH` to change
//! the 7 rounds of 200 process joins; `JOIN_NODE_THREADS`, `JOIN_DIAL_BACK_ATTEMPTS`,
//! `JOIN_DIAL_BACK_STAGGER_MS` and `JOIN_HANDSHAKE_PRIORITY` pass `--threads`,
//! `--dial-back-attempts`, `--dial-back-stagger-ms` and `--handshake-priority` to the node;
//! `JOIN_COMPARE_BIN=PATH` runs another build's `pyrsia-boot` node beside it, measured in the
//! same rounds, for before / after).
#![allow(clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use pyrsia_boot_core::{
    BootNodeAction, BootNodeConfig, BootNodeInput, BootNodeMachine, Config, Event, PeerId, Token,
};
use pyrsia_boot_libp2p::{Output, Runtime};
use pyrsia_boot_smol::SmolRuntime;

/// CPU seconds (user + system) used so far by process `pid`, from /proc (10 ms ticks).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    let rest = stat.rsplit_once(')').expect("comm").1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0);
    ticks / 100.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Machine-only cost per join, in seconds, over `joins` joins.
fn machine_joins(joins: u64) -> f64 {
    let mut config = BootNodeConfig::new(PeerId::random());
    config.policy = pyrsia_boot_core::AddressPolicy::allow_private();
    let start = Instant::now();
    let mut m = BootNodeMachine::new(config, start);
    let listen = "/ip4/127.0.0.1/tcp/44000".parse().expect("valid");
    m.handle(start, BootNodeInput::ListenAddrAdded(listen));
    while m.poll_action().is_some() {}
    let peers: Vec<PeerId> = (0..1024).map(|_| PeerId::random()).collect();
    let remote: pyrsia_boot_core::Multiaddr = "/ip4/127.0.0.1/tcp/50000".parse().expect("valid");
    let reached: pyrsia_boot_core::Multiaddr = "/ip4/127.0.0.1/tcp/44000".parse().expect("valid");
    let mut token = 0u64;
    let mut now = start;
    let t0 = Instant::now();
    for i in 0..joins {
        let peer = peers[(i % 1024) as usize];
        now += Duration::from_micros(10);
        token += 1;
        m.handle(
            now,
            BootNodeInput::StatusRequested {
                reply: Token(token),
            },
        );
        while let Some(a) = m.poll_action() {
            let _ = black_box(a);
        }
        token += 1;
        let conn = Token(token);
        m.handle(
            now,
            BootNodeInput::ConnectionOpened {
                conn,
                peer,
                inbound: true,
                remote: remote.clone(),
            },
        );
        let mut probe = None;
        while let Some(a) = m.poll_action() {
            if let BootNodeAction::SendDialRequest { probe: p, .. } = a {
                probe = Some(p);
            }
        }
        let probe = probe.expect("a joining peer gets a dial request");
        m.handle(
            now,
            BootNodeInput::DialRequestAnswered {
                probe,
                result: Ok(reached.clone()),
            },
        );
        while let Some(a) = m.poll_action() {
            let _ = black_box(a);
        }
        m.handle(now, BootNodeInput::ConnectionClosed { conn });
        while let Some(a) = m.poll_action() {
            let _ = black_box(a);
        }
    }
    let per = t0.elapsed().as_secs_f64() / joins as f64;
    assert_eq!(m.footprint().peers, 0);
    per
}

/// Whole-process cost per join, in seconds: `batch` clients, 25 at a time, each to Connected
/// and a verdict, then gone.
async fn process_joins(node: &common::BootNode, batch: usize) -> f64 {
    let pid = node.process.0.id();
    let before = cpu_seconds(pid);
    let mut done = 0;
    while done < batch {
        let n = 25.min(batch - done);
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let url = node.url.clone();
                smol::spawn(async move {
                    let mut config = Config::with_urls([url]);
                    config.rng_seed = i as u64;
                    let (mut driver, mut swarm) = common::pyrsia_like_client(config).await;
                    let (mut connected, mut verdict) = (false, false);
                    while !(connected && verdict) {
                        match driver.next(&mut swarm).await {
                            Output::Report(Event::Connected { .. }) => connected = true,
                            Output::Report(
                                Event::NatChanged(_) | Event::VerdictUnavailable { .. },
                            ) => verdict = true,
                            Output::Report(Event::GaveUp(g)) => panic!("{g}"),
                            _ => {}
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await;
        }
        done += n;
    }
    // Every client has gone; wait (bounded) until the node has closed their connections, so
    // the batch's teardown is in its own measurement.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let reply = SmolRuntime::default()
            .http_get(node.url.clone(), 1 << 16)
            .await
            .expect("GET /status");
        let doc: serde_json::Value = serde_json::from_slice(&reply.body).expect("json");
        if doc["peers_count"].as_u64() == Some(0) {
            break;
        }
        smol::Timer::after(Duration::from_millis(50)).await;
    }
    (cpu_seconds(pid) - before) / batch as f64
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The handshake floor, per join: the CPU of libp2p's own components doing exactly the
/// connections a join needs, over the in-memory transport, both ends in this process. A join
/// is three connections: the joiner's to the boot node, the boot node's dial-back, and the
/// joiner's AutoNAT server dialing the boot node back (the stock server's `InboundProbe`
/// request, the "fully connected" signal, always comes with that dial). Each goes through the
/// boot node's transport upgrade (`secure_and_multiplex`: noise XX, yamux) and runs identify
/// both ways (`identify::Behaviour`, signed peer records); then it is closed. Initiator and
/// responder do the same noise work, and the boot node is responder twice and initiator once,
/// so its share is half of the six ends: the floor per join. It leaves out ping, the AutoNAT
/// messages and HTTP: a lower bound. With `tcp`, the connections are TCP on loopback (the
/// boot node's own `build_transport`) instead of in memory, so the kernel's share of a
/// connection is in the floor too.
async fn handshake_floor(joins: usize, tcp: bool) -> f64 {
    use futures::StreamExt;
    use libp2p::core::transport::MemoryTransport;
    use libp2p::swarm::SwarmEvent;
    use libp2p::{identify, Multiaddr, Swarm};
    static PORT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(47_000);
    type Floor = Swarm<identify::Behaviour>;
    let swarm = |key: &libp2p::identity::Keypair| {
        let transport = if tcp {
            pyrsia_boot_smol::build_transport(key)
        } else {
            pyrsia_boot_smol::secure_and_multiplex(MemoryTransport::default(), key)
        }
        .expect("noise keys");
        let id = key.public().to_peer_id();
        let behaviour =
            identify::Behaviour::new(identify::Config::new("/floor/1.0.0".into(), key.public()));
        Swarm::new(transport, behaviour, id, pyrsia_boot_smol::swarm_config())
    };
    async fn listen(s: &mut Floor, tcp: bool) -> Multiaddr {
        let port = PORT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let addr = if tcp {
            "/ip4/127.0.0.1/tcp/0".to_string()
        } else {
            format!("/memory/{port}")
        };
        s.listen_on(addr.parse().expect("valid")).expect("listens");
        loop {
            if let SwarmEvent::NewListenAddr { address, .. } = s.select_next_some().await {
                return address;
            }
        }
    }
    /// Both ends up and identified, driving both swarms.
    async fn settle(a: &mut Floor, b: &mut Floor) {
        let mut seen = [0u8; 2];
        let done = |e: &SwarmEvent<identify::Event>| {
            u8::from(matches!(
                e,
                SwarmEvent::ConnectionEstablished { .. }
                    | SwarmEvent::Behaviour(identify::Event::Received { .. })
            ))
        };
        while seen != [2, 2] {
            futures::select! {
                e = a.select_next_some() => seen[0] += done(&e),
                e = b.select_next_some() => seen[1] += done(&e),
            }
        }
    }
    let (boot_key, joiner_key) = (
        libp2p::identity::Keypair::generate_ed25519(),
        libp2p::identity::Keypair::generate_ed25519(),
    );
    let (mut boot, mut joiner) = (swarm(&boot_key), swarm(&joiner_key));
    let boot_addr = listen(&mut boot, tcp).await;
    let joiner_addr = listen(&mut joiner, tcp).await;
    let boot_id = *boot.local_peer_id();
    let cpu0 = cpu_seconds(std::process::id());
    for _ in 0..joins {
        joiner.dial(boot_addr.clone()).expect("dials"); // the join
        settle(&mut boot, &mut joiner).await;
        boot.dial(joiner_addr.clone()).expect("dials"); // the boot node's dial-back
        settle(&mut boot, &mut joiner).await;
        joiner.dial(boot_addr.clone()).expect("dials"); // the joiner's server dialing back
        settle(&mut boot, &mut joiner).await;
        let _ = joiner.disconnect_peer_id(boot_id);
    }
    (cpu_seconds(std::process::id()) - cpu0) / joins as f64 / 2.0
}

fn main() {
    let rounds = env_or("JOIN_ROUNDS", 7);
    let batch = env_or("JOIN_BATCH", 200);
    let threads = std::env::var("JOIN_NODE_THREADS").ok();
    let mut args = common::LIFTED_LIMITS.to_vec();
    if let Some(t) = &threads {
        args.extend(["--threads", t.as_str()]);
    }
    let attempts = std::env::var("JOIN_DIAL_BACK_ATTEMPTS").ok();
    if let Some(n) = &attempts {
        args.extend(["--dial-back-attempts", n.as_str()]);
    }
    let priority = std::env::var("JOIN_HANDSHAKE_PRIORITY").ok();
    if let Some(p) = &priority {
        args.extend(["--handshake-priority", p.as_str()]);
    }
    let stagger = std::env::var("JOIN_DIAL_BACK_STAGGER_MS").ok();
    if let Some(ms) = &stagger {
        args.extend(["--dial-back-stagger-ms", ms.as_str()]);
    }
    let node = common::loopback_boot_node(&args);
    // Another build's node beside this one, measured in the same rounds (before / after).
    let compare_bin = std::env::var("JOIN_COMPARE_BIN").ok();
    let compare = (compare_bin.as_deref()).map(|bin| common::loopback_boot_node_from(bin, &args));
    let mut compared = Vec::new();
    let (mut machine, mut process) = (Vec::new(), Vec::new());
    let (mut floor, mut tcp_floor) = (Vec::new(), Vec::new());
    smol::block_on(async {
        // One warm-up batch of each.
        machine_joins(20_000);
        process_joins(&node, 25).await;
        if let Some(other) = &compare {
            process_joins(other, 25).await;
        }
        handshake_floor(20, false).await;
        handshake_floor(20, true).await;
        for _ in 0..rounds {
            machine.push(machine_joins(100_000));
            process.push(process_joins(&node, batch).await);
            if let Some(other) = &compare {
                compared.push(process_joins(other, batch).await);
            }
            floor.push(handshake_floor(batch, false).await);
            tcp_floor.push(handshake_floor(batch, true).await);
        }
    });
    let (m, p, f) = (median(machine), median(process), median(floor));
    let t = median(tcp_floor);
    println!("## Cost of one join (median of {rounds} rounds, side by side)\n");
    println!("| what | per join |");
    println!("|---|---:|");
    println!(
        "| boot-node machine alone (policy, no IO) | {:.2} µs |",
        m * 1e6
    );
    println!(
        "| whole boot node process (swarm, HTTP, machine; CPU time over {batch} joins) | {:.3} ms |",
        p * 1e3
    );
    println!("| machine / whole | {:.2} % |", 100.0 * m / p);
    println!(
        "| handshake floor (the boot node's share of 3 in-memory connections: noise XX, yamux, identify; {} joins per round) | {:.3} ms |",
        batch,
        f * 1e3
    );
    println!("| whole / floor | {:.2}× |", p / f);
    println!(
        "| the same floor over TCP on loopback (the kernel's share of the three connections in it) | {:.3} ms |",
        t * 1e3
    );
    println!("| whole / TCP floor | {:.2}× |", p / t);
    if let Some(bin) = &compare_bin {
        let c = median(compared);
        println!("| whole boot node process of {bin} | {:.3} ms |", c * 1e3);
        println!("| this build / that build | {:.2}× |", p / c);
        println!("| that build / TCP floor | {:.2}× |", c / t);
    }
}
