//! Why a node or a boot node could not start.

use std::net::SocketAddr;

use libp2p::{noise, Multiaddr, TransportError};

/// Errors starting a node.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The noise configuration could not be built from the key.
    #[error("noise setup failed: {0}")]
    Noise(#[from] noise::Error),
    /// The transport refused the libp2p listen address.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: Multiaddr,
        /// What the transport said.
        #[source]
        source: TransportError<std::io::Error>,
    },
    /// The listener started, then failed or closed before it had an address.
    #[error("the listener on {addr} failed: {source}")]
    Listener {
        /// The address asked for.
        addr: Multiaddr,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// Binding or reading the HTTP server's socket failed.
    #[error("cannot bind the HTTP server on {addr}: {source}")]
    Http {
        /// The address asked for.
        addr: SocketAddr,
        /// What the socket said.
        #[source]
        source: std::io::Error,
    },
}
