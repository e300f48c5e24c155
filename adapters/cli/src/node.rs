//! `pyrsia-boot node`: a boot node until the process is stopped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::Multiaddr;
use pyrsia_boot_core::signing::encode_key;
use pyrsia_boot_libp2p::atomic_file::{self, Existing, Readable};
use pyrsia_boot_libp2p::{AbuseLimits, BootNodeConfig, BootNodeHandle, HandshakePriority, Signing};

use crate::operator::read_key;
use crate::{p2p_multiaddr, start_failed, RuntimeChoice};

#[derive(clap::Args, Debug)]
pub(crate) struct NodeArgs {
    /// libp2p listen address. Repeatable, e.g. once per address family.
    #[arg(
        long,
        value_name = "MULTIADDR",
        default_value = "/ip4/0.0.0.0/tcp/44000"
    )]
    listen: Vec<Multiaddr>,
    /// Address of the /status HTTP server.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    http: SocketAddr,
    /// Address to advertise first in /status (like Pyrsia's PYRSIA_EXTERNAL_IP). Repeatable.
    #[arg(long = "external-address", value_name = "MULTIADDR")]
    external: Vec<Multiaddr>,
    /// Another boot node of the cluster, as a multiaddr ending in /p2p/<peer id>. Repeatable.
    #[arg(long = "cluster-peer", value_name = "MULTIADDR", value_parser = p2p_multiaddr)]
    cluster: Vec<Multiaddr>,
    /// File holding this node's identity (libp2p protobuf encoding); created if missing.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Advertise loopback and private listen addresses and serve dial-backs to peers at such
    /// addresses (LAN, lab, demo).
    #[arg(long)]
    private_network: bool,
    /// A second IP of this host to dial peers back from, never advertised (like a STUN
    /// server's alternate address): an AutoNAT OK then means a host the peer never contacted
    /// reached it, so an address-restricted NAT is reported private, as strangers find it.
    #[arg(long, value_name = "IP")]
    dial_back_from: Option<std::net::IpAddr>,
    /// Connection attempts per dial-back: more survive a lost SYN (a dropped one would
    /// otherwise wait out the timeout). The first starts alone, the others only if it has not
    /// connected after --dial-back-stagger-ms plus four round trips, so a reachable peer costs
    /// this node one handshake.
    #[arg(long, value_name = "N", default_value_t = pyrsia_boot_core::DialBackPolicy::default().attempts,
          value_parser = clap::value_parser!(u32).range(1..=8))]
    dial_back_attempts: u32,
    /// How long the first dial-back attempt goes alone before the others join it, in ms, plus
    /// four round trips of the asking connection (0: all attempts start together, each one
    /// that connects costing a handshake).
    #[arg(long, value_name = "MS",
          default_value_t = pyrsia_boot_core::DialBackPolicy::default().stagger_min.as_millis() as u64)]
    dial_back_stagger_ms: u64,
    /// Where noise handshakes run: `low` (behind established work: when a crowd joins, a peer
    /// whose handshake is done gets its dial request, and /status its answer, before the next
    /// handshake step) or `same` (libp2p's way: in turn with everything else).
    #[arg(long, value_name = "PRIORITY", value_enum, default_value_t = Priority::Low)]
    handshake_priority: Priority,
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
    /// Most inbound handshakes in progress at once; a connection past it is closed at once
    /// (abuse limit). A crowd joining together needs room: each one waiting holds a few KiB.
    #[arg(long, value_name = "N", default_value_t = AbuseLimits::default().max_pending_incoming)]
    max_pending_handshakes: u32,
    /// Most HTTP connections served at once; more are closed on accept (abuse limit).
    #[arg(long, value_name = "N", default_value_t = AbuseLimits::default().http_max_connections)]
    http_max_connections: usize,
    /// Most HTTP connections served at once for one remote IP (abuse limit). Behind a load
    /// balancer or reverse proxy every request comes from its address: raise this to its
    /// connection pool size.
    #[arg(long, value_name = "N", default_value_t = AbuseLimits::default().http_max_per_ip)]
    http_max_connections_per_ip: usize,
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
            atomic_file::write(path, &bytes, Readable::Owner, Existing::Keep)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(key)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// `--handshake-priority`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Priority {
    Low,
    Same,
}

/// `threads`: the runtime executor's threads (one handshake ticker each).
pub(crate) async fn node(rt: RuntimeChoice, args: NodeArgs, threads: usize) -> ExitCode {
    let key = match &args.key {
        Some(path) => match load_or_create_key(path) {
            Ok(k) => k,
            Err(e) => return start_failed("--key", e),
        },
        None => Keypair::generate_ed25519(),
    };
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
        dial_back_from: args.dial_back_from,
        dial_back_attempts: Some(args.dial_back_attempts),
        dial_back_stagger: Some(Duration::from_millis(args.dial_back_stagger_ms)),
        also_listen: args.listen.iter().skip(1).cloned().collect(),
        handshake_priority: match args.handshake_priority {
            Priority::Low => HandshakePriority::Low,
            Priority::Same => HandshakePriority::Same,
        },
        handshake_tickers: threads,
        limits: AbuseLimits {
            max_connections: args.max_connections,
            max_per_ip: args.max_connections_per_ip,
            max_pending_incoming: args.max_pending_handshakes,
            http_max_connections: args.http_max_connections,
            http_max_per_ip: args.http_max_connections_per_ip,
            ..AbuseLimits::default()
        },
        ..BootNodeConfig::default()
    };
    let first = args.listen[0].clone(); // clap gives --listen a default
    let handle = match start_boot_node(rt, key, first, args.http, config).await {
        Ok(h) => h,
        Err(e) => return start_failed("starting the boot node", e),
    };
    println!(
        "boot node {} listening on {}",
        handle.peer_id, handle.p2p_addr
    );
    if let Some(ip) = args.dial_back_from {
        println!("dialing peers back from {ip} as well (not advertised)");
    }
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
pub(crate) async fn start_boot_node(
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
