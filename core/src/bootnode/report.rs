//! What the boot-node machine reports for metrics and logs.

use std::time::Duration;

use libp2p_identity::PeerId;
use multiaddr::Multiaddr;

use crate::errors::RequestFailure;

/// How a dial request to a newly connected peer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DialRequestOutcome {
    /// The peer dialed us back at this address.
    Reachable(Multiaddr),
    /// The peer tried to dial us back and could not.
    DialError,
    /// The peer refused to try.
    Refused,
    /// The peer's server failed, or the request did not complete.
    Failed,
    /// No answer within [`crate::BootNodeConfig::dial_request_timeout`].
    TimedOut,
    /// The peer disconnected before answering.
    PeerLeft,
}

impl DialRequestOutcome {
    /// A short name, for metric labels: `reachable`, `dial_error`, `refused`, `failed`,
    /// `timed_out`, `peer_left`.
    pub fn name(&self) -> &'static str {
        match self {
            DialRequestOutcome::Reachable(_) => "reachable",
            DialRequestOutcome::DialError => "dial_error",
            DialRequestOutcome::Refused => "refused",
            DialRequestOutcome::Failed => "failed",
            DialRequestOutcome::TimedOut => "timed_out",
            DialRequestOutcome::PeerLeft => "peer_left",
        }
    }
}

/// Reports of the boot-node machine, for metrics and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BootNodeEvent {
    /// A dial request went to a newly connected peer.
    DialRequestSent {
        /// The peer.
        peer: PeerId,
    },
    /// A dial request ended.
    DialRequestEnded {
        /// The peer.
        peer: PeerId,
        /// How.
        outcome: DialRequestOutcome,
        /// Time since it was sent.
        after: Duration,
    },
    /// A `/status` document was served.
    StatusServed {
        /// Whether it carried a signature.
        signed: bool,
    },
    /// A signature was made (one per distinct peer list, renewed as it ages).
    Signed {
        /// Its expiry, Unix seconds.
        expires_at: u64,
    },
    /// A signing job failed or timed out; lists without a valid signature are served unsigned.
    SigningFailed {
        /// Why.
        reason: String,
    },
    /// An AutoNAT v1 dial request was answered.
    DialBackServed {
        /// The asker.
        peer: PeerId,
        /// `reachable`, `reachable_from_own_address_only`, `unreachable`, `refused`,
        /// `bad_request`.
        outcome: &'static str,
        /// Time from the request to the answer.
        after: Duration,
    },
    /// A load question to a member failed.
    LoadFailed {
        /// The member.
        member: PeerId,
        /// Why.
        error: RequestFailure,
    },
}
