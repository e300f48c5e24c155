//! What went wrong in the world, as the driver saw it. These come in as inputs (IO failures
//! are inputs like any other); the machines decide what they mean.

use libp2p_identity::PeerId;

use crate::status::SkipCounts;

/// Why an HTTP request failed, as the driver saw it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
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

/// Why a boot URL cannot be fetched at all ([`crate::check_boot_url`]). Such a URL is never
/// requested and never retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// It contains whitespace or a control character.
    #[error("it contains whitespace or a control character")]
    Whitespace,
    /// No `scheme://` in front (`boot.example.org/status`).
    #[error("no scheme: write http://HOST/status or https://HOST/status")]
    NoScheme,
    /// A scheme other than `http` or `https` (at most 16 characters of it).
    #[error("scheme {0} is not supported (use http:// or https://)")]
    UnsupportedScheme(String),
    /// Nothing between `://` and the path.
    #[error("no host")]
    NoHost,
    /// The host is neither a DNS name, an IPv4 literal nor a bracketed IPv6 literal.
    #[error("the host is not a DNS name or an IP address")]
    BadHost,
    /// The port is not a number from 1 to 65535.
    #[error("the port is not a number from 1 to 65535")]
    BadPort,
}

/// Why one DNS name of an [`crate::Action::Resolve`] gave no address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The lookup worked but gave no address of the family the multiaddr asks for.
    #[error("{host} has no address of the family asked for")]
    NoAddress {
        /// The name looked up.
        host: String,
    },
    /// The lookup itself failed (no such name, no resolver, timeout).
    #[error("{host}: {reason}")]
    Lookup {
        /// The name looked up.
        host: String,
        /// The resolver's message.
        reason: String,
    },
    /// The address handed to the driver does not start with `/dns`, `/dns4`, `/dns6` or
    /// `/dnsaddr`.
    #[error("{0} does not start with a DNS name")]
    NotAName(String),
    /// A `/dnsaddr` name led to a name that one dial does not follow: it was not looked up.
    #[error("{name}: not followed, past the /dnsaddr limits ({why})")]
    NotFollowed {
        /// The name left unresolved.
        name: String,
        /// Which limit.
        why: ResolveLimit,
    },
}

/// Why a name in a `/dnsaddr` answer was not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveLimit {
    /// [`crate::ResolveLimits::max_rounds`] rounds were already looked up.
    #[error("depth")]
    Depth,
    /// [`crate::ResolveLimits::max_lookups`] names were already looked up for this dial.
    #[error("lookups")]
    Lookups,
    /// The name was looked up before in this dial's resolution.
    #[error("loop")]
    Loop,
}

/// Why a dial failed, as the driver (or the machine, before dialing) saw it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
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
    /// Every DNS name of the peer failed to resolve.
    #[error("DNS resolution failed: {}", join(.0))]
    Unresolved(Vec<ResolveError>),
    /// The DNS names resolved, but only to addresses the policy refuses.
    #[error("DNS names resolved to no dialable address ({0})")]
    ResolvedToNothing(SkipCounts),
    /// The local swarm refused the dial (a connection limit, a behaviour's veto).
    #[error("denied locally: {0}")]
    Denied(String),
    /// Anything else (upgrade failure, aborted).
    #[error("{0}")]
    Other(String),
}

fn join(errors: &[ResolveError]) -> String {
    let parts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

/// Why a request-response exchange did not complete (libp2p's outbound failures).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestFailure {
    /// No answer within the transport's request timeout.
    #[error("no answer in time")]
    Timeout,
    /// The connection closed before the answer.
    #[error("the connection closed first")]
    ConnectionClosed,
    /// The peer does not speak the protocol.
    #[error("the peer does not speak the protocol")]
    Unsupported,
    /// The peer could not be reached to send the request.
    #[error("the peer could not be reached")]
    Unreachable,
    /// The stream failed (a reset, a malformed message).
    #[error("stream error: {0}")]
    Stream(String),
}

/// Why an AutoNAT dial-back request did not confirm an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The server tried to dial back and could not: evidence that the asker is not reachable.
    #[error("the server could not dial back")]
    DialBackFailed,
    /// The server refused to try (throttled, no addresses it would dial).
    #[error("the server refused the dial-back request")]
    Refused,
    /// The server answered that it failed (bad request, internal error), with its text.
    #[error("the server failed: {0}")]
    ServerFailed(String),
    /// The request itself did not complete.
    #[error("the dial-back request failed: {0}")]
    Request(RequestFailure),
}
