//! What goes into the machine ([`Input`]) and what comes out ([`Action`], [`Event`]).
//!
//! IO failures are inputs like any other. Ids are allocated by the machine and echoed back by
//! the driver; an id the machine does not know (stale, duplicated, invented) is ignored.

use std::fmt;
use std::time::Duration;

use libp2p_identity::PeerId;
use multiaddr::Multiaddr;

use crate::nat::NatVerdict;
use crate::snapshot::Snapshot;
use crate::status::{SkipCounts, StatusError};

/// Names one HTTP request the machine asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub(crate) u64);

/// Names one dial the machine asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DialId(pub(crate) u64);

impl RequestId {
    /// The raw number, for logs and maps in drivers.
    pub fn raw(self) -> u64 {
        self.0
    }
}

impl DialId {
    /// The raw number, for logs and maps in drivers.
    pub fn raw(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "req#{}", self.0)
    }
}

impl fmt::Display for DialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dial#{}", self.0)
    }
}

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
    /// The names of an [`Action::Resolve`] resolved (all of them, as addresses with the names
    /// replaced by IPs), or failed.
    Resolved {
        /// The dial the names belong to.
        dial: DialId,
        /// The resolved addresses, or why resolution failed.
        result: Result<Vec<Multiaddr>, String>,
    },
    /// The last connection to `peer` closed.
    ConnectionClosed {
        /// The peer.
        peer: PeerId,
    },
    /// AutoNAT: `peer` asked us to be dialed back (libp2p-autonat's
    /// `InboundProbe::Request`). From a boot peer, this is the "fully connected" signal.
    InboundProbeRequest {
        /// The peer that asked.
        peer: PeerId,
    },
    /// AutoNAT: a dial-back request we sent was answered.
    OwnProbeAnswered {
        /// The server that answered.
        peer: PeerId,
        /// What it found.
        result: Result<Multiaddr, ProbeError>,
    },
    /// AutoNAT's own aggregated status changed.
    NatStatusChanged(NatVerdict),
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
            Input::Resolved { dial, result } => f
                .debug_struct("Resolved")
                .field("dial", dial)
                .field("result", result)
                .finish(),
            Input::InboundProbeRequest { peer } => f
                .debug_struct("InboundProbeRequest")
                .field("peer", peer)
                .finish(),
            Input::OwnProbeAnswered { peer, result } => f
                .debug_struct("OwnProbeAnswered")
                .field("peer", peer)
                .field("result", result)
                .finish(),
            Input::NatStatusChanged(s) => f.debug_tuple("NatStatusChanged").field(s).finish(),
        }
    }
}

/// Why an HTTP request failed, as the driver saw it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The URL could not be used (bad syntax, unsupported scheme).
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// No connection: DNS failure, refused, unreachable.
    #[error("connect failed: {0}")]
    Connect(String),
    /// The connection broke or the response was not valid HTTP.
    #[error("transfer failed: {0}")]
    Transfer(String),
    /// The TLS handshake failed (untrusted or mismatched certificate, protocol error).
    #[error("TLS failed: {0}")]
    Tls(String),
}

/// Why a dial failed, as the driver saw it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    /// Every address refused or was unreachable.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The remote authenticated as another peer.
    #[error("wrong peer: expected {expected}, got {actual}")]
    WrongPeer {
        /// The id the boot list named.
        expected: PeerId,
        /// The id noise authenticated.
        actual: PeerId,
    },
    /// Anything else (upgrade failure, local limits).
    #[error("{0}")]
    Other(String),
}

/// Why a dial-back request we sent did not confirm an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// The server tried to dial us back and could not: evidence that we are not reachable.
    #[error("the server could not dial us back")]
    DialBackFailed,
    /// The server refused to try (throttled, no addresses it would dial).
    #[error("the server refused the dial-back request")]
    Refused,
    /// The request itself failed (timeout, stream error).
    #[error("the dial-back request failed: {0}")]
    Request(String),
}

/// Something the driver must do.
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
    /// rest of the address unchanged); answer with [`Input::Resolved`]. The dial follows as an
    /// [`Action::Dial`] with the same id once the machine has checked the IPs.
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
    /// Use `peer` as an AutoNAT server and ask it for a dial-back now.
    ProbeVia {
        /// A connected boot peer.
        peer: PeerId,
    },
    /// Close connections to `peer`; it is no longer a boot candidate for now.
    Disconnect {
        /// The peer.
        peer: PeerId,
    },
    /// Write this snapshot to durable storage (atomically) if the application keeps state.
    PersistState(Snapshot),
    /// Tell the application something happened.
    Report(Event),
}

/// Where boot candidates came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceName {
    /// Last-known-good peers from a previous run.
    Cache,
    /// A boot URL.
    Url(String),
    /// Static seed peers from the configuration.
    Seeds,
}

impl fmt::Display for SourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceName::Cache => f.write_str("cached peers"),
            SourceName::Url(u) => f.write_str(u),
            SourceName::Seeds => f.write_str("seed peers"),
        }
    }
}

/// One thing that went wrong on the way to Connected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The HTTP request failed.
    #[error("{0}")]
    Http(HttpError),
    /// No response within the HTTP timeout.
    #[error("no response within {0:?}")]
    HttpTimeout(Duration),
    /// The server answered with a non-2xx status.
    #[error("HTTP status {0}")]
    HttpStatus(u16),
    /// The body was not a usable boot document.
    #[error("{0}")]
    BadDocument(StatusError),
    /// The source had peers, but none with an address the policy allows.
    #[error("no dialable address ({0})")]
    NoDialableAddress(SkipCounts),
    /// A dial failed.
    #[error("dial {peer} failed: {error}")]
    Dial {
        /// The peer.
        peer: PeerId,
        /// Why.
        error: DialError,
    },
    /// A dial did not complete within the dial timeout.
    #[error("dial {peer} timed out after {after:?}")]
    DialTimeout {
        /// The peer.
        peer: PeerId,
        /// The timeout.
        after: Duration,
    },
    /// Connected, but the peer sent no AutoNAT dial request within the timeout.
    #[error("{peer} sent no AutoNAT dial request within {after:?}")]
    NoInboundProbe {
        /// The peer.
        peer: PeerId,
        /// The timeout.
        after: Duration,
    },
    /// The connection closed before the peer sent its AutoNAT dial request.
    #[error("connection to {peer} closed before its AutoNAT dial request")]
    ConnectionLost {
        /// The peer.
        peer: PeerId,
    },
}

/// One source tried, and what went wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tried {
    /// The source.
    pub source: SourceName,
    /// What failed.
    pub failure: Failure,
}

impl fmt::Display for Tried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.failure)
    }
}

/// Why the machine stopped trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUpReason {
    /// No boot URL, no seed and no cached peer was configured.
    NoSources,
    /// Every round of every source failed, [`crate::Backoff::max_rounds`] times.
    RoundsExhausted,
    /// The overall budget for one bootstrap ran out.
    BudgetExhausted,
}

/// The terminal failure report: why, and everything that was tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaveUp {
    /// Why the machine stopped.
    pub reason: GiveUpReason,
    /// Rounds started.
    pub rounds: u32,
    /// What was tried, oldest first (at most the first 64 failures).
    pub tried: Vec<Tried>,
    /// Failures not kept in `tried` because of its cap.
    pub omitted: u32,
}

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.reason {
            GiveUpReason::NoSources => "no boot URL, seed or cached peer is configured",
            GiveUpReason::RoundsExhausted => "every source failed in every round",
            GiveUpReason::BudgetExhausted => "the bootstrap time budget ran out",
        };
        write!(f, "gave up after {} round(s): {why}", self.rounds)?;
        for t in &self.tried {
            write!(f, "; {t}")?;
        }
        if self.omitted > 0 {
            write!(f, "; and {} more failure(s)", self.omitted)?;
        }
        Ok(())
    }
}

impl std::error::Error for GaveUp {}

/// A report for the application's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A boot document was fetched and parsed.
    StatusFetched {
        /// The URL.
        url: String,
        /// Usable peers.
        peers: usize,
        /// Usable addresses over all peers.
        addrs: usize,
        /// Entries skipped, per reason.
        skipped: SkipCounts,
        /// The trusted signer, when trusted keys are configured.
        signed: Option<crate::signed::SignedBy>,
    },
    /// A source yielded nothing usable.
    SourceFailed(Tried),
    /// A dial failed or timed out.
    DialFailed(Tried),
    /// A connection to a boot peer is up; waiting for its AutoNAT dial request.
    BootPeerConnected {
        /// The peer.
        peer: PeerId,
        /// Where, if known.
        addr: Option<Multiaddr>,
    },
    /// Fully connected: a boot peer sent its AutoNAT dial request (or, when configured, it
    /// answered ours).
    Connected {
        /// The boot peer.
        peer: PeerId,
        /// Time since this bootstrap started.
        elapsed: Duration,
    },
    /// The NAT verdict changed.
    NatChanged(NatVerdict),
    /// Every round failed so far; the next starts after `delay`.
    RetryScheduled {
        /// The round that will start.
        round: u32,
        /// The jittered wait.
        delay: Duration,
    },
    /// Every boot connection closed after Connected; bootstrapping again.
    Rebootstrapping,
    /// Our dial-back requests went unanswered (timed out, refused, failed) and none are left
    /// to send in this bootstrap: the verdict stays as it is until new evidence arrives.
    VerdictUnavailable {
        /// Dial-back requests sent in this bootstrap.
        attempts: u32,
    },
    /// Terminal: the machine stopped trying.
    GaveUp(GaveUp),
}
