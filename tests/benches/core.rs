//! Throughput benchmarks, measured side by side in one run (interleaved rounds, medians), so
//! the ratios hold even on a busy machine. Run: `just bench` or
//! `cargo bench -p pyrsia-boot-tests --bench core`.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use pyrsia_boot_core::parse_status;
use pyrsia_boot_tests::bench::{
    bench_options, document, instant_bootstrap, limit_sized_document, signed_document,
    trusting_bench_options, value_then_validate,
};

const ROUNDS: usize = 21;
const BUDGET_PER_SAMPLE: Duration = Duration::from_millis(40);

/// Time per call of `f`, from one sample of as many calls as fit the budget.
fn sample(mut f: impl FnMut()) -> f64 {
    let mut iters = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        let took = start.elapsed();
        if took >= BUDGET_PER_SAMPLE {
            return took.as_secs_f64() / iters as f64;
        }
        iters = iters.saturating_mul(2);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Medians of `a` and `b`, sampled alternately.
fn side_by_side(mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ta.push(sample(&mut a));
        tb.push(sample(&mut b));
    }
    (median(ta), median(tb))
}

fn main() {
    let options = bench_options();
    let docs = [
        ("1 peer", document(1, 1)),
        ("64 peers", document(64, 2)),
        (
            "limit-sized",
            limit_sized_document(options.limits.max_body_bytes),
        ),
    ];
    println!("## Parser vs serde_json::Value (same bytes, interleaved, median of {ROUNDS})\n");
    println!("`Value + validate` parses into `serde_json::Value` and then runs the general");
    println!("`Multiaddr`/`PeerId` parsers on every entry: the same checks, done naively.\n");
    println!("| document | bytes | entries | parse_status | serde_json::Value | Value / parse_status | Value + validate | (Value + validate) / parse_status |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, body) in &docs {
        let list = parse_status(body, &options).expect("bench documents parse");
        let entries = list.addr_count() + list.skipped.total() as usize;
        let (ours, value) = side_by_side(
            || {
                black_box(parse_status(black_box(body), &options).ok());
            },
            || {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(body)).ok());
            },
        );
        let (ours2, naive) = side_by_side(
            || {
                black_box(parse_status(black_box(body), &options).ok());
            },
            || {
                black_box(value_then_validate(black_box(body)));
            },
        );
        let us = |t: f64| {
            format!(
                "{:.2} µs ({:.0} MB/s)",
                t * 1e6,
                body.len() as f64 / t / 1e6
            )
        };
        println!(
            "| {name} | {} | {entries} | {} | {} | {:.2}× | {} | {:.2}× |",
            body.len(),
            us(ours),
            us(value),
            value / ours,
            us(naive),
            naive / ours2
        );
    }

    println!("\n## Signed documents: checking the signature (median of {ROUNDS})\n");
    println!("The same signed bytes parsed ignoring the signature and requiring it (ed25519");
    println!("verification over the exact peer_addrs bytes).\n");
    println!("| document | bytes | ignoring signature | verifying | verifying / ignoring |");
    println!("|---|---:|---:|---:|---:|");
    let trusting = trusting_bench_options();
    for (name, body) in [
        ("1 peer", signed_document(1, 1)),
        ("64 peers", signed_document(64, 2)),
    ] {
        let list = parse_status(&body, &trusting).expect("bench documents verify");
        assert!(list.signed_by.is_some());
        let (plain, verified) = side_by_side(
            || {
                black_box(parse_status(black_box(&body), &options).ok());
            },
            || {
                black_box(parse_status(black_box(&body), &trusting).ok());
            },
        );
        println!(
            "| {name} | {} | {:.2} µs | {:.2} µs | {:.2}× |",
            body.len(),
            plain * 1e6,
            verified * 1e6,
            verified / plain
        );
    }

    println!("\n## Simulated bootstraps per second (median of {ROUNDS})\n");
    println!("| driver | per bootstrap | bootstraps/s |");
    println!("|---|---:|---:|");
    let body = document(3, 1);
    let world = pyrsia_boot_tests::world::simple_world(1, Duration::from_millis(20));
    let start = Instant::now();
    let (bare, simulated) = side_by_side(
        || {
            black_box(instant_bootstrap(black_box(&body), start));
        },
        || {
            black_box(pyrsia_boot_tests::run(black_box(&world)));
        },
    );
    for (name, t) in [
        ("machine only (instant driver, 3-peer document)", bare),
        (
            "full simulator (virtual time, invariant checks, transcript)",
            simulated,
        ),
    ] {
        println!("| {name} | {:.2} µs | {:.0} |", t * 1e6, 1.0 / t);
    }
}
