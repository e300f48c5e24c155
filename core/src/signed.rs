//! The signed-list implementation; its public face and format are `signing` (lib.rs).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use libp2p_identity::PublicKey;
use serde::{Deserialize, Serialize};

/// Prefix of every signed message, so a signature over a boot list can never be mistaken for
/// a signature over anything else made with the same key.
pub const DOMAIN: &[u8] = b"pyrsia-boot signed boot list v1\n";

/// How far in the future `issued_at` may be, in seconds, before a document is refused: clocks
/// of a boot node and a client disagree by this much at most.
pub const MAX_CLOCK_SKEW: u64 = 300;

/// Most (key, sequence) pairs remembered; only trusted keys' sequences are recorded.
pub const MAX_SEQUENCES: usize = 64;

/// The `signature` field of a signed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocSignature {
    /// The signer's public key: libp2p protobuf encoding, base64.
    pub key: String,
    /// When the document was signed, seconds since the Unix epoch.
    pub issued_at: u64,
    /// When it stops being valid, seconds since the Unix epoch.
    pub expires_at: u64,
    /// Grows with every new peer list from this signer; clients refuse lower ones.
    pub sequence: u64,
    /// The signature over [`signed_bytes`], base64.
    pub sig: String,
}

/// The bytes a signature covers: [`DOMAIN`], `issued_at`, `expires_at` and `sequence` as
/// big-endian `u64`s, then `peer_addrs_json`, the exact bytes of the `peer_addrs` value.
pub fn signed_bytes(
    peer_addrs_json: &[u8],
    issued_at: u64,
    expires_at: u64,
    sequence: u64,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(DOMAIN.len() + 24 + peer_addrs_json.len());
    out.extend_from_slice(DOMAIN);
    out.extend_from_slice(&issued_at.to_be_bytes());
    out.extend_from_slice(&expires_at.to_be_bytes());
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(peer_addrs_json);
    out
}

/// A public key as written in documents and on the command line: protobuf, base64.
pub fn encode_key(key: &PublicKey) -> String {
    STANDARD.encode(key.encode_protobuf())
}

/// Reads a key written by [`encode_key`]. The error names what was wrong.
pub fn decode_key(text: &str) -> Result<PublicKey, String> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    PublicKey::try_decode_protobuf(&bytes)
        .map_err(|e| format!("not a libp2p public key in protobuf encoding: {e}"))
}

/// The highest sequence accepted from one signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenSequence {
    /// The signer.
    pub key: PublicKey,
    /// The highest sequence accepted from it.
    pub sequence: u64,
}

/// What a client trusts, and what it needs to judge a signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// Trusted signer keys. Empty: documents are not checked (and signatures are ignored).
    pub keys: Vec<PublicKey>,
    /// The wall clock, seconds since the Unix epoch; without it no document can be accepted.
    pub unix_time: Option<u64>,
    /// The highest sequence seen per signer, from this run and earlier ones.
    pub sequences: Vec<SeenSequence>,
}

impl Trust {
    /// Whether documents must be signed.
    pub fn required(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The highest sequence seen from `key`.
    pub fn seen(&self, key: &PublicKey) -> Option<u64> {
        self.sequences
            .iter()
            .find(|s| &s.key == key)
            .map(|s| s.sequence)
    }
}

/// Records `signed` as seen in `sequences` (keeping the highest per key, at most
/// [`MAX_SEQUENCES`] keys). Returns whether anything changed.
pub fn record_sequence(sequences: &mut Vec<SeenSequence>, signed: &SignedBy) -> bool {
    let full = sequences.len() >= MAX_SEQUENCES;
    match sequences.iter_mut().find(|s| s.key == signed.key) {
        Some(s) if s.sequence >= signed.sequence => false,
        Some(s) => {
            s.sequence = signed.sequence;
            true
        }
        None if full => false,
        None => {
            sequences.push(SeenSequence {
                key: signed.key.clone(),
                sequence: signed.sequence,
            });
            true
        }
    }
}

/// Who signed an accepted document, and its validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBy {
    /// The trusted key that signed it.
    pub key: PublicKey,
    /// When it was signed (Unix seconds).
    pub issued_at: u64,
    /// When it expires (Unix seconds).
    pub expires_at: u64,
    /// Its sequence.
    pub sequence: u64,
}

/// Why a document was refused by a client with trusted keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The document has no `signature` field.
    #[error("document is unsigned, and trusted keys are configured")]
    Unsigned,
    /// The `signature` field is not the expected object, or its key or signature do not decode.
    #[error("signature field is malformed: {0}")]
    Malformed(String),
    /// Signed, but by a key that is not trusted.
    #[error("signed by {0}, which is not a trusted key")]
    UntrustedKey(String),
    /// The signature does not verify: the peer list or the numbers were altered, or another key
    /// signed them.
    #[error("signature does not verify (the peer list or its validity was altered)")]
    BadSignature,
    /// Past its expiry.
    #[error("document expired at {expires_at}, now is {now} (Unix seconds)")]
    Expired {
        /// The document's `expires_at`.
        expires_at: u64,
        /// The client's clock.
        now: u64,
    },
    /// Issued further in the future than clock skew explains.
    #[error("document issued at {issued_at}, in the future (now is {now}, Unix seconds)")]
    NotYetValid {
        /// The document's `issued_at`.
        issued_at: u64,
        /// The client's clock.
        now: u64,
    },
    /// Sequence lower than one already accepted from this signer: an old list replayed.
    #[error("rolled back: sequence {sequence} is lower than {seen}, already seen from this key")]
    RolledBack {
        /// The document's sequence.
        sequence: u64,
        /// The highest sequence seen from the key.
        seen: u64,
    },
    /// No wall clock was given, so expiry cannot be checked.
    #[error("no wall clock to check expiry against")]
    NoClock,
}

/// Decides whether a document with this `signature` field over these `peer_addrs` bytes is
/// trusted. `signature` is `None` when the field is absent and `Err` when it did not have the
/// expected shape. Checks run in this order, so the first failing one is reported: presence,
/// shape, key, signature, clock, expiry, issue time, sequence.
pub fn verify(
    peer_addrs_json: &[u8],
    signature: Option<Result<DocSignature, String>>,
    trust: &Trust,
) -> Result<SignedBy, SignatureError> {
    let sig = signature
        .ok_or(SignatureError::Unsigned)?
        .map_err(SignatureError::Malformed)?;
    let key = decode_key(&sig.key).map_err(|e| SignatureError::Malformed(format!("key {e}")))?;
    if !trust.keys.contains(&key) {
        return Err(SignatureError::UntrustedKey(sig.key));
    }
    let raw_sig = STANDARD
        .decode(&sig.sig)
        .map_err(|e| SignatureError::Malformed(format!("sig is not base64: {e}")))?;
    let message = signed_bytes(peer_addrs_json, sig.issued_at, sig.expires_at, sig.sequence);
    if !key.verify(&message, &raw_sig) {
        return Err(SignatureError::BadSignature);
    }
    let now = trust.unix_time.ok_or(SignatureError::NoClock)?;
    if sig.expires_at <= now {
        return Err(SignatureError::Expired {
            expires_at: sig.expires_at,
            now,
        });
    }
    if sig.issued_at > now.saturating_add(MAX_CLOCK_SKEW) {
        return Err(SignatureError::NotYetValid {
            issued_at: sig.issued_at,
            now,
        });
    }
    if let Some(seen) = trust.seen(&key) {
        if sig.sequence < seen {
            return Err(SignatureError::RolledBack {
                sequence: sig.sequence,
                seen,
            });
        }
    }
    Ok(SignedBy {
        key,
        issued_at: sig.issued_at,
        expires_at: sig.expires_at,
        sequence: sig.sequence,
    })
}

/// Signs a peer list: the `signature` field for a document whose `peer_addrs` value is exactly
/// `peer_addrs_json`. Pure (ed25519 signatures are deterministic); the caller picks the times.
pub fn sign(
    keypair: &libp2p_identity::Keypair,
    peer_addrs_json: &[u8],
    issued_at: u64,
    expires_at: u64,
    sequence: u64,
) -> Result<DocSignature, libp2p_identity::SigningError> {
    let message = signed_bytes(peer_addrs_json, issued_at, expires_at, sequence);
    let sig = keypair.sign(&message)?;
    Ok(DocSignature {
        key: encode_key(&keypair.public()),
        issued_at,
        expires_at,
        sequence,
        sig: STANDARD.encode(sig),
    })
}
