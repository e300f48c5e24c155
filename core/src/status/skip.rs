//! Why entries of a document were skipped, and how many.

use std::fmt;

/// Why one entry of `peer_addrs` was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SkipReason {
    /// The entry is not a JSON string.
    NotAString,
    /// The string is longer than [`crate::Limits::max_addr_len`].
    TooLong,
    /// The string is not a multiaddr.
    Unparsable,
    /// The multiaddr does not end in `/p2p/<peer id>`.
    MissingPeerId,
    /// The multiaddr is only `/p2p/<peer id>`, with nothing to dial.
    NoTransport,
    /// The address names this node itself.
    LocalPeer,
    /// The address names a peer outside the pinned set ([`crate::ParseOptions::pinned`]).
    NotPinned,
    /// The address class is refused by the [`crate::AddressPolicy`] (loopback, private, …).
    NotRoutable,
    /// The same address was already listed for this peer.
    Duplicate,
    /// The entry names a new peer after [`crate::Limits::max_peers`] were already kept.
    TooManyPeers,
    /// The peer already has [`crate::Limits::max_addrs_per_peer`] addresses.
    TooManyAddrs,
    /// An optional field (`peer_id`, `peers_count`, `peer_loads`) had an unusable value and was
    /// ignored.
    BadOptionalField,
    /// A `/dnsaddr` TXT record ends in another peer's `/p2p/<id>` than the peer being dialed
    /// (one name often lists several peers; each dial takes its own).
    OtherPeer,
}

impl SkipReason {
    /// Every reason, in declaration order.
    pub const ALL: [SkipReason; 13] = [
        SkipReason::NotAString,
        SkipReason::TooLong,
        SkipReason::Unparsable,
        SkipReason::MissingPeerId,
        SkipReason::NoTransport,
        SkipReason::LocalPeer,
        SkipReason::NotPinned,
        SkipReason::NotRoutable,
        SkipReason::Duplicate,
        SkipReason::TooManyPeers,
        SkipReason::TooManyAddrs,
        SkipReason::BadOptionalField,
        SkipReason::OtherPeer,
    ];

    /// A short phrase for reports: "3 without /p2p".
    pub fn phrase(self) -> &'static str {
        match self {
            SkipReason::NotAString => "not a string",
            SkipReason::TooLong => "too long",
            SkipReason::Unparsable => "not a multiaddr",
            SkipReason::MissingPeerId => "without /p2p",
            SkipReason::NoTransport => "without a transport address",
            SkipReason::LocalPeer => "naming this node",
            SkipReason::NotPinned => "naming a peer that is not pinned",
            SkipReason::NotRoutable => "not routable",
            SkipReason::Duplicate => "duplicate",
            SkipReason::TooManyPeers => "over the peer limit",
            SkipReason::TooManyAddrs => "over the per-peer address limit",
            SkipReason::BadOptionalField => "unusable optional field",
            SkipReason::OtherPeer => "naming another peer",
        }
    }
}

/// How many entries were skipped, per [`SkipReason`].
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct SkipCounts {
    counts: [u32; SkipReason::ALL.len()],
}

impl SkipCounts {
    /// Counts one more entry skipped for `reason` (saturating).
    pub fn add(&mut self, reason: SkipReason) {
        let c = &mut self.counts[reason as usize];
        *c = c.saturating_add(1);
    }

    /// How many entries were skipped for `reason`.
    pub fn get(&self, reason: SkipReason) -> u32 {
        self.counts[reason as usize]
    }

    /// All skipped entries.
    pub fn total(&self) -> u32 {
        self.counts.iter().fold(0u32, |a, b| a.saturating_add(*b))
    }

    /// The reasons with a non-zero count, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (SkipReason, u32)> + '_ {
        SkipReason::ALL
            .iter()
            .map(|r| (*r, self.get(*r)))
            .filter(|(_, n)| *n > 0)
    }

    /// Adds every count of `other` to this one.
    pub fn merge(&mut self, other: &SkipCounts) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a = a.saturating_add(b);
        }
    }
}

impl fmt::Display for SkipCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.total() == 0 {
            return f.write_str("none skipped");
        }
        let mut first = true;
        for (reason, n) in self.iter() {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{n} {}", reason.phrase())?;
        }
        Ok(())
    }
}

impl fmt::Debug for SkipCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
