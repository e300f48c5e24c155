//! [`BootNodeMachine`]: the boot node's policy, sans IO.
//!
//! The other side of [`crate::BootstrapMachine`], with the same contract (feed with `now`,
//! drain every action, arm one timer, wait). It decides:
//!
//! - **who gets a dial request, and when**: every peer that is not a cluster member gets one
//!   AutoNAT v1 dial request in the very step its first inbound connection is reported. That
//!   request is what makes the peer "fully connected" (its AutoNAT server emits
//!   `InboundProbe::Request`), so it must not wait for libp2p-autonat's timer. One per
//!   connection session: a failure is not retried (the peer's own inbound-probe timeout moves
//!   it to another boot peer), a peer that leaves first ends its request;
//! - **which addresses are advertised**: the configured external addresses, then the listen
//!   addresses the address policy allows; a dial request carries addresses with the right
//!   ports even when `/status` advertises none (the peer's server substitutes the IP it sees);
//! - **the `/status` document**: this node first (a Pyrsia client reads only `peer_addrs[0]`),
//!   then the cluster's members in round-robin order, their load when fresh;
//! - **load polling**: each member is asked every `load_interval`, one question at a time;
//! - **signing and renewal**: one signature per distinct peer list, renewed once a quarter of
//!   its validity has passed, never served with less than a quarter left or after expiry;
//! - **bounded memory**: nothing about a peer outlives its last connection.
//!
//! Wall-clock time is an input ([`BootNodeConfig::unix_time`] at the start, then
//! [`BootNodeInput::WallClock`] readings, each advanced by the instants fed).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use libp2p_identity::PeerId;
use multiaddr::Multiaddr;

use crate::ids::{LoadAskId, ProbeId, SignId, Token};

mod autonat;
mod board;
mod config;
mod io;
mod peers;
mod report;
mod status;
mod work;

pub use config::{BootNodeConfig, DialBackPolicy, SigningPolicy};
pub use io::{BootNodeAction, BootNodeInput, DialBackAnswer, DialBackFrom};
pub use report::{BootNodeEvent, DialRequestOutcome};

pub use status::{BootNodeCounters, BootNodeStatus, Footprint};
pub use work::{WorkClass, WorkPlace, WorkRules};

use board::{CachedSignature, List, SignJob, Waiting};
use peers::{Member, Session};

/// Most listen addresses kept (a swarm reports one per interface and listener).
const MAX_LISTEN_ADDRS: usize = 64;
/// Most cluster members kept.
const MAX_MEMBERS: usize = 64;
/// Signatures kept, one per recently served peer list (the rotation makes one per member).
const MAX_SIGNATURES: usize = 64;

/// The boot node's sans-IO machine. See the module docs for its policies and the crate docs
/// for the driver loop.
#[derive(Debug)]
pub struct BootNodeMachine {
    config: BootNodeConfig,
    /// This node's id in base58 (encoded once, not per request).
    local_text: String,
    now: Instant,
    /// The instant of the last wall-clock reading, and the reading (since the Unix epoch).
    clock_origin: Instant,
    wall_origin: Option<Duration>,
    next_id: u64,
    actions: VecDeque<BootNodeAction>,
    // Addresses.
    listen: Vec<Multiaddr>,
    advertised: Vec<Multiaddr>,
    /// `advertised` with `/p2p/<self>`, as `/status` lists them.
    own_entries: Vec<String>,
    dial_back: Vec<Multiaddr>,
    members: Vec<Member>,
    /// The newest driver token seen: tokens only grow, so an older one is a replay.
    last_token: Option<Token>,
    // Peers.
    conns: BTreeMap<Token, PeerId>,
    /// Per open connection, its remote IP and round trip (for dial-backs asked over it).
    conn_facts: BTreeMap<Token, autonat::ConnFacts>,
    autonat: autonat::Server,
    sessions: BTreeMap<PeerId, Session>,
    /// Connected peers that are not members.
    non_members: u64,
    probes: BTreeMap<ProbeId, (PeerId, Instant)>,
    probe_deadlines: BTreeSet<(Instant, ProbeId)>,
    // Load.
    loads: BTreeMap<PeerId, (u64, Instant)>,
    load_asks: BTreeMap<LoadAskId, (PeerId, Instant)>,
    next_load_poll: Option<Instant>,
    // /status.
    /// One peer list per rotation (one per member, or one without members).
    lists: Vec<List>,
    rotation: u64,
    signatures: Vec<CachedSignature>,
    sign_jobs: BTreeMap<SignId, SignJob>,
    waiting: VecDeque<Waiting>,
    sign_retry_at: Option<Instant>,
    /// Signing failures in a row (the retry wait doubles with each).
    sign_failures: u32,
    counters: BootNodeCounters,
}

impl BootNodeMachine {
    /// A boot node machine started at `now`, with no listen address and no connection yet.
    pub fn new(config: BootNodeConfig, now: Instant) -> Self {
        let config = config.sanitized();
        let wall_origin = config.unix_time.map(Duration::from_secs);
        let mut machine = BootNodeMachine {
            local_text: config.local_peer.to_string(),
            config,
            now,
            clock_origin: now,
            wall_origin,
            next_id: 1,
            actions: VecDeque::new(),
            listen: Vec::new(),
            advertised: Vec::new(),
            own_entries: Vec::new(),
            dial_back: Vec::new(),
            members: Vec::new(),
            last_token: None,
            conns: BTreeMap::new(),
            conn_facts: BTreeMap::new(),
            autonat: autonat::Server::default(),
            sessions: BTreeMap::new(),
            non_members: 0,
            probes: BTreeMap::new(),
            probe_deadlines: BTreeSet::new(),
            loads: BTreeMap::new(),
            load_asks: BTreeMap::new(),
            next_load_poll: None,
            lists: Vec::new(),
            rotation: 0,
            signatures: Vec::new(),
            sign_jobs: BTreeMap::new(),
            waiting: VecDeque::new(),
            sign_retry_at: None,
            sign_failures: 0,
            counters: BootNodeCounters::default(),
        };
        let cluster = machine.config.cluster.clone();
        machine.set_members(&cluster);
        machine.refresh_addresses();
        if machine.config.signing.is_some() && machine.config.unix_time.is_none() {
            machine.report(BootNodeEvent::SigningFailed {
                reason: "no wall clock: /status is served unsigned".into(),
            });
        }
        machine
    }

    /// Feeds one input. Every deadline at or before `now` fires first; a `now` earlier than a
    /// previous one counts as the previous one.
    pub fn handle(&mut self, now: Instant, input: BootNodeInput) {
        if now > self.now {
            self.now = now;
        }
        self.fire_deadlines();
        self.on_input(input);
        // An input can make something due at once (a signature that arrives already a quarter
        // old): start it now rather than leave a deadline in the past.
        self.fire_deadlines();
    }

    /// The next action for the driver. Drain until `None` after every `handle`.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<BootNodeAction> {
        self.actions.pop_front()
    }

    /// When the machine next needs [`BootNodeInput::Tick`]: the last `now` while actions are
    /// queued, else the earliest deadline; `None` when only an input can change anything.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.actions.is_empty() {
            return Some(self.now);
        }
        [
            self.probe_deadlines.first().map(|(t, _)| *t),
            self.sign_jobs.values().map(|j| j.deadline).min(),
            self.next_load_poll,
            self.next_renewal(),
            self.sign_retry_at,
            self.next_dial_back_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// A snapshot for status pages and metrics.
    pub fn status(&self) -> BootNodeStatus {
        BootNodeStatus {
            connected_peers: self.sessions.len(),
            peers_count: self.non_members,
            advertised: self.advertised.clone(),
            counters: self.counters,
            footprint: self.footprint(),
        }
    }

    /// What the machine holds now.
    pub fn footprint(&self) -> Footprint {
        Footprint {
            connections: self.conns.len(),
            dial_backs: self.autonat.jobs.len(),
            peers: self.sessions.len(),
            dial_requests: self.probes.len(),
            waiting_requests: self.waiting.len(),
            signatures: self.signatures.len(),
            sign_jobs: self.sign_jobs.len(),
            load_asks: self.load_asks.len(),
            loads: self.loads.len(),
        }
    }

    /// The configuration in force (after sanitizing).
    pub fn config(&self) -> &BootNodeConfig {
        &self.config
    }

    fn alloc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn push(&mut self, action: BootNodeAction) {
        self.actions.push_back(action);
    }

    fn report(&mut self, event: BootNodeEvent) {
        self.push(BootNodeAction::Report(event));
    }

    fn ignore(&mut self, input: &BootNodeInput, why: &'static str) {
        self.counters.ignored_inputs = self.counters.ignored_inputs.saturating_add(1);
        tracing::debug!(?input, why, "boot node ignored input");
    }

    /// Whether `token` is newer than every token seen so far (and records it). Drivers hand
    /// out tokens from one growing counter, so an older token can only be a replay.
    fn fresh_token(&mut self, token: Token) -> bool {
        if self.last_token.is_some_and(|last| token <= last) {
            return false;
        }
        self.last_token = Some(token);
        true
    }

    /// The wall clock now, in Unix seconds: its last reading ([`BootNodeConfig::unix_time`],
    /// then each [`BootNodeInput::WallClock`]) advanced by the instants fed since.
    fn unix_now(&self) -> Option<u64> {
        let since = self.now.saturating_duration_since(self.clock_origin);
        self.wall_origin.map(|w| w.saturating_add(since).as_secs())
    }

    /// The instant at which the wall clock reads `unix` (the last reading's, for times before
    /// it).
    fn instant_at(&self, unix: u64) -> Option<Instant> {
        let origin = self.wall_origin?;
        Some(self.clock_origin + Duration::from_secs(unix).saturating_sub(origin))
    }

    fn fire_deadlines(&mut self) {
        self.expire_dial_requests();
        self.expire_dial_backs();
        self.expire_sign_jobs();
        if self.sign_retry_at.is_some_and(|t| self.now >= t) {
            self.sign_retry_at = None;
        }
        if self.next_load_poll.is_some_and(|t| self.now >= t) {
            self.poll_loads();
        }
        self.renew_signatures();
    }

    fn on_input(&mut self, input: BootNodeInput) {
        match input {
            BootNodeInput::Tick => {}
            BootNodeInput::ListenAddrAdded(addr) => {
                if !self.listen.contains(&addr) && self.listen.len() < MAX_LISTEN_ADDRS {
                    self.listen.push(addr);
                    self.refresh_addresses();
                }
            }
            BootNodeInput::ListenAddrRemoved(addr) => {
                self.listen.retain(|a| *a != addr);
                self.refresh_addresses();
            }
            BootNodeInput::ConnectionOpened {
                conn,
                peer,
                inbound,
                ref remote,
            } => {
                if !self.fresh_token(conn) {
                    return self.ignore(&input, "a token not newer than the last (a replay)");
                }
                if peer == self.config.local_peer {
                    return self.ignore(&input, "a connection to ourselves");
                }
                let ip = crate::addr::ip_and_tcp_port(remote).map(|(ip, _)| ip);
                let facts = autonat::ConnFacts { ip, rtt: None };
                self.conn_facts.insert(conn, facts);
                self.on_connection_opened(conn, peer, inbound);
            }
            BootNodeInput::ConnectionClosed { conn } => match self.conns.remove(&conn) {
                Some(peer) => {
                    self.conn_facts.remove(&conn);
                    self.on_connection_closed(peer)
                }
                None => self.ignore(&input, "no open connection has this token"),
            },
            BootNodeInput::DialRequestAnswered { probe, ref result } => {
                match self.probes.remove(&probe) {
                    Some((peer, sent)) => self.on_dial_request_answered(probe, peer, sent, result),
                    None => self.ignore(&input, "no dial request with this id is awaited"),
                }
            }
            BootNodeInput::LoadAnswered { ask, ref result } => match self.load_asks.remove(&ask) {
                Some((member, _)) => self.on_load_answered(member, result),
                None => self.ignore(&input, "no load question with this id is awaited"),
            },
            BootNodeInput::LoadAsked { reply, .. } => {
                if !self.fresh_token(reply) {
                    return self.ignore(&input, "a token not newer than the last (a replay)");
                }
                let peers_count = self.non_members;
                self.push(BootNodeAction::AnswerLoad { reply, peers_count });
            }
            BootNodeInput::StatusRequested { reply } => {
                if !self.fresh_token(reply) {
                    return self.ignore(&input, "a token not newer than the last (a replay)");
                }
                self.on_status_request(reply);
            }
            BootNodeInput::Signed { sign, ref result } => match self.sign_jobs.remove(&sign) {
                Some(job) => self.on_signed(job, result),
                None => self.ignore(&input, "no signing job with this id is under way"),
            },
            BootNodeInput::DialBackAsked {
                reply,
                conn,
                peer,
                claimed,
                ref addrs,
            } => {
                if !self.fresh_token(reply) {
                    return self.ignore(&input, "a token not newer than the last (a replay)");
                }
                self.on_dial_back_asked(reply, conn, peer, claimed, addrs);
            }
            BootNodeInput::RoundTrip { conn, rtt } => match self.conn_facts.get_mut(&conn) {
                Some(f) => {
                    f.rtt = Some(rtt);
                    self.on_round_trip(conn, rtt);
                }
                None => self.ignore(&input, "no open connection has this token"),
            },
            BootNodeInput::DialedBack {
                job,
                from,
                ref result,
            } => {
                if !self.on_dialed_back(job, from, result) {
                    self.ignore(&input, "no dial-back leg with this id is under way");
                }
            }
            BootNodeInput::ClusterChanged(addrs) => {
                self.set_members(&addrs);
                self.rebuild_lists();
            }
            BootNodeInput::WallClock(reading) => {
                // Stepped by NTP, or left behind by a suspend the monotonic clock did not see:
                // signing times follow the new reading (signatures it makes look issued in the
                // future stop being served, and are made again). Jobs under way carry the old
                // reading's times: they are forgotten, waited-for ones too, and new ones start
                // at once (a request waiting for an old job would otherwise wait for it, then
                // for its replacement).
                let before = self.unix_now();
                self.clock_origin = self.now;
                self.wall_origin = Some(reading);
                if before != self.unix_now() {
                    self.restart_sign_jobs();
                }
            }
        }
    }
}
