//! Soak: one boot node (a `pyrsia-boot node` process, release build, loopback) under a steady
//! churn of joining and leaving clients for `SOAK_SECS` seconds (default 600). Each of
//! `SOAK_CONCURRENCY` workers (default 20) runs one client after another: it fetches `/status`,
//! connects, waits for Connected and its own verdict (30 s at most), and leaves. Beside them a
//! poller asks `/status` every 100 ms (5 s timeout each); a request that fails or times out is
//! lost. Every second the node's resident set size is sampled from `/proc`. Reports joins,
//! failed joins, `/status` requests answered and lost, RSS at start and end, its peak and the
//! peak the kernel saw (VmHWM); writes the RSS curve to `docs/soak.svg`.
//!
//! Run: `cargo bench -p pyrsia-boot --bench soak` (`SOAK_SECS=60` for a short one).
#![allow(clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use plotters::prelude::*;
use pyrsia_boot_core::{Config, Event};
use pyrsia_boot_libp2p::{Output, Runtime};
use pyrsia_boot_smol::SmolRuntime;

/// A field of `/proc/PID/status` in MiB ("VmRSS", "VmHWM").
fn proc_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Default)]
struct Counts {
    joins: u64,
    failed_joins: u64,
    status_ok: u64,
    status_lost: u64,
}

/// One client: Connected and a verdict (or the core's word that none comes), within 30 s.
async fn one_join(url: String, seed: u64) -> bool {
    let join = async move {
        let mut config = Config::with_urls([url]);
        config.rng_seed = seed;
        let (mut driver, mut swarm) = common::pyrsia_like_client(config).await;
        let (mut connected, mut verdict) = (false, false);
        while !(connected && verdict) {
            match driver.next(&mut swarm).await {
                Output::Report(Event::Connected { .. }) => connected = true,
                Output::Report(Event::NatChanged(_) | Event::VerdictUnavailable { .. }) => {
                    verdict = true
                }
                Output::Report(Event::GaveUp(_)) => return false,
                _ => {}
            }
        }
        true
    };
    let timeout = smol::Timer::after(Duration::from_secs(30)).map(|_| false);
    futures::future::select(Box::pin(join), Box::pin(timeout))
        .await
        .factor_first()
        .0
}

fn main() {
    let secs = env_or("SOAK_SECS", 600);
    let workers = env_or("SOAK_CONCURRENCY", 20);
    let node = common::loopback_boot_node(&[
        "--http-max-connections-per-ip",
        "256",
        "--max-connections-per-ip",
        "100000",
    ]);
    let pid = node.process.0.id();
    let counts = Rc::new(RefCell::new(Counts::default()));
    let mut samples: Vec<(f64, f64)> = Vec::new();
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let ex = smol::LocalExecutor::new();
    smol::block_on(ex.run(async {
        let mut tasks = Vec::new();
        for w in 0..workers {
            let (url, counts) = (node.url.clone(), counts.clone());
            tasks.push(ex.spawn(async move {
                let mut seed = w << 32;
                while Instant::now() < end {
                    seed += 1;
                    let ok = one_join(url.clone(), seed).await;
                    let mut c = counts.borrow_mut();
                    if ok {
                        c.joins += 1;
                    } else {
                        c.failed_joins += 1;
                    }
                    drop(c);
                }
            }));
        }
        let (url, poll_counts) = (node.url.clone(), counts.clone());
        tasks.push(ex.spawn(async move {
            while Instant::now() < end {
                let get = SmolRuntime::default().http_get(url.clone(), 1 << 20);
                let timeout = smol::Timer::after(Duration::from_secs(5)).map(|_| None);
                let answered = futures::future::select(get.map(Some), Box::pin(timeout))
                    .await
                    .factor_first()
                    .0
                    .is_some_and(|r| r.is_ok_and(|r| r.status == 200));
                {
                    let mut c = poll_counts.borrow_mut();
                    if answered {
                        c.status_ok += 1;
                    } else {
                        c.status_lost += 1;
                    }
                }
                smol::Timer::after(Duration::from_millis(100)).await;
            }
        }));
        while Instant::now() < end {
            samples.push((start.elapsed().as_secs_f64(), proc_mib(pid, "VmRSS")));
            smol::Timer::after(Duration::from_secs(1)).await;
        }
        for t in tasks {
            t.await;
        }
    }));
    samples.push((start.elapsed().as_secs_f64(), proc_mib(pid, "VmRSS")));
    let c = counts.borrow();
    let first = samples.first().map_or(0.0, |s| s.1);
    let last = samples.last().map_or(0.0, |s| s.1);
    let peak = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    println!("soak: {secs} s, {workers} clients at a time");
    println!(
        "joins {} (failed {}), /status answered {} lost {}",
        c.joins, c.failed_joins, c.status_ok, c.status_lost
    );
    println!(
        "boot node RSS: start {first:.1} MiB, end {last:.1} MiB, peak sampled {peak:.1} MiB, VmHWM {:.1} MiB",
        proc_mib(pid, "VmHWM")
    );
    let svg = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/soak.svg");
    match plot(&samples, secs, workers, &svg) {
        Ok(()) => println!("plot: {}", svg.display()),
        Err(e) => println!("plot failed: {e}"),
    }
}

fn plot(
    samples: &[(f64, f64)],
    secs: u64,
    workers: u64,
    path: &PathBuf,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (720, 380)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_rss = samples.iter().map(|s| s.1).fold(1.0, f64::max);
    let caption = format!(
        "pyrsia-boot node under churn: {workers} clients joining and leaving at a time, {secs} s"
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..secs as f64, 0.0..max_rss * 1.25)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("boot node RSS (MiB)")
        .draw()?;
    chart.draw_series(LineSeries::new(
        samples.iter().copied(),
        BLUE.stroke_width(2),
    ))?;
    root.present()?;
    Ok(())
}
