//! The HTTP server every runtime adapter shares: hyper 1 over any `futures` socket, timed by
//! the adapter's [`Runtime`]. Serves a boot node's `/status` and `/metrics`, and whatever
//! responder a test gives it.

use std::future::Future;
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

use crate::boot_node::StatusBoard;
use crate::driver::Runtime;

/// How long a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Answers one request.
pub type Responder = Arc<dyn Fn(&Request<Incoming>) -> Response<Full<Bytes>> + Send + Sync>;

/// Serves every connection `incoming` yields with `respond`, one task per connection on
/// `runtime`, until `incoming` ends or the returned future is dropped. Each connection has a
/// header read timeout, so a client that never sends its request costs one task for 5 s.
pub async fn serve<R, S, C>(runtime: R, incoming: S, respond: Responder)
where
    R: Runtime,
    S: Stream<Item = std::io::Result<C>>,
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut incoming = std::pin::pin!(incoming);
    while let Some(accepted) = incoming.next().await {
        let stream = match accepted {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accepting an HTTP connection failed");
                continue;
            }
        };
        let respond = respond.clone();
        let timer = RuntimeTimer(runtime.clone());
        runtime.spawn(
            async move {
                let service = hyper::service::service_fn(move |req| {
                    let response = respond(&req);
                    async move { Ok::<_, std::convert::Infallible>(response) }
                });
                let served = hyper::server::conn::http1::Builder::new()
                    .timer(timer)
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(FuturesIo::new(stream), service)
                    .await;
                if let Err(e) = served {
                    tracing::debug!(error = %e, "HTTP connection ended with an error");
                }
            }
            .boxed(),
        );
    }
}

/// The boot node's routes: `GET /status` (the board's document) and `GET /metrics`.
pub fn status_routes(board: StatusBoard) -> Responder {
    Arc::new(move |req| match (req.method().as_str(), req.uri().path()) {
        ("GET", "/status") => response(200, "application/json", board.render()),
        ("GET", "/metrics") => response(
            200,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            board.render_metrics().into_bytes(),
        ),
        (_, "/status" | "/metrics") => response(405, "text/plain", b"use GET\n".to_vec()),
        _ => response(404, "text/plain", b"not found\n".to_vec()),
    })
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
