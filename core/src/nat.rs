//! The NAT verdict: what this node has learned about its own reachability.

use std::fmt;

use multiaddr::Multiaddr;

/// Whether other peers can dial this node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NatVerdict {
    /// No evidence yet.
    #[default]
    Unknown,
    /// A server dialed us back at this address.
    Public(Multiaddr),
    /// A server tried to dial us back and could not: we are behind NAT or a firewall.
    Private,
}

impl NatVerdict {
    /// A short name: "unknown", "public", "private".
    pub fn name(&self) -> &'static str {
        match self {
            NatVerdict::Unknown => "unknown",
            NatVerdict::Public(_) => "public",
            NatVerdict::Private => "private",
        }
    }
}

impl fmt::Display for NatVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NatVerdict::Public(addr) => write!(f, "public at {addr}"),
            other => f.write_str(other.name()),
        }
    }
}
