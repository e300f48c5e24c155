//! HTTP on smol with hyper 1: the bounded GET the driver uses, and the `/status` server.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures::future::Either;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, Uri};
use pyrsia_boot_core::HttpError;
use pyrsia_boot_libp2p::{HttpReply, StatusBoard};
use smol::net::{TcpListener, TcpStream};
use smol_hyper::rt::{FuturesIo, SmolTimer};

/// GETs `url` (plain `http://`), reading at most `max_body_bytes + 1` bytes of body. No timeout
/// here: the core owns the deadline and cancels the request when it passes.
pub async fn get(url: String, max_body_bytes: usize) -> Result<HttpReply, HttpError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| HttpError::InvalidUrl(format!("{url}: {e}")))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(HttpError::InvalidUrl(format!(
                "{url}: scheme {other} is not supported (use http://)"
            )))
        }
        None => return Err(HttpError::InvalidUrl(format!("{url}: no scheme"))),
    }
    let authority = uri
        .authority()
        .ok_or_else(|| HttpError::InvalidUrl(format!("{url}: no host")))?
        .clone();
    let port = authority.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((authority.host(), port))
        .await
        .map_err(|e| HttpError::Connect(format!("{authority}: {e}")))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(FuturesIo::new(stream))
        .await
        .map_err(|e| HttpError::Transfer(e.to_string()))?;
    let request = Request::get(uri)
        .header(hyper::header::HOST, authority.as_str())
        .header(
            hyper::header::USER_AGENT,
            concat!("pyrsia-boot/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|e| HttpError::InvalidUrl(e.to_string()))?;
    let exchange = async move {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| HttpError::Transfer(e.to_string()))?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while bytes.len() <= max_body_bytes {
            match body.frame().await {
                None => break,
                Some(Err(e)) => return Err(HttpError::Transfer(e.to_string())),
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        let room = max_body_bytes + 1 - bytes.len();
                        bytes.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
            }
        }
        Ok(HttpReply {
            status,
            body: bytes,
        })
    };
    // The connection future drives the socket; whichever ends first decides.
    match futures::future::select(Box::pin(exchange), conn).await {
        Either::Left((result, _)) => result,
        Either::Right((Ok(()), _)) => Err(HttpError::Transfer("connection closed".into())),
        Either::Right((Err(e), _)) => Err(HttpError::Transfer(e.to_string())),
    }
}

/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `GET /status` (the board's document) and `GET /metrics` on `listener` until
/// dropped.
pub async fn serve_status(listener: TcpListener, board: StatusBoard) {
    serve(listener, move |req| respond(req, &board)).await
}

/// Serves every request on `listener` with `respond`, until dropped. Each connection has a
/// header read timeout, so a client that never sends its request costs one task for 5 s.
pub async fn serve<F>(listener: TcpListener, respond: F)
where
    F: Fn(&Request<Incoming>) -> Response<Full<Bytes>> + Clone + Send + Sync + 'static,
{
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accepting an HTTP connection failed");
                continue;
            }
        };
        let respond = respond.clone();
        smol::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let response = respond(&req);
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(SmolTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(FuturesIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        })
        .detach();
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

fn respond(req: &Request<Incoming>, board: &StatusBoard) -> Response<Full<Bytes>> {
    match (req.method().as_str(), req.uri().path()) {
        ("GET", "/status") => response(200, "application/json", board.render()),
        ("GET", "/metrics") => response(
            200,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            board.render_metrics().into_bytes(),
        ),
        (_, "/status" | "/metrics") => response(405, "text/plain", b"use GET\n".to_vec()),
        _ => response(404, "text/plain", b"not found\n".to_vec()),
    }
}

/// Binds the `/status` server's listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
