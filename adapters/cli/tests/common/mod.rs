//! Processes the CLI's tests and benches start — `pyrsia-boot node` and nginx — each behind a
//! guard that stops it when dropped, even when the test panics. Benches include this file by
//! path; each user needs only part of it.
#![allow(dead_code)]

pub mod lab;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_pyrsia-boot");

/// Kills the child when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running boot node and what it printed about itself.
pub struct BootNode {
    pub process: Running,
    /// Its libp2p address, ending in `/p2p/<id>`.
    pub p2p_addr: String,
    /// Its `/status` URL.
    pub url: String,
}

/// Runs `node` (a `pyrsia-boot … node …` command) and returns once it serves `/status`.
pub fn spawn_boot_node(mut node: Command) -> BootNode {
    let mut child = node
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the boot node starts");
    let stdout = child.stdout.take().expect("piped");
    let mut boot = BootNode {
        process: Running(child),
        p2p_addr: String::new(),
        url: String::new(),
    };
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("utf-8 output");
        if let Some(rest) = line.strip_prefix("boot node ") {
            if let Some(addr) = rest.split(" listening on ").nth(1) {
                boot.p2p_addr = addr.trim().to_string();
            }
        }
        if let Some(url) = line.strip_prefix("serving ") {
            boot.url = url.trim().to_string();
            return boot;
        }
    }
    panic!("the boot node exited before serving /status");
}

/// A boot node on ephemeral loopback ports, with `extra` arguments after `node`.
pub fn loopback_boot_node(extra: &[&str]) -> BootNode {
    loopback_boot_node_from(BIN, extra)
}

/// [`loopback_boot_node`] from another `pyrsia-boot` binary (an older build, for a side-by-side
/// benchmark).
#[allow(dead_code)] // not every test binary compares builds
pub fn loopback_boot_node_from(bin: &str, extra: &[&str]) -> BootNode {
    let mut node = pinned(bin, None);
    node.args(LOOPBACK_NODE_ARGS);
    node.args(extra);
    spawn_boot_node(node)
}

/// `pyrsia-boot node` on ephemeral loopback ports (more arguments may follow), pinned to
/// `cpus` (a `taskset` list) when given.
pub fn loopback_node_command(cpus: Option<&str>) -> Command {
    let mut node = pinned(BIN, cpus);
    node.args(LOOPBACK_NODE_ARGS);
    node
}

/// The arguments of a boot node on ephemeral loopback ports.
const LOOPBACK_NODE_ARGS: [&str; 6] = [
    "node",
    "--listen",
    "/ip4/127.0.0.1/tcp/0",
    "--http",
    "127.0.0.1:0",
    "--private-network",
];

/// `program`, run under `taskset -c cpus` when `cpus` is given (it and its children then run
/// only on those CPUs).
pub fn pinned(program: &str, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpus, program]);
            c
        }
        None => Command::new(program),
    }
}

/// Every client of a load bench comes from 127.0.0.1: these lift the per-address limits (and
/// the connection cap) of `pyrsia-boot node`.
pub const LIFTED_LIMITS: &[&str] = &[
    "--http-max-connections-per-ip",
    "256",
    "--max-connections",
    "100000",
    "--max-connections-per-ip",
    "100000",
];

/// Runs `pyrsia-boot ARGS` to completion.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Runs a client on loopback: `pyrsia-boot --runtime RUNTIME bootstrap --allow-private --listen
/// /ip4/127.0.0.1/tcp/0 ARGS`.
pub fn loopback_bootstrap(runtime: &str, args: &[&str]) -> Output {
    let client = [
        "--runtime",
        runtime,
        "bootstrap",
        "--allow-private",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
    ];
    run(&[&client[..], args].concat())
}

/// The run's stdout as one JSON document.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A Pyrsia-like client on smol, listening on loopback: private addresses allowed and one boot
/// peer dialed at a time (Pyrsia dials only the first address it is given).
pub async fn pyrsia_like_client(
    mut config: pyrsia_boot_core::Config,
) -> (
    pyrsia_boot_libp2p::Driver<pyrsia_boot_smol::SmolRuntime>,
    libp2p::Swarm<pyrsia_boot_libp2p::Behaviour>,
) {
    config.policy = pyrsia_boot_core::AddressPolicy::allow_private();
    config.max_concurrent_dials = 1;
    pyrsia_boot_smol::client(
        libp2p::identity::Keypair::generate_ed25519(),
        config,
        "/ip4/127.0.0.1/tcp/0".parse().expect("valid"),
    )
    .await
    .expect("client starts")
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// nginx's master process; dropping it asks the master to stop (SIGTERM), which also stops
/// its workers — SIGKILL would leave the workers running.
pub struct Nginx(pub Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Renders the committed config (`tests/nginx/boot-cluster.conf.in`) into `dir` for
/// `upstreams` (host:port) on loopback `port`, and starts nginx in the foreground.
/// `/static-status` serves `dir/status.json`, which the caller writes if it needs it.
pub fn nginx(dir: &Path, port: u16, upstreams: &[String]) -> Nginx {
    nginx_on(dir, port, upstreams, None)
}

/// [`nginx`] with its master and workers pinned to `cpus` (a `taskset` list) when given.
pub fn nginx_on(dir: &Path, port: u16, upstreams: &[String], cpus: Option<&str>) -> Nginx {
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/nginx/boot-cluster.conf.in"),
    )
    .expect("the committed nginx config");
    let servers: String = upstreams
        .iter()
        .map(|u| format!("        server {u};\n"))
        .collect();
    let conf = template
        .replace("@DIR@", dir.to_str().expect("utf-8 path"))
        .replace("@PORT@", &port.to_string())
        .replace("@UPSTREAMS@", servers.trim_end());
    std::fs::create_dir_all(dir.join("tmp")).expect("mkdir");
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("write config");
    Nginx(
        pinned("nginx", cpus)
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts"),
    )
}
