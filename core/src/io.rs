//! What goes into the client machine ([`Input`]) and what comes out ([`Action`]).
//!
//! IO failures are inputs like any other. Ids are allocated by the machine and echoed back by
//! the driver; an id the machine does not know (stale, duplicated, invented) is ignored.

use std::fmt;

use libp2p_identity::PeerId;
use multiaddr::Multiaddr;

use crate::errors::{DialError, HttpError, ProbeError, ResolveError};
use crate::ids::{DialId, ProbeId, RequestId};
use crate::report::Event;
use crate::snapshot::Snapshot;

/// Something that happened in the world, fed to [`crate::BootstrapMachine::handle`].
#[derive(Clone, PartialEq, Eq)]
pub enum Input {
    /// The timer armed at [`crate::BootstrapMachine::poll_timeout`] fired (or the driver just
    /// wants the machine to look at the clock).
    Tick,
    /// An HTTP response arrived, whatever its status code.
    HttpResponse {
        /// The request this answers.
        request: RequestId,
        /// The HTTP status code.
        status: u16,
        /// The body, at most the `max_body_bytes` the request asked for (or one byte more, so
        /// the machine can tell the body was cut).
        body: Vec<u8>,
    },
    /// The HTTP request failed before a response arrived.
    HttpFailed {
        /// The request that failed.
        request: RequestId,
        /// Why.
        error: HttpError,
    },
    /// A dial completed: a connection to `peer` is up (noise authenticated the id).
    DialSucceeded {
        /// The dial that completed.
        dial: DialId,
        /// The authenticated remote peer.
        peer: PeerId,
        /// The address the connection went to, if the driver knows it.
        addr: Option<Multiaddr>,
    },
    /// A dial failed.
    DialFailed {
        /// The dial that failed.
        dial: DialId,
        /// Why.
        error: DialError,
    },
    /// The names of an [`Action::Resolve`] were looked up: one result per name, in the order
    /// the action listed them, each the addresses with the name replaced by an IP.
    Resolved {
        /// The dial the names belong to.
        dial: DialId,
        /// Per name: its addresses, or why it gave none.
        results: Vec<Result<Vec<Multiaddr>, ResolveError>>,
    },
    /// The last connection to `peer` closed.
    ConnectionClosed {
        /// The peer.
        peer: PeerId,
    },
    /// A new inbound connection from `peer` is up (we were dialed). During a dial-back request
    /// to `peer` this is the dial-back itself: an OK answer is believed only if one arrives.
    InboundConnection {
        /// The authenticated remote peer.
        peer: PeerId,
        /// Where it came from (the connection's remote address), if the driver knows it.
        remote: Option<Multiaddr>,
    },
    /// Identify: boot peer `peer` observes this node at `observed` (its `observedAddr`), on
    /// the connection we dialed from our listening port. Two boot peers at different IPs
    /// give the NAT's mapping behaviour.
    ObservedAddr {
        /// The peer that reported it.
        peer: PeerId,
        /// Our address as it sees it.
        observed: Multiaddr,
    },
    /// The addresses this node can be dialed at (its listeners and external addresses), in
    /// full, whenever they change. The families among them are the ones probed, each over a
    /// connection of its own family; before the first, one probe goes over any connection.
    Listening {
        /// Every current address (at most 64 are read).
        addrs: Vec<Multiaddr>,
    },
    /// AutoNAT: `peer` asked us to be dialed back (libp2p-autonat's
    /// `InboundProbe::Request`). From a boot peer, this is the "fully connected" signal.
    InboundProbeRequest {
        /// The peer that asked.
        peer: PeerId,
    },
    /// AutoNAT: the dial-back request of an [`Action::ProbeVia`] was answered, or failed.
    OwnProbeAnswered {
        /// The request.
        probe: ProbeId,
        /// The address the server reached us at, or why it did not.
        result: Result<Multiaddr, ProbeError>,
    },
    /// AutoNAT v2: the driver's v2 client finished a test of `addr` with `server` (libp2p's
    /// client picks both). A reachable result is verified by construction: the server's
    /// dial-back carried the nonce the client sent. Only a boot peer we dialed counts.
    AutonatV2Tested {
        /// The server that dialed back (or could not).
        server: PeerId,
        /// The address tested, without `/p2p/`.
        addr: Multiaddr,
        /// Whether the server's dial-back reached us.
        reachable: bool,
    },
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Tick => f.write_str("Tick"),
            Input::HttpResponse {
                request,
                status,
                body,
            } => f
                .debug_struct("HttpResponse")
                .field("request", request)
                .field("status", status)
                .field("body_len", &body.len())
                .finish(),
            Input::HttpFailed { request, error } => f
                .debug_struct("HttpFailed")
                .field("request", request)
                .field("error", error)
                .finish(),
            Input::DialSucceeded { dial, peer, addr } => f
                .debug_struct("DialSucceeded")
                .field("dial", dial)
                .field("peer", peer)
                .field("addr", addr)
                .finish(),
            Input::DialFailed { dial, error } => f
                .debug_struct("DialFailed")
                .field("dial", dial)
                .field("error", error)
                .finish(),
            Input::ConnectionClosed { peer } => f
                .debug_struct("ConnectionClosed")
                .field("peer", peer)
                .finish(),
            Input::Resolved { dial, results } => f
                .debug_struct("Resolved")
                .field("dial", dial)
                .field("results", results)
                .finish(),
            Input::InboundConnection { peer, remote } => f
                .debug_struct("InboundConnection")
                .field("peer", peer)
                .field("remote", remote)
                .finish(),
            Input::ObservedAddr { peer, observed } => f
                .debug_struct("ObservedAddr")
                .field("peer", peer)
                .field("observed", observed)
                .finish(),
            Input::Listening { addrs } => {
                f.debug_struct("Listening").field("addrs", addrs).finish()
            }
            Input::InboundProbeRequest { peer } => f
                .debug_struct("InboundProbeRequest")
                .field("peer", peer)
                .finish(),
            Input::OwnProbeAnswered { probe, result } => f
                .debug_struct("OwnProbeAnswered")
                .field("probe", probe)
                .field("result", result)
                .finish(),
            Input::AutonatV2Tested {
                server,
                addr,
                reachable,
            } => f
                .debug_struct("AutonatV2Tested")
                .field("server", server)
                .field("addr", &format_args!("{addr}"))
                .field("reachable", reachable)
                .finish(),
        }
    }
}

/// Something the driver must do.
// A few dozen actions per bootstrap, handed over by value once each: a report's size (its
// skip counts per reason) costs nothing worth a box and an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Action {
    /// GET `url`; answer with [`Input::HttpResponse`] or [`Input::HttpFailed`].
    FetchStatus {
        /// Echo this back.
        request: RequestId,
        /// The URL to fetch.
        url: String,
        /// Read at most this many bytes of body (plus one, to show it was longer); the
        /// machine refuses larger bodies, and the cap keeps a hostile server from costing
        /// memory.
        max_body_bytes: usize,
    },
    /// Stop an HTTP request the machine no longer waits for (it timed out).
    CancelFetch {
        /// The request.
        request: RequestId,
    },
    /// Dial `peer` at `addrs`; answer with [`Input::DialSucceeded`] or [`Input::DialFailed`].
    Dial {
        /// Echo this back.
        dial: DialId,
        /// The peer to reach; the connection must authenticate as this id.
        peer: PeerId,
        /// Where to reach it, in preference order, without `/p2p/` suffixes.
        addrs: Vec<Multiaddr>,
    },
    /// Resolve these `/dns`, `/dns4`, `/dns6` addresses (each to the IPs of its family, the
    /// rest of the address unchanged) and `/dnsaddr` addresses (each to the multiaddrs of the
    /// `dnsaddr=` TXT records of `_dnsaddr.<name>`, as written, `/p2p/` suffix included);
    /// answer with [`Input::Resolved`]. The machine judges what came back: it drops other
    /// peers' records, looks up names that came back in a further `Resolve` for the same dial
    /// (within [`crate::ResolveLimits`]), and checks the IPs; the dial follows as an
    /// [`Action::Dial`] with the same id.
    Resolve {
        /// Echo this back.
        dial: DialId,
        /// The peer the dial is for.
        peer: PeerId,
        /// The addresses whose first component is a DNS name.
        names: Vec<Multiaddr>,
    },
    /// Stop a dial the machine no longer waits for (it timed out or is no longer needed).
    CancelDial {
        /// The dial.
        dial: DialId,
    },
    /// Use `peer` as an AutoNAT server and ask it for a dial-back now; answer with
    /// [`Input::OwnProbeAnswered`].
    ProbeVia {
        /// Echo this back.
        probe: ProbeId,
        /// A connected boot peer.
        peer: PeerId,
        /// The family probed: only our addresses of it are offered (the server dials back the
        /// IP it sees on a connection of that family); `None` before the driver said which
        /// addresses this node has ([`Input::Listening`]).
        family: Option<crate::nat::Family>,
        /// The addresses to offer, sorted and each once: this node's addresses as last told
        /// ([`Input::Listening`]), of `family` when set. Empty when the driver never said: a
        /// driver that does not feed `Listening` offers whatever addresses it has.
        addrs: Vec<Multiaddr>,
    },
    /// Close connections to `peer`; it is no longer a boot candidate for now.
    Disconnect {
        /// The peer.
        peer: PeerId,
    },
    /// A dial-back confirmed that strangers reach us at this address: tell the swarm
    /// (`Swarm::add_external_address`), so identify and Kademlia advertise it.
    AddExternalAddress(Multiaddr),
    /// The address of an earlier [`Action::AddExternalAddress`] is no longer confirmed (the
    /// verdict turned private or moved): `Swarm::remove_external_address`.
    RemoveExternalAddress(Multiaddr),
    /// Write this snapshot to durable storage (atomically) if the application keeps state.
    PersistState(Snapshot),
    /// Tell the application something happened.
    Report(Event),
}
