//! Abuse limits for a boot node: how many libp2p connections in total, pending and per remote
//! IP, and how many HTTP connections and for how long. A boot node is a public service that
//! every new node contacts first; these bound what one host (or a crowd) can take from it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::task::{Context, Poll};
use std::time::Duration;

use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{
    behaviour::ConnectionEstablished, dummy, ConnectionClosed, ConnectionDenied, ConnectionId,
    FromSwarm, ListenFailure, NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent,
    ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

/// The limits a boot node enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbuseLimits {
    /// Established libp2p connections, inbound and outbound together.
    pub max_connections: u32,
    /// Inbound connections still in their handshake (TCP accepted, noise not done).
    pub max_pending_incoming: u32,
    /// Inbound connections (pending and established) from one remote IP address.
    pub max_per_ip: u32,
    /// HTTP connections served at once (`/status`, `/metrics`); more are closed on accept.
    pub http_max_connections: usize,
    /// HTTP connections served at once for one remote IP address.
    pub http_max_per_ip: usize,
    /// The longest one HTTP connection may stay open, keep-alive included.
    pub http_connection_time: Duration,
}

impl Default for AbuseLimits {
    fn default() -> Self {
        AbuseLimits {
            // About 55 KiB of RSS per connected peer (BENCHMARKS §10): 4096 is ~220 MiB.
            max_connections: 4096,
            // A crowd joining at once must fit: past this limit a handshake is reset, the
            // joiner backs off and returns with the rest, and with 256 1 000 Pyrsia-like
            // clients started together left 121 unconnected, 5 000 left 1 000 (BENCHMARKS
            // §18). A waiting handshake holds a socket and a noise state, a few KiB; the
            // per-IP limit bounds one host's share.
            max_pending_incoming: 4096,
            // Enough for a NAT gateway in front of a small office; one host cannot hold many
            // identities' worth of connections.
            max_per_ip: 32,
            http_max_connections: 256,
            // A client needs one; a NAT gateway in front of many, a few.
            http_max_per_ip: 16,
            http_connection_time: Duration::from_secs(10),
        }
    }
}

/// Why an inbound connection was refused by [`IpLimit`].
#[derive(Debug)]
pub struct TooManyFromIp {
    /// The remote address.
    pub ip: IpAddr,
    /// The limit it hit.
    pub limit: u32,
}

impl std::fmt::Display for TooManyFromIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} already has {} connections", self.ip, self.limit)
    }
}

impl std::error::Error for TooManyFromIp {}

/// Limits inbound connections per remote IP (libp2p's connection-limits counts per peer id,
/// which a host can mint freely). Counts a connection from its TCP accept until it closes or
/// fails its handshake.
#[derive(Debug, Default)]
pub struct IpLimit {
    max: Option<u32>,
    by_connection: HashMap<ConnectionId, IpAddr>,
    per_ip: HashMap<IpAddr, u32>,
}

impl IpLimit {
    /// At most `max` inbound connections per IP; `None` for no limit.
    pub fn new(max: Option<u32>) -> Self {
        IpLimit {
            max,
            ..IpLimit::default()
        }
    }

    /// Inbound connections currently counted for `ip`.
    pub fn count(&self, ip: &IpAddr) -> u32 {
        self.per_ip.get(ip).copied().unwrap_or(0)
    }

    fn release(&mut self, connection: ConnectionId) {
        if let Some(ip) = self.by_connection.remove(&connection) {
            if let Some(n) = self.per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    self.per_ip.remove(&ip);
                }
            }
        }
    }
}

fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

impl NetworkBehaviour for IpLimit {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        _local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        let (Some(max), Some(ip)) = (self.max, ip_of(remote_addr)) else {
            return Ok(());
        };
        if self.count(&ip) >= max {
            return Err(ConnectionDenied::new(TooManyFromIp { ip, limit: max }));
        }
        self.by_connection.insert(connection_id, ip);
        *self.per_ip.entry(ip).or_insert(0) += 1;
        Ok(())
    }

    fn handle_established_inbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        _peer: PeerId,
        _local_addr: &Multiaddr,
        _remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        _peer: PeerId,
        _addr: &Multiaddr,
        _role_override: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        match event {
            FromSwarm::ConnectionClosed(ConnectionClosed { connection_id, .. })
            | FromSwarm::ListenFailure(ListenFailure { connection_id, .. }) => {
                self.release(connection_id)
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _peer_id: PeerId,
        _connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

/// libp2p's connection limits (established in all, pending inbound), with every peer shown to
/// it as one. connection-limits 0.5 empties a peer's entry when its last connection closes
/// but never removes it, so a boot node kept an entry for every joiner it ever saw: its RSS
/// grew by ~0.35 KiB per join under churn (BENCHMARKS §17). No per-peer limit is configured,
/// so nothing it decides depends on which peer a connection belongs to.
pub struct PeerlessLimits {
    inner: libp2p::connection_limits::Behaviour,
    /// The one peer id the inner behaviour ever sees.
    anyone: PeerId,
}

impl std::fmt::Debug for PeerlessLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerlessLimits").finish_non_exhaustive()
    }
}

impl PeerlessLimits {
    /// `limits` without a per-peer limit (one would count all peers together).
    pub fn new(limits: libp2p::connection_limits::ConnectionLimits) -> Self {
        PeerlessLimits {
            inner: libp2p::connection_limits::Behaviour::new(limits),
            anyone: PeerId::from_bytes(&[0, 0]).expect("the identity multihash of nothing"),
        }
    }
}

impl NetworkBehaviour for PeerlessLimits {
    type ConnectionHandler =
        <libp2p::connection_limits::Behaviour as NetworkBehaviour>::ConnectionHandler;
    type ToSwarm = <libp2p::connection_limits::Behaviour as NetworkBehaviour>::ToSwarm;

    fn handle_pending_inbound_connection(
        &mut self,
        id: ConnectionId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner
            .handle_pending_inbound_connection(id, local, remote)
    }

    fn handle_established_inbound_connection(
        &mut self,
        id: ConnectionId,
        _peer: PeerId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        (self.inner).handle_established_inbound_connection(id, self.anyone, local, remote)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: Option<PeerId>,
        addrs: &[Multiaddr],
        role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        let peer = peer.map(|_| self.anyone);
        self.inner
            .handle_pending_outbound_connection(id, peer, addrs, role)
    }

    fn handle_established_outbound_connection(
        &mut self,
        id: ConnectionId,
        _peer: PeerId,
        addr: &Multiaddr,
        role: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        (self.inner).handle_established_outbound_connection(id, self.anyone, addr, role, port_use)
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        let anyone = self.anyone;
        let event = match event {
            FromSwarm::ConnectionEstablished(e) => {
                FromSwarm::ConnectionEstablished(ConnectionEstablished {
                    peer_id: anyone,
                    ..e
                })
            }
            FromSwarm::ConnectionClosed(e) => FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id: anyone,
                ..e
            }),
            other => other,
        };
        self.inner.on_swarm_event(event);
    }

    fn on_connection_handler_event(
        &mut self,
        _peer: PeerId,
        id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.inner
            .on_connection_handler_event(self.anyone, id, event);
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        self.inner.poll(cx)
    }
}
