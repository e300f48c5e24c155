//! Start-up glue every runtime adapter shares: listening, a driver for a fresh swarm, and a
//! running boot node.

use std::net::SocketAddr;
use std::time::Instant;

use futures::channel::{mpsc, oneshot};
use futures::{AsyncRead, AsyncWrite, Future, FutureExt, Stream, StreamExt};
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::Boxed;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identity, swarm, Multiaddr, PeerId, Swarm};
use pyrsia_boot_core::{BootNodeMachine, BootstrapMachine, Config};

use crate::alternate::{self, AlternateSwarm};
use crate::behaviour::Behaviour;
use crate::boot_node::{
    routes, BootNode, BootNodeConfig, ClusterHandle, StatusRequest, MAX_QUEUED_STATUS_REQUESTS,
};
use crate::clock::{since_epoch, unix_time};
use crate::driver::Driver;
use crate::error::StartError;
use crate::handshakes::Handshakes;
use crate::http_server;
use crate::metrics::BootMetrics;
use crate::runtime::Runtime;

/// Listens on `addr` and waits for the listener's actual address (with the port filled in).
pub async fn listen<B: NetworkBehaviour>(
    swarm: &mut Swarm<B>,
    addr: Multiaddr,
) -> Result<Multiaddr, StartError> {
    swarm
        .listen_on(addr.clone())
        .map_err(|source| StartError::Listen {
            addr: addr.clone(),
            source,
        })?;
    loop {
        match swarm.select_next_some().await {
            SwarmEvent::NewListenAddr { address, .. } => return Ok(address),
            SwarmEvent::ListenerError { error, .. } => {
                return Err(StartError::Listener {
                    addr,
                    source: error,
                })
            }
            SwarmEvent::ListenerClosed { reason, .. } => {
                let source = reason
                    .err()
                    .unwrap_or_else(|| std::io::Error::other("closed without an address"));
                return Err(StartError::Listener { addr, source });
            }
            _ => {}
        }
    }
}

/// A driver for `config` on `runtime`, for the node whose swarm is `swarm` (its id becomes the
/// configuration's local peer, so boot lists naming it are skipped). Unless the configuration
/// already has one, the machine gets the wall clock read together with its start instant.
///
/// The bootstrap starts now: its budget and its first fetch's deadline count from this call.
/// Build the driver when you are about to poll it; one built seconds before its first poll
/// finds that fetch already timed out and starts with a retry.
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
    let mut machine = BootstrapMachine::new(config, now);
    // The addresses the swarm already has (its first listen event went to `listen`): the
    // machine probes each family over a connection of its own and names what it offers.
    let addrs = crate::driver::dialable_addrs(swarm);
    if !addrs.is_empty() {
        machine.handle(now, pyrsia_boot_core::Input::Listening { addrs });
    }
    Driver::new(machine, runtime)
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
    /// Changes its cluster while it runs.
    pub cluster: ClusterHandle,
    _stop: oneshot::Sender<()>,
}

impl BootNodeHandle {
    /// `http://<http_addr>/status`.
    pub fn status_url(&self) -> String {
        format!("http://{}/status", self.http_addr)
    }

    /// Replaces the other cluster members listed after this node (full multiaddrs ending in
    /// `/p2p/<id>`).
    pub fn set_cluster(&self, cluster: Vec<Multiaddr>) {
        self.cluster.set_cluster(cluster);
    }
}

/// A boot node's swarm on `transport` (TCP, secured and multiplexed): its [`Behaviour`] with
/// `config`'s limits, its connection work ordered as `config.handshake_priority` says (tasks
/// on `runtime_config`'s executor with [`HandshakePriority::Same`]), and the [`Handshakes`]
/// to hand [`start_boot_node_on`].
///
/// [`HandshakePriority::Same`]: crate::HandshakePriority::Same
pub fn boot_swarm(
    transport: Boxed<(PeerId, StreamMuxerBox)>,
    key: &identity::Keypair,
    config: &BootNodeConfig,
    runtime_config: swarm::Config,
) -> (Swarm<Behaviour>, Handshakes) {
    let handshakes = Handshakes::new(config.handshake_priority);
    let swarm = Swarm::new(
        handshakes.wrap(transport),
        Behaviour::with_limits(&key.public(), crate::Role::BootNode, &config.limits),
        key.public().to_peer_id(),
        handshakes.swarm_config(runtime_config),
    );
    (swarm, handshakes)
}

/// Starts a boot node from a runtime adapter's parts: `swarm` (built with the boot node's
/// [`Behaviour`]) listens on `listen_on` and on every `config.also_listen` address; with
/// `config.dial_back_from`, an alternate dial-back swarm runs its tasks by `tasks`; `bind`
/// binds the `/status` listener (asked for on `http`) and yields its address and accepted
/// connections. `handshakes` are the ones `swarm`'s transport was wrapped with
/// ([`Handshakes::wrap`]). Then [`spawn_boot_node`] runs it all on `runtime`.
#[allow(clippy::too_many_arguments)] // each is one of the adapter's runtime-specific parts
pub async fn start_boot_node_on<R, S, C>(
    runtime: R,
    key: &identity::Keypair,
    mut swarm: Swarm<Behaviour>,
    handshakes: Handshakes,
    listen_on: Multiaddr,
    tasks: impl FnOnce() -> swarm::Config,
    http: SocketAddr,
    bind: impl Future<Output = std::io::Result<(SocketAddr, S)>>,
    config: BootNodeConfig,
) -> Result<BootNodeHandle, StartError>
where
    R: Runtime,
    S: Stream<Item = std::io::Result<(C, SocketAddr)>> + Send + 'static,
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let addr = listen(&mut swarm, listen_on).await?;
    for more in &config.also_listen {
        listen(&mut swarm, more.clone()).await?;
    }
    let alternate = match config.dial_back_from {
        Some(ip) => {
            Some(alternate::swarm(key, ip, runtime.clone(), tasks()).map_err(StartError::Noise)?)
        }
        None => None,
    };
    let (http_addr, incoming) = bind
        .await
        .map_err(|source| StartError::Http { addr: http, source })?;
    Ok(spawn_boot_node(
        runtime, swarm, handshakes, alternate, addr, incoming, http_addr, config,
    ))
}

/// What woke a boot node's loop.
enum Woke {
    Swarm(SwarmEvent<crate::behaviour::Event>),
    Alternate(SwarmEvent<std::convert::Infallible>),
    Status(StatusRequest),
    Cluster(Vec<Multiaddr>),
    Timer,
}

/// Stops the handshakes' tickers when dropped.
struct StopOnDrop(Handshakes);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Runs a boot node on `runtime`: `swarm` (already listening on `listen_addr`) and, with an
/// alternate dial-back address, `alternate` (see [`crate::alternate`]), `/status` and
/// `/metrics` on the connections `http` yields with their peers' addresses (accepted on
/// `http_addr`). Its policy is a [`BootNodeMachine`]: this loop reads the clock, feeds the
/// machine what the swarm, the HTTP side and its timer saw, and lets [`BootNode`] carry out
/// the actions. `swarm`'s handshakes run as `handshakes` says (their tickers start here, one
/// per `config.handshake_tickers`, and stop with the loop). A runtime adapter binds the sockets
/// and calls this.
#[allow(clippy::too_many_arguments)] // each is one of the adapter's runtime-specific parts
pub fn spawn_boot_node<R, S, C>(
    runtime: R,
    mut swarm: Swarm<Behaviour>,
    handshakes: Handshakes,
    alternate: Option<AlternateSwarm>,
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
    let now = Instant::now();
    let machine = BootNodeMachine::new(config.machine_config(peer_id, unix_time()), now);
    let metrics = BootMetrics::new();
    let exporter = metrics.exporter();
    let signer = config.signing.as_ref().map(|s| s.key.clone());
    handshakes.run_on(&runtime, config.handshake_tickers);
    let mut node = BootNode::new(machine, signer, metrics).with_handshakes(handshakes.clone());
    if let Some(alternate) = alternate {
        node = node.with_alternate(alternate);
    }
    node.start(now, &mut swarm);
    let (status_tx, mut status_rx) = mpsc::channel::<StatusRequest>(MAX_QUEUED_STATUS_REQUESTS);
    let (cluster_tx, mut cluster_rx) = mpsc::unbounded::<Vec<Multiaddr>>();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = http_server::serve_with(
        runtime.clone(),
        http,
        routes(status_tx, exporter),
        http_server::HttpLimits::from(&config.limits),
    );
    let timers = runtime.clone();
    runtime.spawn(
        async move {
            let mut server = std::pin::pin!(server.fuse());
            // Not the receiver itself: a cancelled oneshot reports itself terminated, and
            // `select!` would skip it forever.
            let mut stop = std::pin::pin!(async move {
                let _ = stop_rx.await;
            }
            .fuse());
            // However the loop ends, the handshakes' tickers end with it.
            let _stop_handshakes = StopOnDrop(handshakes);
            loop {
                let mut timer = match node.poll_timeout() {
                    Some(at) => timers.timer(at).fuse(),
                    None => futures::future::pending().boxed().fuse(),
                };
                // What woke the loop, taken out of the select so that handling it may borrow
                // the node (which owns the alternate swarm being polled).
                let woke = {
                    let alternate = node.next_alternate_event().fuse();
                    let mut alternate = std::pin::pin!(alternate);
                    futures::select! {
                        event = swarm.select_next_some() => Woke::Swarm(event),
                        event = alternate => Woke::Alternate(event),
                        reply = status_rx.select_next_some() => Woke::Status(reply),
                        cluster = cluster_rx.select_next_some() => Woke::Cluster(cluster),
                        () = timer => Woke::Timer,
                        () = server => return,
                        () = stop => return,
                    }
                };
                let now = Instant::now();
                match woke {
                    Woke::Swarm(event) => node.on_swarm_event(now, &mut swarm, event),
                    Woke::Alternate(event) => node.on_alternate_event(now, &mut swarm, event),
                    Woke::Status(reply) => node.on_status_request(now, &mut swarm, reply),
                    Woke::Cluster(cluster) => node.on_cluster(now, &mut swarm, cluster),
                    Woke::Timer => node.on_timer(now, since_epoch(), &mut swarm),
                }
            }
        }
        .boxed(),
    );
    BootNodeHandle {
        peer_id,
        p2p_addr: listen_addr.with(Protocol::P2p(peer_id)),
        http_addr,
        cluster: ClusterHandle(cluster_tx),
        _stop: stop_tx,
    }
}
