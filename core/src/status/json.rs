//! The serde visitors for the document's fields: strings that borrow when they can, loose
//! values that keep only what the parser may use, the address list and the loads extension.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use libp2p_identity::PeerId;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::builder::Builder;
use super::{SkipReason, StatusError};

/// A string that borrows from the input when it has no escapes.
pub(super) struct Str<'de>(pub(super) Cow<'de, str>);

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
pub(super) enum Loose<'de> {
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
    pub(super) fn count(&self) -> Result<Option<u32>, ()> {
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

pub(super) struct LooseVisitor;

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
pub(super) struct AddrList<'b, 'o> {
    pub(super) builder: &'b mut Builder<'o>,
    pub(super) field: &'static str,
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
pub(super) struct LoadList<'b, 'o> {
    pub(super) builder: &'b mut Builder<'o>,
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
