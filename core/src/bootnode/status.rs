//! What the boot-node machine shows of itself: counters, its footprint, a status snapshot.

use multiaddr::Multiaddr;

/// Counters for metrics; they only grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BootNodeCounters {
    /// Dial requests sent to newly connected peers.
    pub dial_requests: u64,
    /// `/status` documents served.
    pub status_served: u64,
    /// Of those, served without a signature although signing is configured.
    pub status_served_unsigned: u64,
    /// Signatures made.
    pub signatures: u64,
    /// Load questions asked to members.
    pub load_asks: u64,
    /// Inputs ignored: unknown or stale ids and tokens, duplicates.
    pub ignored_inputs: u64,
}

/// What the machine holds, entry by entry: every count is bounded by a constant or by the
/// connections open now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Open connections.
    pub connections: usize,
    /// Peers with at least one open connection.
    pub peers: usize,
    /// Dial requests awaiting an answer (at most one per peer).
    pub dial_requests: usize,
    /// `/status` requests waiting for a signature (at most `max_waiting_requests`).
    pub waiting_requests: usize,
    /// Cached signatures (at most 64).
    pub signatures: usize,
    /// Signing jobs under way (at most one per current list or list a request waits for).
    pub sign_jobs: usize,
    /// Load questions under way (at most one per member).
    pub load_asks: usize,
    /// Members' loads (at most one per member).
    pub loads: usize,
    /// Dial-backs our AutoNAT server has under way (at most the global throttle per period,
    /// for one timeout; none for a peer that has left).
    pub dial_backs: usize,
}

impl Footprint {
    /// Every entry together.
    pub fn total(&self) -> usize {
        self.connections
            + self.peers
            + self.dial_requests
            + self.waiting_requests
            + self.signatures
            + self.sign_jobs
            + self.load_asks
            + self.loads
            + self.dial_backs
    }
}

/// A snapshot of the boot node for status pages and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootNodeStatus {
    /// Peers connected now, members included.
    pub connected_peers: usize,
    /// Connected peers that are not cluster members (the `peers_count` of `/status`).
    pub peers_count: u64,
    /// What `/status` advertises for this node, in order.
    pub advertised: Vec<Multiaddr>,
    /// Counters.
    pub counters: BootNodeCounters,
    /// What the machine holds.
    pub footprint: Footprint,
}
