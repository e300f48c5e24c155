//! The document a boot node serializes.

use serde::{Deserialize, Serialize};

use crate::signed::{self, DocSignature};

/// The document a boot node serves, field for field as Pyrsia wrote it (`peers_count`,
/// `peer_id`, `peer_addrs`), plus the optional `peer_loads` extension that old clients ignore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDocument {
    /// Connected peers of the serving node.
    pub peers_count: u64,
    /// The serving node's peer id.
    pub peer_id: String,
    /// Full multiaddrs ending in `/p2p/<id>`; the serving node's best address first, because a
    /// Pyrsia client reads only `peer_addrs[0]`.
    pub peer_addrs: Vec<String>,
    /// Load of the other peers listed in `peer_addrs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peer_loads: Vec<PeerLoad>,
    /// The operator's signature over `peer_addrs` (see [`crate::signing`]); old clients ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<DocSignature>,
}

/// One entry of the `peer_loads` extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerLoad {
    /// The peer.
    pub peer_id: String,
    /// Its connected-peer count.
    pub peers_count: u64,
}

impl StatusDocument {
    /// The exact bytes `peer_addrs` has in [`StatusDocument::to_json`]'s output: serde_json's
    /// compact form of a value does not depend on where the value sits.
    pub fn peer_addrs_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.peer_addrs).expect("invariant: a list of strings serializes")
    }

    /// Signs the document's peer list with `keypair` (replacing any signature).
    pub fn sign(
        &mut self,
        keypair: &libp2p_identity::Keypair,
        issued_at: u64,
        expires_at: u64,
        sequence: u64,
    ) -> Result<(), libp2p_identity::SigningError> {
        let addrs = self.peer_addrs_json();
        self.signature = Some(signed::sign(
            keypair, &addrs, issued_at, expires_at, sequence,
        )?);
        Ok(())
    }

    /// The document as compact JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        // Strings and integers into a Vec: a failure here is a bug, not bad input.
        serde_json::to_vec(self).expect("invariant: the /status document serializes")
    }
}
