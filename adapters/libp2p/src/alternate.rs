//! Dial-backs from a boot node's alternate address: like a STUN server's second IP (RFC 5780),
//! an address used only to dial peers back and never listed in `/status`, so a dial-back from
//! it comes from a host the peer never sent a packet to. Only a NAT that lets strangers in
//! (endpoint-independent filtering) admits it; an address-restricted NAT admits the boot node's
//! own address and not this one.
//!
//! libp2p-tcp binds an outgoing socket to a listener's address or to nothing, so this is a
//! dial-only TCP transport that binds each socket to the alternate IP (port 0) before it
//! connects. It runs in its own swarm with the boot node's identity (the peer sees a dial-back
//! from the peer it asked) and no behaviour: the connection only has to be established.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::pin::Pin;
use std::task::{Context, Poll};

use async_io::Async;
use futures::future::BoxFuture;
use futures::FutureExt;
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{Boxed, DialOpts, ListenerId, TransportError, TransportEvent};
use libp2p::core::upgrade::Version;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{dummy, Swarm};
use libp2p::{identity, noise, yamux, Multiaddr, PeerId, Transport};

use crate::CONNECTION_TIMEOUT;

/// TCP that only dials, from `source` (an ephemeral port on it).
#[derive(Debug, Clone, Copy)]
pub struct BoundTcp {
    source: IpAddr,
}

impl BoundTcp {
    /// Dials from `source`, which must be an address of this host.
    pub fn new(source: IpAddr) -> Self {
        BoundTcp { source }
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

async fn connect_from(source: IpAddr, to: SocketAddr) -> io::Result<Async<TcpStream>> {
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
    let stream = Async::new(TcpStream::from(socket))?;
    // Writable once connected, or failed: the socket's error says which.
    stream.writable().await?;
    match stream.get_ref().take_error()? {
        Some(e) => Err(e),
        None => Ok(stream),
    }
}

impl Transport for BoundTcp {
    type Output = Async<TcpStream>;
    type Error = io::Error;
    type ListenerUpgrade = futures::future::Pending<io::Result<Async<TcpStream>>>;
    type Dial = BoxFuture<'static, io::Result<Async<TcpStream>>>;

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
        Ok(connect_from(self.source, to).boxed())
    }

    fn poll(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        Poll::Pending
    }
}

/// [`BoundTcp`] from `source` with noise and yamux, as the boot node's own transport.
pub fn transport(
    key: &identity::Keypair,
    source: IpAddr,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, noise::Error> {
    Ok(BoundTcp::new(source)
        .upgrade(Version::V1Lazy)
        .authenticate(noise::Config::new(key)?)
        .multiplex(yamux::Config::default())
        .timeout(CONNECTION_TIMEOUT)
        .boxed())
}

/// The swarm that dials back from the alternate address.
pub type AlternateSwarm = Swarm<dummy::Behaviour>;

/// The alternate swarm: identity `key`, dialing from `source`, tasks as `config` says (the
/// runtime adapter's executor).
pub fn swarm(
    key: &identity::Keypair,
    source: IpAddr,
    config: libp2p::swarm::Config,
) -> Result<AlternateSwarm, noise::Error> {
    Ok(Swarm::new(
        transport(key, source)?,
        dummy::Behaviour,
        key.public().to_peer_id(),
        config.with_idle_connection_timeout(ALTERNATE_IDLE_TIMEOUT),
    ))
}

/// How long a dial-back connection from the alternate address stays open: long enough for
/// the peer to finish its side of the handshake and see it.
pub const ALTERNATE_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut t = BoundTcp::new("127.0.0.1".parse().expect("valid"));
        let v6: Multiaddr = "/ip6/::1/tcp/1".parse().expect("valid");
        let opts = DialOpts {
            role: libp2p::core::Endpoint::Dialer,
            port_use: libp2p::core::transport::PortUse::New,
        };
        assert!(t.dial(v6, opts).is_err(), "another family than the source");
    }

    #[test]
    fn a_dial_leaves_from_the_source_address() {
        smol_like_block_on(async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("valid");
            let to = listener.local_addr().expect("valid");
            let stream = connect_from("127.0.0.2".parse().expect("valid"), to)
                .await
                .expect("connects");
            let (_, from) = listener.accept().expect("valid");
            assert_eq!(from.ip(), "127.0.0.2".parse::<IpAddr>().expect("valid"));
            assert_eq!(
                stream.get_ref().local_addr().expect("valid").ip(),
                from.ip()
            );
        });
    }

    fn smol_like_block_on<F: std::future::Future>(f: F) -> F::Output {
        async_io::block_on(f)
    }
}
