//! `/pyrsia-boot/load/1.0.0`: one boot node asks another how many peers it serves, so each can
//! list the cluster's members with their load in `/status` (clients may pick the least loaded).
//! The request is empty; the response is the count as 8 big-endian bytes.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::StreamProtocol;

/// The protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/pyrsia-boot/load/1.0.0");

/// The codec: empty requests, `u64` responses.
#[derive(Debug, Clone, Copy, Default)]
pub struct Codec;

// 0.55's codec trait is an `async_trait`; 0.57's returns `impl Future + Send`, which these
// `async fn`s implement as written.
#[cfg_attr(not(feature = "libp2p-057"), async_trait::async_trait)]
impl request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = ();
    type Response = u64;

    async fn read_request<T>(&mut self, _: &StreamProtocol, _: &mut T) -> io::Result<()>
    where
        T: AsyncRead + Unpin + Send,
    {
        Ok(())
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<u64>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut buf = [0u8; 8];
        io.read_exact(&mut buf).await?;
        Ok(u64::from_be_bytes(buf))
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, (): ()) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        count: u64,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&count.to_be_bytes()).await?;
        io.close().await
    }
}

/// The load exchange behaviour: boot nodes answer and ask; nodes only could ask (and never do).
pub type Exchange = request_response::Behaviour<Codec>;

/// An [`Exchange`] that answers requests when `serve` is true.
pub fn exchange(serve: bool) -> Exchange {
    let support = if serve {
        ProtocolSupport::Full
    } else {
        ProtocolSupport::Outbound
    };
    request_response::Behaviour::with_codec(
        Codec,
        [(PROTOCOL, support)],
        request_response::Config::default(),
    )
}
