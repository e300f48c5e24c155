//! Runtime-agnostic libp2p glue for pyrsia-boot.
//!
//! - [`Behaviour`]: identify, AutoNAT v1 (server and client) and ping, plus the targeted AutoNAT
//!   v1 dial request ([`dial_request`]) that makes "fully connected" prompt on both sides.
//! - [`Driver`]: carries out the core's actions on a swarm and a [`Runtime`] (a timer, an HTTP
//!   GET, a DNS lookup) and feeds swarm events, HTTP completions and lookups back as inputs.
//!   It makes no decisions; every match on the core's `Action` is exhaustive.
//! - [`BootNode`]: the boot node's glue: swarm events and `/status` requests into the core's
//!   `BootNodeMachine`, its actions out to the swarm and the HTTP side, [`metrics`].
//! - [`http_client`]: the driver's bounded GET (hyper and rustls over any `futures` socket).
//! - [`http_server`]: hyper over any `futures` socket, serving `/status` and `/metrics`;
//!   [`spawn_boot_node`] runs a whole boot node on a [`Runtime`].
//! - [`state_file`]: the core's snapshot on disk, written atomically ([`atomic_file`]).
//!
//! A runtime adapter (`pyrsia-boot-tokio`, `pyrsia-boot-smol`, `pyrsia-boot-async-std`) adds the
//! runtime, the transport and the sockets. The crate builds against libp2p 0.55 (feature
//! `libp2p-055`, the default) or 0.57 (`libp2p-057`); [`libp2p`] is the one it was built with.
//!
//! pyrsia-boot in an application's behaviour, beside the application's own identify:
//!
//! ```
//! use pyrsia_boot_libp2p::libp2p::swarm::NetworkBehaviour;
//! use pyrsia_boot_libp2p::libp2p::{identify, identity};
//! use pyrsia_boot_libp2p::{Behaviour, Event, HasBootstrap, Role};
//!
//! #[derive(NetworkBehaviour)]
//! #[behaviour(prelude = "pyrsia_boot_libp2p::libp2p::swarm::derive_prelude")]
//! struct Node {
//!     boot: Behaviour,
//!     identify: identify::Behaviour,
//! }
//!
//! impl HasBootstrap for Node {
//!     fn bootstrap(&mut self) -> &mut Behaviour {
//!         &mut self.boot
//!     }
//!     fn bootstrap_event(event: &NodeEvent) -> Option<&Event> {
//!         match event {
//!             NodeEvent::Boot(e) => Some(e),
//!             NodeEvent::Identify(_) => None,
//!         }
//!     }
//!     fn identify_event(event: &NodeEvent) -> Option<&identify::Event> {
//!         match event {
//!             NodeEvent::Identify(e) => Some(e),
//!             NodeEvent::Boot(_) => None,
//!         }
//!     }
//! }
//!
//! let key = identity::Keypair::generate_ed25519();
//! let node = Node {
//!     boot: Behaviour::builder(&key.public(), Role::Node).app_identify().build(),
//!     identify: identify::Behaviour::new(identify::Config::new("/my-app/1".into(), key.public())),
//! };
//! assert!(!node.boot.identify.is_enabled(), "one identify in the swarm: the application's");
//! assert!(node.boot.autonat.is_enabled(), "AutoNAT is still ours");
//! // Build a swarm with `node` on your runtime's adapter and drive it with `Driver`.
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

// The version seam: every `libp2p::` and `prometheus_client::` path in this crate names
// whichever release the feature picked (see Cargo.toml); the rest of the source is shared.
#[cfg(all(feature = "libp2p-055", feature = "libp2p-057"))]
compile_error!(
    "pyrsia-boot-libp2p: enable exactly one of `libp2p-055` and `libp2p-057` (a build that \
     unified both built two adapters at once; build one package per cargo invocation)"
);
#[cfg(not(any(feature = "libp2p-055", feature = "libp2p-057")))]
compile_error!("pyrsia-boot-libp2p: enable one of the features `libp2p-055` and `libp2p-057`");

#[cfg(all(feature = "libp2p-055", not(feature = "libp2p-057")))]
pub extern crate libp2p;
/// The libp2p this crate is built against, for code that must name the same types (an
/// application's behaviour, the conformance suite).
#[cfg(feature = "libp2p-057")]
pub extern crate libp2p_057 as libp2p;
#[cfg(feature = "libp2p-057")]
extern crate prometheus_client_025 as prometheus_client;

pub mod alternate;
pub mod atomic_file;
pub mod behaviour;
pub mod boot_node;
pub mod clock;
pub mod dial_request;
pub mod dnsaddr;
pub mod driver;
pub mod error;
pub mod handshakes;
pub mod http_client;
pub mod http_server;
pub mod limits;
pub mod load;
pub mod metrics;
pub mod runtime;
pub mod start;
pub mod state_file;
pub mod timeouts;
pub mod transport;
pub mod v2_client;
pub mod v2_server;

pub use behaviour::{node_autonat, Behaviour, BehaviourBuilder, Event, Role};

pub use boot_node::{BootNode, BootNodeConfig, ClusterHandle, Signing};
pub use clock::unix_time;
pub use driver::{Driver, HasBootstrap, Output, Progress};
pub use error::StartError;
pub use handshakes::{HandshakePriority, Handshakes};
pub use limits::AbuseLimits;
pub use runtime::{BoxedSocket, HttpReply, Runtime, Socket};
pub use start::{
    boot_swarm, driver_for, listen, spawn_boot_node, start_boot_node_on, BootNodeHandle,
};
pub use timeouts::{CONNECTION_TIMEOUT, IDLE_CONNECTION_TIMEOUT};
pub use transport::secure_and_multiplex;
