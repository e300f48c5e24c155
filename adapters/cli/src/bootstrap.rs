//! `pyrsia-boot bootstrap`: a client run to Connected and a verdict, printed as a timeline or
//! one JSON report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use libp2p::identity::Keypair;
use libp2p::{Multiaddr, Swarm};
use pyrsia_boot_core::{AddressPolicy, Config, Event, FamilyNat, KnownPeer, NatVerdict};
use pyrsia_boot_libp2p::state_file::{self, Loaded};
use pyrsia_boot_libp2p::{Behaviour, Driver, Output, Runtime};
use pyrsia_boot_smol::http::Tls;
use pyrsia_boot_smol::{client_on, SmolRuntime};
use serde_json::json;

use crate::operator::trusted_key;
use crate::timeline;
use crate::{bad_argument, boot_url, p2p_multiaddr, start_failed, RuntimeChoice, EXIT_GAVE_UP};

#[derive(clap::Args, Debug)]
pub(crate) struct BootstrapArgs {
    /// Boot URL serving the /status document, e.g. http://boot.example.org/status. Repeat for
    /// fallbacks; they are tried in order.
    #[arg(long = "url", value_name = "URL", value_parser = boot_url)]
    urls: Vec<String>,
    /// Seed peer multiaddr ending in /p2p/<peer id>, tried after the URLs. Repeatable.
    #[arg(long = "seed", value_name = "MULTIADDR", value_parser = p2p_multiaddr)]
    seeds: Vec<Multiaddr>,
    /// Also dial loopback, private (RFC 1918/ULA), link-local, CGNAT and documentation
    /// addresses. Needed on a LAN, in a lab, or for a loopback demo.
    #[arg(long)]
    allow_private: bool,
    /// Where this node listens; boot peers dial it back there. Repeatable, e.g. once per
    /// address family (`--listen /ip4/0.0.0.0/tcp/4001 --listen /ip6/::/tcp/4001`).
    #[arg(long, value_name = "MULTIADDR", default_value = "/ip4/0.0.0.0/tcp/0")]
    listen: Vec<Multiaddr>,
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
    /// After the report, keep running this long (listening, answering dial-backs), so that
    /// another host can check the verdict: a stranger connecting to the claimed address.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    linger: u64,
}

pub(crate) async fn bootstrap(rt: RuntimeChoice, args: BootstrapArgs) -> ExitCode {
    // Checked by clap already (`p2p_multiaddr`): every seed ends in /p2p/<id>.
    let seeds: Vec<KnownPeer> = args
        .seeds
        .iter()
        .filter_map(KnownPeer::from_p2p_addr)
        .collect();
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
        Report {
            as_json: args.json,
            state: args.state.as_deref(),
            linger: Duration::from_secs(args.linger),
        },
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

/// How a client run reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Report<'a> {
    /// One JSON document instead of the timeline.
    pub(crate) as_json: bool,
    /// Where to keep state.
    pub(crate) state: Option<&'a Path>,
    /// How long to keep running after the report.
    pub(crate) linger: Duration,
}

/// Exit 2: the arguments cannot work.
pub(crate) async fn start_client(
    rt: RuntimeChoice,
    tls: Tls,
    mut config: Config,
    listen: Vec<Multiaddr>,
    report: Report<'_>,
) -> ExitCode {
    config.rng_seed = seed_from_clock();
    let key = Keypair::generate_ed25519();
    let mut listen = listen.into_iter();
    let first = listen.next().expect("clap gives --listen a default");
    let more: Vec<Multiaddr> = listen.collect();
    match rt {
        RuntimeChoice::Smol => {
            match client_on(SmolRuntime::with_tls(tls), key, config, first).await {
                Ok((driver, mut swarm)) => match listen_more(&mut swarm, more).await {
                    Ok(()) => run_client(driver, swarm, report).await,
                    Err(e) => start_failed("starting the client", e),
                },
                Err(e) => start_failed("starting the client", e),
            }
        }
        RuntimeChoice::AsyncStd => match pyrsia_boot_async_std::client(key, config, first).await {
            Ok((driver, mut swarm)) => match listen_more(&mut swarm, more).await {
                Ok(()) => run_client(driver, swarm, report).await,
                Err(e) => start_failed("starting the client", e),
            },
            Err(e) => start_failed("starting the client", e),
        },
    }
}

/// Listens on each further `--listen` address.
async fn listen_more(
    swarm: &mut Swarm<Behaviour>,
    addrs: Vec<Multiaddr>,
) -> Result<(), pyrsia_boot_libp2p::StartError> {
    for addr in addrs {
        pyrsia_boot_libp2p::listen(swarm, addr).await?;
    }
    Ok(())
}

/// Runs a client until it is connected and has a NAT verdict (or the verdict wait ends), or
/// it gives up. Prints the timeline or one JSON report.
async fn run_client<R: Runtime>(
    mut driver: Driver<R>,
    mut swarm: Swarm<Behaviour>,
    report: Report<'_>,
) -> ExitCode {
    let Report {
        as_json,
        state,
        linger,
    } = report;
    let start = Instant::now();
    // A verdict restored from the state file stands, marked stale, until this run confirms or
    // replaces it.
    let nat = driver.machine().status().nat;
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
            Event::Connected { peer, elapsed, by } => {
                connected = Some((peer, elapsed, by));
                if settled {
                    break;
                }
            }
            // Settled once no probe of either family is under way or about to be.
            Event::NatChanged(_) | Event::VerdictUnavailable { .. } => {
                settled = !driver.machine().status().verdict_pending;
                if settled && connected.is_some() {
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
            "boot_peer": connected.map(|(p, _, _)| p.to_string()),
            "elapsed_ms": connected.map(|(_, e, _)| e.as_millis() as u64),
            "connected_by": connected.map(|(_, _, by)| by.name()),
            "nat": timeline::report_json(&driver.machine().status()),
            "external_addresses": swarm.external_addresses().map(|a| a.to_string()).collect::<Vec<_>>(),
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
        let status = driver.machine().status();
        println!("verdict: {}{stale}", timeline::verdict_phrase(&status.nat));
        println!(
            "NAT: {}",
            timeline::behaviour_phrase(&status.nat, &status.behaviour)
        );
        // Per family, when both were probed (a dual-stack node).
        let probed = |f: &FamilyNat| f.verdict != NatVerdict::Unknown;
        if probed(&status.ipv4) && probed(&status.ipv6) {
            for (name, f) in [("IPv4", &status.ipv4), ("IPv6", &status.ipv6)] {
                let (v, b) = (&f.verdict, &f.behaviour);
                let phrase = timeline::behaviour_phrase(v, b);
                println!("{name}: {}; {phrase}", timeline::verdict_phrase(v));
            }
        }
    }
    if !linger.is_zero() {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let until = futures::FutureExt::fuse(smol::Timer::after(linger));
        let mut until = std::pin::pin!(until);
        loop {
            let next = futures::FutureExt::fuse(driver.next(&mut swarm));
            let mut next = std::pin::pin!(next);
            futures::select! {
                _ = next => {}
                _ = until => break,
            }
        }
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
