//! What the client machine shows of itself: its phase, counters and status snapshot.

use libp2p_identity::PeerId;

use crate::nat::{NatBehaviour, NatVerdict};
use crate::status::SkipCounts;

/// The phase of the current bootstrap, named after what it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PhaseName {
    /// Waiting for a boot URL's response.
    AwaitingStatus,
    /// Waiting for dials to complete.
    AwaitingDial,
    /// Connected to a boot peer; waiting for its AutoNAT dial request.
    AwaitingProbe,
    /// Every source failed this round; waiting to start the next.
    AwaitingRetry,
    /// Fully connected.
    Connected,
    /// Stopped trying (terminal).
    GaveUp,
}

/// Counters for status pages and metrics; they only grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Bootstraps started (1 + re-bootstraps).
    pub bootstraps: u32,
    /// Rounds started over all bootstraps.
    pub rounds: u32,
    /// Boot documents requested.
    pub fetches: u32,
    /// Boot URL attempts that failed (HTTP error, timeout, status, bad document).
    pub fetch_failures: u32,
    /// Dials started.
    pub dials: u32,
    /// Dials that failed or timed out.
    pub dial_failures: u32,
    /// Connections to boot peers.
    pub boot_connections: u32,
    /// AutoNAT dial requests received from boot peers we dialed.
    pub inbound_probes: u32,
    /// Dial-back requests we sent.
    pub own_probes: u32,
    /// OK answers to our dial-back requests that no dial-back connection backed: not believed.
    pub unverified_answers: u32,
    /// AutoNAT v2 results from boot peers (each one concluded a family's verdict).
    pub v2_results: u32,
    /// Inputs ignored: unknown or stale ids, peers we never dialed, late answers.
    pub ignored_inputs: u32,
    /// Boot entries skipped, per reason, over every source.
    pub skipped: SkipCounts,
}

/// A snapshot of the machine for status pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// What the machine waits for now.
    pub phase: PhaseName,
    /// The peer through which the current bootstrap reached Connected.
    pub boot_peer: Option<PeerId>,
    /// Boot peers currently connected.
    pub boot_connections: usize,
    /// Current round of the current bootstrap (0-based).
    pub round: u32,
    /// The NAT verdict.
    pub nat: NatVerdict,
    /// Whether `nat` comes from a previous run and has not been confirmed in this one.
    pub nat_stale: bool,
    /// Mapping, filtering and how the verdict was checked.
    pub behaviour: NatBehaviour,
    /// Whether a probe is under way or about to be (a retry, or a second-family connection
    /// being dialed for one): wait for it before reading the verdicts as final.
    pub verdict_pending: bool,
    /// What the IPv4 probes found.
    pub ipv4: crate::nat::FamilyNat,
    /// What the IPv6 probes found.
    pub ipv6: crate::nat::FamilyNat,
    /// Counters.
    pub counters: Counters,
}
