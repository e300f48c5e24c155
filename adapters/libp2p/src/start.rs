//! Start-up glue every runtime adapter shares: listening, a driver for a fresh swarm, and a
//! running boot node.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The wall clock in seconds since the Unix epoch; `None` when the clock is before it.
pub fn unix_time() -> Option<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

use futures::channel::oneshot;
use futures::{AsyncRead, AsyncWrite, FutureExt, Stream, StreamExt};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{noise, Multiaddr, PeerId, Swarm};
use pyrsia_boot_core::{BootstrapMachine, Config};

use crate::behaviour::Behaviour;
use crate::boot_node::{BootNode, BootNodeConfig, StatusBoard};
use crate::driver::{Driver, Runtime};
use crate::http_server;

/// Errors starting a node.
#[derive(Debug)]
pub enum StartError {
    /// The noise configuration could not be built from the key.
    Noise(noise::Error),
    /// Listening on the libp2p address failed.
    Listen(String),
    /// Binding the HTTP address failed.
    Http(std::io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Noise(e) => write!(f, "noise setup failed: {e}"),
            StartError::Listen(e) => write!(f, "cannot listen: {e}"),
            StartError::Http(e) => write!(f, "cannot bind the HTTP server: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Listens on `addr` and waits for the listener's actual address (with the port filled in).
pub async fn listen<B: NetworkBehaviour>(
    swarm: &mut Swarm<B>,
    addr: Multiaddr,
) -> Result<Multiaddr, StartError> {
    swarm
        .listen_on(addr.clone())
        .map_err(|e| StartError::Listen(format!("{addr}: {e}")))?;
    loop {
        match swarm.select_next_some().await {
            SwarmEvent::NewListenAddr { address, .. } => return Ok(address),
            SwarmEvent::ListenerError { error, .. } => {
                return Err(StartError::Listen(format!("{addr}: {error}")))
            }
            SwarmEvent::ListenerClosed { reason, .. } => {
                return Err(StartError::Listen(format!("{addr}: closed: {reason:?}")))
            }
            _ => {}
        }
    }
}

/// A driver for `config` on `runtime`, for the node whose swarm is `swarm` (its id becomes the
/// configuration's local peer, so boot lists naming it are skipped). Unless the configuration
/// already has one, the machine gets the wall clock read together with its start instant.
pub fn driver_for<B: NetworkBehaviour, R: Runtime>(
    swarm: &Swarm<B>,
    mut config: Config,
    runtime: R,
) -> Driver<R> {
    config.local_peer = Some(*swarm.local_peer_id());
    let now = Instant::now();
    if config.unix_time.is_none() {
        config.unix_time = unix_time();
    }
    Driver::new(BootstrapMachine::new(config, now), runtime)
}

/// A running boot node. Dropping the handle stops it: its swarm loop and `/status` listener end
/// (connections already being served finish on their own).
#[derive(Debug)]
pub struct BootNodeHandle {
    /// Its identity.
    pub peer_id: PeerId,
    /// Its libp2p listen address, with `/p2p/<id>`.
    pub p2p_addr: Multiaddr,
    /// Where `/status` is served.
    pub http_addr: SocketAddr,
    /// The live `/status` document.
    pub board: StatusBoard,
    _stop: oneshot::Sender<()>,
}

impl BootNodeHandle {
    /// `http://<http_addr>/status`.
    pub fn status_url(&self) -> String {
        format!("http://{}/status", self.http_addr)
    }
}

/// Runs a boot node on `runtime`: `swarm` (already listening on `listen_addr`), `/status` and
/// `/metrics` on the connections `http` yields with their peers' addresses (accepted on
/// `http_addr`), and the cluster load
/// exchange every `config.load_interval`. A runtime adapter binds the sockets and calls this.
pub fn spawn_boot_node<R, S, C>(
    runtime: R,
    mut swarm: Swarm<Behaviour>,
    listen_addr: Multiaddr,
    http: S,
    http_addr: SocketAddr,
    config: BootNodeConfig,
) -> BootNodeHandle
where
    R: Runtime,
    S: Stream<Item = std::io::Result<(C, SocketAddr)>> + Send + 'static,
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer_id = *swarm.local_peer_id();
    let load_interval = config.load_interval;
    let http_limits = http_server::HttpLimits {
        max_connections: config.limits.http_max_connections,
        connection_time: config.limits.http_connection_time,
        max_per_ip: config.limits.http_max_per_ip,
    };
    let mut node = BootNode::new(peer_id, config);
    node.refresh(&swarm);
    let board = node.board();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = http_server::serve_with(
        runtime.clone(),
        http,
        http_server::status_routes(board.clone()),
        http_limits,
    );
    let timers = runtime.clone();
    runtime.spawn(
        async move {
            let mut server = std::pin::pin!(server.fuse());
            let mut tick = timers.timer(Instant::now() + load_interval).fuse();
            // Not the receiver itself: a cancelled oneshot reports itself terminated, and
            // `select!` would skip it forever.
            let mut stop = std::pin::pin!(async move {
                let _ = stop_rx.await;
            }
            .fuse());
            loop {
                futures::select! {
                    event = swarm.select_next_some() => node.on_event(&mut swarm, event),
                    () = tick => {
                        node.poll_cluster_load(&mut swarm);
                        tick = timers.timer(Instant::now() + load_interval).fuse();
                    }
                    () = server => return,
                    () = stop => return,
                }
            }
        }
        .boxed(),
    );
    BootNodeHandle {
        peer_id,
        p2p_addr: listen_addr.with(Protocol::P2p(peer_id)),
        http_addr,
        board,
        _stop: stop_tx,
    }
}
