//! A misbehaving host, for the boot node's abuse tests: for `SECONDS` it holds many half-open
//! connections to the libp2p port, runs many bootstrapping clients (each a new peer id asking
//! for dial-backs), holds slow HTTP connections that never send a request, and hammers
//! `/status`. Prints what it got through, one `key=value` per line.
//!
//! `flood STATUS_URL P2P_MULTIADDR SECONDS` (the boot node's /status URL and libp2p address).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;
use pyrsia_boot_core::{AddressPolicy, Config, Event};
use pyrsia_boot_libp2p::{Output, Runtime};
use pyrsia_boot_smol::SmolRuntime;

const HALF_OPEN: usize = 500;
const CLIENTS: usize = 100;
const SLOW_HTTP: usize = 300;
const HAMMERS: usize = 32;

#[derive(Default)]
struct Tally {
    half_open_accepted: AtomicU64,
    clients_connected: AtomicU64,
    clients_failed: AtomicU64,
    status_ok: AtomicU64,
    status_failed: AtomicU64,
}

fn socket_of(addr: &Multiaddr) -> Option<SocketAddr> {
    let mut ip = None;
    let mut port = None;
    for p in addr.iter() {
        match p {
            Protocol::Ip4(a) => ip = Some(a.into()),
            Protocol::Ip6(a) => ip = Some(a.into()),
            Protocol::Tcp(p) => port = Some(p),
            _ => {}
        }
    }
    Some(SocketAddr::new(ip?, port?))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, p2p, seconds] = &args[..] else {
        eprintln!("usage: flood STATUS_URL P2P_MULTIADDR SECONDS");
        std::process::exit(2);
    };
    let p2p: Multiaddr = p2p.parse().expect("a multiaddr");
    let p2p_socket = socket_of(&p2p).expect("an ip and tcp port");
    let http_socket: SocketAddr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .and_then(|h| h.parse().ok())
        .expect("http://ip:port/status");
    let until = Instant::now() + Duration::from_secs(seconds.parse().expect("seconds"));
    let tally = Arc::new(Tally::default());

    smol::block_on(async {
        let mut tasks = Vec::new();
        // Half-open libp2p connections: TCP only, no handshake, held to the end. All are
        // attempted before the rest starts, so "flooding" means the squat is in place.
        let mut held = Vec::new();
        for _ in 0..HALF_OPEN {
            if let Ok(stream) = smol::net::TcpStream::connect(p2p_socket).await {
                tally.half_open_accepted.fetch_add(1, Ordering::Relaxed);
                held.push(stream);
            }
        }
        println!("flooding");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        // Slow HTTP: connect, never send a request.
        for _ in 0..SLOW_HTTP {
            tasks.push(smol::spawn(async move {
                if let Ok(stream) = smol::net::TcpStream::connect(http_socket).await {
                    smol::Timer::at(until).await;
                    drop(stream);
                }
            }));
        }
        // /status as fast as it answers.
        for _ in 0..HAMMERS {
            let (tally, url) = (tally.clone(), url.clone());
            tasks.push(smol::spawn(async move {
                while Instant::now() < until {
                    match SmolRuntime::default().http_get(url.clone(), 1 << 16).await {
                        Ok(r) if r.status == 200 => tally.status_ok.fetch_add(1, Ordering::Relaxed),
                        _ => tally.status_failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }));
        }
        // Bootstrapping clients, each a fresh identity asking for its own dial-back.
        for i in 0..CLIENTS {
            let (tally, url) = (tally.clone(), url.clone());
            tasks.push(smol::spawn(async move {
                while Instant::now() < until {
                    let mut config = Config::with_urls([url.clone()]);
                    config.policy = AddressPolicy::allow_private();
                    config.rng_seed = i as u64;
                    config.budget = Duration::from_secs(5);
                    config.backoff.max_rounds = 1;
                    let Ok((mut driver, mut swarm)) = pyrsia_boot_smol::client(
                        Keypair::generate_ed25519(),
                        config,
                        "/ip4/0.0.0.0/tcp/0".parse().expect("valid"),
                    )
                    .await
                    else {
                        continue;
                    };
                    loop {
                        match driver.next(&mut swarm).await {
                            Output::Report(Event::Connected { .. }) => {
                                tally.clients_connected.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            Output::Report(Event::GaveUp(_)) => {
                                tally.clients_failed.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            _ => {}
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await;
        }
        drop(held);
    });
    let t = &tally;
    println!(
        "half_open_accepted={}",
        t.half_open_accepted.load(Ordering::Relaxed)
    );
    println!(
        "clients_connected={}",
        t.clients_connected.load(Ordering::Relaxed)
    );
    println!(
        "clients_failed={}",
        t.clients_failed.load(Ordering::Relaxed)
    );
    println!("status_ok={}", t.status_ok.load(Ordering::Relaxed));
    println!("status_failed={}", t.status_failed.load(Ordering::Relaxed));
}
