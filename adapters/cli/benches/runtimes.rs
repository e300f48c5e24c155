//! The three runtime adapters side by side in one run, on loopback, and warm vs cold starts.
//! Run: `just bench-runtimes` (it builds the tokio helper first), or
//! `cargo bench -p pyrsia-boot --bench runtimes` for smol and async-std alone.
//!
//! Each adapter bootstraps against a boot node on its own runtime. smol and async-std (libp2p
//! 0.55) run in this process; tokio (libp2p 0.57, which cannot share a build with them) runs in
//! a helper process, `pyrsia-boot-tokio`'s `bench-rounds` example, which this bench drives one
//! round at a time over its stdin. Rounds alternate the adapters' order, so all see the same
//! machine state. Per round and adapter:
//! - cold: the client knows only the boot URL: GET /status, dial, dial-back request;
//! - warm: the client restarts from the cold run's snapshot written to and read from a state
//!   file (the cached peer is dialed first; the URL is not needed).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use libp2p::identity::Keypair;
use libp2p::Multiaddr;
use pyrsia_boot_conformance::rounds::{self, client_config, cold_then_warm, drive, Milestones};
use pyrsia_boot_core::Snapshot;
use pyrsia_boot_libp2p::{BootNodeConfig, BootNodeHandle};

const ROUNDS: usize = 41;

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

/// The tokio helper process, asked for one round at a time.
struct TokioHelper {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl TokioHelper {
    /// Starts `target/release/examples/bench-rounds`, or says why it is left out.
    fn start() -> Option<TokioHelper> {
        let path = std::env::var_os("PYRSIA_BOOT_TOKIO_ROUNDS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../target/release/examples/bench-rounds")
            });
        if !path.exists() {
            eprintln!(
                "tokio left out: {} is not built (`just bench-runtimes` builds it)",
                path.display()
            );
            return None;
        }
        let mut child = Command::new(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the tokio helper starts");
        let stdin = child.stdin.take().expect("piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut ready = String::new();
        stdout
            .read_line(&mut ready)
            .expect("the helper's first line");
        assert_eq!(ready.trim(), "ready", "the tokio helper did not start");
        Some(TokioHelper {
            child,
            stdin,
            stdout,
        })
    }

    fn round(&mut self) -> (Milestones, Milestones) {
        writeln!(self.stdin, "round").expect("ask the helper");
        self.stdin.flush().expect("ask the helper");
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("the helper's round");
        rounds::from_line(&line).unwrap_or_else(|| panic!("not a round: {line:?}"))
    }
}

impl Drop for TokioHelper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One cold start, its snapshot through a state file, then one warm start.
fn in_process_round(adapter: &str, url: &str, state: &Path) -> (Milestones, Milestones) {
    cold_then_warm(state, |snapshot| match adapter {
        "smol" => smol::block_on(smol_run(url, snapshot)),
        _ => async_std::task::block_on(async_std_run(url, snapshot)),
    })
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
    let mut tokio = TokioHelper::start();
    let dir = std::env::temp_dir().join(format!("pyrsia-boot-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut adapters = vec![
        ("smol", smol_boot.status_url()),
        ("async-std", async_std_boot.status_url()),
    ];
    if tokio.is_some() {
        adapters.push(("tokio", String::new()));
    }
    let round = |i: usize, tokio: &mut Option<TokioHelper>| {
        let (name, url) = &adapters[i];
        match (name, tokio.as_mut()) {
            (&"tokio", Some(helper)) => helper.round(),
            _ => in_process_round(name, url, &dir.join(format!("{name}.json"))),
        }
    };
    // Warm-up: one round each, not counted (first connections, lazy statics).
    let n = adapters.len();
    for i in 0..n {
        round(i, &mut tokio);
    }
    let mut cold: Vec<Vec<Milestones>> = vec![Vec::new(); n];
    let mut warm: Vec<Vec<Milestones>> = vec![Vec::new(); n];
    for r in 0..ROUNDS {
        // Rotate which adapter goes first.
        for k in 0..n {
            let i = (r + k) % n;
            let (c, w) = round(i, &mut tokio);
            cold[i].push(c);
            warm[i].push(w);
        }
    }
    drop(tokio);
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
    for (i, (name, _)) in adapters.iter().enumerate().skip(1) {
        println!(
            "ratio {name} / smol, median start → Connected: {:.2}×",
            connected(&cold[i]).as_secs_f64() / connected(&cold[0]).as_secs_f64()
        );
    }
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
