//! The streaming parser: one pass over the JSON with serde visitors, each address parsed and
//! judged as it arrives.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::builder::{
    Builder, SEEN_ADDRS, SEEN_ADDR_ALIAS, SEEN_COUNT, SEEN_ID, SEEN_LOADS, SEEN_SIGNATURE,
};
use super::json::{AddrList, LoadList, Loose, Str};
use super::list::{BootList, StatusError};
use super::{ParseOptions, SkipReason};
use crate::signed::DocSignature;
use std::fmt;

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
