//! `PeerlessLimits` (libp2p's connection limits shown every peer as one, so they keep no
//! entry per peer ever seen) still refuses what the limit says, between real swarms: noise and
//! yamux over libp2p's in-memory transport, each dialer a fresh peer id.

use std::time::Duration;

use futures::StreamExt;
use libp2p::connection_limits::ConnectionLimits;
use libp2p::core::transport::MemoryTransport;
use libp2p::core::upgrade::Version;
use libp2p::swarm::{self, dummy, ListenError, NetworkBehaviour, SwarmEvent};
use libp2p::{identity, noise, yamux, Multiaddr, Swarm, Transport};
use pyrsia_boot_libp2p::limits::PeerlessLimits;

fn swarm<B: NetworkBehaviour>(behaviour: B) -> Swarm<B> {
    let key = identity::Keypair::generate_ed25519();
    let transport = MemoryTransport::default()
        .upgrade(Version::V1Lazy)
        .authenticate(noise::Config::new(&key).expect("noise config"))
        .multiplex(yamux::Config::default())
        .timeout(Duration::from_secs(10))
        .boxed();
    // Connections with nothing to do stay open: only the limit closes them.
    let config = swarm::Config::with_executor(|f| smol::spawn(f).detach())
        .with_idle_connection_timeout(Duration::from_secs(600));
    Swarm::new(transport, behaviour, key.public().to_peer_id(), config)
}

/// A new peer dialing `addr`, driven until the returned task is dropped (which closes its
/// connection).
fn dialer(addr: &Multiaddr) -> smol::Task<()> {
    let mut s = swarm(dummy::Behaviour);
    s.dial(addr.clone()).expect("dials");
    smol::spawn(async move {
        loop {
            s.select_next_some().await;
        }
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Established,
    Denied,
    Closed,
}

/// The listener's next connection event (others skipped), within 10 s.
async fn next_seen(l: &mut Swarm<PeerlessLimits>) -> Seen {
    let wait = async {
        loop {
            match l.select_next_some().await {
                SwarmEvent::ConnectionEstablished { .. } => return Seen::Established,
                SwarmEvent::ConnectionClosed { .. } => return Seen::Closed,
                SwarmEvent::IncomingConnectionError {
                    error: ListenError::Denied { .. },
                    ..
                } => return Seen::Denied,
                SwarmEvent::IncomingConnectionError { error, .. } => {
                    panic!("an inbound connection failed otherwise: {error}")
                }
                _ => {}
            }
        }
    };
    let timeout = async {
        smol::Timer::after(Duration::from_secs(10)).await;
        panic!("no connection event within 10 s")
    };
    futures::future::select(Box::pin(wait), Box::pin(timeout))
        .await
        .factor_first()
        .0
}

#[test]
fn past_the_limit_a_new_peer_is_refused_and_a_freed_place_is_taken_again() {
    smol::block_on(async {
        let limits = ConnectionLimits::default().with_max_established(Some(2));
        let mut l = swarm(PeerlessLimits::new(limits));
        let addr: Multiaddr = "/memory/0".parse().expect("valid");
        l.listen_on(addr).expect("listens");
        let addr = loop {
            if let SwarmEvent::NewListenAddr { address, .. } = l.select_next_some().await {
                break address;
            }
        };
        let first = dialer(&addr);
        assert_eq!(next_seen(&mut l).await, Seen::Established);
        let second = dialer(&addr);
        assert_eq!(next_seen(&mut l).await, Seen::Established);
        // A third peer (every peer id different): the limit counts connections, not peers.
        let third = dialer(&addr);
        assert_eq!(next_seen(&mut l).await, Seen::Denied);
        drop(third);
        // Churn: many peers come and go through the one free place, and the count stays
        // exact (a leak would fill the limit, a miscount would let two in).
        drop(first);
        assert_eq!(next_seen(&mut l).await, Seen::Closed);
        for _ in 0..50 {
            let passing = dialer(&addr);
            assert_eq!(next_seen(&mut l).await, Seen::Established);
            let extra = dialer(&addr);
            assert_eq!(next_seen(&mut l).await, Seen::Denied);
            drop(extra);
            drop(passing);
            assert_eq!(next_seen(&mut l).await, Seen::Closed);
        }
        drop(second);
        assert_eq!(next_seen(&mut l).await, Seen::Closed);
        let both = [dialer(&addr), dialer(&addr)];
        assert_eq!(next_seen(&mut l).await, Seen::Established);
        assert_eq!(next_seen(&mut l).await, Seen::Established);
        drop(both);
    });
}
