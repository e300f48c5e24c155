//! The caps and options a document is parsed with.

use libp2p_identity::PeerId;

use crate::addr::AddressPolicy;
use crate::signed::Trust;

/// Caps that bound the work and memory one document can cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body accepted, in bytes; larger bodies are refused before parsing.
    pub max_body_bytes: usize,
    /// Most distinct peers kept from one document.
    pub max_peers: usize,
    /// Most addresses kept per peer.
    pub max_addrs_per_peer: usize,
    /// Longest multiaddr string accepted, in bytes.
    pub max_addr_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            max_peers: 64,
            max_addrs_per_peer: 16,
            max_addr_len: 256,
        }
    }
}

/// Everything the parser needs besides the bytes.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// Size caps.
    pub limits: Limits,
    /// Which address classes are usable.
    pub policy: AddressPolicy,
    /// This node's own id: entries naming it are skipped (a node never boots from itself).
    pub local_peer: Option<PeerId>,
    /// Pinned boot peers: when not empty, entries naming any other peer are skipped. Noise
    /// proves a peer's id on connect; the pin stops a list from substituting other ids.
    pub pinned: Vec<PeerId>,
    /// Trusted signers: when it has keys, only a document signed by one of them, unexpired and
    /// not rolled back, is accepted (see [`crate::signing`]).
    pub trust: Trust,
}
