//! https boot URLs on the smol adapter, against a local TLS server whose certificates the test
//! generates (a private CA and a server certificate it signs).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures_rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use futures_rustls::rustls::ServerConfig;
use futures_rustls::TlsAcceptor;
use libp2p::identity::Keypair;
use pyrsia_boot_core::{AddressPolicy, Config, Event, Failure, HttpError};
use pyrsia_boot_libp2p::http_server::{self, response};
use pyrsia_boot_libp2p::{BootNodeConfig, BootNodeHandle, Output};
use pyrsia_boot_smol::http::{self, Tls};
use pyrsia_boot_smol::{client_on, start_boot_node, SmolRuntime};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// A private CA and a server certificate for `names`, signed by it.
struct Pki {
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
}

fn pki(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "pyrsia-boot test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let server_key = KeyPair::generate().expect("server key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let server = CertificateParams::new(names).expect("server params");
    let server_cert = server
        .signed_by(&server_key, &ca_cert, &ca_key)
        .expect("server certificate");
    Pki {
        ca_pem: ca_cert.pem(),
        server_chain: vec![server_cert.der().clone()],
        server_key: server_key.serialize_der(),
    }
}

/// A TLS server on 127.0.0.1 answering every request with `body`; returns its port. It stops
/// when the returned task is dropped.
async fn tls_server(pki: &Pki, body: Vec<u8>) -> (u16, smol::Task<()>) {
    let provider = Arc::new(futures_rustls::rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key.clone()));
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(pki.server_chain.clone(), key)
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = smol::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let tls = http::incoming(listener).then(move |accepted| {
        let acceptor = acceptor.clone();
        async move {
            let (tcp, peer) = accepted?;
            Ok((acceptor.accept(tcp).await?, peer))
        }
    });
    let respond =
        http_server::answer_with(move |_req| response(200, "application/json", body.clone()));
    let task = smol::spawn(http_server::serve(SmolRuntime::default(), tls, respond));
    (port, task)
}

/// The boot node's own `/status` document, fetched over plain HTTP.
async fn status_body(boot: &BootNodeHandle) -> Vec<u8> {
    http::get(boot.status_url(), 65536, &Tls::default())
        .await
        .expect("the boot node serves /status")
        .body
}

async fn boot_node() -> BootNodeHandle {
    start_boot_node(
        Keypair::generate_ed25519(),
        "/ip4/127.0.0.1/tcp/0".parse().expect("valid"),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        BootNodeConfig {
            private_network: true,
            ..BootNodeConfig::default()
        },
    )
    .await
    .expect("boot node starts")
}

/// Runs a client on `runtime` over `urls` until Connected or it gives up.
async fn run(runtime: SmolRuntime, urls: Vec<String>) -> Vec<Event> {
    let mut config = Config::with_urls(urls);
    config.policy = AddressPolicy::allow_private();
    config.budget = Duration::from_secs(10);
    let listen = "/ip4/127.0.0.1/tcp/0".parse().expect("valid");
    let (mut driver, mut swarm) = client_on(runtime, Keypair::generate_ed25519(), config, listen)
        .await
        .expect("client starts");
    let mut events = Vec::new();
    loop {
        if let Output::Report(e) = driver.next(&mut swarm).await {
            let done = matches!(e, Event::Connected { .. } | Event::GaveUp(_));
            events.push(e);
            if done {
                return events;
            }
        }
    }
}

#[test]
fn an_https_boot_url_signed_by_a_trusted_private_ca_connects() {
    smol::block_on(async {
        let boot = boot_node().await;
        let pki = pki(&["localhost"]);
        let (port, _server) = tls_server(&pki, status_body(&boot).await).await;
        let tls = Tls::with_extra_roots_pem(pki.ca_pem.as_bytes()).expect("CA accepted");
        let url = format!("https://localhost:{port}/status");
        let events = run(SmolRuntime::with_tls(tls), vec![url.clone()]).await;
        let fetched = events
            .iter()
            .any(|e| matches!(e, Event::StatusFetched { url: u, .. } if *u == url));
        assert!(fetched, "{events:?}");
        let connected = events
            .iter()
            .any(|e| matches!(e, Event::Connected { peer, .. } if *peer == boot.peer_id));
        assert!(connected, "{events:?}");
    });
}

#[test]
fn a_certificate_from_an_unknown_ca_is_a_tls_failure_and_the_next_url_is_used() {
    smol::block_on(async {
        let boot = boot_node().await;
        let pki = pki(&["localhost"]);
        let (port, _server) = tls_server(&pki, status_body(&boot).await).await;
        let url = format!("https://localhost:{port}/status");
        // Mozilla's roots only: the private CA is unknown.
        let err = http::get(url.clone(), 65536, &Tls::default())
            .await
            .expect_err("untrusted");
        assert!(
            matches!(&err, HttpError::Tls(m) if m.contains("UnknownIssuer")),
            "{err}"
        );
        let events = run(SmolRuntime::default(), vec![url, boot.status_url()]).await;
        let tls_failed = events.iter().any(|e| {
            matches!(e, Event::SourceFailed(t) if matches!(t.failure, Failure::Http(HttpError::Tls(_))))
        });
        assert!(tls_failed, "{events:?}");
        assert!(
            events.iter().any(|e| matches!(e, Event::Connected { .. })),
            "{events:?}"
        );
    });
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    smol::block_on(async {
        let pki = pki(&["boot.example"]);
        let (port, _server) = tls_server(&pki, b"{}".to_vec()).await;
        let tls = Tls::with_extra_roots_pem(pki.ca_pem.as_bytes()).expect("CA accepted");
        let err = http::get(format!("https://localhost:{port}/status"), 65536, &tls)
            .await
            .expect_err("wrong name");
        assert!(
            matches!(&err, HttpError::Tls(m) if m.contains("not valid for name \"localhost\"")),
            "{err}"
        );
    });
}

#[test]
fn a_root_file_without_certificates_is_refused_with_a_reason() {
    let err = Tls::with_extra_roots_pem(b"not a certificate\n").expect_err("refused");
    assert!(err.to_string().contains("no CERTIFICATE"), "{err}");
}
