//! What every adapter puts on its runtime's TCP: noise, yamux and the connection timeout.

use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::Boxed;
use libp2p::core::upgrade::Version;
use libp2p::{identity, noise, yamux, PeerId, Transport};

use crate::CONNECTION_TIMEOUT;

/// `transport` secured with noise, multiplexed with yamux, each connection bounded by
/// [`CONNECTION_TIMEOUT`]. The benches put the same upgrades on libp2p's in-memory transport.
pub fn secure_and_multiplex<T>(
    transport: T,
    key: &identity::Keypair,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, noise::Error>
where
    T: Transport + Send + Unpin + 'static,
    T::Output: futures::AsyncRead + futures::AsyncWrite + Unpin + Send + 'static,
    T::Error: Send + Sync,
    T::Dial: Send,
    T::ListenerUpgrade: Send,
{
    Ok(transport
        .upgrade(Version::V1Lazy)
        .authenticate(noise::Config::new(key)?)
        .multiplex(yamux::Config::default())
        .timeout(CONNECTION_TIMEOUT)
        .boxed())
}
