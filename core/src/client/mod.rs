//! [`BootstrapMachine`]: from "just started" to "connected, and I know whether I'm reachable".
//!
//! One bootstrap walks the sources in rounds (cache, boot URLs, seeds by default). A source
//! yields candidates; candidates are dialed, a few at a time; a connected boot peer is asked for
//! a dial-back and is expected to send us its own AutoNAT dial request. The first such request
//! from a peer we dialed is "Connected". A round in which every source fails ends in a jittered
//! wait (RFC 8489's schedule), and the bootstrap gives up after `max_rounds` rounds or when its
//! time budget runs out. When every boot connection closes after Connected, a new bootstrap
//! starts.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;
use std::time::Instant;

use libp2p_identity::PeerId;
use multiaddr::Multiaddr;

use crate::addr::{classify, is_dns_name};
use crate::backoff::SeededRng;
use crate::config::{CandidateOrder, Config, ConnectedRule, SourceKind};
use crate::errors::{DialError, HttpError, ProbeError, ResolveError, ResolveLimit};
use crate::ids::{DialId, ProbeId, RequestId};
use crate::io::{Action, Input};
use crate::nat::{Family, NatBehaviour, NatReport, NatVerdict};
use crate::peer::{CachedPeer, KnownPeer};
use crate::report::{
    is_permanent_http_status, ConnectedBy, Event, Failure, GaveUp, GiveUpReason, Repeated,
    SourceName, Tried,
};
use crate::signed::{record_sequence, SeenSequence, Trust, MAX_SEQUENCES};
use crate::snapshot::Snapshot;
use crate::status::{parse_status, BootList, ParseOptions, SkipCounts, SkipReason};

mod attempt;
mod candidates;
mod contacted;
mod ctx;
mod inputs;
mod lifecycle;
mod links;
mod prober;
mod probing;
mod resolve;
mod source;
mod status;
mod timers;
mod verdict;

pub use status::{Counters, PhaseName, Status};

use attempt::{Attempt, Life, Phase};
use candidates::{fill_dials, known_candidates, list_candidates, Candidate};
use contacted::Contacted;
use ctx::Ctx;
use links::{BootConn, Links, PendingDial, Resolution};
use prober::{Concluded, OwnProbe, ProbeBudget, Prober};
use source::Source;
use verdict::{DialBacks, DIAL_BACK_GRACE, MAX_UNVERIFIED_PEERS, STRANGER_SETTLE};

/// Distinct failures kept for the [`GaveUp`] report; later new ones are only counted.
const MAX_TRIED: usize = 64;

/// Deadlines fired in one call before the machine stops to let the driver run. Each firing
/// removes a deadline or moves the schedule forward, so this is a guard, not a limit that
/// normal operation reaches.
const MAX_FIRINGS_PER_CALL: usize = 10_000;

/// The sans-IO bootstrap state machine. See the crate docs for the driver loop.
#[derive(Debug)]
pub struct BootstrapMachine {
    ctx: Ctx,
    links: Links,
    prober: Prober,
    /// Bootstrapping (with its attempt), connected, or given up.
    life: Life,
}

impl BootstrapMachine {
    /// A machine that starts its first bootstrap at `now`. Its first actions are ready at once.
    pub fn new(config: Config, now: Instant) -> Self {
        let config = config.sanitized();
        let (nat, nat_stale) = match config.restored_nat.clone() {
            Some(v) => (v, true),
            None => (NatVerdict::Unknown, false),
        };
        let mut machine = BootstrapMachine {
            ctx: Ctx::new(config, now),
            links: Links::default(),
            prober: Prober::new(nat, nat_stale),
            // Replaced at once by the first bootstrap's attempt.
            life: Life::GaveUp { round: 0 },
        };
        machine.start_bootstrap();
        machine.settle();
        machine
    }

    /// Feeds one input. Every deadline at or before `now` fires first. A `now` earlier than a
    /// previous one is treated as the previous one (time never goes backwards here).
    pub fn handle(&mut self, now: Instant, input: Input) {
        if now > self.ctx.now {
            self.ctx.now = now;
        }
        if self.gave_up() {
            return;
        }
        self.settle();
        if self.gave_up() {
            return;
        }
        self.on_input(input);
        self.settle();
        self.end_of_probing();
    }

    /// The next action for the driver, if any. Drain until `None` after every `handle`.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.ctx.actions.pop_front()
    }

    /// When the machine next needs [`Input::Tick`]: the last `now` while actions are queued,
    /// otherwise the earliest deadline; `None` when nothing will happen unless an input arrives.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.ctx.actions.is_empty() {
            return Some(self.ctx.now);
        }
        self.next_deadline()
    }

    /// A snapshot for status pages.
    pub fn status(&self) -> Status {
        Status {
            phase: self.phase_name(),
            boot_peer: match self.life {
                Life::Connected { boot_peer, .. } => boot_peer,
                _ => None,
            },
            boot_connections: self.links.conns.len(),
            round: match &self.life {
                Life::Bootstrapping(attempt) => attempt.round,
                Life::Connected { round, .. } | Life::GaveUp { round } => *round,
            },
            nat: self.prober.nat.verdict.clone(),
            nat_stale: self.prober.nat_stale,
            behaviour: self.prober.behaviour,
            verdict_pending: self.verdict_pending(),
            ipv4: self.prober.nat.ipv4.clone(),
            ipv6: self.prober.nat.ipv6.clone(),
            counters: self.ctx.counters,
        }
    }

    /// The configuration in force (after sanitizing).
    pub fn config(&self) -> &Config {
        &self.ctx.config
    }

    fn phase_name(&self) -> PhaseName {
        match &self.life {
            Life::Bootstrapping(attempt) => match attempt.phase {
                Phase::AwaitingStatus { .. } => PhaseName::AwaitingStatus,
                Phase::AwaitingDial => PhaseName::AwaitingDial,
                Phase::AwaitingProbe => PhaseName::AwaitingProbe,
                Phase::AwaitingRetry { .. } => PhaseName::AwaitingRetry,
            },
            Life::Connected { .. } => PhaseName::Connected,
            Life::GaveUp { .. } => PhaseName::GaveUp,
        }
    }

    fn bootstrapping(&self) -> bool {
        matches!(self.life, Life::Bootstrapping(_))
    }

    fn gave_up(&self) -> bool {
        matches!(self.life, Life::GaveUp { .. })
    }

    /// The attempt under way, if bootstrapping.
    fn attempt_mut(&mut self) -> Option<&mut Attempt> {
        match &mut self.life {
            Life::Bootstrapping(attempt) => Some(attempt),
            _ => None,
        }
    }

    /// Moves the attempt forward while its phase has nothing to wait for.
    fn advance(&mut self) {
        let Life::Bootstrapping(attempt) = &mut self.life else {
            return;
        };
        let listening = self.prober.listening.as_ref();
        if let Err(reason) = attempt.advance(&mut self.ctx, &mut self.links, listening) {
            self.give_up(reason);
        }
    }
}
