//! The shared conformance suite (`tests/conformance`) on the smol adapter.

use std::future::Future;
use std::net::SocketAddr;

use futures::stream::BoxStream;
use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{Multiaddr, Swarm};
use pyrsia_boot_core::Config;
use pyrsia_boot_libp2p::{Behaviour, BootNodeConfig, BootNodeHandle, Driver, StartError};
use pyrsia_boot_smol::{build_transport, http, swarm_config, SmolRuntime};

struct Smol;

impl pyrsia_boot_conformance::Adapter for Smol {
    type Runtime = SmolRuntime;
    const READS_HTTP_1_0: bool = true;
    const EMBED_EXAMPLE: &'static str = "embed-smol";
    type Conn = smol::net::TcpStream;

    fn runtime() -> SmolRuntime {
        SmolRuntime::default()
    }

    fn block_on<T>(future: impl Future<Output = T>) -> T {
        smol::block_on(future)
    }

    async fn client(
        key: Keypair,
        config: Config,
        listen: Multiaddr,
    ) -> Result<(Driver<SmolRuntime>, Swarm<Behaviour>), StartError> {
        pyrsia_boot_smol::client(key, config, listen).await
    }

    async fn start_boot_node(
        key: Keypair,
        listen: Multiaddr,
        http: SocketAddr,
        config: BootNodeConfig,
    ) -> Result<BootNodeHandle, StartError> {
        pyrsia_boot_smol::start_boot_node(key, listen, http, config).await
    }

    async fn bind_http(
        addr: SocketAddr,
    ) -> std::io::Result<(
        SocketAddr,
        BoxStream<'static, std::io::Result<(smol::net::TcpStream, SocketAddr)>>,
    )> {
        let listener = smol::net::TcpListener::bind(addr).await?;
        Ok((listener.local_addr()?, http::incoming(listener).boxed()))
    }

    fn swarm<B: NetworkBehaviour>(key: &Keypair, behaviour: B) -> Swarm<B> {
        let transport = build_transport(key).expect("noise");
        Swarm::new(
            transport,
            behaviour,
            key.public().to_peer_id(),
            swarm_config(),
        )
    }
}

pyrsia_boot_conformance::suite!(Smol);
