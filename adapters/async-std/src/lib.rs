//! pyrsia-boot on [async-std](https://docs.rs/async-std): the [`AsyncStdRuntime`] for the
//! `pyrsia-boot-libp2p` driver (HTTP through surf, plain `http://` only) and a swarm from
//! libp2p 0.55's async-std TCP transport, and a boot node whose `/status` server runs on
//! async-std sockets. Everything else is the shared glue.
//!
//! ```no_run
//! use pyrsia_boot_core::{AddressPolicy, Config, Event};
//! use pyrsia_boot_libp2p::Output;
//!
//! async_std::task::block_on(async {
//!     let key = libp2p::identity::Keypair::generate_ed25519();
//!     let mut config = Config::with_urls(["http://127.0.0.1:8080/status"]);
//!     config.policy = AddressPolicy::allow_private();
//!     let (mut driver, mut swarm) =
//!         pyrsia_boot_async_std::client(key, config, "/ip4/127.0.0.1/tcp/0".parse()?).await?;
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

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use async_std::net::{TcpListener, TcpStream, ToSocketAddrs};
use futures::future::BoxFuture;
use futures::{AsyncReadExt, FutureExt, Stream};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{identity, noise, tcp, yamux, Multiaddr, Swarm, SwarmBuilder};
use pyrsia_boot_core::{Config, HttpError};
pub use pyrsia_boot_libp2p::BootNodeHandle;
pub use pyrsia_boot_libp2p::StartError;
use pyrsia_boot_libp2p::{
    boot_swarm, dnsaddr, driver_for, listen, secure_and_multiplex, start_boot_node_on, Behaviour,
    BootNodeConfig, Driver, HttpReply, Role, Runtime, CONNECTION_TIMEOUT,
};

/// Timers on `async_std::task::sleep`, HTTP through surf, lookups through async-std.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdRuntime;

impl Runtime for AsyncStdRuntime {
    fn timer(&self, at: Instant) -> BoxFuture<'static, ()> {
        async_std::task::sleep(at.saturating_duration_since(Instant::now())).boxed()
    }

    fn http_get(
        &self,
        url: String,
        max_body_bytes: usize,
    ) -> BoxFuture<'static, Result<HttpReply, HttpError>> {
        get(url, max_body_bytes).boxed()
    }

    fn spawn(&self, task: BoxFuture<'static, ()>) {
        // Detached: the task runs to completion on async-std's executor.
        drop(async_std::task::spawn(task));
    }

    fn connect_from(
        &self,
        source: IpAddr,
        to: SocketAddr,
    ) -> BoxFuture<'static, std::io::Result<pyrsia_boot_libp2p::BoxedSocket>> {
        // async-std runs on async-io's reactor.
        pyrsia_boot_libp2p::alternate::connect_from_async_io(source, to).boxed()
    }

    fn udp_exchange(
        &self,
        server: SocketAddr,
        datagram: Vec<u8>,
        max_reply: usize,
    ) -> BoxFuture<'static, std::io::Result<Vec<u8>>> {
        async move {
            let socket = async_std::net::UdpSocket::bind(dnsaddr::bind_addr_for(server)).await?;
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
            let addrs = (host.as_str(), 0).to_socket_addrs().await?;
            let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            ips.dedup();
            Ok(ips)
        }
        .boxed()
    }
}

/// GETs `url` with surf, reading at most `max_body_bytes + 1` bytes of body. Plain HTTP only:
/// surf's TLS stacks carry open advisories, so `https://` is refused with a clear error.
pub async fn get(url: String, max_body_bytes: usize) -> Result<HttpReply, HttpError> {
    let parsed =
        surf::Url::parse(&url).map_err(|e| HttpError::InvalidUrl(format!("{url}: {e}")))?;
    match parsed.scheme() {
        "http" => {}
        "https" => {
            return Err(HttpError::InvalidUrl(format!(
                "{url}: https is not supported on the async-std runtime (surf's TLS stacks have \
                 open security advisories); use the smol runtime"
            )))
        }
        other => {
            return Err(HttpError::InvalidUrl(format!(
                "{url}: scheme {other} is not supported (use http://)"
            )))
        }
    }
    let mut response = surf::get(parsed).await.map_err(|e| {
        // Socket errors are the connection's; anything else (a malformed or unsupported
        // response) came after it was made.
        if e.downcast_ref::<std::io::Error>().is_some() {
            HttpError::Connect(format!("{url}: {e}"))
        } else {
            HttpError::Transfer(format!("{url}: {e}"))
        }
    })?;
    let status = u16::from(response.status());
    let declared = response.len();
    let mut body = Vec::new();
    response
        .take_body()
        .into_reader()
        .take(max_body_bytes as u64 + 1)
        .read_to_end(&mut body)
        .await
        .map_err(|e| HttpError::Transfer(e.to_string()))?;
    // surf ends a body that stops short of its Content-Length as if it were complete.
    if let Some(declared) = declared {
        if body.len() < declared && body.len() <= max_body_bytes {
            return Err(HttpError::Transfer(format!(
                "connection closed after {} of {declared} declared bytes",
                body.len()
            )));
        }
    }
    Ok(HttpReply { status, body })
}

pub use pyrsia_boot_libp2p::IDLE_CONNECTION_TIMEOUT;

/// Builds a swarm running [`Behaviour`] for `role` on async-std TCP + noise + yamux.
pub fn build_swarm(key: &identity::Keypair, role: Role) -> Result<Swarm<Behaviour>, StartError> {
    build_swarm_with(key, |k| Behaviour::new(&k.public(), role))
}

/// Builds a swarm running the behaviour `make` returns (yours, perhaps containing
/// [`Behaviour`]) on async-std TCP + noise + yamux, with pyrsia-boot's idle timeout.
pub fn build_swarm_with<B: NetworkBehaviour>(
    key: &identity::Keypair,
    make: impl FnOnce(&identity::Keypair) -> B,
) -> Result<Swarm<B>, StartError> {
    let swarm = SwarmBuilder::with_existing_identity(key.clone())
        .with_async_std()
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

/// The connections `listener` accepts with their peers' addresses, as an owned stream (for the
/// shared HTTP server).
pub fn incoming(
    listener: TcpListener,
) -> impl Stream<Item = std::io::Result<(TcpStream, SocketAddr)>> + Send {
    futures::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await;
        Some((accepted, listener))
    })
}

/// A bootstrapping node on async-std: a driver for `config` and a swarm listening on `listen`.
pub async fn client(
    key: identity::Keypair,
    config: Config,
    listen_on: Multiaddr,
) -> Result<(Driver<AsyncStdRuntime>, Swarm<Behaviour>), StartError> {
    let mut swarm = build_swarm(&key, Role::Node)?;
    listen(&mut swarm, listen_on).await?;
    Ok((driver_for(&swarm, config, AsyncStdRuntime), swarm))
}

/// Starts a boot node on async-std: the swarm on `listen_on`, `/status` and `/metrics` on
/// `http`. Dropping the handle stops it.
pub async fn start_boot_node(
    key: identity::Keypair,
    listen_on: Multiaddr,
    http: SocketAddr,
    config: BootNodeConfig,
) -> Result<BootNodeHandle, StartError> {
    let tasks = || {
        libp2p::swarm::Config::with_executor(|f| {
            async_std::task::spawn(f);
        })
    };
    // Not `build_swarm_with`'s builder: the boot node's connection work wraps the transport.
    let tcp = tcp::async_io::Transport::new(tcp::Config::default().nodelay(true));
    let transport = secure_and_multiplex(tcp, &key).map_err(StartError::Noise)?;
    let runtime_config = tasks().with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT);
    let (swarm, handshakes) = boot_swarm(transport, &key, &config, runtime_config);
    let bind = async move {
        let listener = TcpListener::bind(http).await?;
        Ok((listener.local_addr()?, incoming(listener)))
    };
    start_boot_node_on(
        AsyncStdRuntime,
        &key,
        swarm,
        handshakes,
        listen_on,
        tasks,
        http,
        bind,
        config,
    )
    .await
}
