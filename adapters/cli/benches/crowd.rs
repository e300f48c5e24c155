//! The crowd: a load generator that is not the bottleneck, against `pyrsia-boot node`
//! processes (release build, loopback).
//!
//! The generator is this binary run again as worker processes (`CROWD_WORKER` set), each with
//! its own single-threaded smol executor and its share of the clients, all built before a
//! common start instant. Every worker reports, per client, start → boot connection up, start
//! → Connected (the boot node's AutoNAT dial request arrived) and start → NAT verdict, and at
//! the end its own CPU time, so a run shows who saturated: the boot side or the generator.
//!
//! Two parts, side by side in one run (`CROWD_PARTS=burst,rate` to choose):
//!
//! - **burst**: N clients start at the same instant (`CROWD_BURST`, default 1,10,100,1000),
//!   against one node on its default threads (`CROWD_PIN=1`: on one thread pinned to CPU 0,
//!   the workers on CPU 1). Reported: p99 of handshake → dial request at the boot node (its
//!   `handshake_to_dial_request_seconds` histogram, read before and after each step), of
//!   connection → dial request at the client (the time a connected joiner waits for the boot
//!   node's dial request) and of start → Connected, their ratios to N = 1 (taken over
//!   `CROWD_SOLO`, default 20, single-joiner steps), and verdicts: every client must get one,
//!   and on loopback (every client reachable) it must be "public". `CROWD_COMPARE_ARGS` runs
//!   every size against a second node too.
//! - **rate**: clients arrive at a steady R per second for `CROWD_RATE_SECS` (default 10)
//!   seconds, R in `CROWD_RATES` (default 100,200,300,400,500), and stay connected to the end of
//!   the step. The boot side runs with `--threads 1` pinned to CPU 0 (`taskset`), the workers
//!   pinned to the other CPU, so one rate is per boot-node core. `CROWD_TARGET=cluster` puts
//!   three nodes behind nginx's one `/status` URL instead, all on CPU 0 (nginx too).
//!   Reported: p50/p99 start → Connected per rate, and the highest rate whose p99 stays under
//!   1 s and under 2 s.
//!   `CROWD_NODE_ARGS` passes extra arguments to the node.
//!
//! Run: `cargo bench -p pyrsia-boot --bench crowd` (`CROWD_WORKERS`, default 4, worker
//! processes).
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pyrsia_boot_conformance::harness::TempDir;
use pyrsia_boot_core::{Config, Event, NatVerdict};
use pyrsia_boot_libp2p::{Output, Runtime};
use pyrsia_boot_smol::SmolRuntime;

/// The `peers_count` a `/status` URL reports (`None`: no answer).
fn peers_count(url: &str) -> Option<u64> {
    let reply = smol::block_on(SmolRuntime::default().http_get(url.to_string(), 1 << 16)).ok()?;
    let doc: serde_json::Value = serde_json::from_slice(&reply.body).ok()?;
    doc["peers_count"].as_u64()
}

/// The boot node's `handshake_to_dial_request_seconds` histogram at `url` (its `/status`):
/// (upper bound in seconds, cumulative count) per bucket, `+Inf` last.
fn boot_waits(url: &str) -> Vec<(f64, u64)> {
    let url = url.replace("/status", "/metrics");
    let Ok(reply) = smol::block_on(SmolRuntime::default().http_get(url, 1 << 22)) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&reply.body);
    (text.lines())
        .filter_map(|l| {
            l.strip_prefix("pyrsia_boot_handshake_to_dial_request_seconds_bucket{le=\"")
        })
        .filter_map(|l| {
            let (le, count) = l.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.trim().parse().ok()?))
        })
        .collect()
}

/// Bucket counts of `after` minus `before` (the same buckets), summed into `into`.
fn add_waits(into: &mut Vec<(f64, u64)>, before: &[(f64, u64)], after: &[(f64, u64)]) {
    if into.is_empty() {
        *into = after.iter().map(|&(le, _)| (le, 0)).collect();
    }
    for (i, &(_, n)) in after.iter().enumerate() {
        let was = before.get(i).map_or(0, |b| b.1);
        if let Some(slot) = into.get_mut(i) {
            slot.1 += n.saturating_sub(was);
        }
    }
}

/// Quantile `p` (percent) of a cumulative histogram, interpolated linearly inside its bucket.
fn hist_quantile(h: &[(f64, u64)], p: usize) -> Option<Duration> {
    let total = h.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = (total as f64 * p as f64 / 100.0).max(1.0);
    let mut below = (0.0, 0u64);
    for &(le, n) in h {
        if n as f64 >= rank {
            let upper = if le.is_finite() { le } else { below.0 * 1.1 };
            let share = (rank - below.1 as f64) / (n - below.1).max(1) as f64;
            return Some(Duration::from_secs_f64(below.0 + (upper - below.0) * share));
        }
        below = (le, n);
    }
    None
}

/// CPU seconds (user + system) used so far by process `pid` ("self" for this one), from /proc.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (field(11) + field(12)) / 100.0 // USER_HZ is 100 on Linux
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one client saw, in µs since its own start (`None`: never).
#[derive(Debug, Clone, Copy)]
struct Client {
    conn: Option<u64>,
    connected: Option<u64>,
    verdict: Option<u64>,
    /// "public", "private", "unknown", or "none" (the core gave up on a verdict).
    kind: &'static str,
}

// ---- the worker -------------------------------------------------------------------------

/// A worker process: `CROWD_CLIENTS` clients against `CROWD_URLS`, client k starting at
/// `CROWD_START_MS` (Unix ms) + `CROWD_OFFSET_US` + k × `CROWD_SPACING_US`; one line per
/// client, then `cpu`.
fn worker() {
    let urls: Vec<String> = std::env::var("CROWD_URLS")
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    let clients = env_or("CROWD_CLIENTS", 1);
    let start_ms = env_or("CROWD_START_MS", 0) as u64;
    let spacing = Duration::from_micros(env_or("CROWD_SPACING_US", 0) as u64);
    let offset = Duration::from_micros(env_or("CROWD_OFFSET_US", 0) as u64);
    let seed = env_or("CROWD_SEED", 0) as u64;
    let config = |k: usize| {
        let mut config = Config::with_urls(urls.iter().cycle().skip(k).take(urls.len()));
        config.budget = Duration::from_secs(60);
        config.rng_seed = seed + k as u64;
        config
    };
    let results = smol::block_on(async {
        // A burst's clients are built (keys, swarm, listener) before the common start, so the
        // start is one instant. Arriving clients are built as they arrive (their machine's
        // clock starts when built: one built seconds early would find its first fetch's
        // deadline long past).
        let mut built = Vec::with_capacity(clients);
        for k in 0..clients {
            built.push(if spacing.is_zero() {
                Some(common::pyrsia_like_client(config(k)).await)
            } else {
                None
            });
        }
        let wait = Duration::from_millis(start_ms.saturating_sub(unix_ms()));
        smol::Timer::after(wait).await;
        let t0 = Instant::now();
        let tasks: Vec<_> = built
            .into_iter()
            .enumerate()
            .map(|(k, prebuilt)| {
                let config = config(k);
                smol::spawn(async move {
                    smol::Timer::at(t0 + offset + spacing * k as u32).await;
                    let (mut driver, mut swarm) = match prebuilt {
                        Some(built) => built,
                        None => common::pyrsia_like_client(config).await,
                    };
                    let start = Instant::now();
                    let us = || start.elapsed().as_micros() as u64;
                    let mut c = Client {
                        conn: None,
                        connected: None,
                        verdict: None,
                        kind: "none",
                    };
                    let trace = std::env::var("CROWD_TRACE").is_ok();
                    loop {
                        let out = driver.next(&mut swarm).await;
                        if trace {
                            if let Output::Report(e) = &out {
                                eprintln!("client {k} +{} µs: {e:?}", us());
                            }
                        }
                        match out {
                            Output::Report(Event::BootPeerConnected { .. }) => {
                                c.conn = c.conn.or(Some(us()));
                            }
                            Output::Report(Event::Connected { .. }) => c.connected = Some(us()),
                            Output::Report(Event::NatChanged(r)) if c.verdict.is_none() => {
                                let kind = match r.verdict {
                                    NatVerdict::Public(_) => "public",
                                    NatVerdict::Private => "private",
                                    _ => continue,
                                };
                                c.verdict = Some(us());
                                c.kind = kind;
                            }
                            Output::Report(Event::VerdictUnavailable { .. }) => {
                                c.verdict = Some(us());
                            }
                            Output::Report(Event::GaveUp(g)) => {
                                eprintln!("crowd worker: a client gave up: {g}");
                                return (c, None);
                            }
                            _ => {}
                        }
                        if c.connected.is_some() && c.verdict.is_some() {
                            // Kept (and its connection open) until every client is done.
                            return (c, Some((driver, swarm)));
                        }
                    }
                })
            })
            .collect();
        let mut out = Vec::with_capacity(clients);
        let mut alive = Vec::with_capacity(clients);
        for t in tasks {
            let (c, kept) = t.await;
            out.push(c);
            alive.extend(kept);
        }
        out
    });
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    let mut stdout = std::io::stdout().lock();
    for c in &results {
        let _ = writeln!(
            stdout,
            "client {} {} {} {}",
            opt(c.conn),
            opt(c.connected),
            opt(c.verdict),
            c.kind
        );
    }
    let _ = writeln!(stdout, "cpu {}", cpu_seconds("self"));
}

// ---- the parent -------------------------------------------------------------------------

/// The boot side under test: its processes and the URL clients fetch.
struct Target {
    nodes: Vec<common::BootNode>,
    _nginx: Option<(common::Nginx, TempDir)>,
    urls: Vec<String>,
}

impl Target {
    fn node(cpus: Option<&str>, threads: Option<&str>, extra: &[String]) -> common::BootNode {
        let mut cmd = common::loopback_node_command(cpus);
        // `NAME=value` words set the node's environment; the rest are arguments.
        let (env, extra): (Vec<&String>, Vec<&String>) = extra
            .iter()
            .partition(|w| w.contains('=') && !w.starts_with('-'));
        for kv in env {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
        cmd.args(common::LIFTED_LIMITS);
        if let Some(t) = threads {
            cmd.args(["--threads", t]); // global: accepted after the subcommand
        }
        cmd.args(extra);
        common::spawn_boot_node(cmd)
    }

    fn one(cpus: Option<&str>, threads: Option<&str>, extra: &[String]) -> Target {
        let node = Target::node(cpus, threads, extra);
        let urls = vec![node.url.clone()];
        Target {
            nodes: vec![node],
            _nginx: None,
            urls,
        }
    }

    /// Three nodes behind nginx, all on `cpus`.
    fn cluster(cpus: &str) -> Target {
        let nodes: Vec<common::BootNode> = (0..3)
            .map(|_| Target::node(Some(cpus), Some("1"), &[]))
            .collect();
        let upstreams: Vec<String> = (nodes.iter())
            .map(|n| {
                let u = n.url.trim_start_matches("http://");
                u.trim_end_matches("/status").to_string()
            })
            .collect();
        let dir = TempDir::new();
        let port = common::free_port();
        let nginx = common::nginx_on(&dir.0, port, &upstreams, Some(cpus));
        let url = format!("http://127.0.0.1:{port}/status");
        // nginx is up when it answers (bounded wait on that condition).
        let deadline = Instant::now() + Duration::from_secs(10);
        while peers_count(&url).is_none() {
            assert!(
                Instant::now() < deadline,
                "nginx did not serve {url} in 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Target {
            nodes,
            _nginx: Some((nginx, dir)),
            urls: vec![url],
        }
    }

    /// The nodes' wait histograms, bucket by bucket summed.
    fn waits(&self) -> Vec<(f64, u64)> {
        let mut sum = Vec::new();
        for n in &self.nodes {
            add_waits(&mut sum, &[], &boot_waits(&n.url));
        }
        sum
    }

    fn cpu(&self) -> f64 {
        (self.nodes.iter())
            .map(|n| cpu_seconds(&n.process.0.id().to_string()))
            .sum()
    }

    /// The largest node's peak resident set so far, MiB (VmHWM).
    fn peak_rss_mib(&self) -> f64 {
        (self.nodes.iter())
            .map(|n| {
                let status = std::fs::read_to_string(format!("/proc/{}/status", n.process.0.id()))
                    .unwrap_or_default();
                (status.lines())
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                    .map_or(0.0, |kb| kb / 1024.0)
            })
            .fold(0.0, f64::max)
    }

    /// Waits (bounded) until the nodes count no connected peer.
    fn drain(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let total: u64 = (self.nodes.iter())
                .map(|n| peers_count(&n.url).unwrap_or(u64::MAX))
                .sum();
            if total == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// One step's results.
struct Step {
    clients: Vec<Client>,
    /// The boot nodes' handshake → dial request waits during the step (a histogram).
    boot_waits: Vec<(f64, u64)>,
    wall: Duration,
    boot_cpu: f64,
    gen_cpu: f64,
}

/// Runs `n` clients over `workers` processes against `target`, client i starting at
/// `i × spacing` after a common start.
fn run_step(
    target: &Target,
    n: usize,
    workers: usize,
    spacing: Duration,
    cpus: Option<&str>,
) -> Step {
    let workers = workers.clamp(1, n.max(1));
    let exe = std::env::current_exe().expect("own path");
    // Time to build the clients: about 1 ms each, with a margin.
    let start_ms = unix_ms() + 500 + (n / workers) as u64 * 2;
    let boot0 = target.cpu();
    let waits0 = target.waits();
    let mut children = Vec::new();
    for w in 0..workers {
        let share = n / workers + usize::from(w < n % workers);
        if share == 0 {
            continue;
        }
        let mut cmd = common::pinned(exe.to_str().expect("utf-8 path"), cpus);
        cmd.env("CROWD_WORKER", "1")
            .env("SMOL_THREADS", "1")
            .env("CROWD_URLS", target.urls.join(","))
            .env("CROWD_CLIENTS", share.to_string())
            .env("CROWD_START_MS", start_ms.to_string())
            // Worker w's clients interleave with the others': w, w + W, w + 2W, …
            .env(
                "CROWD_SPACING_US",
                (spacing * workers as u32).as_micros().to_string(),
            )
            .env(
                "CROWD_OFFSET_US",
                (spacing * w as u32).as_micros().to_string(),
            )
            .env("CROWD_SEED", (w * 1_000_000).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let child = cmd.spawn().expect("a worker starts");
        children.push(common::Running(child));
    }
    let mut clients = Vec::with_capacity(n);
    let mut gen_cpu = 0.0;
    for child in &mut children {
        let stdout = child.0.stdout.take().expect("piped");
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap_or_default();
            let f: Vec<&str> = line.split_whitespace().collect();
            let num = |s: &str| s.parse::<u64>().ok();
            match f.as_slice() {
                ["client", conn, connected, verdict, kind] => clients.push(Client {
                    conn: num(conn),
                    connected: num(connected),
                    verdict: num(verdict),
                    kind: match *kind {
                        "public" => "public",
                        "private" => "private",
                        _ => "none",
                    },
                }),
                ["cpu", s] => gen_cpu += s.parse::<f64>().unwrap_or(0.0),
                _ => {}
            }
        }
        let _ = child.0.wait();
    }
    let end_ms = unix_ms();
    let wall = Duration::from_millis(end_ms.saturating_sub(start_ms));
    let boot_cpu = target.cpu() - boot0;
    let mut boot_waits = Vec::new();
    add_waits(&mut boot_waits, &waits0, &target.waits());
    target.drain();
    Step {
        clients,
        boot_waits,
        wall,
        boot_cpu,
        gen_cpu,
    }
}

fn percentile(mut v: Vec<u64>, p: usize) -> Option<Duration> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(Duration::from_micros(v[((v.len() - 1) * p) / 100]))
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("–".into(), |d| format!("{:.1}", d.as_secs_f64() * 1e3))
}

fn ms_fine(d: Option<Duration>) -> String {
    d.map_or("–".into(), |d| format!("{:.2}", d.as_secs_f64() * 1e3))
}

fn ratio(a: Option<Duration>, b: Option<Duration>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if !b.is_zero() => format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64()),
        _ => "–".into(),
    }
}

fn burst(workers: usize) {
    // `CROWD_COMPARE_ARGS="--flag value … NAME=value …"`: every size also against a second
    // node started with these extra arguments (and environment); the two alternate per size.
    let compare: Vec<String> = std::env::var("CROWD_COMPARE_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let label = compare.join(" ");
    // `CROWD_PIN=1`: each node on one thread pinned to CPU 0, the workers pinned to CPU 1, so
    // the generator cannot preempt the node (the rate part's arrangement).
    let pin = std::env::var("CROWD_PIN").is_ok_and(|v| v == "1");
    let (node_cpu, node_threads, gen_cpu) = if pin {
        (Some("0"), Some("1"), Some("1"))
    } else {
        (None, None, None)
    };
    let mut variants = vec![("defaults", Target::one(node_cpu, node_threads, &[]))];
    if !compare.is_empty() {
        variants.push((
            label.as_str(),
            Target::one(node_cpu, node_threads, &compare),
        ));
    }
    let sizes = env_list("CROWD_BURST", "1,10,100,1000");
    let arrangement = if pin {
        "one node on one thread pinned to CPU 0, the workers pinned to CPU 1"
    } else {
        "one node (default threads), nothing pinned"
    };
    println!("## Burst: N joiners at once, {arrangement}, {workers} worker processes\n");
    println!("| node | N | at the boot node: handshake → dial request p50 / p99 (ms) | p99 / p99(1) | at the client: connection → dial request p50 / p99 (ms) | p99 / p99(1) | start → Connected p50 / p99 (ms) | p99 / p99(1) | verdict p50 / p99 (ms) | not connected | no verdict | not public | wall (s) | boot CPU (s) | generator CPU (s) | boot peak RSS (MiB) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    // A single joiner's p99 is taken over this many single-joiner steps.
    let solo = env_or("CROWD_SOLO", 20).max(1);
    let mut firsts = vec![(None, None, None); variants.len()];
    for (_, target) in &variants {
        // Warm-up, not reported.
        let _ = run_step(target, 3, 1, Duration::ZERO, None);
    }
    for n in sizes {
        for (v, (label, target)) in variants.iter().enumerate() {
            let (first_boot, first_wait, first_conn) = &mut firsts[v];
            let mut s = run_step(target, n, workers, Duration::ZERO, gen_cpu);
            for _ in 1..if n == 1 { solo } else { 1 } {
                let more = run_step(target, n, workers, Duration::ZERO, gen_cpu);
                s.clients.extend(more.clients);
                add_waits(&mut s.boot_waits, &[], &more.boot_waits);
                s.boot_cpu += more.boot_cpu;
                s.gen_cpu += more.gen_cpu;
                s.wall += more.wall;
            }
            let n_run = if n == 1 { solo } else { n };
            let wait: Vec<u64> = (s.clients.iter())
                .filter_map(|c| Some(c.connected? - c.conn?))
                .collect();
            let conn: Vec<u64> = s.clients.iter().filter_map(|c| c.connected).collect();
            let verdict: Vec<u64> = (s.clients.iter())
                .filter(|c| c.kind != "none")
                .filter_map(|c| c.verdict)
                .collect();
            let not_connected = s.clients.iter().filter(|c| c.connected.is_none()).count()
                + n_run.saturating_sub(s.clients.len());
            let no_verdict = s.clients.iter().filter(|c| c.kind == "none").count();
            let not_public = (s.clients.iter())
                .filter(|c| c.kind != "none" && c.kind != "public")
                .count();
            let (b50, b99) = (
                hist_quantile(&s.boot_waits, 50),
                hist_quantile(&s.boot_waits, 99),
            );
            let (w50, w99) = (percentile(wait.clone(), 50), percentile(wait, 99));
            let (c50, c99) = (percentile(conn.clone(), 50), percentile(conn, 99));
            let (v50, v99) = (percentile(verdict.clone(), 50), percentile(verdict, 99));
            *first_boot = first_boot.or(b99);
            *first_wait = first_wait.or(w99);
            *first_conn = first_conn.or(c99);
            println!(
            "| {label} | {n} | {} / {} | {} | {} / {} | {} | {} / {} | {} | {} / {} | {not_connected} | {no_verdict} | {not_public} | {:.2} | {:.2} | {:.2} | {:.1} |",
            ms_fine(b50),
            ms_fine(b99),
            ratio(b99, *first_boot),
            ms(w50),
            ms(w99),
            ratio(w99, *first_wait),
            ms(c50),
            ms(c99),
            ratio(c99, *first_conn),
            ms(v50),
            ms(v99),
            s.wall.as_secs_f64(),
            s.boot_cpu,
            s.gen_cpu,
            target.peak_rss_mib(),
        );
        }
    }
    println!();
}

fn rate(workers: usize) {
    let rates = env_list("CROWD_RATES", "100,200,300,400,500");
    let secs = env_or("CROWD_RATE_SECS", 10);
    let cluster = std::env::var("CROWD_TARGET").is_ok_and(|t| t == "cluster");
    // `CROWD_NODE_ARGS="--flag value …"`: extra arguments for the node (not the cluster).
    let extra: Vec<String> = std::env::var("CROWD_NODE_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let target = if cluster {
        Target::cluster("0")
    } else {
        Target::one(Some("0"), Some("1"), &extra)
    };
    let what = if cluster {
        "three nodes and nginx"
    } else {
        "one node, --threads 1,"
    };
    println!(
        "## Rate: joiners arriving steadily for {secs} s; {what} pinned to CPU 0, {workers} worker processes on CPU 1\n"
    );
    println!("| joins/s | clients | start → Connected p50 / p99 (ms) | verdict p99 (ms) | not connected | no verdict | boot CPU / wall | generator CPU / wall |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let _ = run_step(&target, 3, 1, Duration::ZERO, Some("1"));
    let (mut under1, mut under2) = (None, None);
    for r in rates {
        let n = r * secs;
        let spacing = Duration::from_secs(1) / r.max(1) as u32;
        let s = run_step(&target, n, workers, spacing, Some("1"));
        let conn: Vec<u64> = s.clients.iter().filter_map(|c| c.connected).collect();
        let verdict: Vec<u64> = (s.clients.iter())
            .filter(|c| c.kind != "none")
            .filter_map(|c| c.verdict)
            .collect();
        let not_connected = n.saturating_sub(conn.len());
        let no_verdict = s.clients.iter().filter(|c| c.kind == "none").count();
        let (c50, c99) = (percentile(conn.clone(), 50), percentile(conn, 99));
        let wall = s.wall.as_secs_f64().max(1e-3);
        let ok = |limit: u64| not_connected == 0 && c99.is_some_and(|d| d.as_secs() < limit);
        if ok(1) {
            under1 = Some(r);
        }
        if ok(2) {
            under2 = Some(r);
        }
        println!(
            "| {r} | {n} | {} / {} | {} | {not_connected} | {no_verdict} | {:.0} % | {:.0} % |",
            ms(c50),
            ms(c99),
            ms(percentile(verdict, 99)),
            100.0 * s.boot_cpu / wall,
            100.0 * s.gen_cpu / wall,
        );
    }
    let show = |r: Option<usize>| r.map_or("none of the rates".into(), |r| format!("{r} joins/s"));
    println!(
        "\nHighest rate per boot-node core with p99 start → Connected under 1 s: {}; under 2 s: {}.\n",
        show(under1),
        show(under2)
    );
}

fn main() {
    if std::env::var("CROWD_WORKER").is_ok() {
        return worker();
    }
    let workers = env_or("CROWD_WORKERS", 4);
    let parts = std::env::var("CROWD_PARTS").unwrap_or_else(|_| "burst,rate".into());
    for part in parts.split(',') {
        match part.trim() {
            "burst" => burst(workers),
            "rate" => rate(workers),
            other => println!("unknown part {other:?} (burst, rate)"),
        }
    }
}
