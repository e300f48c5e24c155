//! What goes into the boot-node machine ([`BootNodeInput`]) and what comes out
//! ([`BootNodeAction`], [`BootNodeEvent`]).
//!
//! Requests the machine starts carry its own ids ([`ProbeId`], [`LoadAskId`], [`SignId`]);
//! things the world starts (a connection, an inbound request) carry the driver's [`Token`],
//! which the machine echoes back in the action that answers. The driver takes every token
//! from one growing counter: a connection or request whose token is not newer than the last
//! one seen is a replay, and is ignored.

use std::fmt;
use std::time::Duration;

use libp2p_identity::PeerId;
use multiaddr::Multiaddr;

use crate::errors::{ProbeError, RequestFailure};
use crate::ids::{DialBackId, LoadAskId, ProbeId, SignId, Token};
use crate::signed::DocSignature;

use super::report::BootNodeEvent;

/// Something the swarm or the HTTP server saw, fed to [`crate::BootNodeMachine::handle`].
#[derive(Clone, PartialEq, Eq)]
pub enum BootNodeInput {
    /// The timer armed at [`crate::BootNodeMachine::poll_timeout`] fired.
    Tick,
    /// The swarm listens on a new address.
    ListenAddrAdded(Multiaddr),
    /// A listen address went away.
    ListenAddrRemoved(Multiaddr),
    /// A connection is up (noise authenticated `peer`).
    ConnectionOpened {
        /// The driver's name for this connection; [`BootNodeInput::ConnectionClosed`] uses it.
        conn: Token,
        /// The authenticated remote peer.
        peer: PeerId,
        /// Whether the peer dialed us (a joining node does) or we dialed it (a load question to
        /// a member, an AutoNAT dial-back).
        inbound: bool,
        /// The remote address of the connection.
        remote: Multiaddr,
    },
    /// A connection closed.
    ConnectionClosed {
        /// The driver's name for it.
        conn: Token,
    },
    /// The dial request of a [`BootNodeAction::SendDialRequest`] was answered, or failed.
    DialRequestAnswered {
        /// The request.
        probe: ProbeId,
        /// The address the peer reached us at, or why not.
        result: Result<Multiaddr, ProbeError>,
    },
    /// A cluster member answered [`BootNodeAction::AskLoad`], or the question failed.
    LoadAnswered {
        /// The question.
        ask: LoadAskId,
        /// The member's connected-peer count, or why there is none.
        result: Result<u64, RequestFailure>,
    },
    /// A peer asked for our load (`/pyrsia-boot/load/1.0.0`); answer with
    /// [`BootNodeAction::AnswerLoad`].
    LoadAsked {
        /// The driver's name for the request.
        reply: Token,
        /// Who asked.
        peer: PeerId,
    },
    /// `GET /status`; answer with [`BootNodeAction::ServeStatus`].
    StatusRequested {
        /// The driver's name for the request.
        reply: Token,
    },
    /// A [`BootNodeAction::Sign`] job finished.
    Signed {
        /// The job.
        sign: SignId,
        /// The signature field, or why signing failed.
        result: Result<DocSignature, String>,
    },
    /// AutoNAT v1: `peer` asks, over connection `conn`, to be dialed back at `addrs` (the
    /// `DIAL` message names `claimed` as the peer to dial). Answer with
    /// [`BootNodeAction::AnswerDialBack`].
    DialBackAsked {
        /// The driver's name for the request (its response channel).
        reply: Token,
        /// The connection the request came over.
        conn: Token,
        /// The authenticated asker.
        peer: PeerId,
        /// The peer id in the `DIAL` message.
        claimed: PeerId,
        /// The addresses in the `DIAL` message.
        addrs: Vec<Multiaddr>,
    },
    /// A round trip on connection `conn` was measured (ping).
    RoundTrip {
        /// The connection.
        conn: Token,
        /// How long it took.
        rtt: Duration,
    },
    /// A [`BootNodeAction::DialBack`] leg finished: a connection to the peer is up at the
    /// address, or every attempt failed.
    DialedBack {
        /// The dial-back.
        job: DialBackId,
        /// Which leg.
        from: DialBackFrom,
        /// The address reached, or why none was.
        result: Result<Multiaddr, String>,
    },
    /// The cluster's other members changed (full multiaddrs ending in `/p2p/<id>`); a cluster
    /// learns its members' addresses after they start.
    ClusterChanged(Vec<Multiaddr>),
    /// The wall clock reads this (time since the Unix epoch). Drivers feed it with their timer
    /// ticks: the monotonic instants the machine is fed do not follow a clock that NTP steps
    /// or a suspend leaves behind, and signatures carry wall-clock times.
    WallClock(Duration),
}

impl fmt::Debug for BootNodeInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootNodeInput::Tick => f.write_str("Tick"),
            BootNodeInput::ListenAddrAdded(a) => f.debug_tuple("ListenAddrAdded").field(a).finish(),
            BootNodeInput::ListenAddrRemoved(a) => {
                f.debug_tuple("ListenAddrRemoved").field(a).finish()
            }
            BootNodeInput::ConnectionOpened {
                conn,
                peer,
                inbound,
                remote,
            } => f
                .debug_struct("ConnectionOpened")
                .field("conn", conn)
                .field("peer", peer)
                .field("inbound", inbound)
                .field("remote", remote)
                .finish(),
            BootNodeInput::ConnectionClosed { conn } => f
                .debug_struct("ConnectionClosed")
                .field("conn", conn)
                .finish(),
            BootNodeInput::DialRequestAnswered { probe, result } => f
                .debug_struct("DialRequestAnswered")
                .field("probe", probe)
                .field("result", result)
                .finish(),
            BootNodeInput::LoadAnswered { ask, result } => f
                .debug_struct("LoadAnswered")
                .field("ask", ask)
                .field("result", result)
                .finish(),
            BootNodeInput::LoadAsked { reply, peer } => f
                .debug_struct("LoadAsked")
                .field("reply", reply)
                .field("peer", peer)
                .finish(),
            BootNodeInput::StatusRequested { reply } => f
                .debug_struct("StatusRequested")
                .field("reply", reply)
                .finish(),
            BootNodeInput::Signed { sign, result } => f
                .debug_struct("Signed")
                .field("sign", sign)
                .field("ok", &result.is_ok())
                .finish(),
            BootNodeInput::ClusterChanged(m) => f
                .debug_struct("ClusterChanged")
                .field("members", &m.len())
                .finish(),
            BootNodeInput::WallClock(d) => f.debug_tuple("WallClock").field(d).finish(),
            BootNodeInput::DialBackAsked {
                reply,
                conn,
                peer,
                claimed,
                addrs,
            } => f
                .debug_struct("DialBackAsked")
                .field("reply", reply)
                .field("conn", conn)
                .field("peer", peer)
                .field("claimed", claimed)
                .field("addrs", addrs)
                .finish(),
            BootNodeInput::RoundTrip { conn, rtt } => f
                .debug_struct("RoundTrip")
                .field("conn", conn)
                .field("rtt", rtt)
                .finish(),
            BootNodeInput::DialedBack { job, from, result } => f
                .debug_struct("DialedBack")
                .field("job", job)
                .field("from", from)
                .field("result", result)
                .finish(),
        }
    }
}

/// Something the boot node's driver must do.
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub enum BootNodeAction {
    /// Ask `peer` to dial us back at `addrs` now (AutoNAT v1 `DIAL`): its AutoNAT server
    /// emits `InboundProbe::Request`, which is what makes it "fully connected". Answer with
    /// [`BootNodeInput::DialRequestAnswered`].
    SendDialRequest {
        /// Echo this back.
        probe: ProbeId,
        /// The newly connected peer.
        peer: PeerId,
        /// Where it should dial us back (its server keeps the ports and substitutes the IP it
        /// sees us at).
        addrs: Vec<Multiaddr>,
    },
    /// Ask cluster member `member` for its load (dialing it at `addr` if not connected).
    /// Answer with [`BootNodeInput::LoadAnswered`].
    AskLoad {
        /// Echo this back.
        ask: LoadAskId,
        /// The member.
        member: PeerId,
        /// Its address, without `/p2p/`.
        addr: Multiaddr,
    },
    /// Answer a [`BootNodeInput::LoadAsked`].
    AnswerLoad {
        /// The request.
        reply: Token,
        /// Our connected peers, not counting cluster members.
        peers_count: u64,
    },
    /// Answer a [`BootNodeInput::StatusRequested`] with this JSON body.
    ServeStatus {
        /// The request.
        reply: Token,
        /// The `/status` document.
        body: Vec<u8>,
    },
    /// Sign this peer list with the operator key ([`crate::signed::sign`] with these
    /// arguments); answer with [`BootNodeInput::Signed`].
    Sign {
        /// Echo this back.
        sign: SignId,
        /// The exact bytes of the `peer_addrs` value.
        peer_addrs_json: Vec<u8>,
        /// Unix seconds.
        issued_at: u64,
        /// Unix seconds.
        expires_at: u64,
        /// The list's sequence.
        sequence: u64,
    },
    /// Dial `peer` back at `addrs` from a new port (`allocate_new_port`), `attempts`
    /// connection attempts at once, from the listed source; answer with
    /// [`BootNodeInput::DialedBack`] when the first connection is up or every attempt of this
    /// leg under way failed. The same leg may be asked for more attempts later (its first
    /// attempt alone has not connected in time): they join the ones still under way.
    DialBack {
        /// Echo this back.
        job: DialBackId,
        /// Which leg: this node's own address, or its never-advertised alternate.
        from: DialBackFrom,
        /// The asker.
        peer: PeerId,
        /// Where: the asker's observed IP, with the ports it asked for.
        addrs: Vec<Multiaddr>,
        /// Attempts to start now, in parallel.
        attempts: u32,
    },
    /// Stop waiting for a dial-back (its timeout passed): a late connection is not reported.
    CancelDialBack {
        /// The dial-back.
        job: DialBackId,
    },
    /// Answer a [`BootNodeInput::DialBackAsked`].
    AnswerDialBack {
        /// The request.
        reply: Token,
        /// The answer.
        answer: DialBackAnswer,
    },
    /// Something for metrics and logs.
    Report(BootNodeEvent),
}

/// Where a dial-back comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DialBackFrom {
    /// This node's own IP (the one the asker contacted), from a new port.
    Own,
    /// The second IP that is used only for dial-backs and never advertised: a host the asker
    /// never sent a packet to.
    Alternate,
}

/// The AutoNAT v1 `DIAL_RESPONSE` to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialBackAnswer {
    /// `OK`: a dial-back reached the asker at this address (from the alternate address, when
    /// this node has one).
    Reachable(Multiaddr),
    /// `E_DIAL_ERROR`, with why.
    DialError(String),
    /// `E_DIAL_REFUSED`, with why (throttled, no address at the observed IP).
    Refused(String),
    /// `E_BAD_REQUEST`, with why.
    BadRequest(String),
}

impl fmt::Debug for BootNodeAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootNodeAction::SendDialRequest { probe, peer, addrs } => f
                .debug_struct("SendDialRequest")
                .field("probe", probe)
                .field("peer", peer)
                .field("addrs", addrs)
                .finish(),
            BootNodeAction::AskLoad { ask, member, addr } => f
                .debug_struct("AskLoad")
                .field("ask", ask)
                .field("member", member)
                .field("addr", addr)
                .finish(),
            BootNodeAction::AnswerLoad { reply, peers_count } => f
                .debug_struct("AnswerLoad")
                .field("reply", reply)
                .field("peers_count", peers_count)
                .finish(),
            BootNodeAction::ServeStatus { reply, body } => f
                .debug_struct("ServeStatus")
                .field("reply", reply)
                .field("body_len", &body.len())
                .finish(),
            BootNodeAction::Sign {
                sign,
                peer_addrs_json,
                issued_at,
                expires_at,
                sequence,
            } => f
                .debug_struct("Sign")
                .field("sign", sign)
                .field("peer_addrs_len", &peer_addrs_json.len())
                .field("issued_at", issued_at)
                .field("expires_at", expires_at)
                .field("sequence", sequence)
                .finish(),
            BootNodeAction::DialBack {
                job,
                from,
                peer,
                addrs,
                attempts,
            } => f
                .debug_struct("DialBack")
                .field("job", job)
                .field("from", from)
                .field("peer", peer)
                .field("addrs", addrs)
                .field("attempts", attempts)
                .finish(),
            BootNodeAction::CancelDialBack { job } => {
                f.debug_struct("CancelDialBack").field("job", job).finish()
            }
            BootNodeAction::AnswerDialBack { reply, answer } => f
                .debug_struct("AnswerDialBack")
                .field("reply", reply)
                .field("answer", answer)
                .finish(),
            BootNodeAction::Report(e) => f.debug_tuple("Report").field(e).finish(),
        }
    }
}
