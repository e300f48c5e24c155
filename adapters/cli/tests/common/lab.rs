//! The NAT lab (`tests/natlab/natlab.sh`) as the CLI's tests and benches drive it: a lab per
//! case with its own namespace prefix, boot nodes and clients as `pyrsia-boot` processes in
//! its namespaces, the stranger's ground-truth check, and the client's JSON report.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use super::{spawn_boot_node, BootNode, BIN};

pub const BOOT_IP: &str = "203.0.113.10";
pub const ROUTER_WAN_IP: &str = "203.0.113.1";
/// The boot side's alternate dial-back address (never advertised).
pub const ALTERNATE_IP: &str = "203.0.113.12";
/// A second boot node's address.
pub const SECOND_BOOT_IP: &str = "203.0.113.13";
pub const PUBLIC_CLIENT_IP: &str = "203.0.113.11";
/// The boot node's IPv6 address and the NATed client's (routed, not NATed) in a dual-stack lab.
pub const BOOT_IP6: &str = "2001:db8:1::10";
pub const CLIENT_IP6: &str = "2001:db8:2::2";
/// The port clients listen on (and the router forwards, when asked).
pub const CLIENT_PORT: u16 = 4001;

/// A line on the real stderr: the test harness's capture covers `eprintln!`, and a skip or a
/// timing should be seen in a passing run too.
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/natlab/natlab.sh")
}

/// Why the lab cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
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
pub struct Lab {
    pub prefix: String,
    /// The router's NAT kind (`NATLAB_NAT`) and random loss in percent (`NATLAB_LOSS`).
    pub nat: &'static str,
    pub loss: u32,
    /// The IPv6 segment (`NATLAB_V6`): off, or routed through a firewall that is open or closed.
    pub v6: &'static str,
}

impl Lab {
    /// Builds a lab, or returns `None` (after saying why) when this machine cannot.
    pub fn up(case: &str) -> Option<Lab> {
        Lab::up_with(case, "port-restricted", 0)
    }

    /// [`Lab::up`] with the router's NAT kind and loss.
    pub fn up_with(case: &str, nat: &'static str, loss: u32) -> Option<Lab> {
        Lab::up_full(case, nat, loss, "off")
    }

    /// A dual-stack lab: [`Lab::up_with`] plus the IPv6 segment behind a firewall `v6`.
    pub fn up_dual(case: &str, nat: &'static str, v6: &'static str) -> Option<Lab> {
        Lab::up_full(case, nat, 0, v6)
    }

    /// [`Lab::up_with`] and the IPv6 segment `v6` ("off", "open", "closed").
    pub fn up_full(case: &str, nat: &'static str, loss: u32, v6: &'static str) -> Option<Lab> {
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
            v6,
        };
        let out = lab.script(&["up"]);
        assert!(out.status.success(), "natlab up failed: {out:?}");
        Some(lab)
    }

    pub fn script(&self, args: &[&str]) -> Output {
        Command::new("bash")
            .arg(script())
            .args(args)
            .env("NATLAB_PREFIX", &self.prefix)
            .env("NATLAB_NAT", self.nat)
            .env("NATLAB_LOSS", self.loss.to_string())
            .env("NATLAB_V6", self.v6)
            .output()
            .expect("bash runs")
    }

    pub fn ok(&self, args: &[&str]) {
        let out = self.script(args);
        assert!(out.status.success(), "natlab {args:?}: {out:?}");
    }

    pub fn command(&self, node: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &format!("{}{node}", self.prefix), BIN])
            .args(args);
        c
    }

    /// Starts a boot node in `pub` on `runtime`; returns it once it serves `/status`.
    pub fn boot_node(
        &self,
        runtime: &str,
        p2p_port: u16,
        http_port: u16,
        extra: &[&str],
    ) -> BootNode {
        self.boot_node_at(BOOT_IP, runtime, p2p_port, http_port, extra)
    }

    /// [`Lab::boot_node`] on another of `pub`'s addresses.
    pub fn boot_node_at(
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
    pub fn bootstrap(&self, node: &str, runtime: &str, url: &str, extra: &[&str]) -> Report {
        let args = client_args(runtime, url, CLIENT_PORT, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
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
    /// The client listens on `port` (a run right after another on the same port would find
    /// the previous run's flows still in the router's and its own connection tables).
    pub fn bootstrap_and_ask_a_stranger(
        &self,
        runtime: &str,
        url: &str,
        port: u16,
    ) -> (Report, bool) {
        let (report, got_in) = self.bootstrap_and_ask_strangers(runtime, url, port, false);
        (report, got_in[0])
    }

    /// [`Lab::bootstrap_and_ask_a_stranger`], the client listening on both families when
    /// `dual`; the stranger also tries the client's IPv6 address then. Returns whether it got
    /// in at each: `[IPv4 mapped address, IPv6 address]`.
    pub fn bootstrap_and_ask_strangers(
        &self,
        runtime: &str,
        url: &str,
        port: u16,
        dual: bool,
    ) -> (Report, Vec<bool>) {
        let listen6 = format!("/ip6/::/tcp/{port}");
        let mut extra = vec!["--linger", "6"];
        if dual {
            extra.extend(["--listen", &listen6]);
        }
        let args = client_args(runtime, url, port, &extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
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
        let mut targets = vec![ROUTER_WAN_IP];
        if dual {
            targets.push(CLIENT_IP6);
        }
        let got_in = targets
            .iter()
            .map(|ip| self.stranger_gets_in(ip, port))
            .collect();
        let status = child.wait().expect("the client ends");
        let report = Report {
            ok: status.success(),
            json,
        };
        (report, got_in)
    }

    /// Whether the stranger in `pub2` opens a TCP connection to `ip`:`port`. Three attempts
    /// at once, each with 4 s (three SYNs): under random loss a single attempt's handshake
    /// fails often enough to make the ground truth itself wrong.
    fn stranger_gets_in(&self, ip: &str, port: u16) -> bool {
        let target = format!("/dev/tcp/{ip}/{port}");
        let attempt = format!("timeout 4 bash -c 'exec 3<>{target}'");
        let any = format!("{attempt} & {attempt} & {attempt} & ok=1; for _ in 1 2 3; do wait -n && ok=0; done; exit $ok");
        Command::new("ip")
            .args(["netns", "exec", &format!("{}pub2", self.prefix)])
            .args(["bash", "-c", &any])
            .stderr(Stdio::null())
            .status()
            .expect("the stranger runs")
            .success()
    }
}

impl Lab {
    /// Two boot nodes at different IPs (so a client's mapping shows), each dialing back from
    /// the alternate address too; the first lists the second as a cluster member. Returns
    /// (first, second).
    pub fn two_boot_nodes(&self, runtime: &str) -> (BootNode, BootNode) {
        let alternate = ALTERNATE_IP;
        let b = self.boot_node_at(
            SECOND_BOOT_IP,
            runtime,
            44001,
            8081,
            &["--dial-back-from", alternate],
        );
        let a = self.boot_node(
            runtime,
            44000,
            8080,
            &["--dial-back-from", alternate, "--cluster-peer", &b.p2p_addr],
        );
        (a, b)
    }
}

impl Lab {
    /// A boot node listening on both families (the dual-stack lab), dialing back from the
    /// IPv4 alternate address too.
    pub fn dual_stack_boot_node(&self, runtime: &str) -> BootNode {
        let listen6 = format!("/ip6/{BOOT_IP6}/tcp/44000");
        let extra = ["--listen", &listen6, "--dial-back-from", ALTERNATE_IP];
        self.boot_node(runtime, 44000, 8080, &extra)
    }
}

/// `pyrsia-boot bootstrap --json` against `url`, listening on `port`, then `extra`.
fn client_args(runtime: &str, url: &str, port: u16, extra: &[&str]) -> Vec<String> {
    let listen = format!("/ip4/0.0.0.0/tcp/{port}");
    let mut args: Vec<String> = [
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
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

impl Drop for Lab {
    fn drop(&mut self) {
        let out = self.script(&["down"]);
        if !out.status.success() {
            say(&format!("natlab down failed: {out:?}"));
        }
    }
}

pub struct Report {
    pub ok: bool,
    pub json: serde_json::Value,
}

impl Report {
    pub fn verdict(&self) -> &str {
        self.json["nat"]["verdict"].as_str().unwrap_or("none")
    }
    pub fn address(&self) -> &str {
        self.json["nat"]["address"].as_str().unwrap_or("")
    }
    pub fn nat(&self, field: &str) -> &str {
        self.json["nat"][field].as_str().unwrap_or("none")
    }
    /// One family's field: `family` is "ipv4" or "ipv6".
    pub fn family(&self, family: &str, field: &str) -> &str {
        self.json["nat"][family][field].as_str().unwrap_or("none")
    }
    pub fn boot_peer(&self) -> &str {
        self.json["boot_peer"].as_str().unwrap_or("")
    }
    /// Milliseconds from start to the first report of `event`.
    pub fn at(&self, event: &str) -> Option<u64> {
        self.json["events"]
            .as_array()?
            .iter()
            .find(|e| e["event"] == event)
            .and_then(|e| e["at_ms"].as_u64())
    }
    pub fn assert_connected(&self) {
        assert!(self.ok && self.json["connected"] == true, "{}", self.json);
    }
    /// Milliseconds from start to the first verdict other than "unknown" for `family`.
    pub fn family_at(&self, family: &str) -> Option<u64> {
        self.json["events"]
            .as_array()?
            .iter()
            .find(|e| e["event"] == "nat_changed" && e[family] != "unknown")
            .and_then(|e| e["at_ms"].as_u64())
    }
    /// One line per measurement, collected by `just natlab`.
    pub fn timing(&self, runtime: &str, case: &str) {
        let ms = |t: Option<u64>| t.map_or("-".into(), |t| t.to_string());
        let mut line = format!(
            "natlab timing [{runtime}] {case}: connected {} ms, verdict {} ({}) {} ms",
            ms(self.at("connected")),
            self.verdict(),
            self.address(),
            ms(self.at("nat_changed")),
        );
        if self.family("ipv6", "verdict") != "unknown" {
            for family in ["ipv4", "ipv6"] {
                let (v, at) = (self.family(family, "verdict"), self.family_at(family));
                line += &format!("; {family} {v} {} ms", ms(at));
            }
        }
        say(&line);
    }
}

/// What a NAT kind must be reported as: verdict, mapping, filtering.
pub fn expected(nat: &str) -> (&'static str, &'static str, &'static str) {
    match nat {
        "full-cone" => ("public", "endpoint-independent", "endpoint-independent"),
        "address-restricted" => ("private", "endpoint-independent", "address-dependent"),
        "port-restricted" => (
            "private",
            "endpoint-independent",
            "address-and-port-dependent",
        ),
        "symmetric" => ("private", "address-dependent", "address-and-port-dependent"),
        other => panic!("no expectation for {other}"),
    }
}
