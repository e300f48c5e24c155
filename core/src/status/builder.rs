//! The builder the visitors feed: each address parsed and judged as it arrives, peers grouped
//! in document order, every skipped entry counted, the signature checked at the end.

use libp2p_identity::PeerId;
use serde::de;

use super::list::{BootAddr, BootList, BootPeer, StatusError};
use super::{ParseOptions, SkipCounts, SkipReason};
use crate::addr::classify;
use crate::fastpath;
use crate::signed::{self, DocSignature};

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

pub(super) const SEEN_ADDRS: u8 = 1;
pub(super) const SEEN_ADDR_ALIAS: u8 = 2;
pub(super) const SEEN_ID: u8 = 4;
pub(super) const SEEN_COUNT: u8 = 8;
pub(super) const SEEN_LOADS: u8 = 16;
pub(super) const SEEN_SIGNATURE: u8 = 32;

impl<'o> Builder<'o> {
    pub(super) fn new(options: &'o ParseOptions) -> Self {
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

    pub(super) fn mark_seen<E: de::Error>(
        &mut self,
        bit: u8,
        field: &'static str,
    ) -> Result<(), E> {
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

    pub(super) fn finish(mut self) -> Result<BootList, StatusError> {
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
