//! Peers known without asking a boot URL, and the one place that splits a full multiaddr into
//! its transport part and its `/p2p/<id>` suffix.
//!
//! A leaf module: the configuration, the snapshot and the boot node all name these types.

use libp2p_identity::PeerId;
use multiaddr::{Multiaddr, Protocol};

/// Splits `/…/p2p/<id>` into the transport address and the peer id. `None` when the last
/// component is not `/p2p/`; the transport part may be empty (a bare `/p2p/<id>`).
pub fn split_p2p(full: &Multiaddr) -> Option<(Multiaddr, PeerId)> {
    let mut addr = full.clone();
    match addr.pop()? {
        Protocol::P2p(id) => Some((addr, id)),
        _ => None,
    }
}

/// `addr` without a trailing `/p2p/<id>`, whatever the id (addresses the swarm reports for a
/// connection carry it; the core lists transport addresses).
pub fn without_p2p(addr: &Multiaddr) -> Multiaddr {
    split_p2p(addr).map_or_else(|| addr.clone(), |(transport, _)| transport)
}

/// A peer known without asking a boot URL: a seed from the configuration or a cached
/// last-known-good peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownPeer {
    /// The peer's id.
    pub id: PeerId,
    /// Its addresses, without `/p2p/` suffixes.
    pub addrs: Vec<Multiaddr>,
}

impl KnownPeer {
    /// Splits a full multiaddr ending in `/p2p/<id>` into a peer with one address.
    /// Returns `None` when there is no trailing `/p2p/` component or nothing before it.
    pub fn from_p2p_addr(full: &Multiaddr) -> Option<KnownPeer> {
        match split_p2p(full)? {
            (addr, id) if !addr.is_empty() => Some(KnownPeer {
                id,
                addrs: vec![addr],
            }),
            _ => None,
        }
    }
}

/// A boot peer this node reached Connected through, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedPeer {
    /// The peer and the addresses that worked.
    pub peer: KnownPeer,
    /// When it was last connected through, in seconds since the Unix epoch; `None` when the
    /// machine had no wall clock ([`crate::Config::unix_time`]).
    pub last_seen: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> PeerId {
        libp2p_identity::Keypair::ed25519_from_bytes([3; 32])
            .expect("valid key")
            .public()
            .to_peer_id()
    }

    #[test]
    fn splits_the_p2p_suffix_and_nothing_else() {
        let full: Multiaddr = format!("/ip4/198.51.100.3/tcp/4001/p2p/{}", id())
            .parse()
            .expect("valid");
        let (addr, peer) = split_p2p(&full).expect("has a suffix");
        assert_eq!(addr.to_string(), "/ip4/198.51.100.3/tcp/4001");
        assert_eq!(peer, id());
        assert_eq!(without_p2p(&full), addr);
        assert_eq!(without_p2p(&addr), addr);
        assert!(split_p2p(&addr).is_none());
        let bare: Multiaddr = format!("/p2p/{}", id()).parse().expect("valid");
        assert_eq!(split_p2p(&bare).map(|(a, _)| a.is_empty()), Some(true));
        assert!(KnownPeer::from_p2p_addr(&bare).is_none());
        assert_eq!(
            KnownPeer::from_p2p_addr(&full).map(|k| k.addrs),
            Some(vec![addr])
        );
    }
}
