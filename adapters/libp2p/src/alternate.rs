//! Dial-backs from a boot node's alternate address: like a STUN server's second IP (RFC 5780),
//! an address used only to dial peers back and never listed in `/status`, so a dial-back from
//! it comes from a host the peer never sent a packet to. Only a NAT that lets strangers in
//! (endpoint-independent filtering) admits it; an address-restricted NAT admits the boot node's
//! own address and not this one.
//!
//! libp2p-tcp binds an outgoing socket to a listener's address or to nothing, so this is a
//! dial-only TCP transport that binds each socket to the alternate IP (port 0) before it
//! connects. It runs in its own swarm with the boot node's identity (the peer sees a dial-back
//! from the peer it asked) and no behaviour: the connection only has to be established. The
//! socket is the runtime's ([`Runtime::connect_from`]): a tokio node runs no second reactor.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{Boxed, DialOpts, ListenerId, TransportError, TransportEvent};
use libp2p::core::upgrade::Version;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{dummy, Swarm};
use libp2p::{identity, noise, yamux, Multiaddr, PeerId, Transport};

use crate::runtime::{BoxedSocket, Runtime};
use crate::CONNECTION_TIMEOUT;

/// TCP that only dials, from `source` (an ephemeral port on it), on `R`'s sockets.
#[derive(Debug, Clone)]
pub struct BoundTcp<R> {
    source: IpAddr,
    /// Behind an `Arc`, which is `Unpin` whatever `R` is (a boxed transport must be).
    runtime: std::sync::Arc<R>,
}

impl<R: Runtime> BoundTcp<R> {
    /// Dials from `source`, which must be an address of this host.
    pub fn new(source: IpAddr, runtime: R) -> Self {
        BoundTcp {
            source,
            runtime: std::sync::Arc::new(runtime),
        }
    }
}

/// `/ip4/…/tcp/…` or `/ip6/…/tcp/…` exactly, as a socket address.
fn tcp_socket_addr(addr: &Multiaddr) -> Option<SocketAddr> {
    let mut parts = addr.iter();
    let ip: IpAddr = match parts.next()? {
        Protocol::Ip4(ip) => ip.into(),
        Protocol::Ip6(ip) => ip.into(),
        _ => return None,
    };
    let Protocol::Tcp(port) = parts.next()? else {
        return None;
    };
    match parts.next() {
        None | Some(Protocol::P2p(_)) => Some(SocketAddr::new(ip, port)),
        Some(_) => None,
    }
}

/// A TCP socket bound to `source` (an ephemeral port), non-blocking, its connect to `to`
/// started: a runtime registers it with its reactor and waits until it is writable, then
/// reads `take_error` (the connect's outcome). Shared by every [`Runtime::connect_from`]
/// that starts from a std socket.
pub fn start_connect(source: IpAddr, to: SocketAddr) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(to),
        Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_nodelay(true)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.set_nonblocking(true)?;
    match socket.connect(&to.into()) {
        Ok(()) => {}
        // A non-blocking connect is under way.
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from(socket))
}

/// [`Runtime::connect_from`] on async-io's reactor (smol's and async-std's).
#[cfg(feature = "async-io")]
pub async fn connect_from_async_io(source: IpAddr, to: SocketAddr) -> io::Result<BoxedSocket> {
    let stream = async_io::Async::new(start_connect(source, to)?)?;
    // Writable once connected, or failed: the socket's error says which.
    stream.writable().await?;
    match stream.get_ref().take_error()? {
        Some(e) => Err(e),
        None => Ok(Box::new(stream)),
    }
}

impl<R: Runtime> Transport for BoundTcp<R> {
    type Output = BoxedSocket;
    type Error = io::Error;
    type ListenerUpgrade = futures::future::Pending<io::Result<BoxedSocket>>;
    type Dial = BoxFuture<'static, io::Result<BoxedSocket>>;

    fn listen_on(
        &mut self,
        _: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<io::Error>> {
        Err(TransportError::MultiaddrNotSupported(addr))
    }

    fn remove_listener(&mut self, _: ListenerId) -> bool {
        false
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        _: DialOpts,
    ) -> Result<Self::Dial, TransportError<io::Error>> {
        let Some(to) = tcp_socket_addr(&addr).filter(|to| to.is_ipv4() == self.source.is_ipv4())
        else {
            return Err(TransportError::MultiaddrNotSupported(addr));
        };
        Ok(self.runtime.connect_from(self.source, to))
    }

    fn poll(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        Poll::Pending
    }
}

/// [`BoundTcp`] from `source` with noise and yamux, as the boot node's own transport.
pub fn transport<R: Runtime>(
    key: &identity::Keypair,
    source: IpAddr,
    runtime: R,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, noise::Error> {
    Ok(BoundTcp::new(source, runtime)
        .upgrade(Version::V1Lazy)
        .authenticate(noise::Config::new(key)?)
        .multiplex(yamux::Config::default())
        .timeout(CONNECTION_TIMEOUT)
        .boxed())
}

/// The swarm that dials back from the alternate address.
pub type AlternateSwarm = Swarm<dummy::Behaviour>;

/// The alternate swarm: identity `key`, dialing from `source` on `runtime`'s sockets, tasks
/// as `config` says (the runtime adapter's executor).
pub fn swarm<R: Runtime>(
    key: &identity::Keypair,
    source: IpAddr,
    runtime: R,
    config: libp2p::swarm::Config,
) -> Result<AlternateSwarm, noise::Error> {
    Ok(Swarm::new(
        transport(key, source, runtime)?,
        dummy::Behaviour,
        key.public().to_peer_id(),
        config.with_idle_connection_timeout(ALTERNATE_IDLE_TIMEOUT),
    ))
}

pub use crate::timeouts::ALTERNATE_IDLE_TIMEOUT;

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime whose only part in use is the refusing default `connect_from`.
    #[derive(Debug, Clone)]
    struct NoSockets;

    impl Runtime for NoSockets {
        fn timer(&self, _: std::time::Instant) -> BoxFuture<'static, ()> {
            Box::pin(futures::future::pending())
        }
        fn http_get(
            &self,
            _: String,
            _: usize,
        ) -> BoxFuture<'static, Result<crate::HttpReply, pyrsia_boot_core::HttpError>> {
            Box::pin(futures::future::pending())
        }
        fn resolve(&self, _: String) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
            Box::pin(futures::future::pending())
        }
        fn spawn(&self, _: BoxFuture<'static, ()>) {}
    }

    #[test]
    fn only_plain_tcp_addresses_are_dialed() {
        let ok: Multiaddr = "/ip4/203.0.113.1/tcp/4001".parse().expect("valid");
        assert_eq!(
            tcp_socket_addr(&ok),
            Some("203.0.113.1:4001".parse().expect("valid"))
        );
        for bad in [
            "/ip4/203.0.113.1/udp/4001/quic-v1",
            "/dns4/x.test/tcp/1",
            "/ip4/203.0.113.1/tcp/1/ws",
        ] {
            assert_eq!(tcp_socket_addr(&bad.parse().expect("valid")), None, "{bad}");
        }
        let mut t = BoundTcp::new("127.0.0.1".parse().expect("valid"), NoSockets);
        let v6: Multiaddr = "/ip6/::1/tcp/1".parse().expect("valid");
        let opts = DialOpts {
            role: libp2p::core::Endpoint::Dialer,
            port_use: libp2p::core::transport::PortUse::New,
        };
        assert!(t.dial(v6, opts).is_err(), "another family than the source");
    }

    #[test]
    fn a_connect_leaves_from_the_source_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("valid");
        let to = listener.local_addr().expect("valid");
        let stream = start_connect("127.0.0.2".parse().expect("valid"), to).expect("started");
        // The kernel completes the handshake on loopback; the listener sees where it came from.
        let (_, from) = listener.accept().expect("valid");
        assert_eq!(from.ip(), "127.0.0.2".parse::<IpAddr>().expect("valid"));
        assert_eq!(stream.local_addr().expect("valid").ip(), from.ip());
    }
}
