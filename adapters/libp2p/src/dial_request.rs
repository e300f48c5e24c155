//! A targeted AutoNAT v1 dial request: "peer X, dial me back now".
//!
//! libp2p-autonat 0.14 sends dial requests only from its own timer, to a server it picks at
//! random, and keeps its codec private (see the reference notes on AutoNAT scheduling). Both
//! sides of pyrsia-boot need to choose the moment and the peer: a boot node asks every newly
//! connected peer at once (which is what makes that peer "fully connected"), and a node asks
//! its boot peer right after connecting (its own reachability check). This module speaks the
//! wire protocol `/libp2p/autonat/1.0.0` (libp2p specs, `autonat/autonat-v1.md`) as an
//! outbound-only request-response client; the receiving side is the stock AutoNAT server.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::{Multiaddr, PeerId, StreamProtocol};
use prost::Message as _;

/// The AutoNAT v1 protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/libp2p/autonat/1.0.0");

/// Largest message accepted, as libp2p-autonat's own codec.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// The protobuf messages of AutoNAT v1 (proto2, field numbers from the spec).
pub mod proto {
    /// The envelope.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Message {
        /// `MessageType`.
        #[prost(enumeration = "MessageType", optional, tag = "1")]
        pub r#type: Option<i32>,
        /// Set for `DIAL`.
        #[prost(message, optional, tag = "2")]
        pub dial: Option<Dial>,
        /// Set for `DIAL_RESPONSE`.
        #[prost(message, optional, tag = "3")]
        pub dial_response: Option<DialResponse>,
    }

    /// Who to dial back.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Dial {
        /// The requester.
        #[prost(message, optional, tag = "1")]
        pub peer: Option<PeerInfo>,
    }

    /// A peer id and its addresses.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PeerInfo {
        /// Peer id bytes.
        #[prost(bytes = "vec", optional, tag = "1")]
        pub id: Option<Vec<u8>>,
        /// Multiaddr bytes.
        #[prost(bytes = "vec", repeated, tag = "2")]
        pub addrs: Vec<Vec<u8>>,
    }

    /// The outcome of a dial-back.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct DialResponse {
        /// `ResponseStatus`.
        #[prost(enumeration = "ResponseStatus", optional, tag = "1")]
        pub status: Option<i32>,
        /// Human-readable detail.
        #[prost(string, optional, tag = "2")]
        pub status_text: Option<String>,
        /// The address the dial-back reached (on success).
        #[prost(bytes = "vec", optional, tag = "3")]
        pub addr: Option<Vec<u8>>,
    }

    /// `Message.type`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum MessageType {
        /// A dial request.
        Dial = 0,
        /// A dial response.
        DialResponse = 1,
    }

    /// `DialResponse.status`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum ResponseStatus {
        /// Dialed back successfully.
        Ok = 0,
        /// Tried to dial back and failed.
        EDialError = 100,
        /// Refused to try.
        EDialRefused = 101,
        /// The request was malformed.
        EBadRequest = 200,
        /// The server failed.
        EInternalError = 300,
    }
}

/// "Dial `peer` back at `addrs`."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialRequest {
    /// The requester (the side to be dialed back).
    pub peer: PeerId,
    /// Its addresses; the server replaces their IPs with the one it observes.
    pub addrs: Vec<Multiaddr>,
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialResponse {
    /// It dialed us back at this address.
    Reachable(Multiaddr),
    /// It tried and could not dial us back.
    DialError(String),
    /// It refused to try (throttled, no usable address, …).
    Refused(String),
    /// The request was malformed (`E_BAD_REQUEST`, 200): it named another peer than the one
    /// asking, say.
    BadRequest(String),
    /// The server failed (`E_INTERNAL_ERROR`, 300), or answered a status this codec does not
    /// know.
    InternalError(String),
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl DialRequest {
    fn to_proto(&self) -> proto::Message {
        proto::Message {
            r#type: Some(proto::MessageType::Dial as i32),
            dial: Some(proto::Dial {
                peer: Some(proto::PeerInfo {
                    id: Some(self.peer.to_bytes()),
                    addrs: self.addrs.iter().map(|a| a.to_vec()).collect(),
                }),
            }),
            dial_response: None,
        }
    }

    fn from_proto(msg: proto::Message) -> io::Result<Self> {
        if msg.r#type != Some(proto::MessageType::Dial as i32) {
            return Err(invalid("not a DIAL message"));
        }
        let info = msg
            .dial
            .and_then(|d| d.peer)
            .ok_or_else(|| invalid("DIAL without peer"))?;
        let peer = info
            .id
            .and_then(|id| PeerId::from_bytes(&id).ok())
            .ok_or_else(|| invalid("DIAL with an invalid peer id"))?;
        let addrs = info
            .addrs
            .into_iter()
            .filter_map(|a| Multiaddr::try_from(a).ok())
            .collect();
        Ok(DialRequest { peer, addrs })
    }
}

impl DialResponse {
    fn to_proto(&self) -> proto::Message {
        use proto::ResponseStatus as S;
        let (status, text, addr) = match self {
            DialResponse::Reachable(a) => (S::Ok, String::new(), Some(a.to_vec())),
            DialResponse::DialError(t) => (S::EDialError, t.clone(), None),
            DialResponse::Refused(t) => (S::EDialRefused, t.clone(), None),
            DialResponse::BadRequest(t) => (S::EBadRequest, t.clone(), None),
            DialResponse::InternalError(t) => (S::EInternalError, t.clone(), None),
        };
        proto::Message {
            r#type: Some(proto::MessageType::DialResponse as i32),
            dial: None,
            dial_response: Some(proto::DialResponse {
                status: Some(status as i32),
                status_text: Some(text),
                addr,
            }),
        }
    }

    fn from_proto(msg: proto::Message) -> io::Result<Self> {
        use proto::ResponseStatus as S;
        if msg.r#type != Some(proto::MessageType::DialResponse as i32) {
            return Err(invalid("not a DIAL_RESPONSE message"));
        }
        let r = msg
            .dial_response
            .ok_or_else(|| invalid("DIAL_RESPONSE without body"))?;
        let text = r.status_text.unwrap_or_default();
        let status = r.status.and_then(|s| S::try_from(s).ok());
        Ok(match status {
            Some(S::Ok) => {
                let addr = r
                    .addr
                    .and_then(|a| Multiaddr::try_from(a).ok())
                    .ok_or_else(|| invalid("OK without a valid address"))?;
                DialResponse::Reachable(addr)
            }
            Some(S::EDialError) => DialResponse::DialError(text),
            Some(S::EDialRefused) => DialResponse::Refused(text),
            Some(S::EBadRequest) => DialResponse::BadRequest(text),
            Some(S::EInternalError) | None => DialResponse::InternalError(text),
        })
    }
}

async fn read_message<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<proto::Message> {
    // Unsigned-varint length prefix, as quick-protobuf-codec frames it.
    let mut len: usize = 0;
    for shift in (0..).step_by(7).take(3) {
        let mut byte = [0u8];
        io.read_exact(&mut byte).await?;
        len |= usize::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            if len > MAX_MESSAGE_BYTES {
                return Err(invalid("message over 1024 bytes"));
            }
            let mut buf = vec![0u8; len];
            io.read_exact(&mut buf).await?;
            return proto::Message::decode(buf.as_slice()).map_err(|e| invalid(&e.to_string()));
        }
    }
    Err(invalid("length prefix too long"))
}

async fn write_message<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    msg: proto::Message,
) -> io::Result<()> {
    io.write_all(&msg.encode_length_delimited_to_vec()).await?;
    io.close().await
}

/// The request-response codec for AutoNAT v1 messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct Codec;

// 0.55's codec trait is an `async_trait`; 0.57's returns `impl Future + Send`, which these
// `async fn`s implement as written.
#[cfg_attr(not(feature = "libp2p-057"), async_trait::async_trait)]
impl request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = DialRequest;
    type Response = DialResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<DialRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        DialRequest::from_proto(read_message(io).await?)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<DialResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        DialResponse::from_proto(read_message(io).await?)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: DialRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_message(io, req.to_proto()).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: DialResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_message(io, res.to_proto()).await
    }
}

/// The request-response behaviour for AutoNAT v1 messages: outbound only on a node (the stock
/// AutoNAT server in the same swarm answers), both ways on a boot node ([`server`]).
pub type Requester = request_response::Behaviour<Codec>;

/// A [`Requester`] that also receives dial requests, for a boot node whose machine answers
/// them; requests time out after `timeout`.
pub fn server(timeout: std::time::Duration) -> Requester {
    request_response::Behaviour::with_codec(
        Codec,
        [(PROTOCOL, ProtocolSupport::Full)],
        request_response::Config::default().with_request_timeout(timeout),
    )
}

/// A [`Requester`] whose requests time out after `timeout`.
pub fn requester(timeout: std::time::Duration) -> Requester {
    request_response::Behaviour::with_codec(
        Codec,
        [(PROTOCOL, ProtocolSupport::Outbound)],
        request_response::Config::default().with_request_timeout(timeout),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses_survive_the_wire_format() {
        let peer = PeerId::random();
        let req = DialRequest {
            peer,
            addrs: vec!["/ip4/127.0.0.1/tcp/4001".parse().expect("valid")],
        };
        assert_eq!(
            DialRequest::from_proto(req.to_proto()).expect("decodes"),
            req
        );
        for res in [
            DialResponse::Reachable("/ip4/127.0.0.1/tcp/4001".parse().expect("valid")),
            DialResponse::DialError("no".into()),
            DialResponse::Refused("throttled".into()),
            DialResponse::BadRequest("another peer".into()),
            DialResponse::InternalError("bad".into()),
        ] {
            let bytes = res.to_proto().encode_to_vec();
            let back = proto::Message::decode(bytes.as_slice()).expect("decodes");
            assert_eq!(DialResponse::from_proto(back).expect("valid"), res);
        }
    }

    /// Each answer's `DialResponse.status` as the bytes on the wire carry it: field 3 of the
    /// message (the response), and in it field 1 (the status) as a varint.
    #[test]
    fn every_answer_goes_out_with_its_own_wire_status() {
        let status_on_the_wire = |res: DialResponse| {
            let bytes = res.to_proto().encode_to_vec();
            // Message: field 1 (type) as a varint, then field 3 (dial_response), length-delimited
            // (tag 0x1a; the lengths here fit one byte).
            let at = bytes
                .iter()
                .position(|&b| b == 0x1a)
                .expect("dial_response field");
            let inner = &bytes[at + 2..];
            assert_eq!(inner[0], 0x08, "status is field 1, a varint: {bytes:02x?}");
            let (mut value, mut shift) = (0u32, 0);
            for &b in &inner[1..] {
                value |= u32::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    break;
                }
            }
            value
        };
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().expect("valid");
        assert_eq!(status_on_the_wire(DialResponse::Reachable(addr)), 0);
        assert_eq!(status_on_the_wire(DialResponse::DialError("x".into())), 100);
        assert_eq!(status_on_the_wire(DialResponse::Refused("x".into())), 101);
        assert_eq!(
            status_on_the_wire(DialResponse::BadRequest("x".into())),
            200
        );
        assert_eq!(
            status_on_the_wire(DialResponse::InternalError("x".into())),
            300
        );
    }

    #[test]
    fn refuses_oversized_and_malformed_frames() {
        let mut big = vec![0x81, 0x08]; // varint 1025
        big.extend(std::iter::repeat_n(0u8, 1025));
        let err = smol::block_on(read_message(&mut big.as_slice())).expect_err("too big");
        assert!(err.to_string().contains("1024"), "{err}");
        let mut bad = &[0xff, 0xff, 0xff, 0xff][..];
        assert!(smol::block_on(read_message(&mut bad)).is_err());
        let wrong = proto::Message::default();
        assert!(DialRequest::from_proto(wrong.clone()).is_err());
        assert!(DialResponse::from_proto(wrong).is_err());
    }
}
