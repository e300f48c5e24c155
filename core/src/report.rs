//! What the client machine reports: events for the application's timeline, the failures
//! behind them, and the terminal give-up report.

use std::fmt;
use std::time::Duration;

use libp2p_identity::PeerId;
use multiaddr::Multiaddr;

use crate::errors::{DialError, HttpError, UrlError};
use crate::nat::{NatBehaviour, NatReport};
use crate::status::{SkipCounts, StatusError};

/// Whether an HTTP status says the URL will not work however often it is asked: a 4xx other
/// than 408 (Request Timeout) and 429 (Too Many Requests). A 404 or 410 from a boot URL means
/// it is misconfigured or gone; asking it again every round only costs time.
pub fn is_permanent_http_status(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

fn permanence(status: u16) -> &'static str {
    if is_permanent_http_status(status) {
        " (not asked again in this bootstrap)"
    } else {
        ""
    }
}

/// Where boot candidates came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
#[non_exhaustive]
pub enum Failure {
    /// The boot URL cannot be fetched at all; it is not tried again in this bootstrap.
    #[error("not a usable boot URL: {0}")]
    BadUrl(UrlError),
    /// The HTTP request failed. An [`HttpError::InvalidUrl`] takes the URL out of the rest of
    /// this bootstrap.
    #[error("{0}")]
    Http(HttpError),
    /// No response within the HTTP timeout.
    #[error("no response within {0:?}")]
    HttpTimeout(Duration),
    /// The server answered with a non-2xx status. A permanent one (see
    /// [`is_permanent_http_status`]) takes the URL out of the rest of this bootstrap.
    #[error("HTTP status {status}{why}", status = .0, why = permanence(*.0))]
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

/// What made a bootstrap fully connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectedBy {
    /// The boot peer sent its AutoNAT dial request (Pyrsia's rule, always honoured).
    InboundProbeRequest,
    /// The boot peer gave a believed answer to our own dial-back request: at once under
    /// [`crate::ConnectedRule::InboundOrOwnProbe`], otherwise once its own request is overdue.
    /// A go-libp2p boot node that already knows its reachability probes new peers only every
    /// 15–30 min, so it may never ask; its answer to ours still shows the path works both
    /// ways.
    OwnProbeAnswered,
}

impl ConnectedBy {
    /// "inbound_probe_request", "own_probe_answered".
    pub fn name(self) -> &'static str {
        match self {
            ConnectedBy::InboundProbeRequest => "inbound_probe_request",
            ConnectedBy::OwnProbeAnswered => "own_probe_answered",
        }
    }
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
#[non_exhaustive]
pub enum GiveUpReason {
    /// No boot URL, no seed and no cached peer was configured.
    NoSources,
    /// Every round of every source failed, [`crate::Backoff::max_rounds`] times.
    RoundsExhausted,
    /// The overall budget for one bootstrap ran out.
    BudgetExhausted,
    /// Every source left was a boot URL that failed permanently (HTTP 4xx other than 408 and
    /// 429): another round would ask nobody.
    NothingLeftToTry,
}

/// One distinct failure and how often it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeated {
    /// The source and what failed there.
    pub tried: Tried,
    /// How many times (at least 1).
    pub times: u32,
}

impl fmt::Display for Repeated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.tried)?;
        if self.times > 1 {
            write!(f, " (\u{d7}{})", self.times)?;
        }
        Ok(())
    }
}

/// The terminal failure report: why, and everything that was tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaveUp {
    /// Why the machine stopped.
    pub reason: GiveUpReason,
    /// Rounds started.
    pub rounds: u32,
    /// What was tried, each distinct failure once (in the order it first happened) with how
    /// often; at most 64 distinct failures.
    pub tried: Vec<Repeated>,
    /// Failures not kept in `tried` because of its cap.
    pub omitted: u32,
}

impl GaveUp {
    /// Every failure, repeats counted.
    pub fn failures(&self) -> u32 {
        self.tried
            .iter()
            .fold(self.omitted, |n, r| n.saturating_add(r.times))
    }
}

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.reason {
            GiveUpReason::NoSources => "no boot URL, seed or cached peer is configured",
            GiveUpReason::RoundsExhausted => "every source failed in every round",
            GiveUpReason::BudgetExhausted => "the bootstrap time budget ran out",
            GiveUpReason::NothingLeftToTry => "every boot URL failed permanently",
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
#[non_exhaustive]
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
    /// Fully connected: a boot peer sent its AutoNAT dial request, or answered ours (see
    /// [`ConnectedBy`]).
    Connected {
        /// The boot peer.
        peer: PeerId,
        /// Time since this bootstrap started.
        elapsed: Duration,
        /// Which signal it was.
        by: ConnectedBy,
    },
    /// A NAT verdict changed: the whole one, or one family's (the report carries both).
    NatChanged(NatReport),
    /// What is known of the NAT's mapping and filtering, or how the verdict was checked,
    /// changed.
    NatBehaviourChanged(NatBehaviour),
    /// A boot peer answered our dial-back request with OK, but no dial-back connection from it
    /// arrived: the answer is not believed (some servers answer OK without dialing).
    DialBackUnverified {
        /// The peer that answered.
        peer: PeerId,
    },
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
