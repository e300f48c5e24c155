//! The boot node's swarm-side logic, runtime-agnostic: ask every new peer for a dial-back at
//! once (so its "fully connected" signal does not wait for AutoNAT's timer), and keep the
//! `/status` document current for whichever HTTP server the runtime adapter runs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use libp2p::multiaddr::Protocol;
use libp2p::request_response;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use std::time::Duration;

use libp2p::identity::Keypair;
use pyrsia_boot_core::signed::{self, DocSignature};
use pyrsia_boot_core::{classify, AddressPolicy, PeerLoad, StatusDocument};

use crate::behaviour::{Behaviour, Event};
use crate::dial_request::DialRequest;
use crate::metrics::{BootMetrics, MetricsExporter};
use crate::start::unix_time;

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
}

/// How a boot node signs its `/status` document (see [`pyrsia_boot_core::signed`]).
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

/// Signatures kept per rendered peer list (the cluster rotation makes a few distinct lists).
const MAX_CACHED_SIGNATURES: usize = 64;

impl Default for BootNodeConfig {
    fn default() -> Self {
        BootNodeConfig {
            external_addrs: Vec::new(),
            cluster: Vec::new(),
            private_network: false,
            load_interval: Duration::from_secs(5),
            limits: crate::limits::AbuseLimits::default(),
            signing: None,
        }
    }
}

#[derive(Debug, Default)]
struct Board {
    peers_count: u64,
    own: Vec<Multiaddr>,
    cluster: Vec<Multiaddr>,
    /// The last load each cluster member reported.
    loads: BTreeMap<PeerId, u64>,
    rotation: usize,
    /// Signatures of recently rendered peer lists, keyed by the list's exact JSON bytes.
    signatures: Vec<(Vec<u8>, DocSignature)>,
}

impl Board {
    /// The signature for `addrs_json`, reused while younger than a quarter of its validity;
    /// each new one is counted in `metrics`.
    fn signature(
        &mut self,
        signing: &Signing,
        addrs_json: Vec<u8>,
        now: u64,
        metrics: &MetricsExporter,
    ) -> Option<DocSignature> {
        let validity = signing.validity.as_secs().max(1);
        let renew_after = (validity / 4).max(1);
        if let Some((_, sig)) = self.signatures.iter().find(|(a, _)| *a == addrs_json) {
            if (sig.issued_at..sig.issued_at + renew_after).contains(&now)
                && sig.sequence == signing.sequence
            {
                return Some(sig.clone());
            }
        }
        let expires = now.saturating_add(validity);
        let sig = match signed::sign(&signing.key, &addrs_json, now, expires, signing.sequence) {
            Ok(sig) => sig,
            Err(e) => {
                // Served unsigned: clients that require a signature refuse it by name.
                tracing::error!("cannot sign /status: {e}");
                return None;
            }
        };
        metrics.status_signed();
        self.signatures.retain(|(a, _)| *a != addrs_json);
        if self.signatures.len() >= MAX_CACHED_SIGNATURES {
            self.signatures.clear();
        }
        self.signatures.push((addrs_json, sig.clone()));
        Some(sig)
    }
}

/// The `/status` document, shared between the swarm loop (which updates it) and the HTTP
/// server (which renders it). Cheap to clone.
#[derive(Debug, Clone)]
pub struct StatusBoard {
    peer_id: PeerId,
    config: Arc<BootNodeConfig>,
    board: Arc<Mutex<Board>>,
    metrics: MetricsExporter,
}

impl StatusBoard {
    /// Replaces the other cluster members listed after this node (full multiaddrs ending in
    /// `/p2p/<id>`): a cluster's members learn each other's addresses after they start.
    pub fn set_cluster(&self, cluster: Vec<Multiaddr>) {
        let mut board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        board.cluster = cluster;
    }

    /// The cluster members' ids and addresses (without `/p2p/`).
    fn cluster(&self) -> Vec<(PeerId, Multiaddr)> {
        let board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        board
            .cluster
            .iter()
            .filter_map(|full| {
                let mut addr = full.clone();
                match addr.pop() {
                    Some(Protocol::P2p(id)) => Some((id, addr)),
                    _ => None,
                }
            })
            .collect()
    }

    fn set_load(&self, peer: PeerId, count: u64) {
        let mut board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        if board
            .cluster
            .iter()
            .any(|a| a.iter().last() == Some(Protocol::P2p(peer)))
        {
            board.loads.insert(peer, count);
        }
    }

    /// The Prometheus text exposition of the node's metrics (for `GET /metrics`).
    pub fn render_metrics(&self) -> String {
        self.metrics.render()
    }

    /// Renders the document for one `GET /status` (and counts it): own advertisable addresses
    /// first (a Pyrsia client reads only `peer_addrs[0]`), then the cluster members in an
    /// order that rotates per request.
    pub fn render(&self) -> Vec<u8> {
        self.metrics.status_served();
        let mut board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        let me = Protocol::P2p(self.peer_id);
        let mut peer_addrs: Vec<String> = board
            .own
            .iter()
            .map(|a| a.clone().with(me.clone()).to_string())
            .collect();
        let n = board.cluster.len();
        if n > 0 {
            let start = board.rotation % n;
            board.rotation = board.rotation.wrapping_add(1);
            peer_addrs.extend((0..n).map(|i| board.cluster[(start + i) % n].to_string()));
        }
        let peer_loads = board
            .loads
            .iter()
            .map(|(peer, n)| PeerLoad {
                peer_id: peer.to_string(),
                peers_count: *n,
            })
            .collect();
        let mut doc = StatusDocument {
            peers_count: board.peers_count,
            peer_id: self.peer_id.to_string(),
            peer_addrs,
            peer_loads,
            signature: None,
        };
        if let Some(signing) = &self.config.signing {
            let now = unix_time().unwrap_or(0);
            doc.signature = board.signature(signing, doc.peer_addrs_json(), now, &self.metrics);
        }
        doc.to_json()
    }
}

/// The boot node's swarm-side state.
#[derive(Debug)]
pub struct BootNode {
    board: StatusBoard,
    metrics: BootMetrics,
}

impl BootNode {
    /// A boot node for the swarm's identity.
    pub fn new(peer_id: PeerId, config: BootNodeConfig) -> Self {
        let cluster = config.cluster.clone();
        let metrics = BootMetrics::new();
        BootNode {
            board: StatusBoard {
                metrics: metrics.exporter(),
                peer_id,
                config: Arc::new(config),
                board: Arc::new(Mutex::new(Board {
                    cluster,
                    ..Board::default()
                })),
            },
            metrics,
        }
    }

    /// The shared `/status` document.
    pub fn board(&self) -> StatusBoard {
        self.board.clone()
    }

    /// The addresses this node advertises, given its listeners.
    fn advertised(&self, swarm: &Swarm<Behaviour>) -> Vec<Multiaddr> {
        let config = &self.board.config;
        let policy = if config.private_network {
            AddressPolicy::allow_private()
        } else {
            AddressPolicy::public_only()
        };
        let mut out = config.external_addrs.clone();
        for a in swarm.listeners() {
            if policy.allows(classify(a)) && !out.contains(a) {
                out.push(a.clone());
            }
        }
        out
    }

    /// Reacts to one swarm event: a new inbound peer gets a dial request at once; a cluster
    /// member's load request is answered, its answers recorded; the document's peer count and
    /// addresses follow the swarm.
    pub fn on_event(&mut self, swarm: &mut Swarm<Behaviour>, event: SwarmEvent<Event>) {
        let Some(event) = self.answer_load(swarm, event) else {
            return;
        };
        let event = &event;
        self.metrics.record(event, swarm.connected_peers().count());
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } if endpoint.is_listener()
                && num_established.get() == 1
                && !self.is_cluster_member(peer_id) =>
            {
                let request = DialRequest {
                    peer: *swarm.local_peer_id(),
                    addrs: self.advertised(swarm),
                };
                let id = swarm
                    .behaviour_mut()
                    .dial_request
                    .send_request(peer_id, request);
                self.metrics.dial_request_sent(id);
            }
            SwarmEvent::Behaviour(Event::Load(request_response::Event::Message {
                peer,
                message,
                ..
            })) => match message {
                // Answered (and consumed) by `answer_load` above.
                request_response::Message::Request { .. } => return,
                request_response::Message::Response { response, .. } => {
                    self.board.set_load(*peer, *response);
                    return;
                }
            },
            SwarmEvent::ConnectionEstablished { .. }
            | SwarmEvent::ConnectionClosed { .. }
            | SwarmEvent::NewListenAddr { .. }
            | SwarmEvent::ExpiredListenAddr { .. } => {}
            _ => return,
        }
        self.refresh(swarm);
    }

    /// Updates the document's peer count and addresses from the swarm.
    pub fn refresh(&mut self, swarm: &Swarm<Behaviour>) {
        let own = self.advertised(swarm);
        let load = self.load(swarm);
        let mut board = self
            .board
            .board
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        board.peers_count = load;
        board.own = own;
    }

    fn is_cluster_member(&self, peer: &PeerId) -> bool {
        self.board.cluster().iter().any(|(id, _)| id == peer)
    }

    /// Connected peers, not counting the other cluster members.
    fn load(&self, swarm: &Swarm<Behaviour>) -> u64 {
        let cluster = self.board.cluster();
        swarm
            .connected_peers()
            .filter(|p| !cluster.iter().any(|(id, _)| id == *p))
            .count() as u64
    }

    /// Answers a cluster member's load request; returns the event when it is not one.
    fn answer_load(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        event: SwarmEvent<Event>,
    ) -> Option<SwarmEvent<Event>> {
        match event {
            SwarmEvent::Behaviour(Event::Load(request_response::Event::Message {
                message: request_response::Message::Request { channel, .. },
                ..
            })) => {
                let load = self.load(swarm);
                // Err: the asker went away; nothing to do.
                let _ = swarm.behaviour_mut().load.send_response(channel, load);
                None
            }
            other => Some(other),
        }
    }

    /// Asks every cluster member for its load (call periodically; a member not yet connected
    /// is dialed by the request itself).
    pub fn poll_cluster_load(&mut self, swarm: &mut Swarm<Behaviour>) {
        for (peer, addr) in self.board.cluster() {
            swarm.add_peer_address(peer, addr);
            swarm.behaviour_mut().load.send_request(&peer, ());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyrsia_boot_core::{parse_status, ParseOptions, SignatureError, StatusError, Trust};

    fn member(i: u8) -> Multiaddr {
        let id = Keypair::ed25519_from_bytes([i; 32])
            .expect("key")
            .public()
            .to_peer_id();
        format!("/ip4/198.51.100.{i}/tcp/44000/p2p/{id}")
            .parse()
            .expect("valid")
    }

    fn board(signing: Option<Signing>) -> StatusBoard {
        let config = BootNodeConfig {
            cluster: vec![member(1), member(2)],
            signing,
            ..BootNodeConfig::default()
        };
        BootNode::new(PeerId::random(), config).board()
    }

    fn trusting(key: &Keypair) -> ParseOptions {
        ParseOptions {
            policy: AddressPolicy::default().with(pyrsia_boot_core::AddrClass::Documentation),
            trust: Trust {
                keys: vec![key.public()],
                unix_time: unix_time(),
                sequences: Vec::new(),
            },
            ..ParseOptions::default()
        }
    }

    #[test]
    fn every_rotation_of_a_signed_status_verifies_and_signatures_are_reused() {
        let operator = Keypair::ed25519_from_bytes([42; 32]).expect("key");
        let mut signing = Signing::new(operator.clone());
        signing.sequence = 9;
        let board = board(Some(signing));
        let docs: Vec<Vec<u8>> = (0..4).map(|_| board.render()).collect();
        assert_ne!(docs[0], docs[1], "the cluster order rotates");
        for doc in &docs {
            let list = parse_status(doc, &trusting(&operator)).expect("verifies");
            assert_eq!(list.signed_by.map(|s| s.sequence), Some(9));
        }
        // Two distinct lists, two signatures (counted in /metrics): renders reuse them.
        assert_eq!(docs[0], docs[2]);
        let metrics = board.render_metrics();
        assert!(
            metrics
                .lines()
                .any(|l| l.ends_with("status_signatures_total 2")),
            "{metrics}"
        );
    }

    #[test]
    fn an_unsigned_board_is_refused_by_a_trusting_client() {
        let operator = Keypair::ed25519_from_bytes([42; 32]).expect("key");
        assert_eq!(
            parse_status(&board(None).render(), &trusting(&operator)),
            Err(StatusError::Signature(SignatureError::Unsigned))
        );
    }
}
