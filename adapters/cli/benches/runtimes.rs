//! The two runtime adapters side by side in one run, on loopback, and warm vs cold starts.
//! Run: `cargo bench -p pyrsia-boot --bench runtimes`.
//!
//! Each adapter bootstraps against a boot node on its own runtime (client and boot node in
//! this process). Rounds alternate between the adapters, so both see the same machine state.
//! Per round and adapter:
//! - cold: the client knows only the boot URL: GET /status, dial, dial-back request;
//! - warm: the client restarts from the cold run's snapshot written to and read from a state
//!   file (the cached peer is dialed first; the URL is not needed).
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use libp2p::identity::Keypair;
use libp2p::{Multiaddr, Swarm};
use pyrsia_boot_core::{AddressPolicy, Config, Event, Snapshot};
use pyrsia_boot_libp2p::state_file::{self, Loaded};
use pyrsia_boot_libp2p::{Behaviour, BootNodeConfig, BootNodeHandle, Driver, Output, Runtime};

const ROUNDS: usize = 41;

/// Milestones of one bootstrap, from the client's start (swarm creation included).
#[derive(Debug, Default, Clone, Copy)]
struct Milestones {
    status: Option<Duration>,
    boot_connected: Duration,
    connected: Duration,
    verdict: Duration,
}

fn listen() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0".parse().expect("valid")
}

fn boot_config() -> BootNodeConfig {
    BootNodeConfig {
        private_network: true,
        ..BootNodeConfig::default()
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn client_config(url: &str, snapshot: Option<Snapshot>) -> Config {
    let mut config = Config::with_urls([url.to_string()]);
    config.policy = AddressPolicy::allow_private();
    config.max_concurrent_dials = 1;
    if let Some(s) = snapshot {
        config.restore(s);
    }
    config
}

/// Drives a started client to Connected and a verdict; returns its milestones and the last
/// snapshot it persisted.
async fn drive<R: Runtime>(
    start: Instant,
    mut driver: Driver<R>,
    mut swarm: Swarm<Behaviour>,
) -> (Milestones, Snapshot) {
    let mut m = Milestones::default();
    let (mut connected, mut verdict) = (false, false);
    let mut snapshot = None;
    while !(connected && verdict) {
        let event = match driver.next(&mut swarm).await {
            Output::Report(e) => e,
            Output::Persist(s) => {
                snapshot = Some(s);
                continue;
            }
            Output::Swarm(_) => continue,
        };
        let at = start.elapsed();
        match event {
            Event::StatusFetched { .. } => m.status = Some(at),
            Event::BootPeerConnected { .. } => m.boot_connected = at,
            Event::Connected { .. } => (m.connected, connected) = (at, true),
            Event::NatChanged(_) => (m.verdict, verdict) = (at, true),
            Event::GaveUp(g) => panic!("bench bootstrap gave up: {g}"),
            _ => {}
        }
    }
    for out in driver.flush(&mut swarm) {
        if let Output::Persist(s) = out {
            snapshot = Some(s);
        }
    }
    (m, snapshot.expect("a snapshot after the verdict"))
}

async fn smol_run(url: &str, snapshot: Option<Snapshot>) -> (Milestones, Snapshot) {
    let start = Instant::now();
    let (driver, swarm) = pyrsia_boot_smol::client(
        Keypair::generate_ed25519(),
        client_config(url, snapshot),
        listen(),
    )
    .await
    .expect("client starts");
    drive(start, driver, swarm).await
}

async fn async_std_run(url: &str, snapshot: Option<Snapshot>) -> (Milestones, Snapshot) {
    let start = Instant::now();
    let (driver, swarm) = pyrsia_boot_async_std::client(
        Keypair::generate_ed25519(),
        client_config(url, snapshot),
        listen(),
    )
    .await
    .expect("client starts");
    drive(start, driver, swarm).await
}

/// One cold start, its snapshot through a state file, then one warm start.
fn cold_then_warm(adapter: &str, url: &str, state: &Path) -> (Milestones, Milestones) {
    let (cold, snapshot) = match adapter {
        "smol" => smol::block_on(smol_run(url, None)),
        _ => async_std::task::block_on(async_std_run(url, None)),
    };
    state_file::save(state, &snapshot).expect("save state");
    let Loaded::Snapshot(loaded) = state_file::load(state) else {
        panic!("state file unreadable");
    };
    let (warm, _) = match adapter {
        "smol" => smol::block_on(smol_run(url, Some(loaded))),
        _ => async_std::task::block_on(async_std_run(url, Some(loaded))),
    };
    assert!(
        warm.status.is_none(),
        "a warm start should not need /status"
    );
    (cold, warm)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p90(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * 0.9).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn main() {
    let smol_boot: BootNodeHandle = smol::block_on(pyrsia_boot_smol::start_boot_node(
        Keypair::generate_ed25519(),
        listen(),
        loopback(),
        boot_config(),
    ))
    .expect("smol boot node");
    let async_std_boot: BootNodeHandle =
        async_std::task::block_on(pyrsia_boot_async_std::start_boot_node(
            Keypair::generate_ed25519(),
            listen(),
            loopback(),
            boot_config(),
        ))
        .expect("async-std boot node");
    let dir = std::env::temp_dir().join(format!("pyrsia-boot-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let adapters = [
        ("smol", smol_boot.status_url()),
        ("async-std", async_std_boot.status_url()),
    ];
    // Warm-up: one round each, not counted (first connections, lazy statics).
    for (name, url) in &adapters {
        cold_then_warm(name, url, &dir.join("warmup.json"));
    }
    let mut cold: [Vec<Milestones>; 2] = [Vec::new(), Vec::new()];
    let mut warm: [Vec<Milestones>; 2] = [Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        // Alternate which adapter goes first.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let (name, url) = &adapters[i];
            let (c, w) = cold_then_warm(name, url, &dir.join(format!("{name}.json")));
            cold[i].push(c);
            warm[i].push(w);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!("start → Connected on loopback, {ROUNDS} rounds per adapter (median / p90, ms)");
    println!(
        "{:<10} {:>16} {:>16} {:>16} {:>16}",
        "adapter", "/status", "boot connected", "Connected", "own verdict"
    );
    for (i, (name, _)) in adapters.iter().enumerate() {
        let col = |f: &dyn Fn(&Milestones) -> Duration| {
            let v: Vec<Duration> = cold[i].iter().map(f).collect();
            format!("{} / {}", ms(median(v.clone())), ms(p90(v)))
        };
        println!(
            "{:<10} {:>16} {:>16} {:>16} {:>16}",
            name,
            col(&|m| m.status.unwrap_or_default()),
            col(&|m| m.boot_connected),
            col(&|m| m.connected),
            col(&|m| m.verdict),
        );
    }
    let connected = |set: &[Milestones]| median(set.iter().map(|m| m.connected).collect());
    println!(
        "ratio async-std / smol, median start → Connected: {:.2}×",
        connected(&cold[1]).as_secs_f64() / connected(&cold[0]).as_secs_f64()
    );
    println!();
    println!("warm (state file) vs cold start → Connected (median / p90, ms)");
    for (i, (name, _)) in adapters.iter().enumerate() {
        let w: Vec<Duration> = warm[i].iter().map(|m| m.connected).collect();
        let c: Vec<Duration> = cold[i].iter().map(|m| m.connected).collect();
        println!(
            "{:<10} cold {} / {}   warm {} / {}   warm/cold {:.2}×",
            name,
            ms(median(c.clone())),
            ms(p90(c.clone())),
            ms(median(w.clone())),
            ms(p90(w.clone())),
            median(w).as_secs_f64() / median(c).as_secs_f64()
        );
    }
}
