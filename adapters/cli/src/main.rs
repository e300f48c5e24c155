//! `pyrsia-boot`: bootstrap a libp2p node and learn whether it is reachable, run a boot node,
//! or run both on loopback as a demo.

#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod operator;
mod timeline;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use libp2p::identity::Keypair;
use libp2p::Multiaddr;
use libp2p::Swarm;
use operator::{keygen, public_key, read_key, sign, trusted_key};
use pyrsia_boot_core::signed::encode_key;
use pyrsia_boot_core::{AddressPolicy, Config, Event, KnownPeer};
use pyrsia_boot_libp2p::state_file::{self, Loaded};
use pyrsia_boot_libp2p::{
    AbuseLimits, Behaviour, BootNodeConfig, BootNodeHandle, Driver, Output, Runtime, Signing,
};
use pyrsia_boot_smol::http::Tls;
use pyrsia_boot_smol::{client_on, SmolRuntime};
use serde_json::json;

/// Exit code: bootstrap gave up (the reason is printed).
const EXIT_GAVE_UP: u8 = 1;
/// Exit code: the node could not start (bad address, port in use, unreadable key).
const EXIT_START_FAILED: u8 = 3;
/// Arguments that cannot work together (clap uses the same code for unparsable ones).
const EXIT_BAD_ARGUMENTS: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "pyrsia-boot",
    version,
    about = "Bootstrap a libp2p node from a Pyrsia-style boot list and learn whether it is reachable",
    long_about = "Bootstrap a libp2p node from a Pyrsia-style boot list (GET <url>/status), dial a boot \
peer, and run AutoNAT with it: the node is fully connected once the boot peer sends it an AutoNAT dial \
request, and it learns whether it is reachable from its own dial-back request. Also runs a boot node \
(`node`) and a self-contained loopback demo (`demo`), and signs boot lists (`keygen`, `sign`; \
clients check them with `bootstrap --trust`).\n\nExit codes: 0 connected (or node running, or key or \
signed document written), 1 gave up (the reason names everything tried), 2 bad arguments or input, \
3 could not start (address in use, unreadable key).\n\nLogs go to \
stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more."
)]
struct Cli {
    /// Async runtime for everything the command runs (clients and boot nodes): smol, or
    /// async-std (plain http:// boot URLs only; https needs smol).
    #[arg(long, value_enum, default_value_t = RuntimeChoice::Smol, global = true)]
    runtime: RuntimeChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum RuntimeChoice {
    /// smol with hyper (pyrsia-boot-smol).
    Smol,
    /// async-std with surf (pyrsia-boot-async-std).
    AsyncStd,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Bootstrap through boot URLs (and seeds) and report the NAT verdict.
    Bootstrap(BootstrapArgs),
    /// Run a boot node: AutoNAT server and client, identify, ping, and GET /status.
    Node(NodeArgs),
    /// Start three boot nodes and a client on loopback in this process; print the timeline.
    /// The nodes sign /status with a fresh operator key and the client trusts only that key.
    Demo {
        /// Print one JSON report instead of the timeline.
        #[arg(long)]
        json: bool,
    },
    /// Create an operator key for signing boot documents; prints its public key (for --trust).
    Keygen {
        /// Where to write the key (libp2p protobuf encoding, mode 0600). Never overwritten.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Print the public key of a key file, as --trust takes it.
    PublicKey {
        /// A key file written by `keygen` (or a node's --key file).
        file: PathBuf,
    },
    /// Sign a /status document with an operator key, for serving from any HTTP server.
    Sign(SignArgs),
}

#[derive(clap::Args, Debug)]
struct SignArgs {
    /// Operator key file (from `pyrsia-boot keygen`).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The document to sign; stdin when absent.
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Where to write the signed document; stdout when absent.
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
    /// How long the signature is valid, in seconds from the issue time. Re-sign before it runs
    /// out (a cron job): clients refuse expired documents.
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400)]
    valid_for: u64,
    /// Issue time, in Unix seconds; the validity runs from it. Default: now.
    #[arg(long, value_name = "UNIX_SECONDS")]
    issued_at: Option<u64>,
    /// Sequence of this list. Clients refuse lower sequences than one they have seen from this
    /// key. Default: the issue time in Unix seconds, which only grows.
    #[arg(long, value_name = "N")]
    sequence: Option<u64>,
}

#[derive(clap::Args, Debug)]
struct BootstrapArgs {
    /// Boot URL serving the /status document, e.g. http://boot.example.org/status. Repeat for
    /// fallbacks; they are tried in order.
    #[arg(long = "url", value_name = "URL")]
    urls: Vec<String>,
    /// Seed peer multiaddr ending in /p2p/<peer id>, tried after the URLs. Repeatable.
    #[arg(long = "seed", value_name = "MULTIADDR")]
    seeds: Vec<Multiaddr>,
    /// Also dial loopback, private (RFC 1918/ULA), link-local, CGNAT and documentation
    /// addresses. Needed on a LAN, in a lab, or for a loopback demo.
    #[arg(long)]
    allow_private: bool,
    /// Where this node listens; boot peers dial it back there.
    #[arg(long, value_name = "MULTIADDR", default_value = "/ip4/0.0.0.0/tcp/0")]
    listen: Multiaddr,
    /// Overall time budget for one bootstrap, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    timeout: u64,
    /// Print one JSON report instead of the timeline.
    #[arg(long)]
    json: bool,
    /// State file: good boot peers and the last NAT verdict, read at start (cached peers are
    /// tried first; the old verdict is reported as stale until confirmed) and rewritten
    /// atomically whenever they change. A missing or unusable file means a cold start.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Accept only this boot peer identity (libp2p peer id, 12D3KooW…). Repeatable: with any
    /// pin set, list entries, seeds and cached peers naming other ids are skipped (counted as
    /// "not pinned"). Noise proves the id on connect; the pin stops a boot list from
    /// substituting its own peers.
    #[arg(long = "boot-peer", value_name = "PEER_ID")]
    boot_peers: Vec<libp2p::PeerId>,
    /// Operator public key (base64, from `pyrsia-boot keygen` or `public-key`), or a key file.
    /// Repeatable. With any key set, only boot documents signed by one of them, unexpired and
    /// not older (by sequence) than one already seen are used; unsigned, wrongly signed,
    /// expired and rolled-back documents are refused by name and the next source is tried.
    /// Use with --state so sequences survive restarts.
    #[arg(long = "trust", value_name = "KEY")]
    trust: Vec<String>,
    /// PEM file of root certificates trusted for https:// boot URLs in addition to Mozilla's
    /// roots (a private CA for an internal boot cluster). smol runtime only.
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct NodeArgs {
    /// libp2p listen address.
    #[arg(
        long,
        value_name = "MULTIADDR",
        default_value = "/ip4/0.0.0.0/tcp/44000"
    )]
    listen: Multiaddr,
    /// Address of the /status HTTP server.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    http: SocketAddr,
    /// Address to advertise first in /status (like Pyrsia's PYRSIA_EXTERNAL_IP). Repeatable.
    #[arg(long = "external-address", value_name = "MULTIADDR")]
    external: Vec<Multiaddr>,
    /// Another boot node of the cluster, as a multiaddr ending in /p2p/<peer id>. Repeatable.
    #[arg(long = "cluster-peer", value_name = "MULTIADDR")]
    cluster: Vec<Multiaddr>,
    /// File holding this node's identity (libp2p protobuf encoding); created if missing.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Advertise loopback and private listen addresses and serve dial-backs to peers at such
    /// addresses (LAN, lab, demo).
    #[arg(long)]
    private_network: bool,
    /// Most libp2p connections at once, inbound and outbound (abuse limit).
    #[arg(long, value_name = "N", default_value_t = AbuseLimits::default().max_connections)]
    max_connections: u32,
    /// Sign /status with this operator key file (from `pyrsia-boot keygen`); every node of a
    /// cluster can use the same key. Clients started with --trust accept only signed lists.
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
    /// How long each /status signature is valid, in seconds (renewed after a quarter of it).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 3600,
        requires = "signing_key"
    )]
    signature_validity: u64,
    /// Sequence of this cluster's boot list: raise it, on every member, when the membership
    /// changes; clients refuse lists with a lower sequence than one they have seen.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "signing_key")]
    sequence: u64,
    /// Most inbound libp2p connections from one IP address, handshakes included (abuse limit).
    #[arg(long, value_name = "N", default_value_t = AbuseLimits::default().max_per_ip)]
    max_connections_per_ip: u32,
    /// Most HTTP connections served at once; more are closed on accept (abuse limit).
    #[arg(long, value_name = "N", default_value_t = AbuseLimits::default().http_max_connections)]
    http_max_connections: usize,
    /// Most HTTP connections served at once for one remote IP (abuse limit). Behind a load
    /// balancer or reverse proxy every request comes from its address: raise this to its
    /// connection pool size.
    #[arg(long, value_name = "N", default_value_t = AbuseLimits::default().http_max_per_ip)]
    http_max_connections_per_ip: usize,
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = cli.runtime;
    let run = async move {
        match cli.command {
            Command::Bootstrap(args) => bootstrap(rt, args).await,
            Command::Node(args) => node(rt, args).await,
            Command::Demo { json } => demo(rt, json).await,
            Command::Keygen { out } => keygen(&out),
            Command::PublicKey { file } => public_key(&file),
            Command::Sign(args) => sign(args),
        }
    };
    match rt {
        RuntimeChoice::Smol => smol::block_on(run),
        RuntimeChoice::AsyncStd => async_std::task::block_on(run),
    }
}

fn start_failed(what: &str, error: impl std::fmt::Display) -> ExitCode {
    eprintln!("pyrsia-boot: {what}: {error}");
    ExitCode::from(EXIT_START_FAILED)
}

async fn bootstrap(rt: RuntimeChoice, args: BootstrapArgs) -> ExitCode {
    let mut seeds = Vec::new();
    for s in &args.seeds {
        match KnownPeer::from_p2p_addr(s) {
            Some(p) => seeds.push(p),
            None => return start_failed("--seed", format!("{s} does not end in /p2p/<peer id>")),
        }
    }
    let tls = match tls_for(rt, &args) {
        Ok(tls) => tls,
        Err(e) => return bad_argument(&e),
    };
    let mut config = Config::with_urls(args.urls);
    config.seeds = seeds;
    config.pinned = args.boot_peers;
    for text in &args.trust {
        match trusted_key(text) {
            Ok(key) => config.trusted.push(key),
            Err(e) => return bad_argument(&format!("--trust {text}: {e}")),
        }
    }
    config.budget = Duration::from_secs(args.timeout.max(1));
    if args.allow_private {
        config.policy = AddressPolicy::allow_private();
    }
    if let Some(path) = &args.state {
        match state_file::load(path) {
            Loaded::Missing => {}
            Loaded::Snapshot(snapshot) => config.restore(snapshot),
            Loaded::Ignored(warning) => eprintln!("pyrsia-boot: warning: {warning}; starting cold"),
        }
    }
    start_client(
        rt,
        tls,
        config,
        args.listen,
        args.json,
        args.state.as_deref(),
    )
    .await
}

/// The https trust for `bootstrap`, or why the arguments cannot work: https needs the smol
/// runtime (surf's TLS stacks carry open advisories, so the async-std adapter refuses https).
fn tls_for(rt: RuntimeChoice, args: &BootstrapArgs) -> Result<Tls, String> {
    let https = args.urls.iter().find(|u| u.starts_with("https://"));
    if rt == RuntimeChoice::AsyncStd {
        if let Some(url) = https {
            return Err(format!(
                "{url}: https boot URLs need --runtime smol (the async-std adapter's HTTP client, \
                 surf, has TLS only through stacks with open security advisories)"
            ));
        }
        if args.ca_cert.is_some() {
            return Err(
                "--ca-cert needs --runtime smol (https is not supported on async-std)".into(),
            );
        }
    }
    let Some(path) = &args.ca_cert else {
        return Ok(Tls::default());
    };
    let pem = std::fs::read(path).map_err(|e| format!("--ca-cert {}: {e}", path.display()))?;
    Tls::with_extra_roots_pem(&pem).map_err(|e| format!("--ca-cert {}: {e}", path.display()))
}

/// Exit 2: the arguments cannot work.
fn bad_argument(message: &str) -> ExitCode {
    eprintln!("pyrsia-boot: error: {message}");
    ExitCode::from(EXIT_BAD_ARGUMENTS)
}

/// Starts a client on the chosen runtime and runs it (see [`run_client`]).
async fn start_client(
    rt: RuntimeChoice,
    tls: Tls,
    mut config: Config,
    listen: Multiaddr,
    as_json: bool,
    state: Option<&Path>,
) -> ExitCode {
    config.rng_seed = seed_from_clock();
    let key = Keypair::generate_ed25519();
    match rt {
        RuntimeChoice::Smol => {
            match client_on(SmolRuntime::with_tls(tls), key, config, listen).await {
                Ok((driver, swarm)) => run_client(driver, swarm, as_json, state).await,
                Err(e) => start_failed("starting the client", e),
            }
        }
        RuntimeChoice::AsyncStd => match pyrsia_boot_async_std::client(key, config, listen).await {
            Ok((driver, swarm)) => run_client(driver, swarm, as_json, state).await,
            Err(e) => start_failed("starting the client", e),
        },
    }
}

/// Runs a client until it is connected and has a NAT verdict (or the verdict wait ends), or
/// it gives up. Prints the timeline or one JSON report.
async fn run_client<R: Runtime>(
    mut driver: Driver<R>,
    mut swarm: Swarm<Behaviour>,
    as_json: bool,
    state: Option<&Path>,
) -> ExitCode {
    let start = Instant::now();
    // A verdict restored from the state file stands, marked stale, until this run confirms or
    // replaces it.
    let mut nat = driver.machine().status().nat;
    if !as_json {
        println!("local peer {}", swarm.local_peer_id());
        if driver.machine().status().nat_stale {
            println!(
                "last NAT verdict (from the state file, stale until confirmed): {}",
                timeline::verdict_phrase(&nat)
            );
        }
    }
    let mut events = Vec::new();
    let mut connected = None;
    let mut gave_up = None;
    // Settled: a verdict arrived, or the core reported that none will (it owns the probe
    // timeouts and attempts; the CLI only waits for one of the two reports).
    let mut settled = false;
    loop {
        let event = match driver.next(&mut swarm).await {
            Output::Report(event) => event,
            Output::Persist(snapshot) => {
                if let Some(path) = state {
                    save_state(path, &snapshot);
                }
                continue;
            }
            Output::Swarm(_) => continue,
        };
        let at = start.elapsed();
        if as_json {
            events.push(timeline::json_event(&event, at));
        } else if let Some(line) = timeline::line(&event) {
            println!("{:>7} ms  {line}", at.as_millis());
        }
        match event {
            Event::Connected { peer, elapsed } => {
                connected = Some((peer, elapsed));
                if settled {
                    break;
                }
            }
            Event::NatChanged(v) => {
                nat = v;
                settled = true;
                if connected.is_some() {
                    break;
                }
            }
            Event::VerdictUnavailable { .. } => {
                settled = true;
                if connected.is_some() {
                    break;
                }
            }
            Event::GaveUp(g) => {
                gave_up = Some(g);
                break;
            }
            _ => {}
        }
    }
    // The machine may still hold a snapshot (it persists right after the verdict).
    for out in driver.flush(&mut swarm) {
        if let (Output::Persist(snapshot), Some(path)) = (out, state) {
            save_state(path, &snapshot);
        }
    }
    if as_json {
        let report = json!({
            "connected": connected.is_some(),
            "boot_peer": connected.map(|(p, _)| p.to_string()),
            "elapsed_ms": connected.map(|(_, e)| e.as_millis() as u64),
            "nat": timeline::nat_json(&nat),
            "nat_stale": driver.machine().status().nat_stale,
            "gave_up": gave_up.as_ref().map(|g| g.to_string()),
            "events": events,
        });
        println!("{report}");
    } else if connected.is_some() {
        let stale = if driver.machine().status().nat_stale {
            " (from the state file, not confirmed in this run)"
        } else {
            ""
        };
        println!("verdict: {}{stale}", timeline::verdict_phrase(&nat));
    }
    match (connected, gave_up) {
        (Some(_), _) => ExitCode::SUCCESS,
        (None, Some(g)) => {
            if !as_json {
                eprintln!("pyrsia-boot: {g}");
            }
            ExitCode::from(EXIT_GAVE_UP)
        }
        (None, None) => ExitCode::from(EXIT_GAVE_UP),
    }
}

fn save_state(path: &Path, snapshot: &pyrsia_boot_core::Snapshot) {
    if let Err(e) = state_file::save(path, snapshot) {
        eprintln!(
            "pyrsia-boot: warning: cannot write state file {}: {e}",
            path.display()
        );
    }
}

/// A jitter seed that differs per process start (the core itself never reads the clock).
fn seed_from_clock() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

fn load_or_create_key(path: &Path) -> Result<Keypair, String> {
    match std::fs::read(path) {
        Ok(bytes) => Keypair::from_protobuf_encoding(&bytes)
            .map_err(|e| format!("{}: not a libp2p key: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = Keypair::generate_ed25519();
            let bytes = key
                .to_protobuf_encoding()
                .map_err(|e| format!("encoding a new key: {e}"))?;
            write_private(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(key)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

async fn node(rt: RuntimeChoice, args: NodeArgs) -> ExitCode {
    let key = match &args.key {
        Some(path) => match load_or_create_key(path) {
            Ok(k) => k,
            Err(e) => return start_failed("--key", e),
        },
        None => Keypair::generate_ed25519(),
    };
    for c in &args.cluster {
        if KnownPeer::from_p2p_addr(c).is_none() {
            return start_failed(
                "--cluster-peer",
                format!("{c} does not end in /p2p/<peer id>"),
            );
        }
    }
    let signing = match &args.signing_key {
        Some(path) => match read_key(path) {
            Ok(key) => Some(Signing {
                key,
                validity: Duration::from_secs(args.signature_validity.max(1)),
                sequence: args.sequence,
            }),
            Err(e) => return start_failed("--signing-key", e),
        },
        None => None,
    };
    let config = BootNodeConfig {
        external_addrs: args.external,
        cluster: args.cluster,
        private_network: args.private_network,
        signing: signing.clone(),
        limits: AbuseLimits {
            max_connections: args.max_connections,
            max_per_ip: args.max_connections_per_ip,
            http_max_connections: args.http_max_connections,
            http_max_per_ip: args.http_max_connections_per_ip,
            ..AbuseLimits::default()
        },
        ..BootNodeConfig::default()
    };
    let handle = match start_boot_node(rt, key, args.listen, args.http, config).await {
        Ok(h) => h,
        Err(e) => return start_failed("starting the boot node", e),
    };
    println!(
        "boot node {} listening on {}",
        handle.peer_id, handle.p2p_addr
    );
    if let Some(s) = &signing {
        println!(
            "signing /status with operator key {} (sequence {}, valid {} s)",
            encode_key(&s.key.public()),
            s.sequence,
            s.validity.as_secs()
        );
    }
    // Last line of the start-up report: scripts read up to it.
    println!("serving {}", handle.status_url());
    // Runs until the process is stopped.
    futures::future::pending::<()>().await;
    ExitCode::SUCCESS
}

/// Starts a boot node on the chosen runtime.
async fn start_boot_node(
    rt: RuntimeChoice,
    key: Keypair,
    listen: Multiaddr,
    http: SocketAddr,
    config: BootNodeConfig,
) -> Result<BootNodeHandle, pyrsia_boot_libp2p::StartError> {
    match rt {
        RuntimeChoice::Smol => pyrsia_boot_smol::start_boot_node(key, listen, http, config).await,
        RuntimeChoice::AsyncStd => {
            pyrsia_boot_async_std::start_boot_node(key, listen, http, config).await
        }
    }
}

async fn demo(rt: RuntimeChoice, as_json: bool) -> ExitCode {
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
    start_client(rt, Tls::default(), config, listen, as_json, None).await
}
