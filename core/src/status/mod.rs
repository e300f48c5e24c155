//! The `/status` document: parsing what a boot node serves, and the document type a boot node
//! serializes.
//!
//! The parser streams over the JSON once (serde visitors, no intermediate `Value`), parses each
//! address as it arrives and never holds more than the limits allow: entries past a cap are
//! read and counted, not stored. Bad entries are skipped with a counted [`SkipReason`]; the
//! document as a whole fails only when it is not the expected JSON or leaves no usable peer.

mod builder;
mod document;
mod json;
mod limits;
mod list;
mod parser;
mod skip;

pub use document::{PeerLoad, StatusDocument};
pub use limits::{Limits, ParseOptions};
pub use list::{BootAddr, BootList, BootPeer, StatusError};
pub use parser::parse_status;
pub use skip::{SkipCounts, SkipReason};
