//! [`BootstrapMachine`]: from "just started" to "connected, and I know whether I'm reachable".
//!
//! One bootstrap walks the sources in rounds (cache, boot URLs, seeds by default). A source
//! yields candidates; candidates are dialed, a few at a time; a connected boot peer is asked for
//! a dial-back and is expected to send us its own AutoNAT dial request. The first such request
//! from a peer we dialed is "Connected". A round in which every source fails ends in a jittered
//! wait (RFC 8489's schedule), and the bootstrap gives up after `max_rounds` rounds or when its
//! time budget runs out. When every boot connection closes after Connected, a new bootstrap
//! starts.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use libp2p_identity::PeerId;
use multiaddr::Multiaddr;

use crate::addr::classify;
use crate::backoff::SeededRng;
use crate::config::{CandidateOrder, Config, ConnectedRule, KnownPeer, SourceKind};
use crate::io::{
    Action, DialError, DialId, Event, Failure, GaveUp, GiveUpReason, Input, ProbeError, RequestId,
    SourceName, Tried,
};
use crate::nat::NatVerdict;
use crate::snapshot::Snapshot;
use crate::status::{parse_status, BootList, ParseOptions, SkipCounts, SkipReason};

/// Failures kept for the [`GaveUp`] report; later ones are only counted.
const MAX_TRIED: usize = 64;

/// Deadlines fired in one call before the machine stops to let the driver run. Each firing
/// removes a deadline or moves the schedule forward, so this is a guard, not a limit that
/// normal operation reaches.
const MAX_FIRINGS_PER_CALL: usize = 10_000;

/// The phase of the current bootstrap, named after what it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseName {
    /// Waiting for a boot URL's response.
    AwaitingStatus,
    /// Waiting for dials to complete.
    AwaitingDial,
    /// Connected to a boot peer; waiting for its AutoNAT dial request.
    AwaitingProbe,
    /// Every source failed this round; waiting to start the next.
    AwaitingRetry,
    /// Fully connected.
    Connected,
    /// Stopped trying (terminal).
    GaveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitingStatus {
        request: RequestId,
        url: usize,
        deadline: Instant,
    },
    /// Dials and boot connections carry their own deadlines.
    AwaitingDial,
    AwaitingProbe,
    AwaitingRetry {
        deadline: Instant,
    },
    Connected,
    GaveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Cache,
    Url(usize),
    Seeds,
}

#[derive(Debug, Clone)]
struct Candidate {
    peer: PeerId,
    addrs: Vec<Multiaddr>,
    load: Option<u32>,
    source: Source,
}

#[derive(Debug, Clone)]
struct PendingDial {
    peer: PeerId,
    addrs: Vec<Multiaddr>,
    source: Source,
    deadline: Instant,
}

#[derive(Debug, Clone)]
struct BootConn {
    addrs: Vec<Multiaddr>,
    source: Source,
    /// When the peer must have sent its AutoNAT dial request (ignored after Connected).
    probe_deadline: Instant,
}

#[derive(Debug, Clone, Copy)]
struct OwnProbe {
    peer: PeerId,
    deadline: Instant,
}

/// Counters for status pages and metrics; they only grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Bootstraps started (1 + re-bootstraps).
    pub bootstraps: u32,
    /// Rounds started over all bootstraps.
    pub rounds: u32,
    /// Boot documents requested.
    pub fetches: u32,
    /// Boot URL attempts that failed (HTTP error, timeout, status, bad document).
    pub fetch_failures: u32,
    /// Dials started.
    pub dials: u32,
    /// Dials that failed or timed out.
    pub dial_failures: u32,
    /// Connections to boot peers.
    pub boot_connections: u32,
    /// AutoNAT dial requests received from boot peers we dialed.
    pub inbound_probes: u32,
    /// Dial-back requests we sent.
    pub own_probes: u32,
    /// Inputs ignored: unknown or stale ids, peers we never dialed, late answers.
    pub ignored_inputs: u32,
    /// Boot entries skipped, per reason, over every source.
    pub skipped: SkipCounts,
}

/// A snapshot of the machine for status pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// What the machine waits for now.
    pub phase: PhaseName,
    /// The peer through which the current bootstrap reached Connected.
    pub boot_peer: Option<PeerId>,
    /// Boot peers currently connected.
    pub boot_connections: usize,
    /// Current round of the current bootstrap (0-based).
    pub round: u32,
    /// The NAT verdict.
    pub nat: NatVerdict,
    /// Whether `nat` comes from a previous run and has not been confirmed in this one.
    pub nat_stale: bool,
    /// Counters.
    pub counters: Counters,
}

/// The sans-IO bootstrap state machine. See the crate docs for the driver loop.
#[derive(Debug)]
pub struct BootstrapMachine {
    config: Config,
    now: Instant,
    rng: SeededRng,
    next_id: u64,
    actions: VecDeque<Action>,
    phase: Phase,
    // One bootstrap.
    started: Instant,
    round: u32,
    sources: Vec<Source>,
    cursor: usize,
    /// The source whose candidates are being dialed.
    current: Option<Source>,
    candidates: VecDeque<Candidate>,
    dials: BTreeMap<DialId, PendingDial>,
    boot_conns: BTreeMap<PeerId, BootConn>,
    boot_peer: Option<PeerId>,
    tried: Vec<Tried>,
    omitted: u32,
    own_probes_left: u32,
    // Across bootstraps.
    own_probe: Option<OwnProbe>,
    nat: NatVerdict,
    nat_stale: bool,
    good_peers: Vec<KnownPeer>,
    counters: Counters,
}

impl BootstrapMachine {
    /// A machine that starts its first bootstrap at `now`. Its first actions are ready at once.
    pub fn new(config: Config, now: Instant) -> Self {
        let config = config.sanitized();
        let mut good_peers = config.cache.clone();
        good_peers.truncate(config.max_good_peers);
        let (nat, nat_stale) = match config.restored_nat.clone() {
            Some(v) => (v, true),
            None => (NatVerdict::Unknown, false),
        };
        let mut machine = BootstrapMachine {
            rng: SeededRng::new(config.rng_seed),
            config,
            now,
            next_id: 1,
            actions: VecDeque::new(),
            phase: Phase::AwaitingDial,
            started: now,
            round: 0,
            sources: Vec::new(),
            cursor: 0,
            current: None,
            candidates: VecDeque::new(),
            dials: BTreeMap::new(),
            boot_conns: BTreeMap::new(),
            boot_peer: None,
            tried: Vec::new(),
            omitted: 0,
            own_probes_left: 0,
            own_probe: None,
            nat,
            nat_stale,
            good_peers,
            counters: Counters::default(),
        };
        machine.start_bootstrap();
        machine.settle();
        machine
    }

    /// Feeds one input. Every deadline at or before `now` fires first. A `now` earlier than a
    /// previous one is treated as the previous one (time never goes backwards here).
    pub fn handle(&mut self, now: Instant, input: Input) {
        if now > self.now {
            self.now = now;
        }
        if self.phase == Phase::GaveUp {
            return;
        }
        self.settle();
        if self.phase == Phase::GaveUp {
            return;
        }
        self.on_input(input);
        self.settle();
    }

    /// The next action for the driver, if any. Drain until `None` after every `handle`.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When the machine next needs [`Input::Tick`]: the last `now` while actions are queued,
    /// otherwise the earliest deadline; `None` when nothing will happen unless an input arrives.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.actions.is_empty() {
            return Some(self.now);
        }
        self.next_deadline()
    }

    /// A snapshot for status pages.
    pub fn status(&self) -> Status {
        Status {
            phase: self.phase_name(),
            boot_peer: self.boot_peer,
            boot_connections: self.boot_conns.len(),
            round: self.round,
            nat: self.nat.clone(),
            nat_stale: self.nat_stale,
            counters: self.counters,
        }
    }

    /// The configuration in force (after sanitizing).
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn phase_name(&self) -> PhaseName {
        match self.phase {
            Phase::AwaitingStatus { .. } => PhaseName::AwaitingStatus,
            Phase::AwaitingDial => PhaseName::AwaitingDial,
            Phase::AwaitingProbe => PhaseName::AwaitingProbe,
            Phase::AwaitingRetry { .. } => PhaseName::AwaitingRetry,
            Phase::Connected => PhaseName::Connected,
            Phase::GaveUp => PhaseName::GaveUp,
        }
    }

    fn bootstrapping(&self) -> bool {
        !matches!(self.phase, Phase::Connected | Phase::GaveUp)
    }

    fn budget_deadline(&self) -> Instant {
        self.started + self.config.budget
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        match self.phase {
            Phase::AwaitingStatus { deadline, .. } | Phase::AwaitingRetry { deadline } => {
                consider(deadline)
            }
            Phase::GaveUp => return None,
            _ => {}
        }
        if self.bootstrapping() {
            consider(self.budget_deadline());
            self.dials.values().for_each(|d| consider(d.deadline));
            self.boot_conns
                .values()
                .for_each(|c| consider(c.probe_deadline));
        }
        if let Some(p) = self.own_probe {
            consider(p.deadline);
        }
        next
    }

    fn alloc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn push(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    fn report(&mut self, event: Event) {
        self.push(Action::Report(event));
    }

    // ---- driving ---------------------------------------------------------------------------

    /// Fires due deadlines and moves the bootstrap forward until it waits for something.
    fn settle(&mut self) {
        for _ in 0..MAX_FIRINGS_PER_CALL {
            self.advance();
            if !self.fire_one_deadline() {
                return;
            }
        }
        // Invariant: every firing removes a deadline or pushes one into the future, so the
        // loop ends long before the guard; reaching it means a deadline re-arms at `now`.
        tracing::error!("deadline guard reached; some deadline re-arms at now");
    }

    /// Fires the first due deadline, if any. Returns whether one fired.
    fn fire_one_deadline(&mut self) -> bool {
        let now = self.now;
        if self.phase == Phase::GaveUp {
            return false;
        }
        if self.bootstrapping() && now >= self.budget_deadline() {
            self.give_up(GiveUpReason::BudgetExhausted);
            return true;
        }
        match self.phase {
            Phase::AwaitingStatus {
                request,
                url,
                deadline,
            } if now >= deadline => {
                self.push(Action::CancelFetch { request });
                let after = self.config.timeouts.http;
                self.fail_source(Source::Url(url), Failure::HttpTimeout(after));
                return true;
            }
            Phase::AwaitingRetry { deadline } if now >= deadline => {
                self.start_round();
                return true;
            }
            _ => {}
        }
        if self.bootstrapping() {
            if let Some((&dial, _)) = self.dials.iter().find(|(_, d)| now >= d.deadline) {
                if let Some(d) = self.dials.remove(&dial) {
                    self.push(Action::CancelDial { dial });
                    self.counters.dial_failures += 1;
                    let after = self.config.timeouts.dial;
                    self.note_dial_failure(
                        d.source,
                        Failure::DialTimeout {
                            peer: d.peer,
                            after,
                        },
                    );
                }
                return true;
            }
            if let Some((&peer, _)) = self
                .boot_conns
                .iter()
                .find(|(_, c)| now >= c.probe_deadline)
            {
                if let Some(c) = self.drop_boot_conn(peer) {
                    self.push(Action::Disconnect { peer });
                    let after = self.config.timeouts.inbound_probe;
                    self.note_dial_failure(c.source, Failure::NoInboundProbe { peer, after });
                }
                return true;
            }
        }
        if let Some(p) = self.own_probe {
            if now >= p.deadline {
                self.own_probe = None;
                self.request_own_probe();
                return true;
            }
        }
        false
    }

    /// Moves forward while the current phase has nothing to wait for.
    fn advance(&mut self) {
        // Each pass either returns or consumes a source, and sources are finite per round.
        loop {
            match self.phase {
                Phase::Connected
                | Phase::GaveUp
                | Phase::AwaitingStatus { .. }
                | Phase::AwaitingRetry { .. } => return,
                Phase::AwaitingDial | Phase::AwaitingProbe => {
                    if !self.boot_conns.is_empty() {
                        self.phase = Phase::AwaitingProbe;
                        return;
                    }
                    self.phase = Phase::AwaitingDial;
                    self.fill_dials();
                    if !self.dials.is_empty() {
                        return;
                    }
                    self.next_source();
                }
            }
        }
    }

    fn start_bootstrap(&mut self) {
        self.counters.bootstraps += 1;
        self.started = self.now;
        self.round = 0;
        self.tried.clear();
        self.omitted = 0;
        self.boot_peer = None;
        self.own_probes_left = self.config.own_probe_attempts;
        self.sources.clear();
        for kind in self.config.source_order.clone() {
            match kind {
                SourceKind::Cache if !self.good_peers.is_empty() => {
                    self.sources.push(Source::Cache)
                }
                SourceKind::Urls => {
                    self.sources
                        .extend((0..self.config.boot_urls.len()).map(Source::Url));
                }
                SourceKind::Seeds if !self.config.seeds.is_empty() => {
                    self.sources.push(Source::Seeds)
                }
                _ => {}
            }
        }
        // A source kind listed twice would be visited twice per round; keep the first.
        let mut seen = Vec::new();
        self.sources.retain(|s| {
            let new = !seen.contains(s);
            seen.push(*s);
            new
        });
        if self.sources.is_empty() {
            self.give_up(GiveUpReason::NoSources);
            return;
        }
        self.counters.rounds += 1;
        self.cursor = 0;
        self.current = None;
        self.phase = Phase::AwaitingDial;
    }

    fn start_round(&mut self) {
        self.counters.rounds += 1;
        self.cursor = 0;
        self.current = None;
        self.phase = Phase::AwaitingDial;
    }

    /// Opens the next source of the round, or ends the round.
    fn next_source(&mut self) {
        let Some(&source) = self.sources.get(self.cursor) else {
            self.round_failed();
            return;
        };
        self.cursor += 1;
        self.current = Some(source);
        match source {
            Source::Url(i) => {
                let request = RequestId(self.alloc_id());
                let url = self.config.boot_urls[i].clone();
                self.counters.fetches += 1;
                self.push(Action::FetchStatus {
                    request,
                    url,
                    max_body_bytes: self.config.limits.max_body_bytes,
                });
                self.phase = Phase::AwaitingStatus {
                    request,
                    url: i,
                    deadline: self.now + self.config.timeouts.http,
                };
            }
            Source::Cache | Source::Seeds => {
                let known = if source == Source::Cache {
                    self.good_peers.clone()
                } else {
                    self.config.seeds.clone()
                };
                let mut skipped = SkipCounts::default();
                let candidates = self.known_candidates(&known, source, &mut skipped);
                self.counters.skipped.merge(&skipped);
                if candidates.is_empty() {
                    self.fail_source(source, Failure::NoDialableAddress(skipped));
                } else {
                    self.candidates = candidates;
                }
            }
        }
    }

    fn round_failed(&mut self) {
        self.round += 1;
        if self.round >= self.config.backoff.max_rounds {
            self.give_up(GiveUpReason::RoundsExhausted);
            return;
        }
        let delay = self.config.backoff.delay(self.round - 1, &mut self.rng);
        let deadline = self.now + delay;
        if deadline >= self.budget_deadline() {
            self.give_up(GiveUpReason::BudgetExhausted);
            return;
        }
        self.report(Event::RetryScheduled {
            round: self.round,
            delay,
        });
        self.phase = Phase::AwaitingRetry { deadline };
    }

    fn give_up(&mut self, reason: GiveUpReason) {
        for dial in std::mem::take(&mut self.dials).into_keys() {
            self.push(Action::CancelDial { dial });
        }
        if let Phase::AwaitingStatus { request, .. } = self.phase {
            self.push(Action::CancelFetch { request });
        }
        self.candidates.clear();
        self.own_probe = None;
        let report = GaveUp {
            reason,
            rounds: self.round.max(1).min(self.config.backoff.max_rounds),
            tried: std::mem::take(&mut self.tried),
            omitted: self.omitted,
        };
        self.phase = Phase::GaveUp;
        self.report(Event::GaveUp(report));
    }

    fn record(&mut self, tried: Tried) {
        if self.tried.len() < MAX_TRIED {
            self.tried.push(tried);
        } else {
            self.omitted = self.omitted.saturating_add(1);
        }
    }

    fn source_name(&self, source: Source) -> SourceName {
        match source {
            Source::Cache => SourceName::Cache,
            Source::Url(i) => SourceName::Url(self.config.boot_urls[i].clone()),
            Source::Seeds => SourceName::Seeds,
        }
    }

    /// A source yielded nothing: record it and let `advance` open the next one.
    fn fail_source(&mut self, source: Source, failure: Failure) {
        if matches!(source, Source::Url(_)) {
            self.counters.fetch_failures += 1;
        }
        let tried = Tried {
            source: self.source_name(source),
            failure,
        };
        self.record(tried.clone());
        self.report(Event::SourceFailed(tried));
        self.candidates.clear();
        self.phase = Phase::AwaitingDial;
    }

    fn note_dial_failure(&mut self, source: Source, failure: Failure) {
        let tried = Tried {
            source: self.source_name(source),
            failure,
        };
        self.record(tried.clone());
        self.report(Event::DialFailed(tried));
    }

    // ---- candidates and dials --------------------------------------------------------------

    fn known_candidates(
        &self,
        known: &[KnownPeer],
        source: Source,
        skipped: &mut SkipCounts,
    ) -> VecDeque<Candidate> {
        let mut out = VecDeque::new();
        for peer in known {
            if Some(peer.id) == self.config.local_peer {
                peer.addrs
                    .iter()
                    .for_each(|_| skipped.add(SkipReason::LocalPeer));
                continue;
            }
            let mut addrs: Vec<Multiaddr> = Vec::new();
            for addr in &peer.addrs {
                if !self.config.policy.allows(classify(addr)) {
                    skipped.add(SkipReason::NotRoutable);
                } else if addrs.contains(addr) {
                    skipped.add(SkipReason::Duplicate);
                } else if addrs.len() >= self.config.limits.max_addrs_per_peer {
                    skipped.add(SkipReason::TooManyAddrs);
                } else {
                    addrs.push(addr.clone());
                }
            }
            if !addrs.is_empty() {
                out.push_back(Candidate {
                    peer: peer.id,
                    addrs,
                    load: None,
                    source,
                });
            }
        }
        out
    }

    fn list_candidates(&self, list: BootList, source: Source) -> VecDeque<Candidate> {
        let mut out: Vec<Candidate> = list
            .peers
            .into_iter()
            .map(|p| Candidate {
                peer: p.id,
                addrs: p.addrs.into_iter().map(|a| a.addr).collect(),
                load: p.peers_count,
                source,
            })
            .collect();
        if self.config.candidate_order == CandidateOrder::LeastLoaded {
            // Stable: equal loads keep document order; unknown loads go last.
            out.sort_by_key(|c| c.load.map_or((1, 0), |n| (0, n)));
        }
        out.into()
    }

    fn fill_dials(&mut self) {
        while self.dials.len() < self.config.max_concurrent_dials {
            let Some(c) = self.candidates.pop_front() else {
                return;
            };
            let busy = self.boot_conns.contains_key(&c.peer)
                || self.dials.values().any(|d| d.peer == c.peer);
            if busy {
                continue;
            }
            let dial = DialId(self.alloc_id());
            self.counters.dials += 1;
            self.push(Action::Dial {
                dial,
                peer: c.peer,
                addrs: c.addrs.clone(),
            });
            self.dials.insert(
                dial,
                PendingDial {
                    peer: c.peer,
                    addrs: c.addrs,
                    source: c.source,
                    deadline: self.now + self.config.timeouts.dial,
                },
            );
        }
    }

    fn drop_boot_conn(&mut self, peer: PeerId) -> Option<BootConn> {
        let conn = self.boot_conns.remove(&peer)?;
        if self.own_probe.is_some_and(|p| p.peer == peer) {
            self.own_probe = None;
        }
        Some(conn)
    }

    // ---- inputs ----------------------------------------------------------------------------

    fn ignore(&mut self, input: &Input, why: &'static str) {
        self.counters.ignored_inputs = self.counters.ignored_inputs.saturating_add(1);
        tracing::debug!(?input, why, "ignored input");
    }

    fn on_input(&mut self, input: Input) {
        match input {
            Input::Tick => {}
            Input::HttpResponse {
                request,
                status,
                ref body,
            } => match self.awaited_url(request) {
                Some(url) => self.on_http_response(url, status, body),
                None => self.ignore(&input, "no request with this id is awaited"),
            },
            Input::HttpFailed { request, ref error } => match self.awaited_url(request) {
                Some(url) => self.fail_source(Source::Url(url), Failure::Http(error.clone())),
                None => self.ignore(&input, "no request with this id is awaited"),
            },
            Input::DialSucceeded {
                dial,
                peer,
                ref addr,
            } => match self.dials.remove(&dial) {
                Some(d) if d.peer == peer => self.on_boot_connection(d, addr.clone()),
                Some(d) => {
                    self.counters.dial_failures += 1;
                    let error = DialError::WrongPeer {
                        expected: d.peer,
                        actual: peer,
                    };
                    self.push(Action::Disconnect { peer });
                    self.note_dial_failure(
                        d.source,
                        Failure::Dial {
                            peer: d.peer,
                            error,
                        },
                    );
                }
                None => self.ignore(&input, "no dial with this id is pending"),
            },
            Input::DialFailed { dial, ref error } => match self.dials.remove(&dial) {
                Some(d) => {
                    self.counters.dial_failures += 1;
                    let failure = Failure::Dial {
                        peer: d.peer,
                        error: error.clone(),
                    };
                    self.note_dial_failure(d.source, failure);
                }
                None => self.ignore(&input, "no dial with this id is pending"),
            },
            Input::ConnectionClosed { peer } => match self.drop_boot_conn(peer) {
                Some(conn) => self.on_boot_connection_closed(peer, conn),
                None => self.ignore(&input, "not a boot connection"),
            },
            Input::InboundProbeRequest { peer } => {
                if !self.boot_conns.contains_key(&peer) {
                    return self.ignore(&input, "not from a boot peer we dialed");
                }
                self.counters.inbound_probes += 1;
                if self.bootstrapping() {
                    self.become_connected(peer);
                }
            }
            Input::OwnProbeAnswered { peer, ref result } => self.on_own_probe(peer, result),
            Input::NatStatusChanged(verdict) => self.set_verdict(verdict),
        }
    }

    fn awaited_url(&self, request: RequestId) -> Option<usize> {
        match self.phase {
            Phase::AwaitingStatus {
                request: awaited,
                url,
                ..
            } if awaited == request => Some(url),
            _ => None,
        }
    }

    fn on_http_response(&mut self, url: usize, status: u16, body: &[u8]) {
        let source = Source::Url(url);
        if !(200..300).contains(&status) {
            return self.fail_source(source, Failure::HttpStatus(status));
        }
        let options = ParseOptions {
            limits: self.config.limits,
            policy: self.config.policy,
            local_peer: self.config.local_peer,
        };
        match parse_status(body, &options) {
            Ok(list) => {
                self.counters.skipped.merge(&list.skipped);
                self.report(Event::StatusFetched {
                    url: self.config.boot_urls[url].clone(),
                    peers: list.peers.len(),
                    addrs: list.addr_count(),
                    skipped: list.skipped,
                });
                self.candidates = self.list_candidates(list, source);
                self.phase = Phase::AwaitingDial;
            }
            Err(e) => {
                if let crate::status::StatusError::NoUsablePeer(skipped) = &e {
                    self.counters.skipped.merge(skipped);
                }
                self.fail_source(source, Failure::BadDocument(e));
            }
        }
    }

    fn on_boot_connection(&mut self, dial: PendingDial, addr: Option<Multiaddr>) {
        let peer = dial.peer;
        self.counters.boot_connections += 1;
        // Prefer the address the connection used; else keep the dialed list for the cache.
        let addrs = match addr.clone() {
            Some(a) if dial.addrs.contains(&a) => vec![a],
            _ => dial.addrs,
        };
        self.boot_conns.insert(
            peer,
            BootConn {
                addrs,
                source: dial.source,
                probe_deadline: self.now + self.config.timeouts.inbound_probe,
            },
        );
        self.report(Event::BootPeerConnected { peer, addr });
        if self.own_probe.is_none() {
            self.send_own_probe(peer);
        }
        if self.bootstrapping() {
            self.phase = Phase::AwaitingProbe;
        }
    }

    fn on_boot_connection_closed(&mut self, peer: PeerId, conn: BootConn) {
        if self.phase == Phase::Connected {
            if self.boot_conns.is_empty() {
                self.report(Event::Rebootstrapping);
                self.start_bootstrap();
            } else if self.boot_peer == Some(peer) {
                // Still connected through another boot peer we dialed; report that one.
                self.boot_peer = self.boot_conns.keys().next().copied();
            }
        } else {
            self.note_dial_failure(conn.source, Failure::ConnectionLost { peer });
        }
    }

    fn become_connected(&mut self, peer: PeerId) {
        let elapsed = self.now.saturating_duration_since(self.started);
        self.phase = Phase::Connected;
        self.boot_peer = Some(peer);
        self.candidates.clear();
        for dial in std::mem::take(&mut self.dials).into_keys() {
            self.push(Action::CancelDial { dial });
        }
        self.report(Event::Connected { peer, elapsed });
        if let Some(conn) = self.boot_conns.get(&peer) {
            let known = KnownPeer {
                id: peer,
                addrs: conn.addrs.clone(),
            };
            self.good_peers.retain(|p| p.id != peer);
            self.good_peers.insert(0, known);
            self.good_peers.truncate(self.config.max_good_peers);
        }
        self.persist();
    }

    // ---- NAT -------------------------------------------------------------------------------

    fn send_own_probe(&mut self, peer: PeerId) {
        if self.own_probes_left == 0 {
            return;
        }
        self.own_probes_left -= 1;
        self.counters.own_probes += 1;
        self.own_probe = Some(OwnProbe {
            peer,
            deadline: self.now + self.config.timeouts.own_probe,
        });
        self.push(Action::ProbeVia { peer });
    }

    /// After an own probe timed out: ask again, through any boot connection, while the verdict
    /// is still unconfirmed.
    fn request_own_probe(&mut self) {
        if self.nat != NatVerdict::Unknown && !self.nat_stale {
            return;
        }
        if let Some(&peer) = self.boot_conns.keys().next() {
            self.send_own_probe(peer);
        }
    }

    fn on_own_probe(&mut self, peer: PeerId, result: &Result<Multiaddr, ProbeError>) {
        if self.own_probe.is_some_and(|p| p.peer == peer) {
            self.own_probe = None;
        }
        let answered = match result {
            Ok(addr) => {
                self.set_verdict(NatVerdict::Public(addr.clone()));
                true
            }
            Err(ProbeError::DialBackFailed) => {
                self.set_verdict(NatVerdict::Private);
                true
            }
            Err(ProbeError::Refused | ProbeError::Request(_)) => false,
        };
        let counts = self.config.connected_rule == ConnectedRule::InboundOrOwnProbe;
        if answered && counts && self.bootstrapping() && self.boot_conns.contains_key(&peer) {
            self.become_connected(peer);
        }
    }

    fn set_verdict(&mut self, verdict: NatVerdict) {
        let stale = std::mem::replace(&mut self.nat_stale, false);
        if verdict == self.nat && !stale {
            return;
        }
        self.nat = verdict.clone();
        self.report(Event::NatChanged(verdict));
        self.persist();
    }

    fn persist(&mut self) {
        let snapshot = Snapshot {
            good_peers: self.good_peers.clone(),
            nat: self.nat.clone(),
        };
        self.push(Action::PersistState(snapshot));
    }
}
