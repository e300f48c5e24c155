//! What the scenarios share: boot nodes, scripted HTTP servers, a client run to an outcome.

use pyrsia_boot_libp2p::libp2p;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use futures::FutureExt;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId, Swarm};
use pyrsia_boot_core::{AddressPolicy, Config, Event};
use pyrsia_boot_libp2p::http_server::{self, response};
use pyrsia_boot_libp2p::{Behaviour, BootNodeConfig, BootNodeHandle, Driver, Output, Runtime};

use crate::Adapter;

/// How long any one scenario step may take before the test fails (the core's own budgets are
/// shorter; this only turns a hang into a failure).
pub const GUARD: Duration = Duration::from_secs(30);

/// `127.0.0.1:port`.
pub fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `/ip4/127.0.0.1/tcp/0`.
pub fn any_loopback_port() -> Multiaddr {
    Multiaddr::empty()
        .with(Protocol::Ip4([127, 0, 0, 1].into()))
        .with(Protocol::Tcp(0))
}

/// A loopback port nobody listens on: bound, read and closed.
pub fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind(localhost(0)).expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A boot node on loopback that advertises its loopback address.
pub async fn boot_node<A: Adapter>() -> BootNodeHandle {
    boot_node_with::<A>(BootNodeConfig {
        private_network: true,
        ..BootNodeConfig::default()
    })
    .await
}

/// A boot node on loopback with `config`.
pub async fn boot_node_with<A: Adapter>(config: BootNodeConfig) -> BootNodeHandle {
    A::start_boot_node(
        Keypair::generate_ed25519(),
        any_loopback_port(),
        localhost(0),
        config,
    )
    .await
    .expect("boot node starts")
}

/// An HTTP server that answers request `i` with `replies[i]` (the last one repeats); stops when
/// dropped.
#[derive(Debug)]
pub struct ScriptedServer {
    /// `http://127.0.0.1:port/status`.
    pub url: String,
    /// Requests answered so far.
    pub served: Arc<AtomicUsize>,
    _stop: oneshot::Sender<()>,
}

/// Starts a [`ScriptedServer`] on the adapter's runtime and sockets, through the shared server.
pub async fn scripted_server<A: Adapter>(replies: Vec<(u16, Vec<u8>)>) -> ScriptedServer {
    assert!(!replies.is_empty(), "a script needs at least one reply");
    let (addr, incoming) = A::bind_http(localhost(0)).await.expect("bind");
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let respond = http_server::answer_with(move |_req| {
        let i = counter
            .fetch_add(1, Ordering::SeqCst)
            .min(replies.len() - 1);
        let (status, body) = replies[i].clone();
        response(status, "application/json", body)
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let runtime = A::runtime();
    let serve = http_server::serve(runtime.clone(), incoming, respond);
    runtime.spawn(
        async move {
            futures::select! {
                () = serve.fuse() => {},
                _ = stopped.fuse() => {},
            }
        }
        .boxed(),
    );
    ScriptedServer {
        url: format!("http://{addr}/status"),
        served,
        _stop: stop,
    }
}

/// A document with exactly the three fields a Pyrsia boot node serves.
pub fn pyrsia_document(addrs: &[&Multiaddr]) -> Vec<u8> {
    let peer_addrs: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    let first = addrs[0].iter().last().map(|p| match p {
        Protocol::P2p(id) => id.to_string(),
        _ => String::new(),
    });
    serde_json::json!({"peers_count": 0, "peer_id": first, "peer_addrs": peer_addrs})
        .to_string()
        .into_bytes()
}

/// The peers each `Connected` report names, in order.
pub fn connected_via(events: &[Event]) -> Vec<PeerId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Connected { peer, .. } => Some(*peer),
            _ => None,
        })
        .collect()
}

/// Connected, and a verdict reported.
pub fn connected_with_verdict(events: &[Event]) -> bool {
    let connected = events.iter().any(|e| matches!(e, Event::Connected { .. }));
    let verdict = events.iter().any(|e| matches!(e, Event::NatChanged(_)));
    connected && verdict
}

/// Connected, and a public verdict reported. (Under `InboundOrOwnProbe` the verdict that
/// connects is reported just before `Connected`: wait for both.)
pub fn connected_with_public_verdict(events: &[Event]) -> bool {
    let public = events.iter().any(
        |e| matches!(e, Event::NatChanged(r) if matches!(r.verdict, pyrsia_boot_core::NatVerdict::Public(_))),
    );
    connected_with_verdict(events) && public
}

/// A loopback client configuration over `urls`: private addresses allowed, a 20 s budget.
pub fn loopback_config(urls: Vec<String>) -> Config {
    let mut config = Config::with_urls(urls);
    config.policy = AddressPolicy::allow_private();
    config.budget = Duration::from_secs(20);
    config
}

/// A started client and everything it reported.
#[allow(missing_debug_implementations)] // the driver and swarm have none worth printing
pub struct Client<A: Adapter> {
    /// The driver.
    pub driver: Driver<A::Runtime>,
    /// Its swarm.
    pub swarm: Swarm<Behaviour>,
    /// Reports so far.
    pub events: Vec<Event>,
    /// Snapshots the driver handed out, latest last.
    pub persisted: Vec<pyrsia_boot_core::Snapshot>,
}

impl<A: Adapter> Client<A> {
    /// Starts a client with `config` on a loopback port.
    pub async fn start(config: Config) -> Self {
        Self::start_as(Keypair::generate_ed25519(), config).await
    }

    /// Starts a client with identity `key` and `config` on a loopback port.
    pub async fn start_as(key: Keypair, config: Config) -> Self {
        let (driver, swarm) = A::client(key, config, any_loopback_port())
            .await
            .expect("client starts");
        Client {
            driver,
            swarm,
            events: Vec::new(),
            persisted: Vec::new(),
        }
    }

    /// Drives the client until `done(events)` or a `GaveUp` report; panics after [`GUARD`].
    pub async fn run_until(&mut self, mut done: impl FnMut(&[Event]) -> bool) {
        let guard = A::runtime().timer(Instant::now() + GUARD).fuse();
        let mut guard = std::pin::pin!(guard);
        loop {
            let gave_up = self.events.iter().any(|e| matches!(e, Event::GaveUp(_)));
            if gave_up || done(&self.events) {
                return;
            }
            let next = self.driver.next(&mut self.swarm).fuse();
            let mut next = std::pin::pin!(next);
            futures::select! {
                out = next => match out {
                    Output::Report(e) => self.events.push(e),
                    Output::Persist(s) => self.persisted.push(s),
                    Output::Swarm(_) => {}
                },
                () = guard => panic!("no outcome within {GUARD:?}: {:?}", self.events),
            }
        }
    }

    /// Keeps the client's swarm polled for `period` (so its connections stay served).
    pub async fn pump_for(&mut self, period: Duration) {
        let until = A::runtime().timer(Instant::now() + period).fuse();
        let mut until = std::pin::pin!(until);
        loop {
            let next = self.driver.next(&mut self.swarm).fuse();
            let mut next = std::pin::pin!(next);
            futures::select! {
                out = next => if let Output::Report(e) = out { self.events.push(e) },
                () = until => return,
            }
        }
    }
}

/// Runs a client over `urls` until connected with a verdict, or it gives up; returns its
/// reports.
pub async fn run_client<A: Adapter>(urls: Vec<String>) -> Vec<Event> {
    run_client_with::<A>(loopback_config(urls), connected_with_verdict).await
}

/// Runs a client with `config` until `done` or it gives up; returns its reports.
pub async fn run_client_with<A: Adapter>(
    config: Config,
    done: impl FnMut(&[Event]) -> bool,
) -> Vec<Event> {
    let mut client = Client::<A>::start(config).await;
    client.run_until(done).await;
    client.events
}

/// The process's peak resident memory so far (VmHWM), in KiB; `None` off Linux.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Most peak memory the hostile scenarios may reach (boot node, client and the test's own
/// hostile bodies together, in one process): a client that buffered an endless body would
/// pass it within the HTTP timeout.
pub const HOSTILE_RSS_CAP_KIB: u64 = 256 * 1024;

/// Reports the process's peak memory after `scenario` and fails past [`HOSTILE_RSS_CAP_KIB`].
pub fn check_peak_rss(scenario: &str) {
    if let Some(kib) = peak_rss_kib() {
        // Shown with `--nocapture`; the number goes into the notes.
        #[allow(clippy::print_stderr)]
        {
            eprintln!("peak RSS after {scenario}: {:.1} MiB", kib as f64 / 1024.0);
        }
        assert!(
            kib < HOSTILE_RSS_CAP_KIB,
            "{scenario}: peak RSS {kib} KiB is over {HOSTILE_RSS_CAP_KIB} KiB"
        );
    }
}

/// GETs `url` through the adapter's runtime and returns the body as text (status must be 200).
pub async fn get_text<A: Adapter>(url: String) -> String {
    let reply = A::runtime()
        .http_get(url.clone(), 1 << 20)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(reply.status, 200, "GET {url}");
    String::from_utf8(reply.body).expect("utf-8")
}

/// A fresh directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates it.
    pub fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pyrsia-boot-conformance-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A raw TCP server on std threads (so it misbehaves the same under any runtime): each accepted
/// connection is handed to `handle`, which may write anything, stall or hang up. Stops when
/// dropped.
#[derive(Debug)]
pub struct RawServer {
    /// `http://127.0.0.1:port/status`.
    pub url: String,
    addr: SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RawServer {
    /// Serves every connection with `handle` on its own thread.
    pub fn start<F>(handle: F) -> RawServer
    where
        F: Fn(std::net::TcpStream, SocketAddr) + Send + Sync + 'static,
    {
        let handle = Arc::new(handle);
        let listener = std::net::TcpListener::bind(localhost(0)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(conn) = conn {
                    let handle = handle.clone();
                    std::thread::spawn(move || handle(conn, addr));
                }
            }
        });
        RawServer {
            url: format!("http://{addr}/status"),
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The TCP port of a listen address.
pub fn tcp_port(addr: &Multiaddr) -> u16 {
    addr.iter()
        .find_map(|p| match p {
            Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .expect("a tcp port")
}

/// Reads a request's head (up to the blank line), so answers come after the request.
pub fn read_request(conn: &mut std::net::TcpStream) {
    read_request_head(conn);
}

/// Reads a request's head (up to the blank line, at most 16 KiB) and returns it as text.
pub fn read_request_head(conn: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    conn.set_read_timeout(Some(GUARD)).expect("timeout");
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Listens on loopback; returns the swarm and its `/p2p/` address.
pub async fn listening<A: Adapter, B: libp2p::swarm::NetworkBehaviour>(
    key: &Keypair,
    behaviour: B,
) -> (Swarm<B>, Multiaddr) {
    let mut swarm = A::swarm(key, behaviour);
    swarm.listen_on(any_loopback_port()).expect("listen");
    let addr = loop {
        let event = futures::StreamExt::select_next_some(&mut swarm).await;
        if let libp2p::swarm::SwarmEvent::NewListenAddr { address, .. } = event {
            break address.with(Protocol::P2p(key.public().to_peer_id()));
        }
    };
    (swarm, addr)
}
