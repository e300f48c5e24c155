//! pyrsia-boot on [tokio](https://docs.rs/tokio) and the current libp2p (0.57): the
//! [`TokioRuntime`] for the `pyrsia-boot-libp2p` driver (hyper 1 and rustls over tokio
//! sockets), a swarm on libp2p-tcp's tokio transport, and a boot node with its `/status`
//! endpoint. Everything else is the glue shared with the smol and async-std adapters, built
//! here against libp2p 0.57, so [`Behaviour`] goes into an application's 0.57 swarm.
//!
//! ```no_run
//! use pyrsia_boot_core::{AddressPolicy, Config, Event};
//! use pyrsia_boot_libp2p::Output;
//! use pyrsia_boot_tokio::libp2p;
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let key = libp2p::identity::Keypair::generate_ed25519();
//!     let mut config = Config::with_urls(["http://127.0.0.1:8080/status"]);
//!     config.policy = AddressPolicy::allow_private();
//!     let (mut driver, mut swarm) =
//!         pyrsia_boot_tokio::client(key, config, "/ip4/127.0.0.1/tcp/0".parse()?).await?;
//!     loop {
//!         match driver.next(&mut swarm).await {
//!             Output::Report(Event::Connected { peer, .. }) => break println!("connected via {peer}"),
//!             Output::Report(Event::GaveUp(why)) => break eprintln!("{why}"),
//!             _ => {}
//!         }
//!     }
//!     Ok(())
//! }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The libp2p release this crate is built on (0.57): an application's own `libp2p = "0.57"`
/// names the same types.
pub extern crate libp2p_057 as libp2p;

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use futures::future::BoxFuture;
use futures::{FutureExt, Stream};
use libp2p::swarm::{self, NetworkBehaviour};
use libp2p::{identity, noise, tcp, yamux, Multiaddr, Swarm, SwarmBuilder};
use pyrsia_boot_core::{Config, HttpError};
pub use pyrsia_boot_libp2p::http_client::{Tls, TlsSetupError};
pub use pyrsia_boot_libp2p::IDLE_CONNECTION_TIMEOUT;
use pyrsia_boot_libp2p::{
    boot_swarm, dnsaddr, driver_for, http_client, listen, secure_and_multiplex, start_boot_node_on,
    Behaviour, BootNodeConfig, Driver, HttpReply, Role, Runtime, CONNECTION_TIMEOUT,
};
pub use pyrsia_boot_libp2p::{BootNodeHandle, StartError};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

/// Timers on `tokio::time`, HTTP on hyper over tokio sockets (https through rustls with the
/// [`Tls`] trust it was made with), lookups through tokio, tasks spawned on the tokio runtime
/// that was current when it was made (or, made outside one, the runtime current at each spawn).
#[derive(Debug, Clone)]
pub struct TokioRuntime {
    handle: Option<tokio::runtime::Handle>,
    tls: Tls,
}

impl Default for TokioRuntime {
    fn default() -> Self {
        TokioRuntime {
            handle: tokio::runtime::Handle::try_current().ok(),
            tls: Tls::default(),
        }
    }
}

impl TokioRuntime {
    /// A runtime whose https requests trust `tls`.
    pub fn with_tls(tls: Tls) -> Self {
        TokioRuntime {
            tls,
            ..TokioRuntime::default()
        }
    }

    /// A runtime that spawns its tasks on `handle`'s runtime.
    pub fn with_handle(handle: tokio::runtime::Handle) -> Self {
        TokioRuntime {
            handle: Some(handle),
            ..TokioRuntime::default()
        }
    }
}

impl Runtime for TokioRuntime {
    fn timer(&self, at: Instant) -> BoxFuture<'static, ()> {
        // Made on first poll, inside the runtime, whoever called this.
        async move { tokio::time::sleep_until(at.into()).await }.boxed()
    }

    fn http_get(
        &self,
        url: String,
        max_body_bytes: usize,
    ) -> BoxFuture<'static, Result<HttpReply, HttpError>> {
        let tls = self.tls.clone();
        async move { get(url, max_body_bytes, &tls).await }.boxed()
    }

    fn spawn(&self, task: BoxFuture<'static, ()>) {
        // Detached: the task runs to completion on the runtime.
        match &self.handle {
            Some(handle) => drop(handle.spawn(task)),
            None => drop(tokio::spawn(task)),
        }
    }

    fn connect_from(
        &self,
        source: IpAddr,
        to: SocketAddr,
    ) -> BoxFuture<'static, std::io::Result<pyrsia_boot_libp2p::BoxedSocket>> {
        // tokio's own socket, on tokio's reactor (no second one beside it).
        async move {
            let socket = match to {
                SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
                SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
            };
            socket.set_nodelay(true)?;
            socket.bind(SocketAddr::new(source, 0))?;
            let stream = socket.connect(to).await?;
            let boxed: pyrsia_boot_libp2p::BoxedSocket = Box::new(stream.compat());
            Ok(boxed)
        }
        .boxed()
    }

    fn udp_exchange(
        &self,
        server: SocketAddr,
        datagram: Vec<u8>,
        max_reply: usize,
    ) -> BoxFuture<'static, std::io::Result<Vec<u8>>> {
        async move {
            let socket = tokio::net::UdpSocket::bind(dnsaddr::bind_addr_for(server)).await?;
            // Connected: datagrams from anyone but `server` are not received.
            socket.connect(server).await?;
            socket.send(&datagram).await?;
            let mut reply = vec![0; max_reply];
            let n = socket.recv(&mut reply).await?;
            reply.truncate(n);
            Ok(reply)
        }
        .boxed()
    }

    fn resolve(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            ips.dedup();
            Ok(ips)
        }
        .boxed()
    }
}

/// GETs `url` (`http://`, or `https://` verified against `tls`) over a tokio socket, reading at
/// most `max_body_bytes + 1` bytes of body. No timeout here: the core owns the deadline.
pub async fn get(url: String, max_body_bytes: usize, tls: &Tls) -> Result<HttpReply, HttpError> {
    http_client::get(url, max_body_bytes, tls, |host, port| async move {
        Ok(TcpStream::connect((host.as_str(), port)).await?.compat())
    })
    .await
}

/// A swarm configuration whose tasks run on tokio, with pyrsia-boot's idle timeout.
pub fn swarm_config() -> swarm::Config {
    swarm::Config::with_tokio_executor().with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT)
}

/// Builds a swarm running [`Behaviour`] for `role` on tokio TCP + noise + yamux.
pub fn build_swarm(key: &identity::Keypair, role: Role) -> Result<Swarm<Behaviour>, StartError> {
    build_swarm_with(key, |k| Behaviour::new(&k.public(), role))
}

/// Builds a swarm running the behaviour `make` returns (yours, perhaps containing
/// [`Behaviour`]) on tokio TCP + noise + yamux, with pyrsia-boot's idle and connection
/// timeouts. Must be called inside a tokio runtime.
pub fn build_swarm_with<B: NetworkBehaviour>(
    key: &identity::Keypair,
    make: impl FnOnce(&identity::Keypair) -> B,
) -> Result<Swarm<B>, StartError> {
    let swarm = SwarmBuilder::with_existing_identity(key.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(StartError::Noise)?
        .with_behaviour(make)
        .unwrap_or_else(|never| match never {})
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .with_connection_timeout(CONNECTION_TIMEOUT)
        .build();
    Ok(swarm)
}

/// The connections `listener` accepts with their peers' addresses, as `futures` streams (for
/// the shared HTTP server).
pub fn incoming(
    listener: TcpListener,
) -> impl Stream<Item = std::io::Result<(Compat<TcpStream>, SocketAddr)>> + Send {
    futures::stream::unfold(listener, |listener| async move {
        let accepted = listener
            .accept()
            .await
            .map(|(stream, peer)| (stream.compat(), peer));
        Some((accepted, listener))
    })
}

/// A bootstrapping node on tokio: a driver for `config` and a swarm listening on `listen_on`
/// (the listener is what a boot node dials back). https boot URLs trust Mozilla's roots.
pub async fn client(
    key: identity::Keypair,
    config: Config,
    listen_on: Multiaddr,
) -> Result<(Driver<TokioRuntime>, Swarm<Behaviour>), StartError> {
    client_on(TokioRuntime::default(), key, config, listen_on).await
}

/// [`client`] on a given runtime (for instance one trusting a private root CA).
pub async fn client_on(
    runtime: TokioRuntime,
    key: identity::Keypair,
    config: Config,
    listen_on: Multiaddr,
) -> Result<(Driver<TokioRuntime>, Swarm<Behaviour>), StartError> {
    let mut swarm = build_swarm(&key, Role::Node)?;
    listen(&mut swarm, listen_on).await?;
    Ok((driver_for(&swarm, config, runtime), swarm))
}

/// Starts a boot node on tokio: the swarm on `listen_on`, `/status` and `/metrics` on `http`.
/// Dropping the handle stops it.
pub async fn start_boot_node(
    key: identity::Keypair,
    listen_on: Multiaddr,
    http: SocketAddr,
    config: BootNodeConfig,
) -> Result<BootNodeHandle, StartError> {
    // Not `build_swarm_with`'s builder: the boot node's connection work wraps the transport.
    let tcp = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true));
    let transport = secure_and_multiplex(tcp, &key).map_err(StartError::Noise)?;
    let (swarm, handshakes) = boot_swarm(transport, &key, &config, swarm_config());
    let bind = async move {
        let listener = TcpListener::bind(http).await?;
        Ok((listener.local_addr()?, incoming(listener)))
    };
    start_boot_node_on(
        TokioRuntime::default(),
        &key,
        swarm,
        handshakes,
        listen_on,
        swarm_config,
        http,
        bind,
        config,
    )
    .await
}
