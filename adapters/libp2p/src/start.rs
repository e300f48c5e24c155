//! Start-up glue every runtime adapter shares: listening, and a driver for a fresh swarm.

use std::time::Instant;

use futures::StreamExt;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{noise, Multiaddr, Swarm};
use pyrsia_boot_core::{BootstrapMachine, Config};

use crate::driver::{Driver, Runtime};

/// Errors starting a node.
#[derive(Debug)]
pub enum StartError {
    /// The noise configuration could not be built from the key.
    Noise(noise::Error),
    /// Listening on the libp2p address failed.
    Listen(String),
    /// Binding the HTTP address failed.
    Http(std::io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Noise(e) => write!(f, "noise setup failed: {e}"),
            StartError::Listen(e) => write!(f, "cannot listen: {e}"),
            StartError::Http(e) => write!(f, "cannot bind the HTTP server: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Listens on `addr` and waits for the listener's actual address (with the port filled in).
pub async fn listen<B: NetworkBehaviour>(
    swarm: &mut Swarm<B>,
    addr: Multiaddr,
) -> Result<Multiaddr, StartError> {
    swarm
        .listen_on(addr.clone())
        .map_err(|e| StartError::Listen(format!("{addr}: {e}")))?;
    loop {
        match swarm.select_next_some().await {
            SwarmEvent::NewListenAddr { address, .. } => return Ok(address),
            SwarmEvent::ListenerError { error, .. } => {
                return Err(StartError::Listen(format!("{addr}: {error}")))
            }
            SwarmEvent::ListenerClosed { reason, .. } => {
                return Err(StartError::Listen(format!("{addr}: closed: {reason:?}")))
            }
            _ => {}
        }
    }
}

/// A driver for `config` on `runtime`, for the node whose swarm is `swarm` (its id becomes the
/// configuration's local peer, so boot lists naming it are skipped).
pub fn driver_for<B: NetworkBehaviour, R: Runtime>(
    swarm: &Swarm<B>,
    mut config: Config,
    runtime: R,
) -> Driver<R> {
    config.local_peer = Some(*swarm.local_peer_id());
    Driver::new(BootstrapMachine::new(config, Instant::now()), runtime)
}
