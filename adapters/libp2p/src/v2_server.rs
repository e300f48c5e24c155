//! AutoNAT v2's server on every connection, the ones this node dialed included.
//!
//! libp2p's v2 server (0.55's libp2p-autonat 0.14 and 0.57's 0.16 alike) gives a connection
//! this node dialed a dummy handler, so identify does not list `/libp2p/autonat/2/dial-request`
//! there and a peer that asks over the connection it accepted never asks. js-libp2p and
//! go-libp2p ask over any connection: a v2-only boot node (js-libp2p running only
//! `@libp2p/autonat-v2`) never sent our client a request, so the client was never fully
//! connected. [`EveryConnection`] hands such a connection the handler the server gives an
//! inbound one; the server's own dial-back connections keep theirs.
//!
//! The server dials back the address the client asks about, from a new port; the connection's
//! remote address only decides whether it first asks for dial data (anti-amplification). On a
//! connection this node dialed, the remote address is the one it dialed, the peer's listen
//! address: the `/p2p/` suffix the swarm adds is left off so that a peer asking about that very
//! address is not asked for data.

use std::task::{Context, Poll};

use either::Either;

use crate::libp2p;
use libp2p::autonat::v2::server;
use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

/// libp2p's AutoNAT v2 server, serving dial requests on outbound connections too (see the
/// module docs).
#[derive(Default)]
#[allow(missing_debug_implementations)] // libp2p's server has no Debug
pub struct EveryConnection {
    inner: server::Behaviour,
}

impl NetworkBehaviour for EveryConnection {
    type ConnectionHandler = THandler<server::Behaviour>;
    type ToSwarm = server::Event;

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
        peer: PeerId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner
            .handle_established_inbound_connection(id, peer, local, remote)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: Option<PeerId>,
        addresses: &[Multiaddr],
        role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.inner
            .handle_pending_outbound_connection(id, peer, addresses, role)
    }

    fn handle_established_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        match self
            .inner
            .handle_established_outbound_connection(id, peer, addr, role, port_use)?
        {
            // An ordinary connection this node dialed: the server would leave it without a
            // handler. Its dial-back connections (`Left(Left(_))`) keep theirs.
            Either::Left(Either::Right(_dummy)) => {
                let remote = without_p2p(addr);
                self.inner
                    .handle_established_inbound_connection(id, peer, &remote, &remote)
            }
            handler => Ok(handler),
        }
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        self.inner.on_swarm_event(event)
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.inner.on_connection_handler_event(peer, id, event)
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        self.inner.poll(cx)
    }
}

fn without_p2p(addr: &Multiaddr) -> Multiaddr {
    addr.iter()
        .filter(|p| !matches!(p, Protocol::P2p(_)))
        .collect()
}
