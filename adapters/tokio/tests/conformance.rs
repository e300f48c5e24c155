//! The shared conformance suite (`tests/conformance`) on the tokio adapter, libp2p 0.57.

use std::future::Future;
use std::net::SocketAddr;

use futures::stream::BoxStream;
use futures::StreamExt;
use pyrsia_boot_core::Config;
use pyrsia_boot_libp2p::libp2p::identity::Keypair;
use pyrsia_boot_libp2p::libp2p::swarm::NetworkBehaviour;
use pyrsia_boot_libp2p::libp2p::{Multiaddr, Swarm};
use pyrsia_boot_libp2p::{Behaviour, BootNodeConfig, BootNodeHandle, Driver, StartError};
use pyrsia_boot_tokio::{build_swarm_with, incoming, TokioRuntime};
use tokio_util::compat::Compat;

struct Tokio;

impl pyrsia_boot_conformance::Adapter for Tokio {
    type Runtime = TokioRuntime;
    const READS_HTTP_1_0: bool = true;
    const EMBED_EXAMPLE: &'static str = "embed-tokio";
    type Conn = Compat<tokio::net::TcpStream>;

    fn runtime() -> TokioRuntime {
        TokioRuntime::default()
    }

    fn block_on<T>(future: impl Future<Output = T>) -> T {
        // Two worker threads, as on this project's CI machine: the boot nodes' tasks run on
        // them while the scenario runs on the test's thread.
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(future)
    }

    async fn client(
        key: Keypair,
        config: Config,
        listen: Multiaddr,
    ) -> Result<(Driver<TokioRuntime>, Swarm<Behaviour>), StartError> {
        pyrsia_boot_tokio::client(key, config, listen).await
    }

    async fn start_boot_node(
        key: Keypair,
        listen: Multiaddr,
        http: SocketAddr,
        config: BootNodeConfig,
    ) -> Result<BootNodeHandle, StartError> {
        pyrsia_boot_tokio::start_boot_node(key, listen, http, config).await
    }

    async fn bind_http(
        addr: SocketAddr,
    ) -> std::io::Result<(
        SocketAddr,
        BoxStream<'static, std::io::Result<(Self::Conn, SocketAddr)>>,
    )> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Ok((listener.local_addr()?, incoming(listener).boxed()))
    }

    fn swarm<B: NetworkBehaviour>(key: &Keypair, behaviour: B) -> Swarm<B> {
        build_swarm_with(key, |_| behaviour).expect("noise")
    }
}

pyrsia_boot_conformance::suite!(Tokio);
pyrsia_boot_conformance::suite!(v2_client Tokio);
