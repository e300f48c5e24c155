//! A boot cluster behind a real load balancer: three `pyrsia-boot node` processes, Debian's
//! nginx round-robin over their `/status` (config: `tests/nginx/boot-cluster.conf.in`), and
//! many clients bootstrapping through nginx's one URL. Every client must connect and the load
//! must spread over the boot nodes.
//!
//! Needs the `nginx` binary; without it the test says so and skips, unless
//! `PYRSIA_BOOT_NGINX=require` (set by `.ci/run`).

mod common;

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use pyrsia_boot_core::{Config, Event};
use pyrsia_boot_libp2p::{Output, Runtime};
use pyrsia_boot_smol::SmolRuntime;

use common::{free_port, loopback_boot_node, nginx, pyrsia_like_client, BootNode};
use pyrsia_boot_conformance::harness::TempDir;

const CLIENTS: usize = 60;

fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
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
    // Every request reaches the nodes from nginx's 127.0.0.1: lift the per-address HTTP cap.
    let nodes: Vec<BootNode> = (0..3)
        .map(|_| loopback_boot_node(&["--http-max-connections-per-ip", "256"]))
        .collect();
    let upstreams: Vec<String> = nodes
        .iter()
        .map(|n| {
            n.url
                .trim_start_matches("http://")
                .trim_end_matches("/status")
                .to_string()
        })
        .collect();
    let dir = TempDir::new();
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
                    let (mut driver, mut swarm) =
                        pyrsia_like_client(Config::with_urls([url])).await;
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
        for node in &nodes {
            let doc = get_json(&node.url).await.expect("the boot node answers");
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
