//! Verdicts in the NAT lab, per NAT kind, runtime and packet loss: time to Connected and to the
//! verdict (median and max), and wrong verdicts against the stranger's ground truth; beside
//! them, the stock libp2p-autonat client and server configured as Pyrsia ran them.
//!
//! Run (root, nftables, conntrack): `cargo bench -p pyrsia-boot --bench natlab_verdicts`.
//! `NATLAB_RUNS` (default 10) runs per case without loss; 20 at 10 % loss, 10 at 30 %;
//! `NATLAB_KINDS` (comma-separated) narrows the NAT kinds (`dual-open` and `dual-closed` are
//! the dual-stack lab: per-family verdicts, each against a stranger at that family's address;
//! 0 and 10 % loss), `NATLAB_STOCK_ONLY` runs only the
//! stock pair. Each case is its own lab; its boot
//! nodes (two IPs, the first dialing back from an alternate address too) stay up while fresh
//! `pyrsia-boot bootstrap` processes run one after another.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;

use common::lab::{expected, unavailable, Lab};

const KINDS: [&str; 4] = [
    "port-restricted",
    "address-restricted",
    "full-cone",
    "symmetric",
];
/// The dual-stack cases, run after the kinds unless `NATLAB_KINDS` names them.
const DUAL: [&str; 2] = ["dual-open", "dual-closed"];

#[derive(Default)]
struct Tally {
    connected: Vec<u64>,
    verdict: Vec<u64>,
    wrong: u32,
    unknown: u32,
    kind_wrong: u32,
    runs: u32,
}

impl Tally {
    /// The table row: `case`, `runtime`, `loss`, then the tally, then `last` (kind misreported).
    fn row(&mut self, case: &str, runtime: &str, loss: u32, last: &str) -> String {
        format!(
            "| {case} | {runtime} | {loss} % | {} | {} | {} | {} | {} | {last} |",
            self.runs,
            stats(&mut self.connected),
            stats(&mut self.verdict),
            self.wrong,
            self.unknown,
        )
    }
}

fn stats(v: &mut [u64]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.sort_unstable();
    format!("{} / {}", v[v.len() / 2], v[v.len() - 1])
}

fn ours(lab: &Lab, runtime: &str, nat: &str, runs: u32) -> Tally {
    let (a, _b) = lab.two_boot_nodes(runtime);
    let (verdict, mapping, filtering) = expected(nat);
    let mut t = Tally::default();
    for run in 0..runs {
        // A fresh port per run, as a fresh process would have: one run's flows linger in the
        // router's connection table (and in TIME_WAIT) after it exits.
        let port = 4001 + u16::try_from(run).expect("few runs");
        let (report, stranger) = lab.bootstrap_and_ask_a_stranger(runtime, &a.url, port);
        t.runs += 1;
        if let Some(ms) = report.at("connected") {
            t.connected.push(ms);
        }
        match report.verdict() {
            "public" | "private" => {
                if let Some(ms) = report.at("nat_changed") {
                    t.verdict.push(ms);
                }
                if (report.verdict() == "public") != stranger || report.verdict() != verdict {
                    t.wrong += 1;
                    eprintln!(
                        "WRONG [{runtime} {nat} {}%]: stranger {stranger}: {}",
                        lab.loss, report.json
                    );
                }
            }
            _ => t.unknown += 1,
        }
        let nat_json = &report.json["nat"];
        if nat_json["mapping"] != mapping || nat_json["filtering"] != filtering {
            t.kind_wrong += 1;
            if lab.loss == 0 {
                eprintln!("KIND [{runtime} {nat}]: {nat_json}");
            }
        }
    }
    t
}

/// A dual-stack client, NATed (port-restricted) on IPv4 and behind an IPv6 firewall that is
/// `lab.v6`: one tally per family, each verdict against the stranger at that family's address.
fn dual(lab: &Lab, runtime: &str, runs: u32) -> [Tally; 2] {
    let a = lab.dual_stack_boot_node(runtime);
    let mut tallies = [Tally::default(), Tally::default()];
    for run in 0..runs {
        let port = 4001 + u16::try_from(run).expect("few runs");
        let (report, got_in) = lab.bootstrap_and_ask_strangers(runtime, &a.url, port, true);
        for (i, family) in ["ipv4", "ipv6"].into_iter().enumerate() {
            let t = &mut tallies[i];
            t.runs += 1;
            if let Some(ms) = report.at("connected") {
                t.connected.push(ms);
            }
            let verdict = report.family(family, "verdict");
            let want = if family == "ipv6" && lab.v6 == "open" {
                "public"
            } else {
                "private"
            };
            match verdict {
                "public" | "private" => {
                    if let Some(ms) = report.family_at(family) {
                        t.verdict.push(ms);
                    }
                    if (verdict == "public") != got_in[i] || verdict != want {
                        t.wrong += 1;
                        eprintln!(
                            "WRONG [{runtime} {family} v6 {}]: stranger {}: {}",
                            lab.v6, got_in[i], report.json
                        );
                    }
                }
                _ => t.unknown += 1,
            }
        }
    }
    tallies
}

/// The stock pair: a stock AutoNAT server where our boot node was, a Pyrsia-configured stock
/// client behind the NAT.
fn stock(lab: &Lab, runs: u32) -> Tally {
    let example = std::env::current_exe()
        .ok()
        .and_then(|b| Some(b.parent()?.parent()?.join("examples").join("stock_autonat")))
        .expect("target layout");
    assert!(example.exists(), "{} not built", example.display());
    let server = Command::new("ip")
        .args(["netns", "exec", &format!("{}pub", lab.prefix)])
        .arg(&example)
        .args(["server", "/ip4/203.0.113.10/tcp/45000"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the stock server starts");
    let mut server = common::Running(server);
    let mut line = String::new();
    use std::io::BufRead;
    let stdout = server.0.stdout.take().expect("piped");
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("its address");
    let addr = line.trim().to_string();
    let mut t = Tally::default();
    for _ in 0..runs {
        let out = Command::new("ip")
            .args(["netns", "exec", &format!("{}priv", lab.prefix)])
            .arg(&example)
            .args(["client", &addr, "/ip4/0.0.0.0/tcp/0"])
            .output()
            .expect("the stock client runs");
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        t.runs += 1;
        let v = json["verdict"].as_str().unwrap_or("none");
        let (want, _, _) = expected(lab.nat);
        match v {
            "public" | "private" => {
                t.verdict.push(json["at_ms"].as_u64().unwrap_or(0));
                if v != want {
                    t.wrong += 1;
                }
            }
            _ => t.unknown += 1,
        }
    }
    t
}

fn main() {
    if let Some(why) = unavailable() {
        println!("natlab_verdicts: skipped: {why}");
        return;
    }
    let base: u32 = std::env::var("NATLAB_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let kinds: Vec<String> = match std::env::var("NATLAB_KINDS") {
        Ok(k) => k.split(',').map(str::to_string).collect(),
        Err(_) => KINDS.iter().chain(&DUAL).map(|k| k.to_string()).collect(),
    };
    println!("| NAT kind | runtime | loss | runs | Connected median / max (ms) | verdict median / max (ms) | wrong | unknown | kind misreported |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for kind in &kinds {
        if let Some(v6) = kind.strip_prefix("dual-") {
            let v6: &'static str = ["open", "closed"]
                .into_iter()
                .find(|k| *k == v6)
                .expect("dual-open or dual-closed");
            for (loss, runs) in [(0, base), (10, base * 2)] {
                for runtime in ["smol", "async-std"] {
                    let Some(lab) = Lab::up_full("bench dual", "port-restricted", loss, v6) else {
                        return;
                    };
                    for (family, mut t) in
                        ["IPv4", "IPv6"].into_iter().zip(dual(&lab, runtime, runs))
                    {
                        let case = format!("dual stack, IPv6 firewall {v6}: {family}");
                        println!("{}", t.row(&case, runtime, loss, "-"));
                    }
                }
            }
            continue;
        }
        let kind: &'static str = KINDS.iter().find(|k| *k == kind).expect("a known NAT kind");
        let stock_only = std::env::var_os("NATLAB_STOCK_ONLY").is_some();
        for (loss, runs) in [(0, base), (10, base * 2), (30, base)] {
            if stock_only {
                break;
            }
            for runtime in ["smol", "async-std"] {
                let Some(lab) = Lab::up_with("bench", kind, loss) else {
                    return;
                };
                let mut t = ours(&lab, runtime, kind, runs);
                let kind_wrong = if loss == 0 {
                    t.kind_wrong.to_string()
                } else {
                    format!("({})", t.kind_wrong)
                };
                println!("{}", t.row(kind, runtime, loss, &kind_wrong));
            }
        }
        let Some(lab) = Lab::up_with("bench stock", kind, 0) else {
            return;
        };
        let runs = (base / 2).max(3);
        let mut t = stock(&lab, runs);
        println!(
            "| {kind} | stock autonat (Pyrsia's settings) | 0 % | {} | - | {} | {} | {} | - |",
            t.runs,
            stats(&mut t.verdict),
            t.wrong,
            t.unknown,
        );
    }
}
