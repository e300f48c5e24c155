//! Runtime-agnostic libp2p glue for pyrsia-boot: the [`Behaviour`] both roles run, and the
//! targeted AutoNAT v1 dial request ([`dial_request`]) that makes "fully connected" prompt.
//!
//! Work in progress toward the smol and async-std adapters: the event mapping and the driver
//! loop over a small `Runtime` trait come next.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod behaviour;
pub mod boot_node;
pub mod dial_request;
pub mod driver;
pub mod metrics;
pub mod state_file;

pub use behaviour::{Behaviour, Event, Role};
pub use boot_node::{BootNode, BootNodeConfig, StatusBoard};
pub use driver::{Driver, HasBootstrap, HttpReply, Output, Runtime};
