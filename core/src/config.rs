//! Configuration of a [`crate::BootstrapMachine`]: sources, timeouts, policies.

use std::time::Duration;

use libp2p_identity::PeerId;

use crate::addr::AddressPolicy;
use crate::backoff::Backoff;
use crate::peer::{CachedPeer, KnownPeer};
use crate::signed::SeenSequence;
use crate::snapshot::Snapshot;
use crate::status::Limits;

/// The kinds of source, in the order a bootstrap round visits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceKind {
    /// Cached last-known-good peers.
    Cache,
    /// The boot URLs, each in turn.
    Urls,
    /// The static seed peers.
    Seeds,
}

/// How candidates from one source are ordered before dialing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CandidateOrder {
    /// As the source listed them (the serving boot node first).
    #[default]
    AsListed,
    /// Fewest connected peers first, using `peers_count`; peers without a count go last.
    LeastLoaded,
}

/// What counts as "fully connected".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectedRule {
    /// A boot peer we dialed sent us an AutoNAT dial request (Pyrsia's rule).
    #[default]
    InboundProbeRequest,
    /// That, or a boot peer we dialed answered our own dial-back request.
    InboundOrOwnProbe,
}

/// How far one dial follows `/dnsaddr` names. A `/dnsaddr/<name>` address stands for the
/// `dnsaddr=<multiaddr>` TXT records of `_dnsaddr.<name>`; each may be another `/dnsaddr` (or
/// `/dns`) address, so resolution is recursive, and these bound it (as libp2p's own resolver
/// does). The whole resolution also counts against [`Timeouts::dial`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolveLimits {
    /// Rounds of lookups per dial, the first included: `/dnsaddr` → `/ip4` takes 1,
    /// `/dnsaddr` → `/dnsaddr` → `/ip4` (Kubo's `bootstrap.libp2p.io`) 2.
    pub max_rounds: u8,
    /// Names looked up per dial over all rounds.
    pub max_lookups: usize,
    /// Addresses taken from one name's answer, the rest skipped as
    /// [`crate::SkipReason::TooManyAddrs`] (records naming other peers do not count).
    pub max_addrs_per_name: usize,
}

impl Default for ResolveLimits {
    fn default() -> Self {
        ResolveLimits {
            max_rounds: 4,
            max_lookups: 16,
            max_addrs_per_name: 16,
        }
    }
}

/// Timeouts, one per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From sending a GET to the whole response (Kubo's AutoConf uses 5 s).
    pub http: Duration,
    /// From starting a dial to a connection (Kubo's bootstrap uses 10 s).
    pub dial: Duration,
    /// From a boot connection to that peer's AutoNAT dial request.
    pub inbound_probe: Duration,
    /// From our dial-back request to its answer (go-libp2p's server dial timeout is 15 s).
    pub own_probe: Duration,
    /// After a boot peer refused our dial-back request (AutoNAT servers throttle per second,
    /// so a busy one refuses), wait a random time in [half of this, this] before asking again.
    pub own_probe_retry: Duration,
}

impl Timeouts {
    /// The defaults, as a constant (drivers check their own timeouts against them at compile
    /// time).
    pub const DEFAULT: Timeouts = Timeouts {
        http: Duration::from_secs(5),
        dial: Duration::from_secs(10),
        inbound_probe: Duration::from_secs(10),
        own_probe: Duration::from_secs(15),
        own_probe_retry: Duration::from_secs(2),
    };
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::DEFAULT
    }
}

/// Everything a [`crate::BootstrapMachine`] needs to know up front.
#[derive(Debug, Clone)]
pub struct Config {
    /// This node's id: boot entries naming it are skipped.
    pub local_peer: Option<PeerId>,
    /// Boot URLs (`http://host/status`), tried in order.
    pub boot_urls: Vec<String>,
    /// Static seed peers.
    pub seeds: Vec<KnownPeer>,
    /// Last-known-good peers from a previous run (see [`Config::restore`]), newest first.
    pub cache: Vec<CachedPeer>,
    /// Cached peers last seen longer ago than this are not tried (Bitcoin Core's address
    /// manager gives up on addresses unseen for 30 days; so do we by default). Only applies
    /// when both [`Config::unix_time`] and the entry's time are known.
    pub max_cache_age: Duration,
    /// The wall clock, in seconds since the Unix epoch, at the instant given to
    /// [`crate::BootstrapMachine::new`]. The machine never reads a clock; with this it stamps
    /// cached peers with the time they were last seen and ages out old ones.
    pub unix_time: Option<u64>,
    /// The order sources are visited in each round; default cache, URLs, seeds (Bitcoin Core's
    /// order: what worked before, then the published list, then the built-in fallback).
    pub source_order: Vec<SourceKind>,
    /// Caps for boot documents.
    pub limits: Limits,
    /// Which address classes may be dialed.
    pub policy: AddressPolicy,
    /// Pinned boot peers (`--boot-peer`): when not empty, only these identities are dialed,
    /// whichever source names them; entries naming others are skipped as not pinned.
    pub pinned: Vec<PeerId>,
    /// Trusted signers of boot documents (`--trust`): when not empty, a boot URL's document is
    /// used only when one of these keys signed it, it has not expired by [`Config::unix_time`]
    /// and its sequence is not below one already seen (see [`crate::signing`]).
    pub trusted: Vec<libp2p_identity::PublicKey>,
    /// The highest sequence seen per signer in earlier runs (see [`Config::restore`]).
    pub boot_sequences: Vec<SeenSequence>,
    /// How candidates are ordered.
    pub candidate_order: CandidateOrder,
    /// Most dials in flight at once (at least 1).
    pub max_concurrent_dials: usize,
    /// What counts as connected.
    pub connected_rule: ConnectedRule,
    /// Per-step timeouts.
    pub timeouts: Timeouts,
    /// How far a dial follows `/dnsaddr` names.
    pub resolve: ResolveLimits,
    /// Waits between rounds.
    pub backoff: Backoff,
    /// Overall time for one bootstrap, from its start to Connected.
    pub budget: Duration,
    /// Dial-back requests sent per bootstrap while the verdict is unknown.
    pub own_probe_attempts: u32,
    /// Good peers kept in the snapshot.
    pub max_good_peers: usize,
    /// The NAT verdict from a previous run, reported until evidence replaces it.
    pub restored_nat: Option<crate::nat::NatVerdict>,
    /// Seed of the jitter RNG. Give each process a different one (the driver may draw it from
    /// the OS); the same seed replays the same schedule.
    pub rng_seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            local_peer: None,
            boot_urls: Vec::new(),
            seeds: Vec::new(),
            cache: Vec::new(),
            max_cache_age: Duration::from_secs(30 * 24 * 3600),
            unix_time: None,
            source_order: vec![SourceKind::Cache, SourceKind::Urls, SourceKind::Seeds],
            limits: Limits::default(),
            policy: AddressPolicy::default(),
            pinned: Vec::new(),
            trusted: Vec::new(),
            boot_sequences: Vec::new(),
            candidate_order: CandidateOrder::default(),
            max_concurrent_dials: 3,
            connected_rule: ConnectedRule::default(),
            timeouts: Timeouts::default(),
            resolve: ResolveLimits::default(),
            backoff: Backoff::default(),
            budget: Duration::from_secs(60),
            own_probe_attempts: 3,
            max_good_peers: 16,
            restored_nat: None,
            rng_seed: 0,
        }
    }
}

/// The smallest step duration the machine uses; zero timeouts would make deadlines that are
/// already due when they are armed.
const MIN_STEP: Duration = Duration::from_millis(1);

impl Config {
    /// A configuration that fetches `urls` in order, with every other setting at its default.
    pub fn with_urls<I, S>(urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Config {
            boot_urls: urls.into_iter().map(Into::into).collect(),
            ..Config::default()
        }
    }

    /// Takes cached peers, the last verdict and the boot-document sequences seen from a
    /// snapshot of a previous run.
    pub fn restore(&mut self, snapshot: Snapshot) {
        self.cache = snapshot.good_peers;
        self.restored_nat = Some(snapshot.nat);
        self.boot_sequences = snapshot.boot_sequences;
    }

    /// The configuration with every duration raised to at least 1 ms and every count to at
    /// least 1 where zero would mean "never".
    pub(crate) fn sanitized(mut self) -> Self {
        let t = &mut self.timeouts;
        for d in [
            &mut t.http,
            &mut t.dial,
            &mut t.inbound_probe,
            &mut t.own_probe,
            &mut t.own_probe_retry,
        ] {
            *d = (*d).max(MIN_STEP);
        }
        self.budget = self.budget.max(MIN_STEP);
        self.backoff.max_rounds = self.backoff.max_rounds.max(1);
        self.max_concurrent_dials = self.max_concurrent_dials.max(1);
        self
    }
}
