//! The state worth keeping across restarts. The machine emits it in
//! [`crate::Action::PersistState`]; the application writes it (see [`Snapshot::to_json`]) and
//! hands it back through [`crate::Config::restore`] on the next start.

use std::str::FromStr;

use libp2p_identity::PeerId;
use multiaddr::Multiaddr;
use serde::{Deserialize, Serialize};

use crate::nat::NatVerdict;
use crate::peer::{CachedPeer, KnownPeer};
use crate::signed::{decode_key, encode_key, SeenSequence, MAX_SEQUENCES};

/// The file format version [`Snapshot::to_json`] writes and [`Snapshot::from_json`] reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Largest snapshot document read; a state file larger than this is not ours.
pub const MAX_SNAPSHOT_BYTES: usize = 256 * 1024;

/// Good boot peers (most recently connected first) and the last NAT verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Peers this node reached Connected through, newest first, at most
    /// [`crate::Config::max_good_peers`].
    pub good_peers: Vec<CachedPeer>,
    /// The last verdict.
    pub nat: NatVerdict,
    /// The highest signed boot-document sequence accepted per signer: a later run refuses
    /// older documents (rollback) even after a restart.
    pub boot_sequences: Vec<SeenSequence>,
}

/// Why a stored snapshot was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Larger than [`MAX_SNAPSHOT_BYTES`].
    #[error("larger than {MAX_SNAPSHOT_BYTES} bytes")]
    TooLarge,
    /// Not the expected JSON (truncated, corrupt, another program's file).
    #[error("not a pyrsia-boot state document: {0}")]
    Malformed(String),
    /// Written by another format version.
    #[error("format version {found}, expected {SNAPSHOT_VERSION}")]
    WrongVersion {
        /// The version in the file.
        found: u32,
    },
}

#[derive(Serialize, Deserialize)]
struct FilePeer {
    peer_id: String,
    addrs: Vec<String>,
    /// Unix seconds; absent in files written without a wall clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_seen: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct FileNat {
    verdict: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct FileSequence {
    /// libp2p protobuf encoding, base64.
    key: String,
    sequence: u64,
}

#[derive(Serialize, Deserialize)]
struct FileSnapshot {
    version: u32,
    good_peers: Vec<FilePeer>,
    nat: FileNat,
    /// Absent in files written before signed documents, or without trusted keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    boot_sequences: Vec<FileSequence>,
}

impl Snapshot {
    /// The snapshot as a versioned JSON document.
    pub fn to_json(&self) -> Vec<u8> {
        let (verdict, address) = match &self.nat {
            NatVerdict::Public(a) => ("public", Some(a.to_string())),
            NatVerdict::Private => ("private", None),
            NatVerdict::Unknown => ("unknown", None),
        };
        let file = FileSnapshot {
            version: SNAPSHOT_VERSION,
            good_peers: self
                .good_peers
                .iter()
                .map(|p| FilePeer {
                    peer_id: p.peer.id.to_string(),
                    addrs: p.peer.addrs.iter().map(ToString::to_string).collect(),
                    last_seen: p.last_seen,
                })
                .collect(),
            nat: FileNat {
                verdict: verdict.to_string(),
                address,
            },
            boot_sequences: self
                .boot_sequences
                .iter()
                .map(|s| FileSequence {
                    key: encode_key(&s.key),
                    sequence: s.sequence,
                })
                .collect(),
        };
        // Strings and integers only: a failure here is a bug, not bad input.
        serde_json::to_vec_pretty(&file).expect("invariant: the state document serializes")
    }

    /// Reads a document written by [`Snapshot::to_json`]. Unparsable peers and addresses inside
    /// an otherwise valid document are dropped; a document of the wrong shape or version is an
    /// error.
    pub fn from_json(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        if bytes.len() > MAX_SNAPSHOT_BYTES {
            return Err(SnapshotError::TooLarge);
        }
        // Check the version first, so a future format is reported as such, not as garbage.
        #[derive(Deserialize)]
        struct Versioned {
            version: u32,
        }
        let v: Versioned =
            serde_json::from_slice(bytes).map_err(|e| SnapshotError::Malformed(e.to_string()))?;
        if v.version != SNAPSHOT_VERSION {
            return Err(SnapshotError::WrongVersion { found: v.version });
        }
        let file: FileSnapshot =
            serde_json::from_slice(bytes).map_err(|e| SnapshotError::Malformed(e.to_string()))?;
        let good_peers = file
            .good_peers
            .into_iter()
            .filter_map(|p| {
                let id = PeerId::from_str(&p.peer_id).ok()?;
                let addrs: Vec<Multiaddr> = p.addrs.iter().filter_map(|a| a.parse().ok()).collect();
                (!addrs.is_empty()).then_some(CachedPeer {
                    peer: KnownPeer { id, addrs },
                    last_seen: p.last_seen,
                })
            })
            .collect();
        let nat = match (file.nat.verdict.as_str(), file.nat.address) {
            ("public", Some(a)) => a
                .parse()
                .map(NatVerdict::Public)
                .unwrap_or(NatVerdict::Unknown),
            ("private", _) => NatVerdict::Private,
            _ => NatVerdict::Unknown,
        };
        let boot_sequences = file
            .boot_sequences
            .into_iter()
            .filter_map(|s| {
                Some(SeenSequence {
                    key: decode_key(&s.key).ok()?,
                    sequence: s.sequence,
                })
            })
            .take(MAX_SEQUENCES)
            .collect();
        Ok(Snapshot {
            good_peers,
            nat,
            boot_sequences,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(i: u8) -> PeerId {
        libp2p_identity::Keypair::ed25519_from_bytes([i; 32])
            .expect("valid key")
            .public()
            .to_peer_id()
    }

    fn sample() -> Snapshot {
        Snapshot {
            good_peers: vec![
                CachedPeer {
                    peer: KnownPeer {
                        id: peer(1),
                        addrs: vec!["/ip4/198.51.100.1/tcp/44000".parse().expect("valid")],
                    },
                    last_seen: Some(1_795_000_000),
                },
                CachedPeer {
                    peer: KnownPeer {
                        id: peer(3),
                        addrs: vec!["/ip4/198.51.100.3/tcp/44000".parse().expect("valid")],
                    },
                    last_seen: None,
                },
            ],
            nat: NatVerdict::Public("/ip4/203.0.113.9/tcp/4001".parse().expect("valid")),
            boot_sequences: vec![SeenSequence {
                key: libp2p_identity::Keypair::ed25519_from_bytes([9; 32])
                    .expect("valid key")
                    .public(),
                sequence: 41,
            }],
        }
    }

    #[test]
    fn a_snapshot_survives_its_file_format() {
        let s = sample();
        assert_eq!(Snapshot::from_json(&s.to_json()), Ok(s));
        let private = Snapshot {
            nat: NatVerdict::Private,
            ..Snapshot::default()
        };
        assert_eq!(Snapshot::from_json(&private.to_json()), Ok(private));
    }

    #[test]
    fn refuses_truncated_corrupt_and_foreign_version_documents() {
        let full = sample().to_json();
        let truncated = &full[..full.len() / 2];
        assert!(matches!(
            Snapshot::from_json(truncated),
            Err(SnapshotError::Malformed(_))
        ));
        assert!(matches!(
            Snapshot::from_json(b"\x00\x01garbage"),
            Err(SnapshotError::Malformed(_))
        ));
        assert!(matches!(
            Snapshot::from_json(b""),
            Err(SnapshotError::Malformed(_))
        ));
        let future = String::from_utf8(full)
            .expect("utf-8")
            .replace("\"version\": 1", "\"version\": 2");
        assert_eq!(
            Snapshot::from_json(future.as_bytes()),
            Err(SnapshotError::WrongVersion { found: 2 })
        );
        assert_eq!(
            Snapshot::from_json(&vec![b' '; MAX_SNAPSHOT_BYTES + 1]),
            Err(SnapshotError::TooLarge)
        );
    }

    #[test]
    fn drops_unusable_entries_inside_a_valid_document() {
        let doc = format!(
            r#"{{"version":1,"good_peers":[{{"peer_id":"nope","addrs":["/ip4/1.2.3.4/tcp/1"]}},{{"peer_id":"{}","addrs":["bad","/ip4/198.51.100.2/tcp/1"]}}],"nat":{{"verdict":"public","address":"junk"}}}}"#,
            peer(2)
        );
        let s = Snapshot::from_json(doc.as_bytes()).expect("valid shape");
        assert_eq!(s.good_peers.len(), 1);
        assert_eq!(s.good_peers[0].peer.addrs.len(), 1);
        assert_eq!(s.good_peers[0].last_seen, None);
        assert_eq!(s.nat, NatVerdict::Unknown);
    }
}
