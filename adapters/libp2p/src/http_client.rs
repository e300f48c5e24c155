//! The bounded HTTP GET every runtime adapter's driver uses: hyper 1's HTTP/1 client over any
//! `futures` socket the adapter connects, plain or over rustls 0.23 (ring, Mozilla's roots plus
//! the operator's own). The adapter supplies only the TCP connect.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures::future::Either;
use futures::{AsyncRead, AsyncWrite};
use futures_rustls::pki_types::pem::PemObject;
use futures_rustls::pki_types::{CertificateDer, ServerName};
use futures_rustls::rustls::{ClientConfig, RootCertStore};
use futures_rustls::TlsConnector;
use http_body_util::{BodyExt, Empty};
use hyper::http::uri::Authority;
use hyper::{Request, Uri};
use pyrsia_boot_core::HttpError;
use smol_hyper::rt::FuturesIo;

use crate::runtime::HttpReply;

/// Whom https boot URLs are trusted from: Mozilla's root store (webpki-roots), plus any root
/// certificates the operator adds (a private CA for an internal boot cluster). Cheap to clone.
#[derive(Clone)]
pub struct Tls(Arc<ClientConfig>);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls { .. }")
    }
}

/// A root certificate file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSetupError(String);

impl std::fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsSetupError {}

impl Default for Tls {
    fn default() -> Self {
        Tls::webpki_roots()
    }
}

impl Tls {
    /// Mozilla's root store only (built once per process).
    pub fn webpki_roots() -> Tls {
        static DEFAULT: OnceLock<Tls> = OnceLock::new();
        DEFAULT
            .get_or_init(|| Tls::with_roots(Tls::mozilla_roots()))
            .clone()
    }

    /// Mozilla's roots plus every certificate in `pem` (one or more `CERTIFICATE` blocks).
    pub fn with_extra_roots_pem(pem: &[u8]) -> Result<Tls, TlsSetupError> {
        let mut roots = Tls::mozilla_roots();
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| TlsSetupError(format!("not a PEM certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| TlsSetupError(format!("unusable root certificate: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(TlsSetupError("no CERTIFICATE block found".into()));
        }
        Ok(Tls::with_roots(roots))
    }

    fn mozilla_roots() -> RootCertStore {
        RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }
    }

    fn with_roots(roots: RootCertStore) -> Tls {
        let provider = Arc::new(futures_rustls::rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            // The ring provider supports the safe defaults; this cannot fail.
            .unwrap_or_else(|e| unreachable!("ring lacks TLS 1.2/1.3: {e}"))
            .with_root_certificates(roots)
            .with_no_client_auth();
        Tls(Arc::new(config))
    }
}

/// GETs `url` (`http://`, or `https://` verified against `tls`), reading at most
/// `max_body_bytes + 1` bytes of body, over the TCP stream `connect(host, port)` opens (the
/// runtime's socket, as a `futures` stream). No timeout here: the core owns the deadline and
/// cancels the request when it passes.
pub async fn get<C, F, S>(
    url: String,
    max_body_bytes: usize,
    tls: &Tls,
    connect: C,
) -> Result<HttpReply, HttpError>
where
    C: FnOnce(String, u16) -> F,
    F: Future<Output = std::io::Result<S>>,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let uri: Uri = url
        .parse()
        .map_err(|e| HttpError::InvalidUrl(format!("{url}: {e}")))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        Some(other) => {
            return Err(HttpError::InvalidUrl(format!(
                "{url}: scheme {other} is not supported (use http:// or https://)"
            )))
        }
        None => return Err(HttpError::InvalidUrl(format!("{url}: no scheme"))),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| HttpError::InvalidUrl(format!("{url}: no host")))?
        .clone();
    // `[::1]` in a URL; the bare address for sockets and certificate names.
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let stream = connect(host.clone(), port)
        .await
        .map_err(|e| HttpError::Connect(format!("{authority}: {e}")))?;
    if !https {
        return exchange(stream, uri, authority, max_body_bytes).await;
    }
    let name =
        ServerName::try_from(host).map_err(|e| HttpError::InvalidUrl(format!("{url}: {e}")))?;
    let stream = TlsConnector::from(tls.0.clone())
        .connect(name, stream)
        .await
        .map_err(|e| HttpError::Tls(format!("{authority}: {e}")))?;
    exchange(stream, uri, authority, max_body_bytes).await
}

/// One request and its bounded response over an open connection.
async fn exchange<S>(
    stream: S,
    uri: Uri,
    authority: Authority,
    max_body_bytes: usize,
) -> Result<HttpReply, HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(FuturesIo::new(stream))
        .await
        .map_err(|e| HttpError::Transfer(e.to_string()))?;
    // Towards an origin server the request target is the origin form, path and query only
    // (RFC 9112 §3.2.1): `GET /status HTTP/1.1`. The absolute form is for proxies, and a
    // plain file server answers it with 404.
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = Request::get(target)
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
    // The connection future drives the socket. If it ends cleanly first (a server that closes
    // right after answering), the response may already be in: the exchange still decides.
    match futures::future::select(Box::pin(exchange), conn).await {
        Either::Left((result, _)) => result,
        Either::Right((Ok(()), exchange)) => exchange.await,
        Either::Right((Err(e), _)) => Err(HttpError::Transfer(e.to_string())),
    }
}
