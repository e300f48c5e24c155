//! The NAT lab (`tests/natlab/natlab.sh`): real kernels, real NAT. Boot nodes and clients run
//! as `pyrsia-boot` processes inside network namespaces, on each runtime. Each test builds its
//! own lab (its own namespace prefix, so tests run in parallel) and removes it when done, also
//! when it fails.
//!
//! Needs root and nftables. Without them each test prints why and skips, unless
//! `PYRSIA_BOOT_NATLAB=require` (set by `.ci/run`), which turns a skip into a failure.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use common::{spawn_boot_node, BootNode, BIN};
const BOOT_IP: &str = "203.0.113.10";
const ROUTER_WAN_IP: &str = "203.0.113.1";
const PUBLIC_CLIENT_IP: &str = "203.0.113.11";
/// The port clients listen on (and the router forwards, when asked).
const CLIENT_PORT: u16 = 4001;

/// A line on the real stderr: the test harness's capture covers `eprintln!`, and a skip or a
/// timing should be seen in a passing run too.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/natlab/natlab.sh")
}

/// Why the lab cannot run here, if it cannot.
fn unavailable() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root (network namespaces and nftables need root)".into());
    }
    let nft = Command::new("nft").arg("--version").output();
    if !nft.is_ok_and(|o| o.status.success()) {
        return Some("nft is not installed (apt-get install nftables)".into());
    }
    None
}

/// A lab; dropping it stops every process inside and removes the namespaces.
struct Lab {
    prefix: String,
    /// The router's NAT kind (`NATLAB_NAT`) and random loss in percent (`NATLAB_LOSS`).
    nat: &'static str,
    loss: u32,
}

impl Lab {
    /// Builds a lab, or returns `None` (after saying why) when this machine cannot.
    fn up(case: &str) -> Option<Lab> {
        Lab::up_with(case, "port-restricted", 0)
    }

    /// [`Lab::up`] with the router's NAT kind and loss.
    fn up_with(case: &str, nat: &'static str, loss: u32) -> Option<Lab> {
        if let Some(why) = unavailable() {
            assert!(
                std::env::var("PYRSIA_BOOT_NATLAB").as_deref() != Ok("require"),
                "NAT lab required but unavailable: {why}"
            );
            say(&format!("skipping NAT lab test {case}: {why}"));
            return None;
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let lab = Lab {
            prefix: format!(
                "pb{}-{}-",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ),
            nat,
            loss,
        };
        let out = lab.script(&["up"]);
        assert!(out.status.success(), "natlab up failed: {out:?}");
        Some(lab)
    }

    fn script(&self, args: &[&str]) -> Output {
        Command::new("bash")
            .arg(script())
            .args(args)
            .env("NATLAB_PREFIX", &self.prefix)
            .env("NATLAB_NAT", self.nat)
            .env("NATLAB_LOSS", self.loss.to_string())
            .output()
            .expect("bash runs")
    }

    fn ok(&self, args: &[&str]) {
        let out = self.script(args);
        assert!(out.status.success(), "natlab {args:?}: {out:?}");
    }

    fn command(&self, node: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &format!("{}{node}", self.prefix), BIN])
            .args(args);
        c
    }

    /// Starts a boot node in `pub` on `runtime`; returns it once it serves `/status`.
    fn boot_node(&self, runtime: &str, p2p_port: u16, http_port: u16, extra: &[&str]) -> BootNode {
        self.boot_node_at(BOOT_IP, runtime, p2p_port, http_port, extra)
    }

    /// [`Lab::boot_node`] on another of `pub`'s addresses.
    fn boot_node_at(
        &self,
        ip: &str,
        runtime: &str,
        p2p_port: u16,
        http_port: u16,
        extra: &[&str],
    ) -> BootNode {
        let listen = format!("/ip4/{ip}/tcp/{p2p_port}");
        let http = format!("{ip}:{http_port}");
        let mut args = vec![
            "--runtime",
            runtime,
            "node",
            "--listen",
            &listen,
            "--http",
            &http,
            "--private-network",
        ];
        args.extend_from_slice(extra);
        spawn_boot_node(self.command("pub", &args))
    }

    /// Runs `pyrsia-boot bootstrap --json` in `node`; returns its report.
    fn bootstrap(&self, node: &str, runtime: &str, url: &str, extra: &[&str]) -> Report {
        let listen = format!("/ip4/0.0.0.0/tcp/{CLIENT_PORT}");
        let mut args = vec![
            "--runtime",
            runtime,
            "bootstrap",
            "--url",
            url,
            "--allow-private",
            "--listen",
            &listen,
            "--timeout",
            "30",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = self.command(node, &args).output().expect("the client runs");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "no JSON report ({e}); stdout {} stderr {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        Report {
            ok: out.status.success(),
            json,
        }
    }
}

impl Lab {
    /// Runs `pyrsia-boot bootstrap --json --linger` in `priv`; once the report is out and while
    /// the client still listens, the stranger in `pub2` (a host the client never sent a packet
    /// to) tries a TCP connection to the router's mapped address. Returns the report and
    /// whether the stranger got in: the ground truth for the verdict.
    fn bootstrap_and_ask_a_stranger(&self, runtime: &str, url: &str) -> (Report, bool) {
        let listen = format!("/ip4/0.0.0.0/tcp/{CLIENT_PORT}");
        let args = [
            "--runtime", runtime, "bootstrap", "--url", url, "--allow-private", "--listen",
            &listen, "--timeout", "30", "--json", "--linger", "5",
        ];
        let mut child = self
            .command("priv", &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the client runs");
        let stdout = child.stdout.take().expect("piped");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let json: serde_json::Value = match read {
            Ok(n) if n > 0 => serde_json::from_str(&line).unwrap_or_else(|e| {
                let _ = child.kill();
                panic!("no JSON report ({e}): {line}")
            }),
            _ => {
                let _ = child.kill();
                panic!("the client printed nothing")
            }
        };
        let target = format!("/dev/tcp/{ROUTER_WAN_IP}/{CLIENT_PORT}");
        let stranger = Command::new("ip")
            .args(["netns", "exec", &format!("{}pub2", self.prefix)])
            .args(["timeout", "2", "bash", "-c", &format!("exec 3<>{target}")])
            .status()
            .expect("the stranger runs");
        let status = child.wait().expect("the client ends");
        (
            Report {
                ok: status.success(),
                json,
            },
            stranger.success(),
        )
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let out = self.script(&["down"]);
        if !out.status.success() {
            say(&format!("natlab down failed: {out:?}"));
        }
    }
}

struct Report {
    ok: bool,
    json: serde_json::Value,
}

impl Report {
    fn verdict(&self) -> &str {
        self.json["nat"]["verdict"].as_str().unwrap_or("none")
    }
    fn address(&self) -> &str {
        self.json["nat"]["address"].as_str().unwrap_or("")
    }
    fn nat(&self, field: &str) -> &str {
        self.json["nat"][field].as_str().unwrap_or("none")
    }
    fn boot_peer(&self) -> &str {
        self.json["boot_peer"].as_str().unwrap_or("")
    }
    /// Milliseconds from start to the first report of `event`.
    fn at(&self, event: &str) -> Option<u64> {
        self.json["events"]
            .as_array()?
            .iter()
            .find(|e| e["event"] == event)
            .and_then(|e| e["at_ms"].as_u64())
    }
    fn assert_connected(&self) {
        assert!(self.ok && self.json["connected"] == true, "{}", self.json);
    }
    /// One line per measurement, collected by `just natlab`.
    fn timing(&self, runtime: &str, case: &str) {
        say(&format!(
            "natlab timing [{runtime}] {case}: connected {} ms, verdict {} ({}) {} ms",
            self.at("connected").map_or("-".into(), |t| t.to_string()),
            self.verdict(),
            self.address(),
            self.at("nat_changed").map_or("-".into(), |t| t.to_string()),
        ));
    }
}

fn public_client_is_public_at_its_own_address(runtime: &str) {
    let Some(lab) = Lab::up("public client") else {
        return;
    };
    let boot = lab.boot_node(runtime, 44000, 8080, &[]);
    let report = lab.bootstrap("pub2", runtime, &boot.url, &[]);
    report.assert_connected();
    assert_eq!(report.verdict(), "public", "{}", report.json);
    let own = format!("/ip4/{PUBLIC_CLIENT_IP}/tcp/{CLIENT_PORT}/");
    assert!(report.address().starts_with(&own), "{}", report.json);
    report.timing(runtime, "public client");
}

fn natted_client_connects_and_is_private(runtime: &str) {
    let Some(lab) = Lab::up("NATed client") else {
        return;
    };
    let boot = lab.boot_node(runtime, 44000, 8080, &[]);
    let report = lab.bootstrap("priv", runtime, &boot.url, &[]);
    // Connected: outbound works, and the boot node's dial-back request reached us over it.
    report.assert_connected();
    assert_eq!(report.verdict(), "private", "{}", report.json);
    report.timing(runtime, "NATed client");
}

fn a_port_forward_makes_the_natted_client_public_and_removing_it_private_again(runtime: &str) {
    let Some(lab) = Lab::up("port forward") else {
        return;
    };
    let boot = lab.boot_node(runtime, 44000, 8080, &[]);
    let dir = std::env::temp_dir().join(format!("{}state", lab.prefix));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let state = dir.join("state.json");
    let state = state.to_str().expect("utf-8 path");

    lab.ok(&["forward", "add", "tcp", &CLIENT_PORT.to_string()]);
    let forwarded = lab.bootstrap("priv", runtime, &boot.url, &["--state", state]);
    forwarded.assert_connected();
    assert_eq!(forwarded.verdict(), "public", "{}", forwarded.json);
    let mapped = format!("/ip4/{ROUTER_WAN_IP}/tcp/{CLIENT_PORT}/");
    assert!(
        forwarded.address().starts_with(&mapped),
        "{}",
        forwarded.json
    );
    forwarded.timing(runtime, "NATed client with a port forward");

    // Remove the forward (and its conntrack entries): the next run starts from the saved
    // "public" (stale), probes again and ends private.
    lab.ok(&["forward", "del", "tcp", &CLIENT_PORT.to_string()]);
    let removed = lab.bootstrap("priv", runtime, &boot.url, &["--state", state]);
    removed.assert_connected();
    assert_eq!(removed.verdict(), "private", "{}", removed.json);
    assert_eq!(removed.json["nat_stale"], false, "{}", removed.json);
    removed.timing(runtime, "NATed client after the forward is removed");
    let _ = std::fs::remove_dir_all(&dir);
}

fn a_natted_client_fails_over_from_an_unreachable_boot_peer(runtime: &str) {
    let Some(lab) = Lab::up("failover") else {
        return;
    };
    // B is reachable; A serves /status (listing itself first, then B) but its libp2p port
    // silently drops every packet.
    let b = lab.boot_node(runtime, 44001, 8081, &[]);
    let a = lab.boot_node(runtime, 44000, 8080, &["--cluster-peer", &b.p2p_addr]);
    lab.ok(&["block", "pub", "tcp", "44000"]);
    let report = lab.bootstrap("priv", runtime, &a.url, &[]);
    report.assert_connected();
    let b_id = b.p2p_addr.rsplit('/').next().expect("a peer id");
    assert_eq!(report.boot_peer(), b_id, "{}", report.json);
    assert_eq!(report.verdict(), "private", "{}", report.json);
    report.timing(runtime, "NATed client, first boot peer unreachable");
}

/// Peak RSS of a process, in MiB (VmHWM).
fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn a_flooded_boot_node_keeps_serving_a_well_behaved_client(runtime: &str) {
    let Some(lab) = Lab::up("flood") else {
        return;
    };
    let boot = lab.boot_node(runtime, 44000, 8080, &[]);
    // The flooder: the example binary next to this test's binary, run in pub2.
    let flood_bin = std::env::current_exe()
        .ok()
        .and_then(|t| Some(t.parent()?.parent()?.join("examples").join("flood")))
        .expect("target layout");
    assert!(flood_bin.exists(), "{} not built", flood_bin.display());
    let mut flood = Command::new("ip")
        .args(["netns", "exec", &format!("{}pub2", lab.prefix)])
        .arg(&flood_bin)
        .args([boot.url.as_str(), boot.p2p_addr.as_str(), "8"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the flooder starts");
    let mut lines = BufReader::new(flood.stdout.take().expect("piped")).lines();
    let started = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l == "flooding");
    assert!(started, "the flooder did not start");

    // A well-behaved client behind the NAT, during the flood.
    let report = lab.bootstrap("priv", runtime, &boot.url, &[]);
    report.assert_connected();
    assert!(report.at("status_fetched").is_some(), "{}", report.json);
    report.timing(runtime, "NATed client while the boot node is flooded");

    let tally: Vec<String> = lines.map_while(Result::ok).collect();
    let status = flood.wait().expect("the flooder ends");
    assert!(status.success(), "flooder: {status}");
    let rss = peak_rss_mib(boot.process.0.id());
    say(&format!(
        "natlab flood [{runtime}]: boot node peak RSS {rss:.1} MiB; flooder {}",
        tally.join(" ")
    ));
    // Bounded: the limits cap connections (32 from the flooder's address) and HTTP (256).
    assert!(rss > 0.0 && rss < 256.0, "peak RSS {rss:.1} MiB");
    // The limits did the work: most of the flooder's /status requests were closed on accept.
    let count = |key: &str| {
        tally
            .iter()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('=')?.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {key} in {tally:?}"))
    };
    assert!(
        count("status_failed") > count("status_ok"),
        "the HTTP caps refused little: {tally:?}"
    );
}

/// What a NAT kind must be reported as: verdict, mapping, filtering.
fn expected(nat: &str) -> (&'static str, &'static str, &'static str) {
    match nat {
        "full-cone" => ("public", "endpoint-independent", "endpoint-independent"),
        "address-restricted" => ("private", "endpoint-independent", "address-dependent"),
        "port-restricted" => ("private", "endpoint-independent", "address-and-port-dependent"),
        "symmetric" => ("private", "address-dependent", "address-and-port-dependent"),
        other => panic!("no expectation for {other}"),
    }
}

/// A NATed client of two boot nodes at different IPs (so its mapping shows), the first one
/// dialing back from its alternate address too: the verdict matches what a stranger finds,
/// and mapping and filtering match the router's NAT kind.
fn nat_kind_is_reported_as_a_stranger_finds_it(runtime: &str, nat: &'static str, loss: u32) {
    let case = format!("NAT kind {nat}, {loss} % loss");
    let Some(lab) = Lab::up_with(&case, nat, loss) else {
        return;
    };
    let alternate = "203.0.113.12";
    let b = lab.boot_node_at("203.0.113.13", runtime, 44001, 8081, &["--dial-back-from", alternate]);
    let a = lab.boot_node(
        runtime,
        44000,
        8080,
        &["--dial-back-from", alternate, "--cluster-peer", &b.p2p_addr],
    );
    let (report, stranger_got_in) = lab.bootstrap_and_ask_a_stranger(runtime, &a.url);
    report.assert_connected();
    let (verdict, mapping, filtering) = expected(nat);
    // Ground truth first: the verdict says what the stranger found.
    assert_eq!(
        report.verdict() == "public",
        stranger_got_in,
        "verdict {} but the stranger {} ({case}): {}",
        report.verdict(),
        if stranger_got_in { "got in" } else { "did not get in" },
        report.json
    );
    assert_eq!(report.verdict(), verdict, "{case}: {}", report.json);
    if verdict == "public" {
        let mapped = format!("/ip4/{ROUTER_WAN_IP}/tcp/{CLIENT_PORT}/");
        assert!(report.address().starts_with(&mapped), "{}", report.json);
        let external = report.json["external_addresses"].to_string();
        assert!(external.contains(&mapped), "not in the swarm: {}", report.json);
    }
    if loss == 0 {
        assert_eq!(report.nat("filtering"), filtering, "{case}: {}", report.json);
        assert_eq!(report.nat("mapping"), mapping, "{case}: {}", report.json);
    }
    report.timing(runtime, &case);
}

fn a_full_cone_nat_is_public_to_strangers(runtime: &str) {
    nat_kind_is_reported_as_a_stranger_finds_it(runtime, "full-cone", 0);
}

fn an_address_restricted_nat_is_private_to_strangers(runtime: &str) {
    nat_kind_is_reported_as_a_stranger_finds_it(runtime, "address-restricted", 0);
}

fn a_port_restricted_nat_is_private_to_strangers(runtime: &str) {
    nat_kind_is_reported_as_a_stranger_finds_it(runtime, "port-restricted", 0);
}

fn a_symmetric_nat_is_private_and_hole_punching_unlikely(runtime: &str) {
    nat_kind_is_reported_as_a_stranger_finds_it(runtime, "symmetric", 0);
}

macro_rules! on_both_runtimes {
    ($($case:ident),* $(,)?) => {
        mod smol {
            $( #[test] fn $case() { super::$case("smol") } )*
        }
        mod async_std {
            $( #[test] fn $case() { super::$case("async-std") } )*
        }
    };
}

on_both_runtimes!(
    public_client_is_public_at_its_own_address,
    natted_client_connects_and_is_private,
    a_port_forward_makes_the_natted_client_public_and_removing_it_private_again,
    a_natted_client_fails_over_from_an_unreachable_boot_peer,
    a_flooded_boot_node_keeps_serving_a_well_behaved_client,
    a_full_cone_nat_is_public_to_strangers,
    an_address_restricted_nat_is_private_to_strangers,
    a_port_restricted_nat_is_private_to_strangers,
    a_symmetric_nat_is_private_and_hole_punching_unlikely,
);
