//! A boot cluster behind a real load balancer: three `pyrsia-boot node` processes, Debian's
//! nginx round-robin over their `/status` (config: `tests/nginx/boot-cluster.conf.in`), and
//! many clients bootstrapping through nginx's one URL. Every client must connect and the load
//! must spread over the boot nodes.
//!
//! Needs the `nginx` binary; without it the test says so and skips, unless
//! `PYRSIA_BOOT_NGINX=require` (set by `.ci/run`).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use libp2p::identity::Keypair;
use pyrsia_boot_core::{AddressPolicy, Config, Event};
use pyrsia_boot_libp2p::{Output, Runtime};
use pyrsia_boot_smol::SmolRuntime;

const BIN: &str = env!("CARGO_BIN_EXE_pyrsia-boot");
const CLIENTS: usize = 60;

fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Kills the child when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn boot_node() -> (Running, String) {
    let mut child = Command::new(BIN)
        .args([
            "node",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--http",
            "127.0.0.1:0",
            "--private-network",
            // Every request here comes from 127.0.0.1 (nginx, wrk): lift the per-address cap.
            "--http-max-connections-per-ip",
            "256",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the boot node starts");
    let stdout = child.stdout.take().expect("piped");
    let running = Running(child);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("utf-8");
        if let Some(url) = line.strip_prefix("serving ") {
            return (running, url.trim().to_string());
        }
    }
    panic!("the boot node exited before serving /status");
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Renders the committed config for `upstreams` (host:port) and starts nginx in the foreground.
/// nginx's master process; dropping it asks the master to stop (SIGTERM), which also stops
/// its workers — SIGKILL would leave the workers running.
struct Nginx(Child);

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

fn nginx(dir: &Path, port: u16, upstreams: &[String]) -> Nginx {
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
    std::fs::write(dir.join("status.json"), b"{}").expect("write");
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("write config");
    Nginx(
        Command::new("nginx")
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

async fn get_json(url: &str) -> Option<serde_json::Value> {
    let reply = SmolRuntime::default()
        .http_get(url.to_string(), 1 << 16)
        .await
        .ok()?;
    (reply.status == 200)
        .then(|| serde_json::from_slice(&reply.body).ok())
        .flatten()
}

#[test]
fn clients_bootstrap_through_nginx_and_spread_over_the_cluster() {
    if Command::new("nginx").arg("-v").output().is_err() {
        assert!(
            std::env::var("PYRSIA_BOOT_NGINX").as_deref() != Ok("require"),
            "nginx required but not installed"
        );
        say("skipping the nginx test: nginx is not installed (apt-get install nginx-light)");
        return;
    }
    let nodes: Vec<(Running, String)> = (0..3).map(|_| boot_node()).collect();
    let upstreams: Vec<String> = nodes
        .iter()
        .map(|(_, url)| {
            url.trim_start_matches("http://")
                .trim_end_matches("/status")
                .to_string()
        })
        .collect();
    let dir =
        Scratch(std::env::temp_dir().join(format!("pyrsia-boot-nginx-{}", std::process::id())));
    let port = free_port();
    let mut nginx = nginx(&dir.0, port, &upstreams);
    let url = format!("http://127.0.0.1:{port}/status");

    smol::block_on(async {
        // nginx is up when it answers /status (bounded wait on that condition).
        let deadline = Instant::now() + Duration::from_secs(10);
        while get_json(&url).await.is_none() {
            if let Ok(Some(status)) = nginx.0.try_wait() {
                panic!("nginx exited ({status}); see its message above");
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not serve {url} within 10 s"
            );
            smol::Timer::after(Duration::from_millis(20)).await;
        }

        // CLIENTS clients at once, each like Pyrsia's: one boot peer, the first listed.
        let started = Instant::now();
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let url = url.clone();
                smol::spawn(async move {
                    let mut config = Config::with_urls([url]);
                    config.policy = AddressPolicy::allow_private();
                    config.max_concurrent_dials = 1;
                    let (mut driver, mut swarm) = pyrsia_boot_smol::client(
                        Keypair::generate_ed25519(),
                        config,
                        "/ip4/127.0.0.1/tcp/0".parse().expect("valid"),
                    )
                    .await
                    .expect("client starts");
                    loop {
                        match driver.next(&mut swarm).await {
                            Output::Report(Event::Connected { elapsed, .. }) => {
                                // Keep the client (its connection) alive for the count below.
                                return Ok((driver, swarm, elapsed));
                            }
                            Output::Report(Event::GaveUp(g)) => return Err(g.to_string()),
                            _ => {}
                        }
                    }
                })
            })
            .collect();
        let mut clients = Vec::new();
        for t in tasks {
            match t.await {
                Ok(c) => clients.push(c),
                Err(e) => panic!("a client gave up: {e}"),
            }
        }
        let wall = started.elapsed();
        assert_eq!(clients.len(), CLIENTS);

        // Each boot node's own count of connected peers (its /status, asked directly).
        let mut loads = Vec::new();
        for (_, node_url) in &nodes {
            let doc = get_json(node_url).await.expect("the boot node answers");
            loads.push(doc["peers_count"].as_u64().expect("peers_count"));
        }
        let (min, max) = (
            *loads.iter().min().expect("three"),
            *loads.iter().max().expect("three"),
        );
        let mut elapsed: Vec<Duration> = clients.iter().map(|c| c.2).collect();
        elapsed.sort();
        say(&format!(
            "nginx: {CLIENTS} clients connected in {wall:?}; per boot node {loads:?} (max/min {:.2}); \
             start→Connected p50 {:?} p99 {:?}",
            max as f64 / min.max(1) as f64,
            elapsed[CLIENTS / 2],
            elapsed[(CLIENTS - 1) * 99 / 100],
        ));
        assert_eq!(loads.iter().sum::<u64>(), CLIENTS as u64, "{loads:?}");
        assert!(min > 0, "a boot node got no client: {loads:?}");
        assert!(
            max <= 2 * min,
            "round robin should spread the load: {loads:?}"
        );
    });
}
