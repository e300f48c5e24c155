//! The boot node's transport with its handshakes queued: each dial's and each inbound
//! connection's upgrade runs as a task of [`Handshakes`], classed outbound or inbound.

use super::*;

/// A transport whose upgrades run in [`Handshakes`].
pub(super) struct Offloaded {
    pub(super) inner: Boxed<(PeerId, StreamMuxerBox)>,
    pub(super) handshakes: Handshakes,
}

impl Transport for Offloaded {
    type Output = (PeerId, StreamMuxerBox);
    type Error = std::io::Error;
    type ListenerUpgrade = Upgrade;
    type Dial = Upgrade;

    fn listen_on(
        &mut self,
        id: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<Self::Error>> {
        self.inner.listen_on(id, addr)
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        self.inner.remove_listener(id)
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        opts: DialOpts,
    ) -> Result<Self::Dial, TransportError<Self::Error>> {
        let dial = self.inner.dial(addr, opts)?;
        Ok(self.handshakes.run(OUTBOUND, dial, None))
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        let handshakes = self.handshakes.clone();
        Pin::new(&mut self.inner).poll(cx).map(|event| match event {
            TransportEvent::Incoming {
                listener_id,
                upgrade,
                local_addr,
                send_back_addr,
            } => TransportEvent::Incoming {
                listener_id,
                upgrade: handshakes.run(INBOUND, upgrade, Some(send_back_addr.clone())),
                local_addr,
                send_back_addr,
            },
            other => other.map_upgrade(|upgrade| handshakes.run(INBOUND, upgrade, None)),
        })
    }
}
