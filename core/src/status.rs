//! The `/status` document: parsing what a boot node serves, and the document type a boot node
//! serializes.
//!
//! The parser streams over the JSON once (serde visitors, no intermediate `Value`), parses each
//! address as it arrives and never holds more than the limits allow: entries past a cap are
//! read and counted, not stored. Bad entries are skipped with a counted [`SkipReason`]; the
//! document as a whole fails only when it is not the expected JSON or leaves no usable peer.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use libp2p_identity::PeerId;
use multiaddr::Multiaddr;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::addr::{classify, AddrClass, AddressPolicy};
use crate::fastpath;
use crate::signed::{self, DocSignature, SignatureError, SignedBy, Trust};

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
    /// not rolled back, is accepted (see [`crate::signed`]).
    pub trust: Trust,
}

/// Why one entry of `peer_addrs` was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// The entry is not a JSON string.
    NotAString,
    /// The string is longer than [`Limits::max_addr_len`].
    TooLong,
    /// The string is not a multiaddr.
    Unparsable,
    /// The multiaddr does not end in `/p2p/<peer id>`.
    MissingPeerId,
    /// The multiaddr is only `/p2p/<peer id>`, with nothing to dial.
    NoTransport,
    /// The address names this node itself.
    LocalPeer,
    /// The address names a peer outside the pinned set ([`ParseOptions::pinned`]).
    NotPinned,
    /// The address class is refused by the [`AddressPolicy`] (loopback, private, …).
    NotRoutable,
    /// The same address was already listed for this peer.
    Duplicate,
    /// The entry names a new peer after [`Limits::max_peers`] were already kept.
    TooManyPeers,
    /// The peer already has [`Limits::max_addrs_per_peer`] addresses.
    TooManyAddrs,
    /// An optional field (`peer_id`, `peers_count`, `peer_loads`) had an unusable value and was
    /// ignored.
    BadOptionalField,
}

impl SkipReason {
    /// Every reason, in declaration order.
    pub const ALL: [SkipReason; 12] = [
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
    /// Usable addresses, deduplicated, at most [`Limits::max_addrs_per_peer`].
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
    /// The trusted signer, when [`ParseOptions::trust`] required a signature.
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
    /// The body is larger than [`Limits::max_body_bytes`].
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
struct Builder<'o> {
    options: &'o ParseOptions,
    peers: Vec<BootPeer>,
    skipped: SkipCounts,
    serving_peer: Option<PeerId>,
    serving_count: Option<u32>,
    loads: Vec<(PeerId, u32)>,
    /// The last `/p2p/` suffix seen and its parsed id: documents list a peer's addresses
    /// together, so this saves a base58 decode per address.
    last_id: Option<(String, PeerId)>,
    seen: u8,
    error: Option<StatusError>,
    /// With trust required: the exact bytes of the `peer_addrs` value.
    raw_addrs: Option<Vec<u8>>,
    /// With trust required: the `signature` field, or why it had the wrong shape.
    signature: Option<Result<DocSignature, String>>,
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
    fn fail<E: de::Error>(&mut self, err: StatusError) -> E {
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

    fn peer_id(&mut self, text: &str) -> Option<PeerId> {
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

    fn entry(&mut self, text: &str) {
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

/// A string that borrows from the input when it has no escapes.
struct Str<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Any JSON value, keeping only what the parser may use: strings and numbers.
enum Loose<'de> {
    Str(Cow<'de, str>),
    Unsigned(u64),
    Null,
    /// An array; elements that are `{"peer_id", "peers_count"}` objects are kept (the
    /// `peer_loads` shape), capped at [`MAX_LOADS`], anything else is `None`.
    Loads(Vec<Option<(PeerId, u32)>>),
    /// An object; `Some` when it is a `{"peer_id", "peers_count"}` pair.
    Load(Option<(PeerId, u32)>),
    /// A bool, a negative or fractional number.
    Other,
}

/// At most this many `peer_loads` elements are kept; the rest are read and dropped.
const MAX_LOADS: usize = 256;

impl Loose<'_> {
    /// A load metric: a non-negative integer, saturated to `u32`; null means absent.
    fn count(&self) -> Result<Option<u32>, ()> {
        match self {
            Loose::Unsigned(n) => Ok(Some(u32::try_from(*n).unwrap_or(u32::MAX))),
            Loose::Null => Ok(None),
            _ => Err(()),
        }
    }
}

impl<'de> Deserialize<'de> for Loose<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Loose::Unsigned(v))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut loads = Vec::new();
        while let Some(item) = seq.next_element::<Loose<'de>>()? {
            if loads.len() < MAX_LOADS {
                loads.push(match item {
                    Loose::Load(pair) => pair,
                    _ => None,
                });
            }
        }
        Ok(Loose::Loads(loads))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut id, mut count) = (None, None);
        while let Some(key) = map.next_key::<Str<'de>>()? {
            let value = map.next_value::<Loose<'de>>()?;
            match (key.0.as_ref(), value) {
                ("peer_id", Loose::Str(s)) => id = PeerId::from_str(&s).ok(),
                ("peers_count", v) => count = v.count().ok().flatten(),
                _ => {}
            }
        }
        Ok(Loose::Load(id.zip(count)))
    }
}

/// `peer_addrs` (or `peer_addr`): an array of strings, or one string.
struct AddrList<'b, 'o> {
    builder: &'b mut Builder<'o>,
    field: &'static str,
}

impl<'de> DeserializeSeed<'de> for AddrList<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AddrList<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} as an array of strings", self.field)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<Loose<'de>>()? {
            match item {
                Loose::Str(s) => self.builder.entry(&s),
                _ => self.builder.skipped.add(SkipReason::NotAString),
            }
        }
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.builder.entry(v);
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(self.wrong_type())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(self.wrong_type())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(self.wrong_type())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(self.wrong_type())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(self.wrong_type())
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(self.wrong_type())
    }
}

impl AddrList<'_, '_> {
    fn wrong_type<E: de::Error>(self) -> E {
        let field = self.field;
        self.builder.fail(StatusError::FieldType {
            field,
            expected: "an array",
        })
    }
}

/// The `peer_loads` extension: `[{"peer_id": "…", "peers_count": 3}, …]`. Lenient: anything
/// unusable is counted as [`SkipReason::BadOptionalField`] and ignored.
struct LoadList<'b, 'o> {
    builder: &'b mut Builder<'o>,
}

impl<'de> DeserializeSeed<'de> for LoadList<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // `deserialize_any` with a visitor that takes every shape, so a wrong shape is consumed
        // whole and the rest of the document still parses.
        let b = self.builder;
        match d.deserialize_any(LooseVisitor)? {
            Loose::Null => {}
            Loose::Loads(items) => {
                for item in items {
                    match item {
                        Some(pair) if b.loads.len() < b.options.limits.max_peers => {
                            b.loads.push(pair)
                        }
                        Some(_) => {}
                        None => b.skipped.add(SkipReason::BadOptionalField),
                    }
                }
            }
            _ => b.skipped.add(SkipReason::BadOptionalField),
        }
        Ok(())
    }
}

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
    /// The operator's signature over `peer_addrs` (see [`crate::signed`]); old clients ignore it.
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
        serde_json::to_vec(&self.peer_addrs).unwrap_or_default()
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
        // Serializing strings and integers into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}
