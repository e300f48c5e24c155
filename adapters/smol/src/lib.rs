//! pyrsia-boot on [smol](https://docs.rs/smol): the [`SmolRuntime`] for the
//! `pyrsia-boot-libp2p` driver, a swarm built on libp2p-tcp's async-io provider, and a boot
//! node with its `/status` endpoint.
//!
//! ```no_run
//! use pyrsia_boot_core::{AddressPolicy, Config};
//! use pyrsia_boot_libp2p::Output;
//! use pyrsia_boot_core::Event;
//!
//! smol::block_on(async {
//!     let key = libp2p::identity::Keypair::generate_ed25519();
//!     let mut config = Config::with_urls(["http://127.0.0.1:8080/status"]);
//!     config.policy = AddressPolicy::allow_private();
//!     let (mut driver, mut swarm) =
//!         pyrsia_boot_smol::client(key, config, "/ip4/127.0.0.1/tcp/0".parse()?).await?;
//!     loop {
//!         match driver.next(&mut swarm).await {
//!             Output::Report(Event::Connected { peer, .. }) => break println!("connected via {peer}"),
//!             Output::Report(Event::GaveUp(why)) => break eprintln!("{why}"),
//!             _ => {}
//!         }
//!     }
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod http;

use std::net::SocketAddr;
use std::time::Instant;

use futures::future::BoxFuture;
use futures::FutureExt;
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::Boxed;
use libp2p::swarm;
use libp2p::{identity, noise, Multiaddr, PeerId, Swarm};
use pyrsia_boot_core::{Config, HttpError};
pub use pyrsia_boot_libp2p::BootNodeHandle;
pub use pyrsia_boot_libp2p::StartError;
use pyrsia_boot_libp2p::{
    boot_swarm, dnsaddr, driver_for, listen, start_boot_node_on, Behaviour, BootNodeConfig, Driver,
    HttpReply, Role, Runtime,
};

/// Timers on `smol::Timer`, HTTP on hyper over smol sockets, https through rustls with the
/// [`http::Tls`] trust it was made with (Mozilla's roots by default).
#[derive(Debug, Clone, Default)]
pub struct SmolRuntime {
    tls: http::Tls,
}

impl SmolRuntime {
    /// A runtime whose https requests trust `tls`.
    pub fn with_tls(tls: http::Tls) -> Self {
        SmolRuntime { tls }
    }
}

impl Runtime for SmolRuntime {
    fn timer(&self, at: Instant) -> BoxFuture<'static, ()> {
        let timer = smol::Timer::at(at);
        async move {
            timer.await;
        }
        .boxed()
    }

    fn http_get(
        &self,
        url: String,
        max_body_bytes: usize,
    ) -> BoxFuture<'static, Result<HttpReply, HttpError>> {
        let tls = self.tls.clone();
        async move { http::get(url, max_body_bytes, &tls).await }.boxed()
    }

    fn spawn(&self, task: BoxFuture<'static, ()>) {
        smol::spawn(task).detach();
    }

    fn connect_from(
        &self,
        source: std::net::IpAddr,
        to: SocketAddr,
    ) -> BoxFuture<'static, std::io::Result<pyrsia_boot_libp2p::BoxedSocket>> {
        pyrsia_boot_libp2p::alternate::connect_from_async_io(source, to).boxed()
    }

    fn udp_exchange(
        &self,
        server: SocketAddr,
        datagram: Vec<u8>,
        max_reply: usize,
    ) -> BoxFuture<'static, std::io::Result<Vec<u8>>> {
        async move {
            let socket = smol::net::UdpSocket::bind(dnsaddr::bind_addr_for(server)).await?;
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

    fn resolve(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<std::net::IpAddr>>> {
        async move {
            let addrs = smol::net::resolve((host.as_str(), 0)).await?;
            let mut ips: Vec<std::net::IpAddr> = addrs.into_iter().map(|a| a.ip()).collect();
            ips.dedup();
            Ok(ips)
        }
        .boxed()
    }
}

pub use pyrsia_boot_libp2p::{secure_and_multiplex, IDLE_CONNECTION_TIMEOUT};

/// TCP (libp2p-tcp's async-io provider) + noise + yamux, for a swarm of your own.
pub fn build_transport(
    key: &identity::Keypair,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, noise::Error> {
    let tcp = libp2p_tcp::async_io::Transport::new(libp2p_tcp::Config::default().nodelay(true));
    secure_and_multiplex(tcp, key)
}

/// A swarm configuration whose tasks run on smol, with pyrsia-boot's idle timeout.
pub fn swarm_config() -> swarm::Config {
    swarm::Config::with_executor(|f| smol::spawn(f).detach())
        .with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT)
}

/// Builds a swarm running [`Behaviour`] for `role` on [`build_transport`], tasks on smol.
pub fn build_swarm(key: &identity::Keypair, role: Role) -> Result<Swarm<Behaviour>, noise::Error> {
    Ok(Swarm::new(
        build_transport(key)?,
        Behaviour::new(&key.public(), role),
        key.public().to_peer_id(),
        swarm_config(),
    ))
}

/// A bootstrapping node: a driver for `config` and a swarm listening on `listen` (the
/// listener is what a boot node dials back). https boot URLs trust Mozilla's roots.
pub async fn client(
    key: identity::Keypair,
    config: Config,
    listen_on: Multiaddr,
) -> Result<(Driver<SmolRuntime>, Swarm<Behaviour>), StartError> {
    client_on(SmolRuntime::default(), key, config, listen_on).await
}

/// [`client`] on a given runtime (for instance one trusting a private root CA).
pub async fn client_on(
    runtime: SmolRuntime,
    key: identity::Keypair,
    config: Config,
    listen_on: Multiaddr,
) -> Result<(Driver<SmolRuntime>, Swarm<Behaviour>), StartError> {
    let mut swarm = build_swarm(&key, Role::Node).map_err(StartError::Noise)?;
    listen(&mut swarm, listen_on).await?;
    Ok((driver_for(&swarm, config, runtime), swarm))
}

/// Starts a boot node on smol: the swarm on `listen_on`, `/status` and `/metrics` on `http`.
/// Dropping the handle stops it.
pub async fn start_boot_node(
    key: identity::Keypair,
    listen_on: Multiaddr,
    http: SocketAddr,
    config: BootNodeConfig,
) -> Result<BootNodeHandle, StartError> {
    let transport = build_transport(&key).map_err(StartError::Noise)?;
    let (swarm, handshakes) = boot_swarm(transport, &key, &config, swarm_config());
    let bind = async move {
        let listener = smol::net::TcpListener::bind(http).await?;
        Ok((listener.local_addr()?, http::incoming(listener)))
    };
    start_boot_node_on(
        SmolRuntime::default(),
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
