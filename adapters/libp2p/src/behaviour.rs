//! The `NetworkBehaviour` both roles run: identify, AutoNAT v1 (server and client), ping, and
//! the targeted dial requester.

use std::time::Duration;

use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{autonat, connection_limits, identify, identity, ping, request_response};

use crate::dial_request::{self, DialRequest, DialResponse};
use crate::limits::{AbuseLimits, IpLimit};
use crate::load;

/// Identify's protocol version for pyrsia-boot peers.
pub const PROTOCOL_VERSION: &str = "/pyrsia-boot/1.0.0";

/// Identify, AutoNAT v1, ping, and targeted dial requests. Usable on its own in a swarm, or as
/// a field of the application's own derived behaviour.
#[derive(NetworkBehaviour)]
#[behaviour(to_swarm = "Event")]
pub struct Behaviour {
    /// Connection limits in total (a boot node's [`AbuseLimits`]; none for a node). First, so
    /// a refused connection costs no other behaviour any work.
    pub limits: crate::limits::PeerlessLimits,
    /// Inbound connections per remote IP.
    pub ip_limit: IpLimit,
    /// Identify: tells each side its observed address and the other's listen addresses.
    pub identify: identify::Behaviour,
    /// AutoNAT v1, on a node only: its server answers boot nodes' dial requests (which is
    /// what makes the node "fully connected"); its own timer-driven client is slowed to a
    /// crawl because pyrsia-boot decides when to probe (see [`dial_request`]). A boot node
    /// answers dial requests itself, through [`Behaviour::dial_request`] and its machine.
    pub autonat: Toggle<autonat::Behaviour>,
    /// Keeps connections measurably alive.
    pub ping: ping::Behaviour,
    /// Targeted dial requests ("dial me back now"): outbound on a node; both ways on a boot
    /// node, whose machine decides how to dial back.
    pub dial_request: dial_request::Requester,
    /// Boot nodes' load exchange (answered only by boot nodes).
    pub load: load::Exchange,
}

impl std::fmt::Debug for Behaviour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Behaviour").finish_non_exhaustive()
    }
}

/// What the [`Behaviour`] reports to the swarm owner.
#[derive(Debug)]
pub enum Event {
    /// From identify.
    Identify(Box<identify::Event>),
    /// From AutoNAT v1.
    Autonat(autonat::Event),
    /// From ping.
    Ping(ping::Event),
    /// From the targeted dial requester.
    DialRequest(request_response::Event<DialRequest, DialResponse>),
    /// From the load exchange.
    Load(request_response::Event<(), u64>),
}

impl From<request_response::Event<(), u64>> for Event {
    fn from(e: request_response::Event<(), u64>) -> Self {
        Event::Load(e)
    }
}

impl From<std::convert::Infallible> for Event {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl From<identify::Event> for Event {
    fn from(e: identify::Event) -> Self {
        Event::Identify(Box::new(e))
    }
}

impl From<autonat::Event> for Event {
    fn from(e: autonat::Event) -> Self {
        Event::Autonat(e)
    }
}

impl From<ping::Event> for Event {
    fn from(e: ping::Event) -> Self {
        Event::Ping(e)
    }
}

impl From<request_response::Event<DialRequest, DialResponse>> for Event {
    fn from(e: request_response::Event<DialRequest, DialResponse>) -> Self {
        Event::DialRequest(e)
    }
}

/// Which side of bootstrap this behaviour serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A node bootstrapping through boot peers.
    Node,
    /// A boot node: connection limits, the load exchange, and dial requests answered by its
    /// machine (whose address policy decides which peers may be dialed back).
    BootNode,
}

/// How long one targeted dial request may take at the transport, end to end: a backstop
/// only. The machines time their requests themselves (the client's own probe 15 s, the boot
/// node's request to a joining peer 20 s) and ignore an answer that comes later, so this is
/// set past both: a request's fate is always decided by its machine.
pub const DIAL_REQUEST_TIMEOUT: Duration = Duration::from_secs(25);

/// AutoNAT's own probe timer, slowed so it never races the core's decisions.
const AUTONAT_TIMER_OFF: Duration = Duration::from_secs(24 * 3600);

impl Behaviour {
    /// The behaviour for `role`, identified by `key` (a boot node gets the default
    /// [`AbuseLimits`]).
    pub fn new(key: &identity::PublicKey, role: Role) -> Self {
        Behaviour::with_limits(key, role, &AbuseLimits::default())
    }

    /// The behaviour for `role`; a boot node enforces `limits` (a node ignores them).
    pub fn with_limits(key: &identity::PublicKey, role: Role, limits: &AbuseLimits) -> Self {
        let boot = matches!(role, Role::BootNode);
        let connection_limits = if boot {
            connection_limits::ConnectionLimits::default()
                .with_max_established(Some(limits.max_connections))
                .with_max_pending_incoming(Some(limits.max_pending_incoming))
        } else {
            connection_limits::ConnectionLimits::default()
        };
        // A node's stock server answers boot nodes' dial requests, with the throttles a boot
        // node's own server uses. It must answer a boot peer on loopback or a LAN too;
        // otherwise AutoNAT refuses it (reference notes, run B).
        let throttles = pyrsia_boot_core::DialBackPolicy::default();
        let autonat = autonat::Config {
            boot_delay: AUTONAT_TIMER_OFF,
            retry_interval: AUTONAT_TIMER_OFF,
            refresh_interval: AUTONAT_TIMER_OFF,
            use_connected: false,
            only_global_ips: false,
            throttle_clients_global_max: throttles.global as usize,
            throttle_clients_peer_max: throttles.per_peer as usize,
            throttle_clients_period: throttles.period,
            ..autonat::Config::default()
        };
        Behaviour {
            limits: crate::limits::PeerlessLimits::new(connection_limits),
            ip_limit: IpLimit::new(boot.then_some(limits.max_per_ip)),
            identify: identify::Behaviour::new(
                identify::Config::new(PROTOCOL_VERSION.to_string(), key.clone())
                    .with_agent_version(format!("pyrsia-boot/{}", env!("CARGO_PKG_VERSION"))),
            ),
            autonat: Toggle::from(
                (!boot).then(|| autonat::Behaviour::new(key.to_peer_id(), autonat)),
            ),
            ping: ping::Behaviour::new(ping::Config::new()),
            dial_request: if boot {
                dial_request::server(DIAL_REQUEST_TIMEOUT)
            } else {
                dial_request::requester(DIAL_REQUEST_TIMEOUT)
            },
            load: load::exchange(matches!(role, Role::BootNode)),
        }
    }
}
