//! Runtime-agnostic libp2p glue for pyrsia-boot.
//!
//! - [`Behaviour`]: identify, AutoNAT v1 (server and client) and ping, plus the targeted AutoNAT
//!   v1 dial request ([`dial_request`]) that makes "fully connected" prompt on both sides.
//! - [`Driver`]: carries out the core's actions on a swarm and a [`Runtime`] (a timer, an HTTP
//!   GET, a DNS lookup) and feeds swarm events, HTTP completions and lookups back as inputs.
//!   It makes no decisions; every match on the core's `Action` is exhaustive.
//! - [`BootNode`]: the boot node's glue: swarm events and `/status` requests into the core's
//!   `BootNodeMachine`, its actions out to the swarm and the HTTP side, [`metrics`].
//! - [`http_server`]: hyper over any `futures` socket, serving `/status` and `/metrics`;
//!   [`spawn_boot_node`] runs a whole boot node on a [`Runtime`].
//! - [`state_file`]: the core's snapshot on disk, written atomically ([`atomic_file`]).
//!
//! A runtime adapter (`pyrsia-boot-smol`, `pyrsia-boot-async-std`) adds the runtime, the
//! transport and the sockets.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alternate;
pub mod atomic_file;
pub mod behaviour;
pub mod boot_node;
pub mod clock;
pub mod dial_request;
pub mod driver;
pub mod error;
pub mod http_server;
pub mod limits;
pub mod load;
pub mod metrics;
pub mod start;
pub mod state_file;

pub use behaviour::{Behaviour, Event, Role};

/// How long a libp2p dial (TCP connect + noise + yamux) may take before it fails. Both adapters'
/// transports use it. It also bounds a boot node's AutoNAT dial-back, so it must stay below the
/// core's `Timeouts::own_probe` (15 s): a node behind NAT then hears "dial-back failed"
/// (private) before it gives up waiting for the answer.
pub const CONNECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
pub use boot_node::{BootNode, BootNodeConfig, ClusterHandle, Signing};
pub use clock::unix_time;
pub use driver::{Driver, HasBootstrap, HttpReply, Output, Runtime};
pub use error::StartError;
pub use limits::AbuseLimits;
pub use start::{driver_for, listen, spawn_boot_node, BootNodeHandle};
