//! pyrsia-boot on [async-std](https://docs.rs/async-std): the [`AsyncStdRuntime`] for the
//! `pyrsia-boot-libp2p` driver (HTTP through surf, plain `http://` only) and a swarm from
//! libp2p 0.55's async-std TCP transport. Everything else is the shared glue.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use async_std::net::ToSocketAddrs;
use futures::future::BoxFuture;
use futures::{AsyncReadExt, FutureExt};
use libp2p::{identity, noise, tcp, yamux, Multiaddr, Swarm, SwarmBuilder};
use pyrsia_boot_core::{Config, HttpError};
pub use pyrsia_boot_libp2p::StartError;
use pyrsia_boot_libp2p::{driver_for, listen, Behaviour, Driver, HttpReply, Role, Runtime};

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
    let mut response = surf::get(parsed)
        .await
        .map_err(|e| HttpError::Connect(format!("{url}: {e}")))?;
    let status = u16::from(response.status());
    let mut body = Vec::new();
    response
        .take_body()
        .into_reader()
        .take(max_body_bytes as u64 + 1)
        .read_to_end(&mut body)
        .await
        .map_err(|e| HttpError::Transfer(e.to_string()))?;
    Ok(HttpReply { status, body })
}

/// How long a connection may sit idle before the swarm closes it (see the smol adapter).
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Builds a swarm running [`Behaviour`] for `role` on async-std TCP + noise + yamux.
pub fn build_swarm(key: &identity::Keypair, role: Role) -> Result<Swarm<Behaviour>, StartError> {
    let swarm = SwarmBuilder::with_existing_identity(key.clone())
        .with_async_std()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(StartError::Noise)?
        .with_behaviour(|k| Behaviour::new(&k.public(), role))
        .map_err(|e| StartError::Listen(format!("building the behaviour: {e}")))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .build();
    Ok(swarm)
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
