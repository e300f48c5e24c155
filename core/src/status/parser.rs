//! The streaming parser: one pass over the JSON with serde visitors, each address parsed and
//! judged as it arrives.

use libp2p_identity::PeerId;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::json::{AddrList, LoadList, Loose, Str};
use super::{ParseOptions, SkipCounts, SkipReason};
use crate::addr::{classify, AddrClass};
use crate::fastpath;
use crate::signed::{self, DocSignature, SignatureError, SignedBy};
use multiaddr::Multiaddr;
use std::fmt;

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

/// Parses a `/status` body (see the module docs for the rules).
pub fn parse_status(body: &[u8], options: &ParseOptions) -> Result<BootList, StatusError> {
    let limit = options.limits.max_body_bytes;
    if body.len() > limit {
        return Err(StatusError::BodyTooLarge {
            len: body.len(),
            limit,
        });
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        // Tell "JSON, wrong shape" from "not JSON at all"; both are cheap at this size.
        return Err(match serde_json::from_slice::<IgnoredAny>(body) {
            Ok(_) => StatusError::NotAnObject,
            Err(e) => StatusError::NotJson(e.to_string()),
        });
    }
    let mut builder = Builder::new(options);
    let mut de = serde_json::Deserializer::from_slice(body);
    let outcome = (&mut de)
        .deserialize_map(DocVisitor {
            builder: &mut builder,
        })
        .and_then(|()| de.end());
    if let Some(err) = builder.error.take() {
        return Err(err);
    }
    outcome.map_err(|e| StatusError::NotJson(e.to_string()))?;
    builder.finish()
}

/// Accumulates peers while the document streams past.
pub(super) struct Builder<'o> {
    pub(super) options: &'o ParseOptions,
    pub(super) peers: Vec<BootPeer>,
    pub(super) skipped: SkipCounts,
    pub(super) serving_peer: Option<PeerId>,
    pub(super) serving_count: Option<u32>,
    pub(super) loads: Vec<(PeerId, u32)>,
    /// The last `/p2p/` suffix seen and its parsed id: documents list a peer's addresses
    /// together, so this saves a base58 decode per address.
    pub(super) last_id: Option<(String, PeerId)>,
    pub(super) seen: u8,
    pub(super) error: Option<StatusError>,
    /// With trust required: the exact bytes of the `peer_addrs` value.
    pub(super) raw_addrs: Option<Vec<u8>>,
    /// With trust required: the `signature` field, or why it had the wrong shape.
    pub(super) signature: Option<Result<DocSignature, String>>,
}

const SEEN_ADDRS: u8 = 1;
const SEEN_ADDR_ALIAS: u8 = 2;
const SEEN_ID: u8 = 4;
const SEEN_COUNT: u8 = 8;
const SEEN_LOADS: u8 = 16;
const SEEN_SIGNATURE: u8 = 32;

impl<'o> Builder<'o> {
    fn new(options: &'o ParseOptions) -> Self {
        Builder {
            options,
            peers: Vec::new(),
            skipped: SkipCounts::default(),
            serving_peer: None,
            serving_count: None,
            loads: Vec::new(),
            last_id: None,
            seen: 0,
            error: None,
            raw_addrs: None,
            signature: None,
        }
    }

    /// Records a document-level error and returns the serde error that aborts parsing.
    pub(super) fn fail<E: de::Error>(&mut self, err: StatusError) -> E {
        let e = E::custom(&err);
        self.error = Some(err);
        e
    }

    fn mark_seen<E: de::Error>(&mut self, bit: u8, field: &'static str) -> Result<(), E> {
        if self.seen & bit != 0 {
            return Err(self.fail(StatusError::DuplicateField(field)));
        }
        self.seen |= bit;
        Ok(())
    }

    pub(super) fn peer_id(&mut self, text: &str) -> Option<PeerId> {
        if let Some((s, id)) = &mut self.last_id {
            if s == text {
                return Some(*id);
            }
            let new = fastpath::peer_id(text)?;
            // Reuse the buffer: one allocation per document, not per peer.
            s.clear();
            s.push_str(text);
            *id = new;
            return Some(new);
        }
        let id = fastpath::peer_id(text)?;
        self.last_id = Some((text.to_owned(), id));
        Some(id)
    }

    pub(super) fn entry(&mut self, text: &str) {
        if let Err(reason) = self.try_entry(text) {
            self.skipped.add(reason);
        }
    }

    fn try_entry(&mut self, text: &str) -> Result<(), SkipReason> {
        let limits = &self.options.limits;
        if text.len() > limits.max_addr_len {
            return Err(SkipReason::TooLong);
        }
        let Some(cut) = fastpath::rfind_p2p(text) else {
            return Err(match fastpath::multiaddr(text) {
                Some(_) => SkipReason::MissingPeerId,
                None => SkipReason::Unparsable,
            });
        };
        let id = self
            .peer_id(&text[cut + 5..])
            .ok_or(SkipReason::Unparsable)?;
        if cut == 0 {
            return Err(SkipReason::NoTransport);
        }
        let addr = fastpath::multiaddr(&text[..cut]).ok_or(SkipReason::Unparsable)?;
        if self.options.local_peer == Some(id) {
            return Err(SkipReason::LocalPeer);
        }
        if !self.options.pinned.is_empty() && !self.options.pinned.contains(&id) {
            return Err(SkipReason::NotPinned);
        }
        let class = classify(&addr);
        if !self.options.policy.allows(class) {
            return Err(SkipReason::NotRoutable);
        }
        let limits = &self.options.limits;
        // Documents list a peer's addresses together: look from the newest peer backwards.
        let slot = match self.peers.iter().rposition(|p| p.id == id) {
            Some(i) => i,
            None if self.peers.len() >= limits.max_peers => return Err(SkipReason::TooManyPeers),
            None => {
                self.peers.push(BootPeer {
                    id,
                    addrs: Vec::new(),
                    peers_count: None,
                });
                self.peers.len() - 1
            }
        };
        let peer = &mut self.peers[slot];
        if peer.addrs.iter().any(|a| a.addr == addr) {
            return Err(SkipReason::Duplicate);
        }
        if peer.addrs.len() >= limits.max_addrs_per_peer {
            return Err(SkipReason::TooManyAddrs);
        }
        peer.addrs.push(BootAddr { addr, class });
        Ok(())
    }

    fn finish(mut self) -> Result<BootList, StatusError> {
        let trust = &self.options.trust;
        let signed_by = if trust.required() {
            if self.signature.is_some() && self.raw_addrs.is_none() {
                return Err(StatusError::MissingPeerAddrs);
            }
            let raw = self.raw_addrs.take().unwrap_or_default();
            Some(signed::verify(&raw, self.signature.take(), trust)?)
        } else {
            None
        };
        if self.seen & (SEEN_ADDRS | SEEN_ADDR_ALIAS) == 0 {
            return Err(StatusError::MissingPeerAddrs);
        }
        if let (Some(id), Some(n)) = (self.serving_peer, self.serving_count) {
            self.loads.insert(0, (id, n));
        }
        for (id, n) in &self.loads {
            if let Some(p) = self.peers.iter_mut().find(|p| p.id == *id) {
                p.peers_count.get_or_insert(*n);
            }
        }
        if self.peers.is_empty() {
            return Err(StatusError::NoUsablePeer(self.skipped));
        }
        Ok(BootList {
            serving_peer: self.serving_peer,
            peers: self.peers,
            skipped: self.skipped,
            signed_by,
        })
    }
}

struct DocVisitor<'b, 'o> {
    builder: &'b mut Builder<'o>,
}

impl<'de> Visitor<'de> for DocVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a /status JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.builder;
        while let Some(key) = map.next_key::<Str<'de>>()? {
            match key.0.as_ref() {
                "peer_addrs" if b.options.trust.required() => {
                    b.mark_seen(SEEN_ADDRS, "peer_addrs")?;
                    // The signature covers these exact bytes: keep them, then parse them.
                    let raw = map.next_value::<&'de RawValue>()?;
                    b.raw_addrs = Some(raw.get().as_bytes().to_vec());
                    let mut inner = serde_json::Deserializer::from_str(raw.get());
                    AddrList {
                        builder: b,
                        field: "peer_addrs",
                    }
                    .deserialize(&mut inner)
                    .map_err(de::Error::custom)?;
                }
                "peer_addrs" => {
                    b.mark_seen(SEEN_ADDRS, "peer_addrs")?;
                    map.next_value_seed(AddrList {
                        builder: b,
                        field: "peer_addrs",
                    })?;
                }
                // Pyrsia's one-string alias is never signed: with trust required it is ignored.
                "peer_addr" if b.options.trust.required() => {
                    b.mark_seen(SEEN_ADDR_ALIAS, "peer_addr")?;
                    map.next_value::<IgnoredAny>()?;
                }
                "signature" if b.options.trust.required() => {
                    b.mark_seen(SEEN_SIGNATURE, "signature")?;
                    let raw = map.next_value::<&'de RawValue>()?;
                    b.signature = Some(
                        serde_json::from_str::<DocSignature>(raw.get()).map_err(|e| e.to_string()),
                    );
                }
                "peer_addr" => {
                    b.mark_seen(SEEN_ADDR_ALIAS, "peer_addr")?;
                    map.next_value_seed(AddrList {
                        builder: b,
                        field: "peer_addr",
                    })?;
                }
                "peer_id" => {
                    b.mark_seen(SEEN_ID, "peer_id")?;
                    let id = match map.next_value::<Loose<'de>>()? {
                        Loose::Str(s) => b.peer_id(&s),
                        Loose::Null => continue,
                        _ => None,
                    };
                    match id {
                        Some(id) => b.serving_peer = Some(id),
                        None => b.skipped.add(SkipReason::BadOptionalField),
                    }
                }
                "peers_count" => {
                    b.mark_seen(SEEN_COUNT, "peers_count")?;
                    match map.next_value::<Loose<'de>>()?.count() {
                        Ok(n) => b.serving_count = n,
                        Err(()) => b.skipped.add(SkipReason::BadOptionalField),
                    }
                }
                "peer_loads" => {
                    b.mark_seen(SEEN_LOADS, "peer_loads")?;
                    map.next_value_seed(LoadList { builder: b })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}
