//! HTTP on smol with hyper 1: the bounded GET the driver uses, and accepted connections for
//! the shared server (`pyrsia_boot_libp2p::http_server`).

use bytes::Bytes;
use futures::future::Either;
use futures::Stream;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, Uri};
use pyrsia_boot_core::HttpError;
use pyrsia_boot_libp2p::HttpReply;
use smol::net::{TcpListener, TcpStream};
use smol_hyper::rt::FuturesIo;

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

/// The connections `listener` accepts, as an owned stream (for the shared server).
pub fn incoming(listener: TcpListener) -> impl Stream<Item = std::io::Result<TcpStream>> + Send {
    futures::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| stream);
        Some((accepted, listener))
    })
}
