//! The boot node's glue: swarm events and HTTP requests in, the [`BootNodeMachine`]'s actions
//! out. Every decision (who gets a dial request, what `/status` says, when to ask members for
//! their load, what to sign and when) is the machine's; this module maps types, keeps the
//! libp2p handles the machine's ids stand for, and carries out actions. It reads no clock:
//! `now` comes from the caller ([`crate::spawn_boot_node`]).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::FutureExt;
use http_body_util::Full;
use hyper::Response;
use libp2p::identity::Keypair;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm};
use pyrsia_boot_core::signing as signed;
use pyrsia_boot_core::{
    AddressPolicy, BootNodeAction, BootNodeEvent, BootNodeInput, BootNodeMachine, DialBackAnswer,
    DialBackFrom, DialBackId, LoadAskId, ProbeError, ProbeId, SigningPolicy, Token,
};

use crate::alternate::AlternateSwarm;
use crate::behaviour::{Behaviour, Event};
use crate::dial_request::{DialRequest, DialResponse};
use crate::driver::{probe_result, request_failure};
use crate::http_server::{response, Responder};
use crate::metrics::{BootMetrics, MetricsExporter};

mod actions;
mod events;
mod http;

pub use http::routes;

/// How a boot node presents itself.
#[derive(Debug, Clone)]
pub struct BootNodeConfig {
    /// Addresses to advertise, like Pyrsia's `PYRSIA_EXTERNAL_IP`; listed first.
    pub external_addrs: Vec<Multiaddr>,
    /// Other cluster members, as full multiaddrs ending in `/p2p/<id>`.
    pub cluster: Vec<Multiaddr>,
    /// Whether loopback and private listen addresses may be advertised (LAN, lab, demo).
    pub private_network: bool,
    /// How often to ask the other cluster members for their load.
    pub load_interval: Duration,
    /// Connection, dial-back and HTTP limits.
    pub limits: crate::limits::AbuseLimits,
    /// Sign `/status` with an operator key, so clients with `--trust` accept it.
    pub signing: Option<Signing>,
    /// A second IP of this host, never advertised, to dial peers back from as well (see
    /// [`crate::alternate`]): an AutoNAT OK then means a host the peer never contacted got
    /// in. `None`: dial-backs come from this node's own address only (a stock server's OK).
    pub dial_back_from: Option<std::net::IpAddr>,
    /// Connection attempts per dial-back leg (`None`: the core's default): more survive a
    /// lost SYN.
    pub dial_back_attempts: Option<u32>,
    /// How long the first attempt goes alone before the others join it, plus a few round
    /// trips ([`pyrsia_boot_core::DialBackPolicy::stagger_min`]; zero: all together, each one
    /// that connects costing a handshake). `None`: the core's default.
    pub dial_back_stagger: Option<Duration>,
    /// More libp2p listen addresses beside the first (another address family, another port).
    pub also_listen: Vec<Multiaddr>,
    /// Whether handshakes wait behind established work (see [`crate::handshakes`]).
    pub handshake_priority: crate::HandshakePriority,
    /// Ticker tasks that run the handshakes: as many as the runtime has threads.
    pub handshake_tickers: usize,
}

/// How a boot node signs its `/status` document (see [`pyrsia_boot_core::signing`]).
#[derive(Debug, Clone)]
pub struct Signing {
    /// The operator key (ed25519). Every node of a cluster can share it.
    pub key: Keypair,
    /// How long a signature is valid. Signatures are renewed after a quarter of this, so a
    /// replayed document is useless after at most this long.
    pub validity: Duration,
    /// The list's sequence: raise it whenever the cluster's membership changes, the same on
    /// every member; clients that saw a sequence refuse lower ones.
    pub sequence: u64,
}

impl Signing {
    /// Signs with `key`, valid for an hour, sequence 1.
    pub fn new(key: Keypair) -> Self {
        Signing {
            key,
            validity: Duration::from_secs(3600),
            sequence: 1,
        }
    }
}

impl Default for BootNodeConfig {
    fn default() -> Self {
        BootNodeConfig {
            external_addrs: Vec::new(),
            cluster: Vec::new(),
            private_network: false,
            load_interval: Duration::from_secs(5),
            limits: crate::limits::AbuseLimits::default(),
            signing: None,
            dial_back_from: None,
            dial_back_attempts: None,
            dial_back_stagger: None,
            also_listen: Vec::new(),
            handshake_priority: crate::HandshakePriority::default(),
            handshake_tickers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl BootNodeConfig {
    /// The machine's configuration for a boot node with id `local_peer`, the wall clock read
    /// as `unix_time` at the instant the machine is created.
    pub fn machine_config(
        &self,
        local_peer: PeerId,
        unix_time: Option<u64>,
    ) -> pyrsia_boot_core::BootNodeConfig {
        let mut config = pyrsia_boot_core::BootNodeConfig::new(local_peer);
        config.external_addrs = self.external_addrs.clone();
        config.cluster = self.cluster.clone();
        config.policy = if self.private_network {
            AddressPolicy::allow_private()
        } else {
            AddressPolicy::public_only()
        };
        config.dial_back.policy = config.policy;
        config.dial_back.alternate = self.dial_back_from.is_some();
        if let Some(n) = self.dial_back_attempts {
            config.dial_back.attempts = n;
        }
        if let Some(t) = self.dial_back_stagger {
            config.dial_back.stagger_min = t;
        }
        config.dial_back.alternate_family =
            self.dial_back_from.map(pyrsia_boot_core::Family::of_ip);
        config.load_interval = self.load_interval;
        config.signing = self.signing.as_ref().map(|s| {
            let mut policy = SigningPolicy::new(s.key.public());
            policy.validity = s.validity;
            policy.sequence = s.sequence;
            policy
        });
        config.unix_time = unix_time;
        config
    }
}

/// What the HTTP side hands the boot node's loop: a `/status` request waiting for its body.
pub type StatusRequest = oneshot::Sender<Vec<u8>>;

/// `/status` requests queued for the loop at most; past this the HTTP side answers 503.
pub const MAX_QUEUED_STATUS_REQUESTS: usize = 1024;

/// A handle to change a running boot node's cluster (a cluster's members learn each other's
/// addresses after they start). Cheap to clone.
#[derive(Debug, Clone)]
pub struct ClusterHandle(pub(crate) mpsc::UnboundedSender<Vec<Multiaddr>>);

impl ClusterHandle {
    /// Replaces the other cluster members listed after this node (full multiaddrs ending in
    /// `/p2p/<id>`).
    pub fn set_cluster(&self, cluster: Vec<Multiaddr>) {
        // Err: the boot node stopped; nothing to change.
        let _ = self.0.unbounded_send(cluster);
    }
}

/// The boot node's glue state: the machine and the libp2p and HTTP handles its ids stand for.
pub struct BootNode {
    machine: BootNodeMachine,
    signer: Option<Keypair>,
    metrics: BootMetrics,
    next_token: u64,
    conns: HashMap<ConnectionId, Token>,
    probes: HashMap<OutboundRequestId, ProbeId>,
    loads: HashMap<OutboundRequestId, LoadAskId>,
    load_replies: HashMap<Token, ResponseChannel<u64>>,
    status_replies: HashMap<Token, StatusRequest>,
    /// AutoNAT dial requests waiting for the machine's answer.
    dial_back_replies: HashMap<Token, ResponseChannel<DialResponse>>,
    /// Dial-back connection attempts under way: their dial-back and leg.
    dial_back_attempts: HashMap<ConnectionId, (DialBackId, DialBackFrom)>,
    /// The swarm that dials back from the alternate address, if there is one.
    alternate: Option<AlternateSwarm>,
    /// Inputs produced while carrying out actions (a signature made at once).
    fed_back: VecDeque<BootNodeInput>,
    /// Where the swarm's handshakes run, and when each inbound one finished.
    handshakes: Option<crate::Handshakes>,
    /// The inbound connection being opened: its peer and when its handshake finished.
    handshake_done: Option<(PeerId, Instant)>,
}

impl std::fmt::Debug for BootNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootNode")
            .field("status", &self.machine.status())
            .finish_non_exhaustive()
    }
}

impl BootNode {
    /// Glue around `machine`; `signer` carries out its signing jobs.
    pub fn new(machine: BootNodeMachine, signer: Option<Keypair>, metrics: BootMetrics) -> Self {
        BootNode {
            machine,
            signer,
            metrics,
            next_token: 0,
            conns: HashMap::new(),
            probes: HashMap::new(),
            loads: HashMap::new(),
            load_replies: HashMap::new(),
            status_replies: HashMap::new(),
            dial_back_replies: HashMap::new(),
            dial_back_attempts: HashMap::new(),
            alternate: None,
            fed_back: VecDeque::new(),
            handshakes: None,
            handshake_done: None,
        }
    }

    /// The swarm's transport was wrapped by `handshakes`: measure each joiner's wait from its
    /// handshake's end to its dial request (`handshake_to_dial_request_seconds`).
    pub fn with_handshakes(mut self, handshakes: crate::Handshakes) -> Self {
        self.handshakes = Some(handshakes);
        self
    }

    /// Dial back from the alternate address too, through `alternate` (see
    /// [`crate::alternate`]); the machine must have been configured with an alternate.
    pub fn with_alternate(mut self, alternate: AlternateSwarm) -> Self {
        self.alternate = Some(alternate);
        self
    }

    /// The alternate swarm's next event (never, without one). Poll it beside the main swarm.
    pub async fn next_alternate_event(&mut self) -> SwarmEvent<std::convert::Infallible> {
        use futures::StreamExt;
        match &mut self.alternate {
            Some(swarm) => swarm.select_next_some().await,
            None => futures::future::pending().await,
        }
    }

    /// One event of the alternate swarm: only its dial-back attempts matter.
    pub fn on_alternate_event(
        &mut self,
        now: Instant,
        swarm: &mut Swarm<Behaviour>,
        event: SwarmEvent<std::convert::Infallible>,
    ) {
        let input = match event {
            SwarmEvent::ConnectionEstablished {
                connection_id,
                endpoint,
                ..
            } => self.dial_back_connected(connection_id, endpoint.get_remote_address()),
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => self.dial_back_failed(connection_id, &error),
            _ => None,
        };
        if let Some(input) = input {
            self.feed(now, swarm, input);
        }
    }

    /// A connection of a dial-back attempt is up: its leg is decided, the leg's other
    /// attempts are not awaited (one that connects later is just a connection).
    fn dial_back_connected(
        &mut self,
        id: ConnectionId,
        remote: &Multiaddr,
    ) -> Option<BootNodeInput> {
        let (job, from) = self.dial_back_attempts.remove(&id)?;
        self.dial_back_attempts.retain(|_, l| *l != (job, from));
        let result = Ok(remote.clone());
        Some(BootNodeInput::DialedBack { job, from, result })
    }

    /// A dial-back attempt failed: the leg failed once its last attempt has.
    fn dial_back_failed(
        &mut self,
        id: ConnectionId,
        error: &libp2p::swarm::DialError,
    ) -> Option<BootNodeInput> {
        let (job, from) = self.dial_back_attempts.remove(&id)?;
        if self.dial_back_attempts.values().any(|l| *l == (job, from)) {
            return None; // another attempt of this leg is still under way
        }
        let result = Err(error.to_string());
        Some(BootNodeInput::DialedBack { job, from, result })
    }

    /// The machine, for its status.
    pub fn machine(&self) -> &BootNodeMachine {
        &self.machine
    }

    /// When the loop must call [`BootNode::on_timer`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.machine.poll_timeout()
    }

    /// Tells the machine about the swarm's listen addresses at the start.
    pub fn start(&mut self, now: Instant, swarm: &mut Swarm<Behaviour>) {
        let addrs: Vec<Multiaddr> = swarm.listeners().cloned().collect();
        for addr in addrs {
            self.feed(now, swarm, BootNodeInput::ListenAddrAdded(addr));
        }
        self.drain(now, swarm);
    }

    /// The timer armed at [`BootNode::poll_timeout`] fired; `wall` is the wall clock read with
    /// `now` (fed first, so a stepped clock is followed).
    pub fn on_timer(&mut self, now: Instant, wall: Option<Duration>, swarm: &mut Swarm<Behaviour>) {
        if let Some(wall) = wall {
            self.feed(now, swarm, BootNodeInput::WallClock(wall));
        }
        self.feed(now, swarm, BootNodeInput::Tick);
    }

    /// A `/status` request from the HTTP side.
    pub fn on_status_request(
        &mut self,
        now: Instant,
        swarm: &mut Swarm<Behaviour>,
        reply: StatusRequest,
    ) {
        let token = self.token();
        self.status_replies.insert(token, reply);
        self.feed(now, swarm, BootNodeInput::StatusRequested { reply: token });
    }

    /// New cluster members from a [`ClusterHandle`].
    pub fn on_cluster(
        &mut self,
        now: Instant,
        swarm: &mut Swarm<Behaviour>,
        cluster: Vec<Multiaddr>,
    ) {
        self.feed(now, swarm, BootNodeInput::ClusterChanged(cluster));
    }

    fn token(&mut self) -> Token {
        self.next_token += 1;
        Token(self.next_token)
    }

    fn feed(&mut self, now: Instant, swarm: &mut Swarm<Behaviour>, input: BootNodeInput) {
        self.machine.handle(now, input);
        self.drain(now, swarm);
        self.handshake_done = None;
    }

    /// Carries out every queued action, feeding back what carrying them out produced.
    fn drain(&mut self, now: Instant, swarm: &mut Swarm<Behaviour>) {
        loop {
            while let Some(action) = self.machine.poll_action() {
                self.apply(action, swarm);
            }
            match self.fed_back.pop_front() {
                Some(input) => self.machine.handle(now, input),
                None => break,
            }
        }
        self.metrics
            .set_connected_peers(self.machine.status().connected_peers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyrsia_boot_core::{parse_status, ParseOptions, Trust};

    fn member(i: u8) -> Multiaddr {
        let id = Keypair::ed25519_from_bytes([i; 32])
            .expect("key")
            .public()
            .to_peer_id();
        format!("/ip4/198.51.100.{i}/tcp/44000/p2p/{id}")
            .parse()
            .expect("valid")
    }

    #[test]
    fn the_machine_config_carries_policy_cluster_and_signing() {
        let operator = Keypair::ed25519_from_bytes([42; 32]).expect("key");
        let mut signing = Signing::new(operator.clone());
        signing.sequence = 9;
        let config = BootNodeConfig {
            cluster: vec![member(1), member(2)],
            private_network: true,
            signing: Some(signing),
            ..BootNodeConfig::default()
        };
        let me = PeerId::random();
        let mc = config.machine_config(me, Some(1_795_000_000));
        assert_eq!(mc.local_peer, me);
        assert_eq!(mc.cluster, config.cluster);
        assert!(mc.policy.allows(pyrsia_boot_core::AddrClass::Loopback));
        let s = mc.signing.expect("signing");
        assert_eq!((s.sequence, s.key), (9, operator.public()));
        assert_eq!(mc.unix_time, Some(1_795_000_000));
        // What the adapter's signer makes for a machine job verifies for a trusting client.
        let mut doc = pyrsia_boot_core::StatusDocument {
            peers_count: 0,
            peer_id: me.to_string(),
            peer_addrs: vec![member(1).to_string()],
            peer_loads: Vec::new(),
            signature: None,
        };
        let addrs = doc.peer_addrs_json();
        let sig = signed::sign(&operator, &addrs, 1_795_000_000, 1_795_003_600, 9).expect("signs");
        doc.signature = Some(sig);
        let options = ParseOptions {
            policy: AddressPolicy::default().with(pyrsia_boot_core::AddrClass::Documentation),
            trust: Trust {
                keys: vec![operator.public()],
                unix_time: Some(1_795_000_100),
                sequences: Vec::new(),
            },
            ..ParseOptions::default()
        };
        let list = parse_status(&doc.to_json(), &options).expect("verifies");
        assert_eq!(list.signed_by.map(|s| s.sequence), Some(9));
    }
}
