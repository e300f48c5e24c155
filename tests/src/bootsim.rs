//! The boot-node simulator: runs a [`BootNodeMachine`] against a [`BootWorld`] in virtual
//! time, writes a transcript, and checks the boot node's invariants at every step (a violated
//! one panics with the transcript's last lines, which is what proptest and the fuzzer catch):
//!
//! - every peer that is not a member gets exactly one dial request per connection session,
//!   in the step its first inbound connection is reported, and only while connected;
//! - members never get one;
//! - every `/status` request is answered once, lists this node's advertised addresses first
//!   and every member once after them, in rotation, with the world's true peer count; a
//!   signed one verifies against the operator key, is not expired and has more than a quarter
//!   of its validity left; with a healthy signer, no request waits for a signature unless a
//!   list changed within one signing latency;
//! - load questions go to members only, one at a time each; load answers carry the true count;
//! - sign jobs ask for the configured validity and sequence at the current wall clock;
//! - what the machine holds stays within a constant per open connection;
//! - no busy loop (`poll_timeout() <= now` with nothing queued), bounded steps.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use pyrsia_boot_core::signing as signed;
use pyrsia_boot_core::DocSignature;
use pyrsia_boot_core::{
    classify, AddrClass, BootNodeAction, BootNodeEvent, BootNodeInput, BootNodeMachine,
    BootNodeStatus, DialBackAnswer, DialBackFrom, DialBackId, LoadAskId, Multiaddr, PeerId,
    ProbeError, ProbeId, RequestFailure, Token, Trust,
};

use crate::bootworld::{load_answer, operator, Answer, BootWorld, Happening, Joiner};
use crate::harness::{Misbehaviour, Names, Queue, Trace};

/// What a run ended with.
#[derive(Debug, Clone)]
pub struct BootOutcome {
    /// One line per input fed and action taken, with virtual times.
    pub transcript: Vec<String>,
    /// Every action, with its virtual time.
    pub actions: Vec<(Duration, BootNodeAction)>,
    /// The machine's status at the end.
    pub status: BootNodeStatus,
    /// Per stretch of unchanged lists (membership and addresses): how often each member came
    /// first after this node's own addresses. Stretches with fewer than two members are left
    /// out.
    pub rotations: Vec<BTreeMap<PeerId, u32>>,
    /// The most the machine held at once ([`pyrsia_boot_core::Footprint::total`]).
    pub max_footprint: usize,
    /// The most connections open at once.
    pub max_open: usize,
    /// `/status` documents served, and how many of them signed.
    pub served: (u64, u64),
    /// Steps taken.
    pub steps: u64,
}

#[derive(Debug, Clone)]
enum Item {
    Happen(Happening),
    Feed(BootNodeInput),
    /// One `/status` request.
    Request,
    /// A connection of `peer` opens, if its session is still `epoch` (0: a new session).
    Open {
        peer: PeerId,
        inbound: bool,
        epoch: u64,
    },
    /// `peer` closes every connection of session `epoch`.
    Leave {
        peer: PeerId,
        epoch: u64,
    },
    /// One connection closes.
    Close(Token),
    /// `peer` asks our AutoNAT server for a dial-back, if the session is still `epoch`.
    AskDialBack {
        peer: PeerId,
        epoch: u64,
        ask: crate::bootworld::DialBackAsk,
    },
    /// The answer to a dial request, if the session is still `epoch`.
    Answer {
        probe: ProbeId,
        peer: PeerId,
        epoch: u64,
        result: Result<Multiaddr, ProbeError>,
    },
}

#[derive(Debug, Clone)]
struct Pending {
    own: Vec<String>,
    members: Vec<(PeerId, String)>,
}

#[derive(Debug, Clone, Copy)]
struct SessionView {
    epoch: u64,
    inbound_seen: bool,
    requests: u32,
}

/// Where every simulated peer's connections come from.
const OBSERVED_IP: &str = "/ip4/203.0.113.77";

/// Runs one world to its end. Panics when an invariant breaks.
pub fn run(world: &BootWorld) -> BootOutcome {
    Sim::new(world, true).run()
}

/// [`run`] without keeping the transcript (for the large worlds; invariants are checked the
/// same, a violation shows no transcript lines).
pub fn run_quiet(world: &BootWorld) -> BootOutcome {
    Sim::new(world, false).run()
}

struct Sim<'w> {
    world: &'w BootWorld,
    machine: BootNodeMachine,
    base: Instant,
    now: Instant,
    max_fed: Instant,
    end: Instant,
    max_steps: u64,
    queue: Queue<Item>,
    driver: Misbehaviour,
    trace: Trace,
    actions: Vec<(Duration, BootNodeAction)>,
    names: Names,
    // The world's side.
    next_token: u64,
    open: BTreeMap<Token, PeerId>,
    sessions: BTreeMap<PeerId, SessionView>,
    epochs: u64,
    scripts: BTreeMap<PeerId, (Answer, Duration)>,
    members: BTreeSet<PeerId>,
    listen: Vec<Multiaddr>,
    /// Requests not yet answered: when they came, and the lists of that moment (a request
    /// that waits for a signature keeps the lists it arrived with).
    status_pending: BTreeMap<Token, Pending>,
    load_pending: BTreeMap<LoadAskId, (PeerId, Instant)>,
    load_replies: BTreeSet<Token>,
    /// Dial requests whose answer the world owes, by peer.
    owed: BTreeMap<PeerId, ProbeId>,
    /// Dial-backs asked and not answered: who asked over which connection, when, the ground
    /// truth, and the shortest timeout the machine may give its legs (a round trip measured
    /// before they start shortens it).
    dial_backs_owed: BTreeMap<
        Token,
        (
            PeerId,
            Token,
            Instant,
            crate::bootworld::DialBackAsk,
            Duration,
        ),
    >,
    /// Round trips fed per open connection.
    conn_rtt: BTreeMap<Token, Duration>,
    /// Dial-back legs the machine started, by job: the asker.
    dial_back_legs: BTreeMap<DialBackId, PeerId>,
    /// Connection attempts asked so far per leg (for the attempts invariant).
    dial_back_launched: BTreeMap<(DialBackId, DialBackFrom), u32>,
    /// When each peer's dial-backs started (for the throttle invariant).
    dial_back_starts: Vec<(Instant, PeerId)>,
    /// Per peer, its accepted dial-back requests whose legs have not started, in order.
    unstarted: BTreeMap<PeerId, Vec<(Token, crate::bootworld::DialBackAsk)>>,
    /// Each started dial-back's request.
    job_asks: BTreeMap<DialBackId, crate::bootworld::DialBackAsk>,
    sign_jobs: u32,
    last_list_change: Instant,
    /// Seconds the world's wall clock was stepped by, in all.
    clock_offset: i64,
    /// [`Self::own_entries`] and [`Self::member_entries`] as of the last list change.
    lists: (Vec<String>, Vec<(PeerId, String)>),
    local_text: String,
    // The invariants' side.
    rotation: BTreeMap<PeerId, u32>,
    rotations: Vec<BTreeMap<PeerId, u32>>,
    max_footprint: usize,
    max_open: usize,
    served: (u64, u64),
    verified: BTreeSet<(Vec<u8>, String)>,
    steps: u64,
}

impl<'w> Sim<'w> {
    fn new(world: &'w BootWorld, keep_transcript: bool) -> Self {
        // The one clock read: virtual time is this instant plus durations.
        let base = Instant::now();
        let machine = BootNodeMachine::new(world.config.clone(), base);
        let last = world.happenings.iter().map(|(t, h)| *t + span(h)).max();
        let end = base + last.unwrap_or_default() + world.settle;
        let work: u64 = world
            .happenings
            .iter()
            .map(|(_, h)| match h {
                Happening::StatusRequests { count, .. } => u64::from(*count),
                _ => 4,
            })
            .sum();
        let mut names = Names::default();
        names.insert(world.config.local_peer, "B".to_string());
        for m in &world.members {
            names.insert(m.id(), format!("M{}", m.index));
        }
        let members = world
            .initial
            .iter()
            .map(|i| world.members[*i].id())
            .collect();
        let mut sim = Sim {
            world,
            machine,
            base,
            now: base,
            max_fed: base,
            end,
            max_steps: 40 * work + 200_000,
            queue: Queue::default(),
            driver: Misbehaviour::new(world.hostile),
            trace: Trace::new(base, keep_transcript),
            actions: Vec::new(),
            names,
            next_token: 0,
            open: BTreeMap::new(),
            sessions: BTreeMap::new(),
            epochs: 0,
            scripts: BTreeMap::new(),
            members,
            listen: Vec::new(),
            status_pending: BTreeMap::new(),
            load_pending: BTreeMap::new(),
            load_replies: BTreeSet::new(),
            owed: BTreeMap::new(),
            dial_backs_owed: BTreeMap::new(),
            conn_rtt: BTreeMap::new(),
            dial_back_legs: BTreeMap::new(),
            dial_back_launched: BTreeMap::new(),
            dial_back_starts: Vec::new(),
            unstarted: BTreeMap::new(),
            job_asks: BTreeMap::new(),
            sign_jobs: 0,
            last_list_change: base,
            clock_offset: 0,
            lists: (Vec::new(), Vec::new()),
            local_text: world.config.local_peer.to_string(),
            rotation: BTreeMap::new(),
            rotations: Vec::new(),
            max_footprint: 0,
            max_open: 0,
            served: (0, 0),
            verified: BTreeSet::new(),
            steps: 0,
        };
        for (at, h) in &world.happenings {
            sim.schedule(*at, Item::Happen(h.clone()));
        }
        sim
    }

    fn run(mut self) -> BootOutcome {
        self.drain();
        for addr in self.world.listen.clone() {
            if !self.listen.contains(&addr) {
                self.listen.push(addr.clone());
            }
            self.feed(BootNodeInput::ListenAddrAdded(addr));
        }
        self.lists = (self.compute_own_entries(), self.compute_member_entries());
        loop {
            self.steps += 1;
            self.check(
                self.steps <= self.max_steps,
                "the run exceeded its step bound",
            );
            let timer = self.machine.poll_timeout();
            let event = self.queue.next_at();
            let (at, is_event) = match (timer, event) {
                (None, None) => break,
                (Some(t), None) => (t, false),
                (None, Some(e)) => (e, true),
                // A deadline due at the same instant fires first, as a driver's timer would
                // (and the world's view then matches what the machine saw when it fired).
                (Some(t), Some(e)) if e < t => (e, true),
                (Some(t), Some(_)) => (t, false),
            };
            if at > self.end {
                break;
            }
            self.now = self.now.max(at);
            if is_event {
                let Some(item) = self.queue.pop() else {
                    break;
                };
                self.deliver(item);
            } else {
                self.feed(BootNodeInput::Tick);
            }
        }
        self.check(
            self.status_pending.is_empty(),
            "a /status request was never answered",
        );
        self.close_rotation();
        BootOutcome {
            transcript: self.trace.into_lines(),
            actions: self.actions,
            status: self.machine.status(),
            rotations: self.rotations,
            max_footprint: self.max_footprint,
            max_open: self.max_open,
            served: self.served,
            steps: self.steps,
        }
    }

    // ---- helpers ---------------------------------------------------------------------------

    fn name(&self, peer: &PeerId) -> String {
        self.names.of(peer)
    }

    /// Adds a transcript line, formatted only when the transcript is kept.
    fn log(&mut self, line: impl FnOnce(&Self) -> String) {
        if self.trace.keeps() {
            let line = line(self);
            self.trace.push(self.now, line);
        }
    }

    #[track_caller]
    fn check(&self, ok: bool, what: &str) {
        if !ok {
            self.trace
                .fail(&format!("boot-node invariant violated: {what}"));
        }
    }

    fn schedule(&mut self, after: Duration, item: Item) {
        self.queue.push(self.now + after, item);
    }

    fn token(&mut self) -> Token {
        self.next_token += 1;
        Token(self.next_token)
    }

    /// The world's wall clock at `at`: its start, the time since, and every step it took
    /// (`Happening::ClockStep`), to the nanosecond.
    fn wall_at(&self, at: Instant) -> Option<Duration> {
        let since = at.saturating_duration_since(self.base);
        let start = Duration::from_secs(self.world.config.unix_time?) + since;
        Some(if self.clock_offset >= 0 {
            start + Duration::from_secs(self.clock_offset as u64)
        } else {
            start.saturating_sub(Duration::from_secs(self.clock_offset.unsigned_abs()))
        })
    }

    /// The wall clock at the latest instant the machine was fed, in Unix seconds: what it
    /// signs with and judges signatures by.
    fn unix_now(&self) -> Option<u64> {
        self.wall_at(self.max_fed).map(|w| w.as_secs())
    }

    fn non_members(&self) -> u64 {
        self.sessions
            .keys()
            .filter(|p| !self.members.contains(p))
            .count() as u64
    }

    /// What `/status` must list for this node first.
    fn compute_own_entries(&self) -> Vec<String> {
        let c = &self.world.config;
        // Listen addresses another host could dial: no link-local or unspecified ones, and
        // loopback ones only when the policy leaves nothing else.
        let dialable = |a: &Multiaddr| {
            !matches!(classify(a), AddrClass::LinkLocal | AddrClass::Unspecified)
                && c.policy.allows(classify(a))
        };
        let only_loopback = self
            .listen
            .iter()
            .filter(|a| dialable(a))
            .all(|a| classify(a) == AddrClass::Loopback);
        let mut out: Vec<Multiaddr> = Vec::new();
        for a in c.external_addrs.iter().chain(&self.listen) {
            let listed = c.external_addrs.contains(a)
                || (dialable(a) && (only_loopback || classify(a) != AddrClass::Loopback));
            if listed && !out.contains(a) {
                out.push(a.clone());
            }
        }
        out.iter()
            .map(|a| format!("{a}/p2p/{}", c.local_peer))
            .collect()
    }

    fn own_entries(&self) -> Vec<String> {
        self.lists.0.clone()
    }

    fn member_entries(&self) -> Vec<(PeerId, String)> {
        self.lists.1.clone()
    }

    /// The members in the order the cluster lists them now.
    fn compute_member_entries(&self) -> Vec<(PeerId, String)> {
        self.world
            .members
            .iter()
            .filter(|m| self.members.contains(&m.id()))
            .map(|m| (m.id(), m.full_text()))
            .collect()
    }

    fn healthy_signer(&self) -> bool {
        let Some(s) = &self.world.config.signing else {
            return false;
        };
        self.world.signer.healthy()
            && self.world.hostile.is_none()
            && self.world.config.unix_time.is_some()
            && self.world.signer.latency < s.validity / 4
            && self.world.signer.latency < s.timeout
    }

    fn close_rotation(&mut self) {
        let r = std::mem::take(&mut self.rotation);
        if !r.is_empty() {
            self.rotations.push(r);
        }
    }

    fn lists_changed(&mut self) {
        self.last_list_change = self.max_fed;
        self.lists = (self.compute_own_entries(), self.compute_member_entries());
        self.close_rotation();
    }

    // ---- the world happening ---------------------------------------------------------------

    fn deliver(&mut self, item: Item) {
        match item {
            Item::Happen(h) => self.happen(h),
            Item::Feed(input) => {
                if let BootNodeInput::LoadAnswered { ask, .. } = &input {
                    self.load_pending.remove(ask);
                }
                self.feed(input);
            }
            Item::Request => {
                let reply = self.token();
                let pending = Pending {
                    own: self.own_entries(),
                    members: self.member_entries(),
                };
                self.status_pending.insert(reply, pending);
                self.feed(BootNodeInput::StatusRequested { reply });
                self.check_not_kept_waiting(reply);
            }
            Item::Open {
                peer,
                inbound,
                epoch,
            } => {
                let current = self.sessions.get(&peer).map(|s| s.epoch);
                if epoch != 0 && current != Some(epoch) {
                    return; // the session this connection belonged to has ended
                }
                self.open_connection(peer, inbound);
            }
            Item::Leave { peer, epoch } => {
                if self.sessions.get(&peer).map(|s| s.epoch) != Some(epoch) {
                    return;
                }
                let conns: Vec<Token> = self
                    .open
                    .iter()
                    .filter(|(_, p)| **p == peer)
                    .map(|(t, _)| *t)
                    .collect();
                for conn in conns {
                    self.close_connection(conn);
                }
            }
            Item::Close(conn) => {
                if self.open.contains_key(&conn) {
                    self.close_connection(conn);
                }
            }
            Item::AskDialBack { peer, epoch, ask } => {
                if self.sessions.get(&peer).map(|s| s.epoch) != Some(epoch) {
                    return;
                }
                let Some(conn) = (self.open.iter())
                    .find(|(_, p)| **p == peer)
                    .map(|(t, _)| *t)
                else {
                    return;
                };
                // A zero round trip stands for one not measured before the request.
                let policy = &self.world.config.dial_back;
                if !ask.rtt.is_zero() {
                    self.conn_rtt.insert(conn, ask.rtt);
                    // Requests over this connection still waiting for a round trip start now.
                    let floor = policy.timeout(Some(ask.rtt));
                    for (_, c, _, _, f) in self.dial_backs_owed.values_mut() {
                        if *c == conn {
                            *f = (*f).min(floor);
                        }
                    }
                    self.feed(BootNodeInput::RoundTrip { conn, rtt: ask.rtt });
                }
                // What the machine knows of this connection's round trip (an earlier request
                // of the same session may have measured it).
                let floor = policy.timeout(self.conn_rtt.get(&conn).copied());
                for _ in 0..ask.times {
                    let reply = self.token();
                    self.dial_backs_owed
                        .insert(reply, (peer, conn, self.max_fed, ask, floor));
                    let addrs = vec!["/ip4/192.168.1.2/tcp/4001".parse().expect("valid")];
                    // Its legs start in this step or once a round trip is known.
                    self.unstarted.entry(peer).or_default().push((reply, ask));
                    let before = self.unstarted.get(&peer).map_or(0, Vec::len);
                    self.feed(BootNodeInput::DialBackAsked {
                        reply,
                        conn,
                        peer,
                        claimed: peer,
                        addrs,
                    });
                    // Refused at once: no leg will ever start for it.
                    let queue = self.unstarted.entry(peer).or_default();
                    if !self.dial_backs_owed.contains_key(&reply) && queue.len() == before {
                        queue.pop();
                    }
                }
            }
            Item::Answer {
                probe,
                peer,
                epoch,
                result,
            } => {
                if self.sessions.get(&peer).map(|s| s.epoch) == Some(epoch)
                    && self.owed.get(&peer) == Some(&probe)
                {
                    self.owed.remove(&peer);
                    self.feed(BootNodeInput::DialRequestAnswered { probe, result });
                }
            }
        }
    }

    fn happen(&mut self, h: Happening) {
        match h {
            Happening::Join(j) => self.join(j),
            Happening::StatusRequests { count, spacing } => {
                for i in 0..count {
                    self.schedule(spacing * i, Item::Request);
                }
            }
            Happening::MemberConnects {
                member,
                inbound,
                stay,
            } => {
                let id = self.world.members[member].id();
                if let Some(conn) = self.open_connection(id, inbound) {
                    self.schedule(stay, Item::Close(conn));
                }
            }
            Happening::ClusterChange(indices) => {
                self.members = indices
                    .iter()
                    .map(|i| self.world.members[*i].id())
                    .collect();
                let full = indices
                    .iter()
                    .map(|i| self.world.members[*i].full())
                    .collect();
                self.feed(BootNodeInput::ClusterChanged(full));
                self.lists_changed();
            }
            Happening::ListenAdded(addr) => {
                if !self.listen.contains(&addr) {
                    self.listen.push(addr.clone());
                }
                self.feed(BootNodeInput::ListenAddrAdded(addr));
                self.lists_changed();
            }
            Happening::ListenRemoved => {
                if !self.listen.is_empty() {
                    let addr = self.listen.remove(0);
                    self.feed(BootNodeInput::ListenAddrRemoved(addr));
                    self.lists_changed();
                }
            }
            Happening::LoadAsked(i) => {
                let reply = self.token();
                self.load_replies.insert(reply);
                let peer = crate::bootworld::sim_peer(i);
                self.feed(BootNodeInput::LoadAsked { reply, peer });
                self.check(
                    !self.load_replies.contains(&reply),
                    "a load question was not answered in its step",
                );
            }
            Happening::ClockStep(seconds) => {
                self.clock_offset += i64::from(seconds);
                // Fed at `now` (not a tick, so never backwards): the reading of that instant.
                if let Some(wall) = self.wall_at(self.now) {
                    self.feed(BootNodeInput::WallClock(wall));
                    // Signatures made under the old reading may stop being servable; making
                    // new ones takes a signing latency, like a list change.
                    self.lists_changed();
                }
            }
            Happening::StrayAnswer(raw) => {
                // Not a probe the machine asked for: an id far from any it allocated.
                let probe = stray_probe(raw);
                let result = Err(ProbeError::Request(RequestFailure::Timeout));
                self.feed(BootNodeInput::DialRequestAnswered { probe, result });
            }
        }
    }

    fn join(&mut self, j: Joiner) {
        let peer = crate::bootworld::sim_peer(j.peer);
        self.names.insert(peer, format!("J{}", j.peer));
        self.scripts.insert(peer, j.answer);
        self.open_connection(peer, j.inbound);
        let Some(epoch) = self.sessions.get(&peer).map(|s| s.epoch) else {
            return;
        };
        let mut at = Duration::ZERO;
        for gap in &j.extra {
            at += *gap;
            if at < j.stay {
                self.schedule(
                    at,
                    Item::Open {
                        peer,
                        inbound: true,
                        epoch,
                    },
                );
            }
        }
        if let Some(ask) = j.asks.filter(|a| a.after < j.stay) {
            self.schedule(ask.after, Item::AskDialBack { peer, epoch, ask });
        }
        self.schedule(j.stay, Item::Leave { peer, epoch });
    }

    fn open_connection(&mut self, peer: PeerId, inbound: bool) -> Option<Token> {
        let conn = self.token();
        let first_inbound = {
            let view = self.sessions.entry(peer).or_insert_with(|| {
                self.epochs += 1;
                SessionView {
                    epoch: self.epochs,
                    inbound_seen: false,
                    requests: 0,
                }
            });
            let first = inbound && !view.inbound_seen;
            view.inbound_seen |= inbound;
            first
        };
        self.open.insert(conn, peer);
        self.max_open = self.max_open.max(self.open.len());
        let remote = format!("{OBSERVED_IP}/tcp/50000").parse().expect("valid");
        self.feed(BootNodeInput::ConnectionOpened {
            conn,
            peer,
            inbound,
            remote,
        });
        if first_inbound && !self.members.contains(&peer) {
            let requests = self.sessions.get(&peer).map_or(0, |s| s.requests);
            self.check(
                requests == 1,
                "a joining peer got no dial request in the step it connected",
            );
        }
        Some(conn)
    }

    fn close_connection(&mut self, conn: Token) {
        let Some(peer) = self.open.remove(&conn) else {
            return;
        };
        self.conn_rtt.remove(&conn);
        let last = !self.open.values().any(|p| *p == peer);
        if last {
            self.sessions.remove(&peer);
            // Its dial-back answers have nowhere to go: the machine must not send them.
            self.dial_backs_owed.retain(|_, (p, ..)| *p != peer);
            self.unstarted.remove(&peer);
        }
        self.feed(BootNodeInput::ConnectionClosed { conn });
        if let (true, Some(probe)) = (last, self.owed.remove(&peer)) {
            // What libp2p reports for a request whose connection closed: the machine ended it
            // when the peer left, so this answer is stale.
            let result = Err(ProbeError::Request(RequestFailure::ConnectionClosed));
            self.feed(BootNodeInput::DialRequestAnswered { probe, result });
        }
    }

    // ---- feeding the machine ---------------------------------------------------------------

    fn feed(&mut self, input: BootNodeInput) {
        let is_tick = input == BootNodeInput::Tick;
        // Listen addresses and membership are state, not events: a replay of one would be a
        // driver lying about the world, which no machine can detect. Everything else may be
        // duplicated or replayed by a hostile driver.
        let event_like = !matches!(
            input,
            BootNodeInput::Tick
                | BootNodeInput::ListenAddrAdded(_)
                | BootNodeInput::ListenAddrRemoved(_)
                | BootNodeInput::ClusterChanged(_)
                | BootNodeInput::WallClock(_)
        );
        if let BootNodeInput::RoundTrip { conn, rtt } = &input {
            // A round trip fed before a request's legs start (a hostile driver's replay of an
            // older measurement too) shortens the timeout the machine may give them.
            let floor = self.world.config.dial_back.timeout(Some(*rtt));
            for (_, c, _, _, f) in self.dial_backs_owed.values_mut() {
                if *c == *conn {
                    *f = (*f).min(floor);
                }
            }
        }
        let feeding = self
            .driver
            .feeding(self.now, self.base, is_tick, event_like);
        let at = feeding.at;
        if let Some(later) = feeding.replay_after {
            self.schedule(later, Item::Feed(input.clone()));
        }
        for _ in 0..feeding.times {
            self.log(|s| format!("< {}", s.describe_input(&input)));
            self.max_fed = self.max_fed.max(at);
            self.machine.handle(at, input.clone());
            self.drain();
        }
    }

    fn drain(&mut self) {
        while let Some(action) = self.machine.poll_action() {
            self.log(|s| format!("> {}", s.describe_action(&action)));
            if self.trace.keeps() {
                self.actions.push((self.now - self.base, action.clone()));
            }
            self.act(action);
        }
        if let Some(t) = self.machine.poll_timeout() {
            self.check(
                t > self.max_fed,
                "busy loop: poll_timeout() <= now with no action queued",
            );
        }
        self.check_footprint();
    }

    fn check_footprint(&mut self) {
        let fp = self.machine.footprint();
        let c = &self.world.config;
        self.check(
            fp.connections <= self.open.len() && fp.peers <= self.sessions.len(),
            "the machine holds connections or peers the world has closed",
        );
        self.check(
            fp.dial_requests <= fp.peers,
            "a dial request outlived its peer",
        );
        self.check(
            fp.waiting_requests <= c.max_waiting_requests,
            "more /status requests waiting than the cap",
        );
        self.check(
            fp.load_asks <= self.world.members.len() && fp.loads <= self.world.members.len(),
            "more load state than members",
        );
        self.check(
            fp.signatures <= 64 && fp.sign_jobs <= 64 + c.max_waiting_requests,
            "unbounded signing state",
        );
        let bound = 2 * (self.open.len() + self.sessions.len()) + c.max_waiting_requests + 512;
        self.check(
            fp.total() <= bound,
            "state beyond a constant per connected peer",
        );
        self.max_footprint = self.max_footprint.max(fp.total());
    }

    // ---- carrying out actions --------------------------------------------------------------

    fn act(&mut self, action: BootNodeAction) {
        match action {
            BootNodeAction::SendDialRequest { probe, peer, addrs } => {
                self.check(!self.members.contains(&peer), "a dial request to a member");
                let view = self.sessions.get(&peer).copied();
                self.check(
                    view.is_some(),
                    "a dial request to a peer that is not connected",
                );
                let Some(view) = view else { return };
                self.check(
                    view.inbound_seen,
                    "a dial request before any inbound connection",
                );
                self.check(view.requests == 0, "a second dial request in one session");
                if let Some(s) = self.sessions.get_mut(&peer) {
                    s.requests += 1;
                }
                self.check_dial_back_addrs(&addrs);
                let (kind, after) = self
                    .scripts
                    .get(&peer)
                    .copied()
                    .unwrap_or((Answer::Never, Duration::ZERO));
                let result = match kind {
                    Answer::Reachable => Ok(addrs
                        .first()
                        .cloned()
                        .unwrap_or_else(|| "/ip4/203.0.113.10/tcp/44000".parse().expect("valid"))),
                    Answer::DialError => Err(ProbeError::DialBackFailed),
                    Answer::Refused => Err(ProbeError::Refused),
                    Answer::Fails => {
                        Err(ProbeError::Request(RequestFailure::Stream("reset".into())))
                    }
                    Answer::Never => return,
                };
                self.owed.insert(peer, probe);
                let epoch = view.epoch;
                self.schedule(
                    after,
                    Item::Answer {
                        probe,
                        peer,
                        epoch,
                        result,
                    },
                );
            }
            BootNodeAction::AskLoad { ask, member, addr } => {
                self.check(
                    self.members.contains(&member),
                    "a load question to a non-member",
                );
                // The machine gives up on a question after two intervals and may ask again.
                let stale = self.world.config.load_interval * 2;
                let fed = self.max_fed;
                self.load_pending
                    .retain(|_, (_, at)| fed.saturating_duration_since(*at) < stale);
                self.check(
                    !self.load_pending.values().any(|(m, _)| *m == member),
                    "a second load question to a member before the first was answered",
                );
                let sim = self
                    .world
                    .members
                    .iter()
                    .find(|m| m.id() == member)
                    .cloned();
                let Some(sim) = sim else { return };
                let expected = pyrsia_boot_core::split_p2p(&sim.full()).map(|(a, _)| a);
                self.check(
                    expected.as_ref() == Some(&addr),
                    "a load question to the wrong address",
                );
                self.load_pending.insert(ask, (member, self.max_fed));
                if let Some(latency) = sim.latency {
                    let result = load_answer(&sim);
                    self.schedule(
                        latency,
                        Item::Feed(BootNodeInput::LoadAnswered { ask, result }),
                    );
                }
            }
            BootNodeAction::AnswerLoad { reply, peers_count } => {
                let asked = self.load_replies.remove(&reply);
                self.check(asked, "a load answer nobody asked for");
                self.check(
                    peers_count == self.non_members(),
                    "a load answer that is not the true count of connected non-members",
                );
            }
            BootNodeAction::ServeStatus { reply, body } => self.on_served(reply, &body),
            BootNodeAction::Sign {
                sign,
                peer_addrs_json,
                issued_at,
                expires_at,
                sequence,
            } => {
                let policy = self.world.config.signing.clone();
                self.check(policy.is_some(), "a sign job without signing configured");
                let Some(policy) = policy else { return };
                self.check(
                    Some(issued_at) == self.unix_now(),
                    "a signature not issued now",
                );
                self.check(
                    expires_at == issued_at + policy.validity.as_secs()
                        && sequence == policy.sequence,
                    "a sign job for another validity or sequence than configured",
                );
                self.sign_jobs += 1;
                let n = self.sign_jobs;
                let s = self.world.signer;
                if s.hang_every > 0 && n.is_multiple_of(s.hang_every) {
                    return;
                }
                let dead = s.dies_after.is_some_and(|d| n > d);
                let result = if dead || (s.fail_every > 0 && n.is_multiple_of(s.fail_every)) {
                    Err("the signer failed".to_string())
                } else {
                    signed::sign(
                        &operator(),
                        &peer_addrs_json,
                        issued_at,
                        expires_at,
                        sequence,
                    )
                    .map_err(|e| e.to_string())
                };
                self.schedule(
                    s.latency,
                    Item::Feed(BootNodeInput::Signed { sign, result }),
                );
            }
            BootNodeAction::DialBack {
                job,
                from,
                peer,
                addrs,
                attempts,
            } => self.dial_back(job, from, peer, &addrs, attempts),
            BootNodeAction::CancelDialBack { .. } => {}
            BootNodeAction::AnswerDialBack { reply, answer } => {
                self.on_dial_back_answer(reply, &answer)
            }
            BootNodeAction::Report(_) => {}
        }
    }

    fn check_dial_back_addrs(&self, addrs: &[Multiaddr]) {
        let c = &self.world.config;
        let known = |a: &Multiaddr| c.external_addrs.contains(a) || self.listen.contains(a);
        self.check(
            addrs.iter().all(known),
            "a dial request names an address we do not have",
        );
        self.check(
            addrs.iter().all(starts_with_ip),
            "a dial request names an address a peer's AutoNAT server cannot use",
        );
        let any_ip = self
            .listen
            .iter()
            .chain(&c.external_addrs)
            .any(starts_with_ip);
        self.check(
            !any_ip || !addrs.is_empty(),
            "a dial request without addresses although the node listens on some",
        );
    }

    fn on_served(&mut self, reply: Token, body: &[u8]) {
        let pending = self.status_pending.remove(&reply);
        self.check(
            pending.is_some(),
            "a /status answer nobody asked for, or a second one",
        );
        let Some(Pending { own, members }) = pending else {
            return;
        };
        let doc: serde_json::Value = serde_json::from_slice(body).expect("the machine serves JSON");
        let peer_addrs: Vec<String> = doc["peer_addrs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        self.check(
            doc["peer_id"].as_str() == Some(self.local_text.as_str()),
            "/status names another peer as its server",
        );
        self.check(
            doc["peers_count"].as_u64() == Some(self.non_members()),
            "/status peers_count is not the true count of connected non-members",
        );
        self.check(
            peer_addrs.len() >= own.len() && peer_addrs[..own.len()] == own[..],
            "/status does not list this node's advertised addresses first",
        );
        let rest = &peer_addrs[own.len().min(peer_addrs.len())..];
        let n = members.len();
        let rotated = rest.len() == n
            && (n == 0 || (0..n).any(|s| (0..n).all(|i| rest[i] == members[(s + i) % n].1)));
        self.check(
            rotated,
            "/status does not list every member once, in rotation",
        );
        if n >= 2 {
            for (id, _) in &members {
                self.rotation.entry(*id).or_insert(0);
            }
            let first = members
                .iter()
                .find(|(_, e)| *e == rest[0])
                .map(|(id, _)| *id);
            if let Some(first) = first {
                *self.rotation.entry(first).or_insert(0) += 1;
            }
        }
        self.served.0 += 1;
        let Some(sig) = doc.get("signature").filter(|s| !s.is_null()) else {
            return;
        };
        self.served.1 += 1;
        let policy = self.world.config.signing.clone();
        self.check(policy.is_some(), "a signature although signing is off");
        let Some(policy) = policy else { return };
        let sig: DocSignature = serde_json::from_value(sig.clone()).expect("a signature field");
        let raw = serde_json::to_vec(&doc["peer_addrs"]).expect("serializes");
        let now = self.unix_now();
        let trust = Trust {
            keys: vec![operator().public()],
            unix_time: now,
            sequences: Vec::new(),
        };
        // Verifying is deterministic: each distinct signature over each list is checked
        // cryptographically once, the clock on every serve.
        let key = (raw.clone(), sig.sig.clone());
        if !self.verified.contains(&key) {
            let verdict = signed::verify(&raw, Some(Ok(sig.clone())), &trust);
            self.check(
                verdict.is_ok(),
                "a served signature does not verify, or has expired",
            );
            self.verified.insert(key);
        }
        let now = now.unwrap_or(u64::MAX);
        self.check(
            sig.issued_at <= now && now < sig.expires_at,
            "a served signature is expired or not yet valid",
        );
        let left = sig.expires_at.saturating_sub(now);
        self.check(
            left > policy.validity.as_secs() / 4,
            "a served signature has a quarter of its validity or less left",
        );
    }

    /// With a healthy signer, a request is answered in its own step unless its list changed
    /// less than one signing latency ago: every current list is signed ahead of requests and
    /// renewed before it stops being servable.
    fn check_not_kept_waiting(&self, reply: Token) {
        if !self.healthy_signer() {
            return;
        }
        let grace = self.world.signer.latency + Duration::from_millis(1);
        if self.max_fed < self.last_list_change + grace {
            return;
        }
        self.check(
            !self.status_pending.contains_key(&reply),
            "a /status request waited for a signature that could have been made ahead",
        );
    }

    // ---- transcript ------------------------------------------------------------------------

    fn describe_input(&self, input: &BootNodeInput) -> String {
        match input {
            BootNodeInput::Tick => "tick".into(),
            BootNodeInput::ListenAddrAdded(a) => format!("listen+ {a}"),
            BootNodeInput::ListenAddrRemoved(a) => format!("listen- {a}"),
            BootNodeInput::ConnectionOpened {
                conn,
                peer,
                inbound,
                ..
            } => {
                let dir = if *inbound { "in" } else { "out" };
                format!("open {conn} {} {dir}", self.name(peer))
            }
            BootNodeInput::ConnectionClosed { conn } => format!("close {conn}"),
            BootNodeInput::DialRequestAnswered { probe, result } => match result {
                Ok(a) => format!("answer {probe} reachable at {a}"),
                Err(e) => format!("answer {probe} {e}"),
            },
            BootNodeInput::LoadAnswered { ask, result } => match result {
                Ok(n) => format!("load {ask} = {n}"),
                Err(e) => format!("load {ask} failed: {e}"),
            },
            BootNodeInput::LoadAsked { reply, peer } => {
                format!("load? {reply} from {}", self.name(peer))
            }
            BootNodeInput::StatusRequested { reply } => format!("GET /status {reply}"),
            BootNodeInput::Signed { sign, result } => match result {
                Ok(s) => format!(
                    "signed {sign} until +{}s",
                    s.expires_at
                        .saturating_sub(self.world.config.unix_time.unwrap_or(0))
                ),
                Err(e) => format!("sign {sign} failed: {e}"),
            },
            BootNodeInput::ClusterChanged(m) => format!("cluster = {} member(s)", m.len()),
            BootNodeInput::WallClock(d) => format!(
                "wall clock +{}s",
                d.as_secs() as i64 - self.world.config.unix_time.unwrap_or(0) as i64
            ),
            BootNodeInput::DialBackAsked { reply, peer, .. } => {
                format!("dial-back-asked {reply} by {}", self.name(peer))
            }
            BootNodeInput::RoundTrip { conn, rtt } => {
                format!("rtt {conn} {}ms", rtt.as_millis())
            }
            BootNodeInput::DialedBack { job, from, result } => match result {
                Ok(a) => format!("dialed-back {job} {from:?} at {a}"),
                Err(e) => format!("dialed-back {job} {from:?} failed: {e}"),
            },
        }
    }

    /// Carries out one dial-back leg: only to the asker's observed IP, within the throttle;
    /// it connects after the asker's latency if the asker is reachable, never otherwise.
    fn dial_back(
        &mut self,
        job: DialBackId,
        from: DialBackFrom,
        peer: PeerId,
        addrs: &[Multiaddr],
        attempts: u32,
    ) {
        let policy = &self.world.config.dial_back;
        let observed = OBSERVED_IP.parse::<Multiaddr>().expect("valid");
        self.check(
            !addrs.is_empty()
                && addrs
                    .iter()
                    .all(|a| a.iter().next() == observed.iter().next()),
            "a dial-back to an address other than the asker's observed IP",
        );
        // A leg's attempts may come in more than one action (the first alone, the rest after
        // the stagger), never more in all than the policy's.
        let launched = self.dial_back_launched.entry((job, from)).or_insert(0);
        *launched += attempts;
        let first = *launched == attempts;
        let total = policy.attempts.clamp(1, 8);
        let first_ok = attempts == 1 || (attempts == total && policy.stagger_min.is_zero());
        let launched_ok = *launched <= total;
        self.check(
            attempts >= 1 && launched_ok && (!first || first_ok),
            "dial-back attempts outside the policy",
        );
        let period = policy.period;
        let now = self.max_fed;
        if from == DialBackFrom::Own && self.dial_back_legs.insert(job, peer).is_none() {
            self.dial_back_starts
                .retain(|(t, _)| now.saturating_duration_since(*t) < period);
            self.dial_back_starts.push((now, peer));
            let mine = self
                .dial_back_starts
                .iter()
                .filter(|(_, p)| *p == peer)
                .count();
            self.check(
                mine <= policy.per_peer as usize
                    && self.dial_back_starts.len() <= policy.global as usize,
                "more dial-backs in one period than the throttles allow",
            );
        }
        if !self.job_asks.contains_key(&job) {
            let queue = self.unstarted.entry(peer).or_default();
            if !queue.is_empty() {
                let (_, ask) = queue.remove(0);
                self.job_asks.insert(job, ask);
            }
        }
        let asking = self.job_asks.get(&job).copied();
        self.check(asking.is_some(), "a dial-back that no request asked for");
        let blocked = from == DialBackFrom::Alternate;
        let result = match asking {
            Some(a) if a.reachable && !(blocked && a.strangers_blocked) => {
                Some(Ok(addrs[0].clone()))
            }
            Some(a) if a.rejects => Some(Err("connection refused".to_string())),
            _ => None, // dropped: nothing ever comes back
        };
        if let (Some(ask), Some(result)) = (asking, result) {
            let input = BootNodeInput::DialedBack { job, from, result };
            self.schedule(ask.latency, Item::Feed(input));
        }
    }

    /// An answer to a dial request our server got: once per request, never for a peer that
    /// left, within the longest timeout, and "reachable" only for a reachable asker.
    fn on_dial_back_answer(&mut self, reply: Token, answer: &DialBackAnswer) {
        let owed = self.dial_backs_owed.remove(&reply);
        self.check(
            owed.is_some(),
            "a dial-back answer nobody is owed (twice, or after the peer left)",
        );
        let Some((peer, _, asked, ask, timeout)) = owed else {
            return;
        };
        // Refused after waiting in the throttle's queue: its legs never start.
        if let Some(queue) = self.unstarted.get_mut(&peer) {
            queue.retain(|(r, _)| *r != reply);
        }
        let waited = self.max_fed.saturating_duration_since(asked);
        let policy = &self.world.config.dial_back;
        self.check(
            waited
                <= policy.queue_wait
                    + policy.rtt_wait
                    + policy.max_timeout
                    + Duration::from_millis(1),
            "a dial-back answered later than the longest timeout",
        );
        let reachable = matches!(answer, DialBackAnswer::Reachable(_));
        self.check(
            !reachable || ask.reachable,
            "answered reachable for an asker no dial-back can reach",
        );
        let strangers = !self.world.config.dial_back.alternate || !ask.strangers_blocked;
        self.check(
            !reachable || strangers,
            "answered reachable for an asker only contacted hosts can reach",
        );
        self.check(
            reachable
                || !ask.reachable
                || !strangers
                || ask.latency >= timeout
                || !matches!(answer, DialBackAnswer::DialError(_)),
            "answered unreachable for an asker a dial-back reaches well within the timeout",
        );
    }

    fn describe_action(&self, action: &BootNodeAction) -> String {
        match action {
            BootNodeAction::SendDialRequest { probe, peer, addrs } => {
                format!(
                    "dial-request {probe} {} ({} addr)",
                    self.name(peer),
                    addrs.len()
                )
            }
            BootNodeAction::AskLoad { ask, member, .. } => {
                format!("ask-load {ask} {}", self.name(member))
            }
            BootNodeAction::AnswerLoad { reply, peers_count } => {
                format!("answer-load {reply} {peers_count}")
            }
            BootNodeAction::ServeStatus { reply, body } => {
                let doc: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
                let entries = doc["peer_addrs"].as_array().map_or(0, Vec::len);
                let first = doc["peer_addrs"]
                    .as_array()
                    .and_then(|a| a.get(self.own_entries().len()))
                    .and_then(|e| e.as_str())
                    .and_then(|e| e.rsplit_once("/p2p/"))
                    .and_then(|(_, id)| id.parse::<PeerId>().ok())
                    .map(|id| format!(", {} first", self.name(&id)))
                    .unwrap_or_default();
                let signed = if doc.get("signature").is_some_and(|s| !s.is_null()) {
                    "signed"
                } else {
                    "unsigned"
                };
                format!(
                    "serve {reply} {signed}, {entries} entr(ies){first}, peers_count {}",
                    doc["peers_count"]
                )
            }
            BootNodeAction::Sign {
                sign, issued_at, ..
            } => format!(
                "sign {sign} at +{}s",
                issued_at.saturating_sub(self.world.config.unix_time.unwrap_or(0))
            ),
            BootNodeAction::DialBack {
                job,
                from,
                peer,
                attempts,
                ..
            } => format!("dial-back {job} {from:?} {} x{attempts}", self.name(peer)),
            BootNodeAction::CancelDialBack { job } => format!("cancel {job}"),
            BootNodeAction::AnswerDialBack { reply, answer } => {
                format!("answer-dial-back {reply} {answer:?}")
            }
            BootNodeAction::Report(e) => match e {
                BootNodeEvent::DialRequestSent { peer } => {
                    format!("report sent {}", self.name(peer))
                }
                BootNodeEvent::DialRequestEnded {
                    peer,
                    outcome,
                    after,
                } => format!(
                    "report ended {} {} after {}ms",
                    self.name(peer),
                    outcome.name(),
                    after.as_millis()
                ),
                BootNodeEvent::StatusServed { .. } => "report served".into(),
                BootNodeEvent::Signed { .. } => "report signed".into(),
                BootNodeEvent::SigningFailed { reason } => {
                    format!("report signing-failed: {reason}")
                }
                BootNodeEvent::LoadFailed { member, error } => {
                    format!("report load-failed {}: {error}", self.name(member))
                }
                BootNodeEvent::DialBackServed {
                    peer,
                    outcome,
                    after,
                } => format!(
                    "report dial-back {} {outcome} after {}ms",
                    self.name(peer),
                    after.as_millis()
                ),
                other => format!("report {other:?}"),
            },
        }
    }
}

/// How long a happening keeps the world busy after it starts.
fn span(h: &Happening) -> Duration {
    match h {
        Happening::Join(j) => j.stay + j.answer.1,
        Happening::StatusRequests { count, spacing } => *spacing * *count,
        Happening::MemberConnects { stay, .. } => *stay,
        _ => Duration::ZERO,
    }
}

/// A probe id the machine never allocated (its ids count up from 1; these start at 2^40).
fn stray_probe(raw: u64) -> ProbeId {
    ProbeId::from_raw((1 << 40) + raw)
}

/// Whether `a` starts with an IP address a peer can dial (not a name, not a wildcard).
fn starts_with_ip(a: &Multiaddr) -> bool {
    match a.iter().next() {
        Some(pyrsia_boot_core::multiaddr::Protocol::Ip4(ip)) => !ip.is_unspecified(),
        Some(pyrsia_boot_core::multiaddr::Protocol::Ip6(ip)) => !ip.is_unspecified(),
        _ => false,
    }
}
