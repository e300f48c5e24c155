//! The deterministic simulator: runs a [`BootstrapMachine`] against a [`World`] in virtual
//! time, writes a transcript, and checks the machine's invariants at every step. A violated
//! invariant panics with the transcript so far, which is what proptest and the fuzzer catch.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use pyrsia_boot_core::{
    classify, Action, BootstrapMachine, ConnectedBy, DialError, DialId, Event, GaveUp, HttpError,
    Input, Multiaddr, NatVerdict, PeerId, PhaseName, ProbeError, ProbeId, ResolveError, Snapshot,
    Status,
};

use pyrsia_boot_core::multiaddr::Protocol;

use crate::harness::{Misbehaviour, Names, Queue, Trace};
use crate::world::{local_peer, DialScript, Reachability, Reply, World};

/// Steps after which a run counts as a livelock.
pub const MAX_STEPS: u64 = 50_000;

/// Virtual time after which a run counts as not terminating.
pub const MAX_VIRTUAL_TIME: Duration = Duration::from_secs(3_600);

/// What a run ended with.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// One line per input fed and action taken, with virtual times.
    pub transcript: Vec<String>,
    /// Every action the machine emitted, with its virtual time.
    pub actions: Vec<(Duration, Action)>,
    /// The machine's status at the end.
    pub status: Status,
    /// `Connected` reports over the run.
    pub connects: u32,
    /// The give-up report, if the machine gave up.
    pub gave_up: Option<GaveUp>,
    /// Steps taken.
    pub steps: u64,
    /// Virtual time at the end.
    pub elapsed: Duration,
}

#[derive(Debug, Clone)]
enum Scheduled {
    Feed(Input),
    /// A peer's AutoNAT dial request on connection `epoch`.
    Probe(PeerId, u64),
    /// A peer's answer to our dial-back request on connection `epoch`.
    Answer(PeerId, ProbeId, u64),
    /// A peer's refusal of our dial-back request on connection `epoch`.
    Refuse(PeerId, ProbeId, u64),
    /// A peer closes connection `epoch`.
    Drop(PeerId, u64),
    /// A dial request from a peer we never dialed.
    Stray(PeerId),
}

/// Runs one world to its end. Panics when an invariant breaks.
pub fn run(world: &World) -> Outcome {
    Sim::new(world).run()
}

struct Sim<'w> {
    world: &'w World,
    machine: BootstrapMachine,
    base: Instant,
    now: Instant,
    max_fed: Instant,
    queue: Queue<Scheduled>,
    trace: Trace,
    actions: Vec<(Duration, Action)>,
    names: Names,
    driver: Misbehaviour,
    // The world's side.
    attempts: BTreeMap<String, usize>,
    conns: BTreeMap<PeerId, u64>,
    epochs: u64,
    dropped: BTreeSet<PeerId>,
    /// Dial id → peer, for dials the world was asked to do.
    dial_peers: BTreeMap<DialId, PeerId>,
    /// Dial-back requests each peer has refused so far.
    refused: BTreeMap<PeerId, u32>,
    /// When the last refusal of the awaited dial-back request was fed.
    last_refusal: Option<Instant>,
    /// The last dial-back request (`ProbeVia`) and when the machine stops waiting for it.
    probing: Option<(ProbeId, Instant)>,
    /// Every dial-back request asked for, and its peer.
    probes: BTreeMap<ProbeId, PeerId>,
    // The invariants' side.
    allowed: BTreeMap<PeerId, BTreeSet<Multiaddr>>,
    in_flight: BTreeSet<DialId>,
    /// Dials waiting for their names to resolve.
    resolving: BTreeSet<DialId>,
    /// Per dial: resolve rounds asked for and names looked up, against `ResolveLimits`.
    resolve_counts: BTreeMap<DialId, (u8, usize)>,
    /// Peers connected through a dial the machine was waiting for, with whether they have
    /// since sent (or answered) an AutoNAT request that may make us Connected.
    dialed_live: BTreeMap<PeerId, bool>,
    gen_start: Instant,
    connects_this_gen: u32,
    connects: u32,
    last_nat: Option<NatVerdict>,
    /// Dial-back requests whose dial-back connection was fed.
    dialed_back: BTreeSet<ProbeId>,
    /// The swarm's external addresses, as the machine's actions set them.
    external: BTreeSet<Multiaddr>,
    /// The peer whose connection close is being fed, while it is.
    closing: Option<PeerId>,
    gave_up: Option<GaveUp>,
    steps: u64,
}

impl Outcome {
    /// The reports, in order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.actions.iter().filter_map(|(_, a)| match a {
            Action::Report(e) => Some(e),
            _ => None,
        })
    }

    /// The peers dialed, in order.
    pub fn dialed(&self) -> Vec<PeerId> {
        self.actions
            .iter()
            .filter_map(|(_, a)| match a {
                Action::Dial { peer, .. } => Some(*peer),
                _ => None,
            })
            .collect()
    }

    /// The snapshots the machine asked to persist, in order.
    pub fn persisted(&self) -> impl Iterator<Item = &Snapshot> {
        self.actions.iter().filter_map(|(_, a)| match a {
            Action::PersistState(s) => Some(s),
            _ => None,
        })
    }

    /// The URLs fetched, in order.
    pub fn fetched(&self) -> Vec<&str> {
        self.actions
            .iter()
            .filter_map(|(_, a)| match a {
                Action::FetchStatus { url, .. } => Some(url.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The peer of the first `Connected` report and when it came.
    pub fn first_connect(&self) -> Option<(PeerId, Duration)> {
        self.events().find_map(|e| match e {
            Event::Connected { peer, elapsed, .. } => Some((*peer, *elapsed)),
            _ => None,
        })
    }
}

impl<'w> Sim<'w> {
    fn new(world: &'w World) -> Self {
        // The one clock read: virtual time is this instant plus durations.
        let base = Instant::now();
        let machine = BootstrapMachine::new(world.config.clone(), base);
        let mut names = Names::default();
        names.insert(local_peer(), "L".to_string());
        for (i, p) in world.peers.iter().enumerate() {
            names.insert(p.id, format!("P{}", i + 1));
        }
        let mut allowed: BTreeMap<PeerId, BTreeSet<Multiaddr>> = BTreeMap::new();
        // Cached peers past the configured age may not be dialed (unless listed elsewhere).
        let c = &world.config;
        let fresh = c.cache.iter().filter(|p| match (c.unix_time, p.last_seen) {
            (Some(now), Some(seen)) => now.saturating_sub(seen) <= c.max_cache_age.as_secs(),
            _ => true,
        });
        for k in c.seeds.iter().chain(fresh.map(|p| &p.peer)) {
            allowed
                .entry(k.id)
                .or_default()
                .extend(k.addrs.iter().cloned());
        }
        let mut sim = Sim {
            world,
            machine,
            base,
            now: base,
            max_fed: base,
            queue: Queue::default(),
            trace: Trace::new(base, true),
            actions: Vec::new(),
            names,
            driver: Misbehaviour::new(world.hostile),
            attempts: BTreeMap::new(),
            conns: BTreeMap::new(),
            epochs: 0,
            dropped: BTreeSet::new(),
            dial_peers: BTreeMap::new(),
            refused: BTreeMap::new(),
            last_refusal: None,
            probing: None,
            probes: BTreeMap::new(),
            allowed,
            in_flight: BTreeSet::new(),
            resolving: BTreeSet::new(),
            resolve_counts: BTreeMap::new(),
            dialed_live: BTreeMap::new(),
            gen_start: base,
            connects_this_gen: 0,
            connects: 0,
            last_nat: None,
            dialed_back: BTreeSet::new(),
            external: BTreeSet::new(),
            closing: None,
            gave_up: None,
            steps: 0,
        };
        for (at, peer) in &world.stray_probes {
            sim.schedule(*at, Scheduled::Stray(*peer));
        }
        sim
    }

    fn run(mut self) -> Outcome {
        self.drain();
        loop {
            self.steps += 1;
            self.check(
                self.steps <= MAX_STEPS,
                "the run exceeded its step bound (livelock)",
            );
            self.check(
                self.now - self.base <= MAX_VIRTUAL_TIME,
                "the run exceeded its virtual time bound",
            );
            if self.gave_up.is_some() {
                break;
            }
            let timer = self.machine.poll_timeout();
            let event = self.queue.next_at();
            let next = match (timer, event) {
                (None, None) => break,
                (Some(t), None) => (t, false),
                (None, Some(e)) => (e, true),
                (Some(t), Some(e)) => {
                    if e <= t {
                        (e, true)
                    } else {
                        (t, false)
                    }
                }
            };
            self.now = self.now.max(next.0);
            if next.1 {
                let Some(item) = self.queue.pop() else {
                    break;
                };
                self.deliver(item);
            } else {
                self.feed(Input::Tick);
            }
        }
        Outcome {
            transcript: self.trace.into_lines(),
            actions: self.actions,
            status: self.machine.status(),
            connects: self.connects,
            gave_up: self.gave_up,
            steps: self.steps,
            elapsed: self.now - self.base,
        }
    }

    // ---- helpers ---------------------------------------------------------------------------

    fn name(&self, peer: &PeerId) -> String {
        self.names.of(peer)
    }

    fn log(&mut self, line: String) {
        self.trace.push(self.now, line);
    }

    #[track_caller]
    fn check(&self, ok: bool, what: &str) {
        if !ok {
            self.trace.fail(&format!("invariant violated: {what}"));
        }
    }

    /// Whether the machine still waits for the answer to `probe` now: it is the last one asked
    /// for and its timeout has not passed (a later answer is stale, and ignored).
    fn awaited(&self, probe: ProbeId) -> bool {
        self.probing
            .is_some_and(|(p, deadline)| p == probe && self.now < deadline)
    }

    fn schedule(&mut self, after: Duration, item: Scheduled) {
        self.queue.push(self.now + after, item);
    }

    // ---- feeding the machine ---------------------------------------------------------------

    fn deliver(&mut self, item: Scheduled) {
        match item {
            Scheduled::Feed(input) => self.feed(input),
            Scheduled::Probe(peer, epoch) => {
                if self.conns.get(&peer) == Some(&epoch) {
                    self.feed(Input::InboundProbeRequest { peer });
                }
            }
            Scheduled::Answer(peer, probe, epoch) => {
                if self.conns.get(&peer) == Some(&epoch) {
                    let sim = self.world.peers.iter().find(|p| p.id == peer);
                    let dials = sim.is_some_and(|p| !p.answers_without_dialing);
                    let result = match &self.world.reachability {
                        Reachability::Public(addr) => Ok(addr.clone()),
                        Reachability::Private => Err(ProbeError::DialBackFailed),
                    };
                    if let (Ok(_), true) = (&result, dials) {
                        // The dial-back: a new connection from the peer's host, another port.
                        let remote = sim
                            .and_then(|p| p.addrs.first())
                            .and_then(|(a, _)| pyrsia_boot_core::ip_and_tcp_port(a))
                            .map(|(ip, _)| Multiaddr::from(ip).with(Protocol::Tcp(40_000)));
                        self.dialed_back.insert(probe);
                        self.feed(Input::InboundConnection { peer, remote });
                    }
                    self.feed(Input::OwnProbeAnswered { probe, result });
                }
            }
            Scheduled::Refuse(peer, probe, epoch) => {
                if self.conns.get(&peer) == Some(&epoch) {
                    // Only a refusal of the request the machine still waits on counts: a late
                    // one for a request it already replaced is stale, and ignored.
                    if self.awaited(probe) {
                        self.last_refusal = Some(self.now);
                    }
                    let result = Err(ProbeError::Refused);
                    self.feed(Input::OwnProbeAnswered { probe, result });
                }
            }
            Scheduled::Drop(peer, epoch) => {
                if self.conns.get(&peer) == Some(&epoch) {
                    self.conns.remove(&peer);
                    self.feed(Input::ConnectionClosed { peer });
                }
            }
            Scheduled::Stray(peer) => self.feed(Input::InboundProbeRequest { peer }),
        }
    }

    fn feed(&mut self, input: Input) {
        let is_tick = input == Input::Tick;
        let feeding = self.driver.feeding(self.now, self.base, is_tick, !is_tick);
        let at = feeding.at;
        if let Some(later) = feeding.replay_after {
            self.schedule(later, Scheduled::Feed(input.clone()));
        }
        for _ in 0..feeding.times {
            self.observe_input(&input);
            self.log(format!("< {}", self.describe_input(&input)));
            self.max_fed = self.max_fed.max(at);
            // The machine fires deadlines due at `at` before it reads the input: a request
            // they send may still go to the peer whose close is being fed.
            self.closing = match &input {
                Input::ConnectionClosed { peer } => Some(*peer),
                _ => None,
            };
            self.machine.handle(at, input.clone());
            self.drain();
            self.closing = None;
        }
    }

    /// Updates the invariants' view with an input about to be fed.
    fn observe_input(&mut self, input: &Input) {
        match input {
            Input::DialSucceeded { dial, peer, .. } => {
                if self.in_flight.remove(dial) && self.dial_peers.get(dial) == Some(peer) {
                    self.dialed_live.entry(*peer).or_insert(false);
                }
            }
            Input::DialFailed { dial, .. } => {
                self.in_flight.remove(dial);
            }
            Input::ConnectionClosed { peer } => {
                self.dialed_live.remove(peer);
                // The machine stops waiting for a request whose peer left: a refusal that
                // arrives later is stale.
                let probed = self.probing.and_then(|(p, _)| self.probes.get(&p).copied());
                if probed == Some(*peer) {
                    self.probing = None;
                }
            }
            Input::InboundProbeRequest { peer } => {
                if let Some(probed) = self.dialed_live.get_mut(peer) {
                    *probed = true;
                }
            }
            Input::OwnProbeAnswered { probe, result } => {
                // Only the answer to the request the machine waits on counts.
                let awaited = self.awaited(*probe);
                let answered = matches!(result, Ok(_) | Err(ProbeError::DialBackFailed));
                // Under either rule: the default one lets an answer connect once the peer's
                // own request is overdue.
                let peer = self.probes.get(probe).copied();
                if let (true, true, Some(peer)) = (awaited, answered, peer) {
                    if let Some(probed) = self.dialed_live.get_mut(&peer) {
                        *probed = true;
                    }
                }
                if awaited && answered {
                    // Answered: a later refusal of the same request is stale (the machine may
                    // still be waiting for the OK's dial-back, then ask again at once).
                    self.probing = None;
                }
            }
            Input::Resolved { dial, .. } => {
                // The dial leaves flight here; its Dial action, if the resolution left
                // something to dial, puts it back.
                if self.resolving.remove(dial) {
                    self.in_flight.remove(dial);
                }
            }
            Input::Tick
            | Input::HttpResponse { .. }
            | Input::HttpFailed { .. }
            | Input::InboundConnection { .. }
            | Input::ObservedAddr { .. }
            | Input::AutonatV2Tested { .. }
            | Input::Listening { .. } => {}
        }
    }

    fn drain(&mut self) {
        while let Some(action) = self.machine.poll_action() {
            self.check(self.gave_up.is_none(), "an action after GaveUp");
            self.log(format!("> {}", self.describe_action(&action)));
            self.actions.push((self.now - self.base, action.clone()));
            self.act(action);
        }
        if let Some(t) = self.machine.poll_timeout() {
            self.check(
                t > self.max_fed,
                "busy loop: poll_timeout() <= now with no action queued",
            );
        }
        let status = self.machine.status();
        let bootstrapping = !matches!(status.phase, PhaseName::Connected | PhaseName::GaveUp);
        self.check(
            !bootstrapping || self.max_fed <= self.gen_start + self.world.config.budget,
            "a bootstrap outlived its budget",
        );
        if let Some(v) = &self.last_nat {
            self.check(
                *v == status.nat,
                "the last NAT report differs from status().nat",
            );
        }
        let confirmed: BTreeSet<Multiaddr> = match &status.nat {
            NatVerdict::Public(a) if !status.nat_stale => [a.clone()].into(),
            _ => BTreeSet::new(),
        };
        self.check(
            self.external == confirmed,
            "the swarm's external addresses are not exactly the confirmed public one",
        );
    }

    // ---- carrying out actions --------------------------------------------------------------

    fn act(&mut self, action: Action) {
        match action {
            Action::FetchStatus { request, url, .. } => {
                let n = self.attempts.entry(url.clone()).or_insert(0);
                let attempt = *n;
                *n += 1;
                let server = self.world.servers.iter().find(|s| s.url == url);
                self.check(server.is_some(), "fetched a URL that is not configured");
                let Some(server) = server else { return };
                let reply = server.replies[attempt.min(server.replies.len() - 1)].clone();
                match reply {
                    Reply::Answer {
                        latency,
                        status,
                        body,
                    } => {
                        if (200..300).contains(&status) {
                            self.allow_from_document(&body);
                        }
                        self.schedule(
                            latency,
                            Scheduled::Feed(Input::HttpResponse {
                                request,
                                status,
                                body,
                            }),
                        );
                    }
                    Reply::Fail { latency } => {
                        let error = HttpError::Connect("connection refused".into());
                        self.schedule(
                            latency,
                            Scheduled::Feed(Input::HttpFailed { request, error }),
                        );
                    }
                    Reply::Hang => {}
                    Reply::Unusable { latency } => {
                        let error = HttpError::InvalidUrl(format!("{url}: refused by the driver"));
                        self.schedule(
                            latency,
                            Scheduled::Feed(Input::HttpFailed { request, error }),
                        );
                    }
                }
            }
            Action::CancelFetch { .. } => {}
            Action::Dial { dial, peer, addrs } => self.dial(dial, peer, addrs),
            Action::Resolve { dial, peer, names } => self.resolve(dial, peer, names),
            Action::CancelDial { dial } => {
                self.resolving.remove(&dial);
                self.in_flight.remove(&dial);
            }
            Action::ProbeVia {
                probe,
                peer,
                family,
                addrs,
            } => {
                // The simulated driver never reports its addresses: every probe offers all,
                // and the machine names none (it was never told any).
                self.check(family.is_none(), "a probe for one family before Listening");
                self.check(addrs.is_empty(), "addresses offered that nobody listed");
                self.check(
                    self.conns.contains_key(&peer) || self.closing == Some(peer),
                    "ProbeVia to an unconnected peer",
                );
                let backoff = self.machine.config().timeouts.own_probe_retry / 2;
                self.check(
                    self.last_refusal.is_none_or(|t| self.now >= t + backoff),
                    "dial-back asked again too soon after a refusal",
                );
                // The machine waits for the answer until its own-probe timeout.
                let own_probe = self.machine.config().timeouts.own_probe;
                self.probing = Some((probe, self.max_fed + own_probe));
                self.probes.insert(probe, peer);
                let sim = self.world.peers.iter().find(|p| p.id == peer);
                if let (Some(sim), Some(delay), Some(&epoch)) =
                    (sim, sim.and_then(|p| p.answer_delay), self.conns.get(&peer))
                {
                    let refused = self.refused.entry(peer).or_insert(0);
                    if *refused < sim.refusals {
                        *refused += 1;
                        self.schedule(delay, Scheduled::Refuse(peer, probe, epoch));
                    } else {
                        self.schedule(delay, Scheduled::Answer(peer, probe, epoch));
                    }
                }
            }
            Action::Disconnect { peer } => {
                // The machine gave up on this peer, its dial-back request with it: a refusal
                // fed in this same step (the machine fired its deadlines first) is stale.
                let probed = self.probing.and_then(|(p, _)| self.probes.get(&p).copied());
                if probed == Some(peer) {
                    self.probing = None;
                    if self.last_refusal == Some(self.now) {
                        self.last_refusal = None;
                    }
                }
                self.dialed_live.remove(&peer);
                if self.conns.remove(&peer).is_some() {
                    self.schedule(
                        Duration::ZERO,
                        Scheduled::Feed(Input::ConnectionClosed { peer }),
                    );
                }
            }
            Action::AddExternalAddress(a) => {
                let new = self.external.insert(a);
                self.check(new, "an external address added twice");
            }
            Action::RemoveExternalAddress(a) => {
                let had = self.external.remove(&a);
                self.check(had, "removed an external address never added");
            }
            Action::PersistState(_) => {}
            Action::Report(event) => self.on_report(event),
        }
    }

    fn allow_from_document(&mut self, body: &[u8]) {
        // An independent reading of the document (not the parser under test).
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
            return;
        };
        for key in ["peer_addrs", "peer_addr"] {
            let entries = match value.get(key) {
                Some(serde_json::Value::Array(a)) => a.clone(),
                Some(s @ serde_json::Value::String(_)) => vec![s.clone()],
                _ => continue,
            };
            for e in entries.iter().filter_map(|e| e.as_str()) {
                let Some((addr, id)) = e.rsplit_once("/p2p/") else {
                    continue;
                };
                if let (Ok(addr), Ok(id)) = (addr.parse::<Multiaddr>(), id.parse::<PeerId>()) {
                    self.allowed.entry(id).or_default().insert(addr);
                }
            }
        }
    }

    fn resolve(&mut self, dial: DialId, peer: PeerId, names: Vec<Multiaddr>) {
        let cfg = &self.world.config;
        self.check(!names.is_empty(), "a resolve with no name");
        for n in &names {
            let listed = self.allowed.get(&peer).is_some_and(|s| s.contains(n));
            self.check(listed, "resolved a name no document, cache or seed listed");
            self.check(
                cfg.policy.allows(classify(n)),
                "resolved a name the policy refuses",
            );
        }
        let limits = cfg.resolve;
        let counts = self.resolve_counts.entry(dial).or_insert((0, 0));
        counts.0 += 1;
        counts.1 += names.len();
        let (rounds, lookups) = *counts;
        self.check(
            rounds <= limits.max_rounds,
            "more resolve rounds for one dial than ResolveLimits::max_rounds",
        );
        self.check(
            lookups <= limits.max_lookups,
            "more names looked up for one dial than ResolveLimits::max_lookups",
        );
        let cfg = &self.world.config;
        self.in_flight.insert(dial);
        self.resolving.insert(dial);
        self.dial_peers.insert(dial, peer);
        let cap = cfg.max_concurrent_dials;
        self.check(
            self.in_flight.len() <= cap,
            "more dials in flight than the cap",
        );
        let results: Vec<Result<Vec<Multiaddr>, ResolveError>> = names
            .iter()
            .map(|n| {
                self.world.resolve(n).ok_or_else(|| ResolveError::Lookup {
                    host: n.to_string(),
                    reason: "no such host".into(),
                })
            })
            .collect();
        // Resolving a listed name is a legitimate source of addresses (`/dnsaddr` records
        // come with their `/p2p/` suffix, which the machine strips).
        for addrs in results.iter().flatten() {
            let allowed = self.allowed.entry(peer).or_default();
            allowed.extend(addrs.iter().cloned());
            allowed.extend(addrs.iter().map(pyrsia_boot_core::without_p2p));
        }
        let input = Input::Resolved { dial, results };
        self.schedule(Duration::from_millis(5), Scheduled::Feed(input));
    }

    /// The dial script for `addr` of `peer`: its own entry, or the entry of the name that
    /// resolves to it.
    fn script(&self, peer: &PeerId, addr: &Multiaddr) -> DialScript {
        let refused = DialScript::Refuse(Duration::from_millis(1));
        let Some(sim) = self.world.peers.iter().find(|p| p.id == *peer) else {
            return refused;
        };
        sim.addrs
            .iter()
            .find(|(x, _)| x == addr)
            .or_else(|| {
                sim.addrs
                    .iter()
                    .find(|(x, _)| self.world.reaches(x, addr, 8))
            })
            .map_or(refused, |(_, s)| *s)
    }

    fn dial(&mut self, dial: DialId, peer: PeerId, addrs: Vec<Multiaddr>) {
        let cfg = &self.world.config;
        self.check(!addrs.is_empty(), "a dial with no address");
        self.check(peer != local_peer(), "dialed the local peer");
        self.check(
            cfg.pinned.is_empty() || cfg.pinned.contains(&peer),
            "dialed a peer outside the pinned set",
        );
        for a in &addrs {
            let listed = self.allowed.get(&peer).is_some_and(|s| s.contains(a));
            self.check(
                listed,
                "dialed an address no document, cache or seed listed",
            );
            self.check(
                cfg.policy.allows(classify(a)),
                "dialed an address the policy refuses",
            );
        }
        self.in_flight.insert(dial);
        self.dial_peers.insert(dial, peer);
        let cap = cfg.max_concurrent_dials;
        self.check(
            self.in_flight.len() <= cap,
            "more dials in flight than the cap",
        );

        // Outcome: the first address that connects wins; else refused if any refuses; else hang.
        let scripts: Vec<DialScript> = addrs.iter().map(|a| self.script(&peer, a)).collect();
        let connect = scripts
            .iter()
            .filter_map(|s| match s {
                DialScript::Connect(d) => Some(*d),
                _ => None,
            })
            .min();
        let refuse = scripts
            .iter()
            .filter_map(|s| match s {
                DialScript::Refuse(d) => Some(*d),
                _ => None,
            })
            .max();
        let hangs = scripts.contains(&DialScript::Hang);
        if let Some(latency) = connect {
            let addr = addrs
                .iter()
                .zip(&scripts)
                .find(|(_, s)| **s == DialScript::Connect(latency))
                .map(|(a, _)| a.clone());
            self.epochs += 1;
            let epoch = self.epochs;
            // The world opens the connection when the dial completes.
            self.schedule(
                latency,
                Scheduled::Feed(Input::DialSucceeded { dial, peer, addr }),
            );
            self.open_connection(peer, epoch, latency);
        } else if let (Some(latency), false) = (refuse, hangs) {
            let error = DialError::Unreachable("connection refused".into());
            self.schedule(latency, Scheduled::Feed(Input::DialFailed { dial, error }));
        }
    }

    fn open_connection(&mut self, peer: PeerId, epoch: u64, after: Duration) {
        self.conns.insert(peer, epoch);
        let Some(sim) = self.world.peers.iter().find(|p| p.id == peer).cloned() else {
            return;
        };
        if let Some(d) = sim.probe_delay {
            self.schedule(after + d, Scheduled::Probe(peer, epoch));
        }
        if let Some(d) = sim.drop_after {
            if self.dropped.insert(peer) {
                self.schedule(after + d, Scheduled::Drop(peer, epoch));
            }
        }
    }

    fn on_report(&mut self, event: Event) {
        match event {
            Event::Connected { peer, .. } => {
                self.connects += 1;
                self.connects_this_gen += 1;
                self.check(
                    self.connects_this_gen == 1,
                    "Connected twice in one bootstrap",
                );
                let earned = self.dialed_live.get(&peer) == Some(&true);
                self.check(
                    earned,
                    "Connected without an AutoNAT request from a connected peer it dialed",
                );
            }
            Event::Rebootstrapping => {
                self.gen_start = self.max_fed;
                self.connects_this_gen = 0;
            }
            Event::NatChanged(v) => {
                self.check(
                    !matches!(v.verdict, NatVerdict::Public(_)) || !self.dialed_back.is_empty(),
                    "public without any dial-back connection",
                );
                self.last_nat = Some(v.verdict);
            }
            Event::GaveUp(g) => self.gave_up = Some(g),
            Event::StatusFetched { .. }
            | Event::SourceFailed(_)
            | Event::DialFailed(_)
            | Event::BootPeerConnected { .. }
            | Event::RetryScheduled { .. }
            | Event::VerdictUnavailable { .. }
            | Event::NatBehaviourChanged(_)
            | Event::DialBackUnverified { .. } => {}
            // A report this simulator does not know yet checks nothing.
            _ => {}
        }
    }

    // ---- transcript ------------------------------------------------------------------------

    fn describe_input(&self, input: &Input) -> String {
        match input {
            Input::Tick => "tick".into(),
            Input::HttpResponse {
                request,
                status,
                body,
            } => format!("http {request} {status} ({} B)", body.len()),
            Input::HttpFailed { request, error } => format!("http {request} failed: {error}"),
            Input::DialSucceeded { dial, peer, .. } => {
                format!("dial-ok {dial} {}", self.name(peer))
            }
            Input::DialFailed { dial, .. } => format!("dial-failed {dial}"),
            Input::Resolved { dial, results } => {
                let addrs: usize = results.iter().flatten().map(Vec::len).sum();
                match results.iter().find_map(|r| r.as_ref().err()) {
                    Some(e) if addrs == 0 => format!("resolve-failed {dial}: {e}"),
                    _ => format!("resolved {dial} ({addrs} addr)"),
                }
            }
            Input::ConnectionClosed { peer } => format!("closed {}", self.name(peer)),
            Input::InboundProbeRequest { peer } => format!("inbound-probe {}", self.name(peer)),
            Input::InboundConnection { peer, remote } => match remote {
                Some(r) => format!("inbound-connection {} from {r}", self.name(peer)),
                None => format!("inbound-connection {}", self.name(peer)),
            },
            Input::ObservedAddr { peer, observed } => {
                format!("observed-by {} at {observed}", self.name(peer))
            }
            Input::Listening { addrs } => format!("listening on {} address(es)", addrs.len()),
            Input::OwnProbeAnswered { probe, result } => {
                let peer = self
                    .probes
                    .get(probe)
                    .map_or_else(|| "?".to_string(), |p| self.name(p));
                match result {
                    Ok(a) => format!("probe-answer {probe} {peer} reachable at {a}"),
                    Err(e) => format!("probe-answer {probe} {peer} {e}"),
                }
            }
            Input::AutonatV2Tested {
                server,
                addr,
                reachable,
            } => format!(
                "autonat-v2 {} {addr} {}",
                self.name(server),
                if *reachable {
                    "reachable"
                } else {
                    "unreachable"
                }
            ),
        }
    }

    fn describe_action(&self, action: &Action) -> String {
        match action {
            Action::FetchStatus { request, url, .. } => format!("fetch {request} {url}"),
            Action::CancelFetch { request } => format!("cancel {request}"),
            Action::Dial { dial, peer, addrs } => {
                format!("dial {dial} {} ({} addr)", self.name(peer), addrs.len())
            }
            Action::Resolve { dial, peer, names } => {
                format!("resolve {dial} {} ({} name)", self.name(peer), names.len())
            }
            Action::CancelDial { dial } => format!("cancel {dial}"),
            Action::ProbeVia { probe, peer, .. } => {
                format!("probe-via {probe} {}", self.name(peer))
            }
            Action::Disconnect { peer } => format!("disconnect {}", self.name(peer)),
            Action::AddExternalAddress(a) => format!("add-external {a}"),
            Action::RemoveExternalAddress(a) => format!("remove-external {a}"),
            Action::PersistState(s) => format!(
                "persist {} good peer(s), nat {}",
                s.good_peers.len(),
                s.nat.name()
            ),
            Action::Report(e) => format!("report {}", self.describe_event(e)),
        }
    }

    fn describe_event(&self, event: &Event) -> String {
        match event {
            Event::StatusFetched {
                peers,
                addrs,
                skipped,
                ..
            } => format!("status {peers} peer(s) {addrs} addr(s), {skipped}"),
            Event::SourceFailed(t) => format!("source-failed {}", t.failure),
            Event::DialFailed(t) => match &t.failure {
                pyrsia_boot_core::Failure::Dial { peer, .. } => {
                    format!("dial-failed {}", self.name(peer))
                }
                pyrsia_boot_core::Failure::DialTimeout { peer, .. } => {
                    format!("dial-timeout {}", self.name(peer))
                }
                pyrsia_boot_core::Failure::NoInboundProbe { peer, .. } => {
                    format!("no-inbound-probe {}", self.name(peer))
                }
                pyrsia_boot_core::Failure::ConnectionLost { peer } => {
                    format!("connection-lost {}", self.name(peer))
                }
                other => format!("dial-failed {other}"),
            },
            Event::BootPeerConnected { peer, .. } => format!("boot-connected {}", self.name(peer)),
            Event::Connected { peer, elapsed, by } => {
                // Pyrsia's signal is the transcripts' plain CONNECTED; any other is named.
                let how = match by {
                    ConnectedBy::InboundProbeRequest => String::new(),
                    other => format!(" by {}", other.name()),
                };
                format!(
                    "CONNECTED {} after {}ms{how}",
                    self.name(peer),
                    elapsed.as_millis()
                )
            }
            Event::NatChanged(v) => format!("nat {}", v.verdict.name()),
            Event::NatBehaviourChanged(b) => format!(
                "nat-behaviour mapping {} filtering {} verified {} stranger {}",
                b.mapping.name(),
                b.filtering.name(),
                b.verified,
                b.stranger_reached
            ),
            Event::DialBackUnverified { peer } => {
                format!("dial-back-unverified {}", self.name(peer))
            }
            Event::RetryScheduled { round, delay } => {
                format!("retry round {round} in {}ms", delay.as_millis())
            }
            Event::Rebootstrapping => "rebootstrapping".into(),
            Event::VerdictUnavailable { attempts } => {
                format!("verdict-unavailable after {attempts} request(s)")
            }
            Event::GaveUp(g) => format!("GAVE-UP {:?} after {} round(s)", g.reason, g.rounds),
            other => format!("{other:?}"),
        }
    }
}
