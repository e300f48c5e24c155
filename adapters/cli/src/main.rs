//! `pyrsia-boot`: bootstrap a libp2p node and learn whether it is reachable, run a boot node,
//! or run both on loopback as a demo.
//!
//! ```text
//! pyrsia-boot demo                                   # three boot nodes and a client, loopback
//! pyrsia-boot node --listen /ip4/0.0.0.0/tcp/44000 --http 0.0.0.0:8080
//! pyrsia-boot bootstrap http://boot.example/status --json
//! ```

#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bootstrap;
mod demo;
mod node;
mod operator;
mod timeline;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use libp2p::Multiaddr;
use std::path::PathBuf;

use bootstrap::BootstrapArgs;
use node::NodeArgs;
use operator::SignArgs;

/// Exit code: bootstrap gave up (the reason is printed).
pub(crate) const EXIT_GAVE_UP: u8 = 1;
/// Exit code: the node could not start (bad address, port in use, unreadable key).
pub(crate) const EXIT_START_FAILED: u8 = 3;
/// Arguments that cannot work together (clap uses the same code for unparsable ones).
pub(crate) const EXIT_BAD_ARGUMENTS: u8 = 2;

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
    /// Worker threads of the runtime's executor, which runs the connection tasks (TCP, noise
    /// handshakes, yamux, the protocols); the swarm's own loop stays on one thread. Default:
    /// one per core (SMOL_THREADS or ASYNC_STD_THREAD_COUNT, when set, stand instead).
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuntimeChoice {
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

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = cli.runtime;
    let threads = executor_threads(rt, cli.threads);
    let run = async move {
        match cli.command {
            Command::Bootstrap(args) => bootstrap::bootstrap(rt, args).await,
            Command::Node(args) => node::node(rt, args, threads).await,
            Command::Demo { json } => demo::demo(rt, json).await,
            Command::Keygen { out } => operator::keygen(&out),
            Command::PublicKey { file } => operator::public_key(&file),
            Command::Sign(args) => operator::sign(args),
        }
    };
    match rt {
        RuntimeChoice::Smol => smol::block_on(run),
        RuntimeChoice::AsyncStd => async_std::task::block_on(run),
    }
}

/// Sets the runtime's executor thread count, before its executor first starts (below, in
/// `block_on`). Each runtime reads it from the environment then: smol's global executor runs
/// one thread unless told (`SMOL_THREADS`), which on an operator's many-core machine would put
/// every handshake on one core; async-std starts one per core (`ASYNC_STD_THREAD_COUNT`).
/// Returns the count the executor will run.
fn executor_threads(rt: RuntimeChoice, threads: Option<u16>) -> usize {
    let var = match rt {
        RuntimeChoice::Smol => "SMOL_THREADS",
        RuntimeChoice::AsyncStd => "ASYNC_STD_THREAD_COUNT",
    };
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let n = threads.map_or(cores, usize::from);
    // No other thread exists yet: nothing reads the environment concurrently.
    if threads.is_some() || std::env::var_os(var).is_none() {
        std::env::set_var(var, n.to_string());
        return n;
    }
    (std::env::var(var).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(n)
}

pub(crate) fn start_failed(what: &str, error: impl std::fmt::Display) -> ExitCode {
    eprintln!("pyrsia-boot: {what}: {error}");
    ExitCode::from(EXIT_START_FAILED)
}

pub(crate) fn bad_argument(message: &str) -> ExitCode {
    eprintln!("pyrsia-boot: error: {message}");
    ExitCode::from(EXIT_BAD_ARGUMENTS)
}

/// A `--url` value: an http:// or https:// URL with a usable host and port. A typo is bad input
/// (exit 2 naming the value), not a boot URL to retry.
pub(crate) fn boot_url(text: &str) -> Result<String, String> {
    pyrsia_boot_core::check_boot_url(text)
        .map(|()| text.to_owned())
        .map_err(|e| format!("not a usable boot URL: {e}"))
}

/// A `--seed` or `--cluster-peer` value: a multiaddr that ends in `/p2p/<peer id>` with an
/// address before it. Anything else is bad input (exit 2, with clap's usage line).
pub(crate) fn p2p_multiaddr(text: &str) -> Result<Multiaddr, String> {
    let addr: Multiaddr = text.parse().map_err(|e| format!("not a multiaddr: {e}"))?;
    match pyrsia_boot_core::KnownPeer::from_p2p_addr(&addr) {
        Some(_) => Ok(addr),
        None => Err("it must end in /p2p/<peer id>, with an address before it".into()),
    }
}
