//! HTTP on smol: the shared bounded GET (`pyrsia_boot_libp2p::http_client`, hyper 1 and
//! rustls) over smol sockets, and accepted connections for the shared server
//! (`pyrsia_boot_libp2p::http_server`).

use futures::Stream;
use pyrsia_boot_core::HttpError;
use pyrsia_boot_libp2p::http_client;
pub use pyrsia_boot_libp2p::http_client::{Tls, TlsSetupError};
use pyrsia_boot_libp2p::HttpReply;
use smol::net::{TcpListener, TcpStream};

/// GETs `url` (`http://`, or `https://` verified against `tls`), reading at most
/// `max_body_bytes + 1` bytes of body. No timeout here: the core owns the deadline and cancels
/// the request when it passes.
pub async fn get(url: String, max_body_bytes: usize, tls: &Tls) -> Result<HttpReply, HttpError> {
    http_client::get(url, max_body_bytes, tls, |host, port| async move {
        TcpStream::connect((host.as_str(), port)).await
    })
    .await
}

/// The connections `listener` accepts with their peers' addresses, as an owned stream (for the
/// shared server).
pub fn incoming(
    listener: TcpListener,
) -> impl Stream<Item = std::io::Result<(TcpStream, std::net::SocketAddr)>> + Send {
    futures::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await;
        Some((accepted, listener))
    })
}
