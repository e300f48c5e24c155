//! What a runtime adapter provides to the glue: a timer, an HTTP GET, a DNS lookup, a UDP
//! exchange, a TCP connect from a chosen address and a way to spawn a task. Each runtime crate
//! implements it in a few lines; the swarm's own tasks run on the executor set when the swarm
//! is built.

use std::net::IpAddr;
use std::time::Instant;

use futures::future::BoxFuture;
use futures::FutureExt;
use pyrsia_boot_core::HttpError;

/// An HTTP response as the runtime read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Body, cut after `max_body_bytes + 1` bytes.
    pub body: Vec<u8>,
}

/// What a runtime adapter provides: a timer, an HTTP GET, a DNS lookup and a way to spawn a
/// task. The swarm's own tasks run on the executor set when the swarm is built.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// A future that completes at `at`.
    fn timer(&self, at: Instant) -> BoxFuture<'static, ()>;
    /// GET `url`, reading at most `max_body_bytes + 1` bytes of body.
    fn http_get(
        &self,
        url: String,
        max_body_bytes: usize,
    ) -> BoxFuture<'static, Result<HttpReply, HttpError>>;
    /// The IP addresses of `host` (the system resolver's answer).
    fn resolve(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
    /// Sends `datagram` over UDP to `server` and returns the first datagram that comes back
    /// from it, at most `max_reply` bytes (a DNS query for `/dnsaddr`). No timeout: the core's
    /// dial deadline bounds it. The default refuses, so a runtime without UDP still builds;
    /// its `/dnsaddr` names then fail their dials with this error.
    fn udp_exchange(
        &self,
        server: std::net::SocketAddr,
        datagram: Vec<u8>,
        max_reply: usize,
    ) -> BoxFuture<'static, std::io::Result<Vec<u8>>> {
        let _ = (server, datagram, max_reply);
        futures::future::ready(Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "this runtime has no UDP exchange, so /dnsaddr names cannot be looked up",
        )))
        .boxed()
    }
    /// A TCP connection to `to` from `source` (an ephemeral port on that address of this host),
    /// on this runtime's reactor: a boot node's dial-backs from its alternate address
    /// (the `alternate` module). No timeout: the transport's bounds it. The default refuses, so
    /// a runtime without it still builds; `--dial-back-from` then fails its dial-backs.
    fn connect_from(
        &self,
        source: IpAddr,
        to: std::net::SocketAddr,
    ) -> BoxFuture<'static, std::io::Result<BoxedSocket>> {
        let _ = (source, to);
        futures::future::ready(Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "this runtime cannot dial from a chosen address",
        )))
        .boxed()
    }
    /// Runs `task` in the background until it completes.
    fn spawn(&self, task: BoxFuture<'static, ()>);
}

/// A connected byte stream of any runtime, as `futures` reads and writes it.
pub trait Socket: futures::AsyncRead + futures::AsyncWrite + Send + Unpin + 'static {}

impl<T: futures::AsyncRead + futures::AsyncWrite + Send + Unpin + 'static> Socket for T {}

/// What [`Runtime::connect_from`] returns.
pub type BoxedSocket = Box<dyn Socket>;
