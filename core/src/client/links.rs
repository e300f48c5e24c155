//! The machine's links to boot peers: the connections (which outlive a bootstrap: after
//! Connected they stay, and a new bootstrap starts only when the last one goes) and every dial
//! under way (a second-family dial, or the observer dial kept for the mapping, runs on past
//! Connected). One map per kind, in id order, which is the order dials are cancelled and fired.

use super::*;

/// Boot connections and dials.
#[derive(Debug, Default)]
pub(super) struct Links {
    pub(super) conns: BTreeMap<PeerId, BootConn>,
    pub(super) dials: BTreeMap<DialId, PendingDial>,
}

#[derive(Debug, Clone)]
pub(super) struct PendingDial {
    pub(super) peer: PeerId,
    /// Literal addresses; the resolved ones join them when the names resolve.
    pub(super) addrs: Vec<Multiaddr>,
    pub(super) source: Source,
    pub(super) deadline: Instant,
    /// Waiting for [`Input::Resolved`] before the dial itself starts.
    pub(super) resolving: bool,
    /// How far name resolution has gone.
    pub(super) resolution: Resolution,
    /// A second connection to a connected boot peer, over the other address family, so that
    /// family can be probed over a connection of its own.
    pub(super) second_family: bool,
}

/// A dial's name resolution so far: rounds, the names looked up (a name coming back again is a
/// loop), and the errors to report if nothing dialable comes of it.
#[derive(Debug, Clone, Default)]
pub(super) struct Resolution {
    pub(super) rounds: u8,
    pub(super) looked_up: Vec<Multiaddr>,
    pub(super) errors: Vec<ResolveError>,
}

#[derive(Debug, Clone)]
pub(super) struct BootConn {
    pub(super) addrs: Vec<Multiaddr>,
    /// The IP the connection went to, when the driver said.
    pub(super) remote_ip: Option<IpAddr>,
    /// The IP of a second connection to the same peer over the other family.
    pub(super) other_ip: Option<IpAddr>,
    /// The dialed addresses of the other family (for that second connection).
    pub(super) other_addrs: Vec<Multiaddr>,
    pub(super) source: Source,
    /// When the peer must have sent its AutoNAT dial request (ignored after Connected).
    pub(super) probe_deadline: Instant,
    /// The peer gave a believed answer to one of our dial-back requests.
    pub(super) answered_ours: bool,
    /// Its dial request is overdue, and the deadline now waits for its answer to ours.
    pub(super) overdue: bool,
}

impl BootConn {
    /// Whether a connection of `family` goes to this peer.
    pub(super) fn has(&self, family: Family) -> bool {
        let is = |ip: Option<IpAddr>| ip.is_some_and(|ip| Family::of_ip(ip) == family);
        is(self.remote_ip) || is(self.other_ip)
    }

    /// The family of the first connection (IPv4 when the driver did not say).
    pub(super) fn family(&self) -> Family {
        self.remote_ip.map_or(Family::Ipv4, Family::of_ip)
    }
}
