//! Scale: N clients start at once in this process (smol) against a three-node boot cluster
//! (`pyrsia-boot node` processes, release build), for N = 1, 10, 100, 1000. Reports p50/p99
//! start → Connected, clients that did not connect, p50/p99 start → NAT verdict and clients
//! left without one (the boot nodes' AutoNAT servers throttle dial-backs), and each step's
//! boot-node CPU time and peak RSS; writes the Connected curve to `docs/scale.svg`.
//! Run: `cargo bench -p pyrsia-boot --bench scale` (`SCALE_STEPS=1,10,100` to choose steps;
//! `SCALE_COMPARE_RETRY=1` runs every step a second time with the dial-back retry backoff
//! shrunk to 1 ms — asking again at once after a refusal — for a side-by-side row;
//! `SCALE_THREADS=1,2` runs the steps once per boot-node `--threads` value instead).
//!
//! Clients are Pyrsia-like: one boot peer each (`max_concurrent_dials = 1`), client i asks boot
//! node i mod 3 first and the other two as fallbacks.
#![allow(clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use plotters::prelude::*;
use pyrsia_boot_core::{Config, Event};
use pyrsia_boot_libp2p::{Output, Runtime};
use pyrsia_boot_smol::SmolRuntime;

/// A boot node of the cluster under test.
struct Node(common::BootNode);

impl Node {
    /// A node on `--threads` `threads` (the CLI's default, one per core, when `None`).
    fn start(threads: Option<u16>) -> Node {
        let threads = threads.map(|t| t.to_string());
        let mut args = common::LIFTED_LIMITS.to_vec();
        if let Some(t) = &threads {
            args.extend(["--threads", t.as_str()]);
        }
        Node(common::loopback_boot_node(&args))
    }

    fn pid(&self) -> u32 {
        self.0.process.0.id()
    }

    /// CPU seconds used so far.
    fn cpu(&self) -> f64 {
        cpu_seconds(&self.pid().to_string())
    }

    /// Peak resident set size in MiB (VmHWM).
    fn peak_rss_mib(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    async fn peers(&self) -> u64 {
        let reply = SmolRuntime::default()
            .http_get(self.0.url.clone(), 1 << 16)
            .await
            .expect("GET /status");
        let doc: serde_json::Value = serde_json::from_slice(&reply.body).expect("json");
        doc["peers_count"].as_u64().unwrap_or(0)
    }
}

/// CPU seconds (user + system) used so far by process `pid` ("self" for this one), from /proc.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').expect("comm").1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0);
    ticks / 100.0 // USER_HZ is 100 on Linux
}

#[derive(Debug)]
struct Step {
    n: usize,
    p50: Duration,
    p99: Duration,
    failed: usize,
    /// Start → NAT verdict, over the clients that got one.
    verdict_p50: Duration,
    verdict_p99: Duration,
    /// Connected clients that ended without a verdict (every dial-back request refused or
    /// unanswered).
    no_verdict: usize,
    /// Dial-back requests the clients sent (more than one per client: refused or unanswered).
    own_probes: u32,
    wall: Duration,
    cpu: f64,
    client_cpu: f64,
    rss: f64,
}

fn percentile(v: &[Duration], p: usize) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v[((v.len() - 1) * p) / 100]
}

async fn step(nodes: &[Node], n: usize, probe_retry: Duration) -> Step {
    let cpu_before: f64 = nodes.iter().map(Node::cpu).sum();
    let client_cpu_before = cpu_seconds("self");
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let urls: Vec<String> = (0..3).map(|k| nodes[(i + k) % 3].0.url.clone()).collect();
            smol::spawn(async move {
                let start = Instant::now();
                let mut config = Config::with_urls(urls);
                config.budget = Duration::from_secs(60);
                config.rng_seed = i as u64;
                config.timeouts.own_probe_retry = probe_retry;
                let (mut driver, mut swarm) = common::pyrsia_like_client(config).await;
                // `verdict`: Some(Some(t)) a verdict at t, Some(None) the core gave up on one.
                let (mut connected, mut verdict) = (None, None);
                loop {
                    match driver.next(&mut swarm).await {
                        Output::Report(Event::Connected { .. }) => {
                            connected = Some(start.elapsed())
                        }
                        Output::Report(Event::NatChanged(_)) => {
                            verdict = Some(Some(start.elapsed()))
                        }
                        Output::Report(Event::VerdictUnavailable { .. }) => verdict = Some(None),
                        Output::Report(Event::GaveUp(_)) => return None,
                        _ => {}
                    }
                    if let (Some(c), Some(v)) = (connected, verdict) {
                        let probes = driver.machine().status().counters.own_probes;
                        return Some((c, v, probes, driver, swarm));
                    }
                }
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut verdicts = Vec::new();
    let mut alive = Vec::new();
    let (mut failed, mut no_verdict, mut own_probes) = (0, 0, 0);
    for t in tasks {
        match t.await {
            Some((elapsed, verdict, probes, driver, swarm)) => {
                times.push(elapsed);
                own_probes += probes;
                match verdict {
                    Some(v) => verdicts.push(v),
                    None => no_verdict += 1,
                }
                alive.push((driver, swarm));
            }
            None => failed += 1,
        }
    }
    let wall = started.elapsed();
    times.sort();
    verdicts.sort();
    let cpu = nodes.iter().map(Node::cpu).sum::<f64>() - cpu_before;
    let client_cpu = cpu_seconds("self") - client_cpu_before;
    let rss = nodes.iter().map(Node::peak_rss_mib).fold(0.0, f64::max);
    // Disconnect everyone and wait (bounded) until the boot nodes count no peers.
    drop(alive);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut total = 0;
        for node in nodes {
            total += node.peers().await;
        }
        if total == 0 || Instant::now() > deadline {
            break;
        }
        smol::Timer::after(Duration::from_millis(100)).await;
    }
    Step {
        n,
        p50: percentile(&times, 50),
        p99: percentile(&times, 99),
        failed,
        verdict_p50: percentile(&verdicts, 50),
        verdict_p99: percentile(&verdicts, 99),
        no_verdict,
        own_probes,
        wall,
        cpu,
        client_cpu,
        rss,
    }
}

fn plot(steps: &[Step], path: &PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_ms = steps
        .iter()
        .map(|s| s.p99.as_secs_f64() * 1e3)
        .fold(1.0, f64::max);
    let max_n = steps.iter().map(|s| s.n).max().unwrap_or(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "pyrsia-boot: N clients at once vs a 3-node boot cluster (loopback, 2 cores)",
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (1.0..max_n * 1.5).log_scale(),
            (0.5..max_ms * 2.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("clients started at once (N)")
        .y_desc("start → Connected (ms)")
        .draw()?;
    for (label, color, pick) in [
        ("p50", BLUE, (|s: &Step| s.p50) as fn(&Step) -> Duration),
        ("p99", RED, |s: &Step| s.p99),
    ] {
        let points: Vec<(f64, f64)> = steps
            .iter()
            .map(|s| (s.n as f64, pick(s).as_secs_f64() * 1e3))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    root.present()?;
    Ok(())
}

fn report(retry: &str, s: &Step) {
    println!(
        "N={:>5} retry {retry}  connected p50 {:>8.1} ms  p99 {:>8.1} ms  not connected {:>4}  verdict p50 {:>8.1} ms  p99 {:>8.1} ms  no verdict {:>4}  dial-back requests {:>5}  wall {:>7.2} s  boot CPU {:>6.2} s  client CPU {:>6.2} s  boot peak RSS {:>6.1} MiB",
        s.n,
        s.p50.as_secs_f64() * 1e3,
        s.p99.as_secs_f64() * 1e3,
        s.failed,
        s.verdict_p50.as_secs_f64() * 1e3,
        s.verdict_p99.as_secs_f64() * 1e3,
        s.no_verdict,
        s.own_probes,
        s.wall.as_secs_f64(),
        s.cpu,
        s.client_cpu,
        s.rss
    );
}

fn main() {
    let steps: Vec<usize> = std::env::var("SCALE_STEPS")
        .unwrap_or_else(|_| "1,10,100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let compare = std::env::var("SCALE_COMPARE_RETRY").is_ok_and(|v| v == "1");
    let backoff = pyrsia_boot_core::Timeouts::default().own_probe_retry;
    if let Ok(list) = std::env::var("SCALE_THREADS") {
        return compare_threads(&list, &steps, backoff);
    }
    let nodes: Vec<Node> = (0..3).map(|_| Node::start(None)).collect();
    let mut results = Vec::new();
    smol::block_on(async {
        // Warm-up (not reported): first connections, lazy statics.
        step(&nodes, 3, backoff).await;
        for &n in &steps {
            let s = step(&nodes, n, backoff).await;
            report("backoff", &s);
            results.push(s);
            if compare {
                report("at once", &step(&nodes, n, Duration::from_millis(1)).await);
            }
        }
    });
    let svg = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/scale.svg");
    match plot(&results, &svg) {
        Ok(()) => println!("plot: {}", svg.display()),
        Err(e) => println!("plot failed: {e}"),
    }
}

/// `SCALE_THREADS=1,2`: the steps once per boot-node `--threads` value, side by side in one
/// run (fresh nodes per value; the plot is left alone).
fn compare_threads(list: &str, steps: &[usize], backoff: Duration) {
    for threads in list.split(',').filter_map(|t| t.trim().parse::<u16>().ok()) {
        let nodes: Vec<Node> = (0..3).map(|_| Node::start(Some(threads))).collect();
        smol::block_on(async {
            step(&nodes, 3, backoff).await;
            for &n in steps {
                report(
                    &format!("backoff, --threads {threads}"),
                    &step(&nodes, n, backoff).await,
                );
            }
        });
    }
}
