//! The shared conformance suite (`tests/conformance`) on the async-std adapter: clients and
//! boot nodes both on async-std.

use std::future::Future;
use std::net::SocketAddr;

use async_std::net::{TcpListener, TcpStream};
use futures::stream::BoxStream;
use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{Multiaddr, Swarm};
use pyrsia_boot_async_std::AsyncStdRuntime;
use pyrsia_boot_core::Config;
use pyrsia_boot_libp2p::{Behaviour, BootNodeConfig, BootNodeHandle, Driver, StartError};

struct AsyncStd;

impl pyrsia_boot_conformance::Adapter for AsyncStd {
    type Runtime = AsyncStdRuntime;
    const READS_HTTP_1_0: bool = false;
    const EMBED_EXAMPLE: &'static str = "embed-async-std";
    type Conn = TcpStream;

    fn runtime() -> AsyncStdRuntime {
        AsyncStdRuntime
    }

    fn block_on<T>(future: impl Future<Output = T>) -> T {
        async_std::task::block_on(future)
    }

    async fn client(
        key: Keypair,
        config: Config,
        listen: Multiaddr,
    ) -> Result<(Driver<AsyncStdRuntime>, Swarm<Behaviour>), StartError> {
        pyrsia_boot_async_std::client(key, config, listen).await
    }

    async fn start_boot_node(
        key: Keypair,
        listen: Multiaddr,
        http: SocketAddr,
        config: BootNodeConfig,
    ) -> Result<BootNodeHandle, StartError> {
        pyrsia_boot_async_std::start_boot_node(key, listen, http, config).await
    }

    async fn bind_http(
        addr: SocketAddr,
    ) -> std::io::Result<(
        SocketAddr,
        BoxStream<'static, std::io::Result<(TcpStream, SocketAddr)>>,
    )> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        Ok((local, pyrsia_boot_async_std::incoming(listener).boxed()))
    }

    fn swarm<B: NetworkBehaviour>(key: &Keypair, behaviour: B) -> Swarm<B> {
        pyrsia_boot_async_std::build_swarm_with(key, |_| behaviour).expect("swarm")
    }
}

pyrsia_boot_conformance::suite!(AsyncStd);
