//! The HTTP server every runtime adapter shares: hyper 1 over any `futures` socket, timed by
//! the adapter's [`Runtime`]. Serves a boot node's `/status` and `/metrics` (routes in
//! the boot node module), and whatever responder a test gives it.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{AsyncRead, AsyncWrite, FutureExt, Stream, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use smol_hyper::rt::FuturesIo;

use crate::runtime::Runtime;

pub use crate::timeouts::HEADER_READ_TIMEOUT;

/// How long the server waits after a failed accept before the next one.
pub const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Answers one request (the answer may take a while: the boot node's `/status` goes through
/// its machine's loop).
pub type Responder =
    Arc<dyn Fn(&Request<Incoming>) -> BoxFuture<'static, Response<Full<Bytes>>> + Send + Sync>;

/// A [`Responder`] that answers at once.
pub fn answer_with<F>(answer: F) -> Responder
where
    F: Fn(&Request<Incoming>) -> Response<Full<Bytes>> + Send + Sync + 'static,
{
    Arc::new(move |req| futures::future::ready(answer(req)).boxed())
}

/// How much the HTTP server gives its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections served at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// The longest one connection may stay open (keep-alive included).
    pub connection_time: Duration,
    /// Connections served at once for one remote IP address.
    pub max_per_ip: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits::from(&crate::limits::AbuseLimits::default())
    }
}

impl From<&crate::limits::AbuseLimits> for HttpLimits {
    /// The HTTP part of a boot node's abuse limits.
    fn from(l: &crate::limits::AbuseLimits) -> Self {
        HttpLimits {
            max_connections: l.http_max_connections,
            connection_time: l.http_connection_time,
            max_per_ip: l.http_max_per_ip,
        }
    }
}

/// [`serve_with`] the default [`HttpLimits`].
pub async fn serve<R, S, C>(runtime: R, incoming: S, respond: Responder)
where
    R: Runtime,
    S: Stream<Item = std::io::Result<(C, SocketAddr)>>,
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    serve_with(runtime, incoming, respond, HttpLimits::default()).await
}

/// Serves every connection `incoming` yields (with its peer's address) with `respond`, one
/// task per connection on `runtime`, until `incoming` ends or the returned future is dropped.
/// Bounded: at most `limits.max_connections` at once and `limits.max_per_ip` from one address
/// (others are closed on accept), each for at most `limits.connection_time`, and a client must
/// send its request headers within 5 s.
pub async fn serve_with<R, S, C>(runtime: R, incoming: S, respond: Responder, limits: HttpLimits)
where
    R: Runtime,
    S: Stream<Item = std::io::Result<(C, SocketAddr)>>,
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let slots = Arc::new(Slots::default());
    let mut incoming = std::pin::pin!(incoming);
    while let Some(accepted) = incoming.next().await {
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, say: the next accept fails the same way at once, so
                // pause before it instead of spinning (this future shares a task with the boot
                // node's swarm).
                tracing::warn!(error = %e, "accepting an HTTP connection failed");
                runtime.timer(Instant::now() + ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let Some(slot) = Slot::take(&slots, peer.ip(), &limits) else {
            tracing::debug!(%peer, "HTTP connection refused: connection limit reached");
            drop(stream);
            continue;
        };
        let respond = respond.clone();
        let timer = RuntimeTimer(runtime.clone());
        let deadline = runtime.timer(Instant::now() + limits.connection_time);
        runtime.spawn(
            async move {
                let _slot = slot;
                let service = hyper::service::service_fn(move |req| {
                    let response = respond(&req);
                    async move { Ok::<_, std::convert::Infallible>(response.await) }
                });
                let served = hyper::server::conn::http1::Builder::new()
                    .timer(timer)
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(FuturesIo::new(stream), service);
                match futures::future::select(std::pin::pin!(served), deadline).await {
                    futures::future::Either::Left((Err(e), _)) => {
                        tracing::debug!(error = %e, "HTTP connection ended with an error")
                    }
                    futures::future::Either::Left((Ok(()), _)) => {}
                    futures::future::Either::Right(((), _)) => {
                        tracing::debug!("HTTP connection closed at its time limit")
                    }
                }
            }
            .boxed(),
        );
    }
}

/// Connections being served, in total and per remote address.
#[derive(Default)]
struct Slots {
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// One of the server's connection slots, given back when dropped.
struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
}

impl Slot {
    fn take(slots: &Arc<Slots>, ip: IpAddr, limits: &HttpLimits) -> Option<Slot> {
        let mut per_ip = slots.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
        let total: usize = per_ip.values().sum();
        let mine = per_ip.get(&ip).copied().unwrap_or(0);
        if total >= limits.max_connections || mine >= limits.max_per_ip {
            return None;
        }
        *per_ip.entry(ip).or_insert(0) += 1;
        Some(Slot {
            slots: slots.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per_ip = self
            .slots
            .per_ip
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// A response with `status`, a content type and `body`.
pub fn response(status: u16, content_type: &'static str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}

/// hyper's timer on a [`Runtime`]'s timer.
#[derive(Clone)]
struct RuntimeTimer<R>(R);

impl<R: Runtime> hyper::rt::Timer for RuntimeTimer<R> {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(RuntimeSleep(Mutex::new(self.0.timer(deadline))))
    }
}

/// hyper wants its sleeps `Sync`; the mutex makes a `Send` future so (it is only ever reached
/// through `&mut`, so never locked).
struct RuntimeSleep(Mutex<BoxFuture<'static, ()>>);

impl Future for RuntimeSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let timer = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        timer.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for RuntimeSleep {}
