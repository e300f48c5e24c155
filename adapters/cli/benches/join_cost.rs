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
//! Beside them, the handshake floor: libp2p's own noise and yamux setup alone, per join (see
//! `handshake_floor`), and the whole process's cost over it.
//!
//! Run: `cargo bench -p pyrsia-boot --bench join_cost` (`JOIN_ROUNDS`, `JOIN_BATCH` to change
//! the 7 rounds of 200 process joins; `JOIN_NODE_THREADS`, `JOIN_DIAL_BACK_ATTEMPTS` and
//! `JOIN_DIAL_BACK_STAGGER_MS` pass `--threads`, `--dial-back-attempts` and
//! `--dial-back-stagger-ms` to the node).
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

/// The handshake floor: CPU per connection of libp2p's own noise XX handshake and yamux setup
/// (the boot node's transport upgrade, `secure_and_multiplex`) over the in-memory transport,
/// both ends in this process, `conns` connections one after another between two swarms with
/// no behaviour. Both ends of one connection do what a boot node does for one join's two
/// connections (the joiner's, where it answers the handshake, and its dial-back, where it
/// starts one), so this is a floor per join. It leaves out TCP, multistream-select's protocol
/// negotiations, identify, ping and the AutoNAT messages: a lower bound.
async fn handshake_floor(conns: usize) -> f64 {
    use futures::StreamExt;
    use libp2p::core::transport::MemoryTransport;
    use libp2p::swarm::{dummy, SwarmEvent};
    static PORT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(47_000);
    let swarm = |key: &libp2p::identity::Keypair| {
        let transport = pyrsia_boot_smol::secure_and_multiplex(MemoryTransport::default(), key)
            .expect("noise keys");
        let id = key.public().to_peer_id();
        let config = pyrsia_boot_smol::swarm_config();
        libp2p::Swarm::new(transport, dummy::Behaviour, id, config)
    };
    let (ka, kb) = (
        libp2p::identity::Keypair::generate_ed25519(),
        libp2p::identity::Keypair::generate_ed25519(),
    );
    let (mut a, mut b) = (swarm(&ka), swarm(&kb));
    let port = PORT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let addr: libp2p::Multiaddr = format!("/memory/{port}").parse().expect("valid");
    a.listen_on(addr.clone()).expect("listens");
    while !matches!(a.select_next_some().await, SwarmEvent::NewListenAddr { .. }) {}
    let a_id = *a.local_peer_id();
    let cpu0 = cpu_seconds(std::process::id());
    for _ in 0..conns {
        b.dial(addr.clone()).expect("dials");
        let (mut up_a, mut up_b) = (false, false);
        while !(up_a && up_b) {
            futures::select! {
                e = a.select_next_some() => up_a |= matches!(e, SwarmEvent::ConnectionEstablished { .. }),
                e = b.select_next_some() => up_b |= matches!(e, SwarmEvent::ConnectionEstablished { .. }),
            }
        }
        let _ = b.disconnect_peer_id(a_id);
    }
    (cpu_seconds(std::process::id()) - cpu0) / conns as f64
}

fn main() {
    let rounds = env_or("JOIN_ROUNDS", 7);
    let batch = env_or("JOIN_BATCH", 200);
    let threads = std::env::var("JOIN_NODE_THREADS").ok();
    let mut args = vec![
        "--http-max-connections-per-ip",
        "256",
        "--max-connections-per-ip",
        "100000",
    ];
    if let Some(t) = &threads {
        args.extend(["--threads", t.as_str()]);
    }
    let attempts = std::env::var("JOIN_DIAL_BACK_ATTEMPTS").ok();
    if let Some(n) = &attempts {
        args.extend(["--dial-back-attempts", n.as_str()]);
    }
    let stagger = std::env::var("JOIN_DIAL_BACK_STAGGER_MS").ok();
    if let Some(ms) = &stagger {
        args.extend(["--dial-back-stagger-ms", ms.as_str()]);
    }
    let node = common::loopback_boot_node(&args);
    let (mut machine, mut process, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    smol::block_on(async {
        // One warm-up batch of each.
        machine_joins(20_000);
        process_joins(&node, 25).await;
        handshake_floor(50).await;
        for _ in 0..rounds {
            machine.push(machine_joins(100_000));
            process.push(process_joins(&node, batch).await);
            floor.push(handshake_floor(batch * 2).await);
        }
    });
    let (m, p, f) = (median(machine), median(process), median(floor));
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
        "| handshake floor (noise XX + yamux, both ends of one in-memory connection; {} per round) | {:.3} ms |",
        batch * 2,
        f * 1e3
    );
    println!("| whole / floor | {:.2}× |", p / f);
}
