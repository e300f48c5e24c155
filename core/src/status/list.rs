//! What the parser returns: the usable peers of a document, and why a whole document was
//! refused. A leaf module: the builder and the visitors both use these types.

use libp2p_identity::PeerId;

use super::SkipCounts;
use crate::addr::AddrClass;
use crate::signed::{SignatureError, SignedBy};
use multiaddr::Multiaddr;

/// One usable address of a boot peer, without its `/p2p/<id>` suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootAddr {
    /// The transport part, e.g. `/ip4/198.51.100.4/tcp/44000`.
    pub addr: Multiaddr,
    /// Its class, as the policy judged it.
    pub class: AddrClass,
}

/// A peer named by a boot document, with its usable addresses in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootPeer {
    /// The peer's id, taken from the addresses' `/p2p/` suffix.
    pub id: PeerId,
    /// Usable addresses, deduplicated, at most [`crate::Limits::max_addrs_per_peer`].
    pub addrs: Vec<BootAddr>,
    /// The peer's connected-peer count when the document states it (a load metric).
    pub peers_count: Option<u32>,
}

/// The parsed, filtered, grouped content of a `/status` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootList {
    /// The `peer_id` field: the boot node that served the document.
    pub serving_peer: Option<PeerId>,
    /// Usable peers in order of first appearance; never empty.
    pub peers: Vec<BootPeer>,
    /// Entries not used, per reason.
    pub skipped: SkipCounts,
    /// The trusted signer, when [`crate::ParseOptions::trust`] required a signature.
    pub signed_by: Option<SignedBy>,
}

impl BootList {
    /// The number of usable addresses over all peers.
    pub fn addr_count(&self) -> usize {
        self.peers.iter().map(|p| p.addrs.len()).sum()
    }
}

/// Why a whole document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// The body is larger than [`crate::Limits::max_body_bytes`].
    #[error("body exceeds {limit} bytes ({len} received)")]
    BodyTooLarge {
        /// Bytes received.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is not JSON (or has trailing garbage, or nests too deeply).
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    /// The body is JSON but not an object.
    #[error("document is not a JSON object")]
    NotAnObject,
    /// A field has the wrong JSON type.
    #[error("{field} is not {expected}")]
    FieldType {
        /// The field name as written in the document.
        field: &'static str,
        /// What it should be ("an array").
        expected: &'static str,
    },
    /// A field appears twice in the object.
    #[error("field {0} appears twice")]
    DuplicateField(&'static str),
    /// Neither `peer_addrs` nor `peer_addr` is present.
    #[error("document has no peer_addrs field")]
    MissingPeerAddrs,
    /// Every entry was skipped.
    #[error("no usable peer in the document ({0})")]
    NoUsablePeer(SkipCounts),
    /// Trusted keys are configured and the document's signature was refused.
    #[error("refused: {0}")]
    Signature(#[from] SignatureError),
}
