//! The `NetworkBehaviour` both roles run: identify, AutoNAT v1 (server and client), ping, and
//! the targeted dial requester.
//!
//! # In an application's swarm
//!
//! [`Behaviour`] goes into an application's derived behaviour as one field. Identify, AutoNAT
//! and ping are each either supplied by it ([`Behaviour::new`]) or left to the application's
//! own ([`Behaviour::builder`]): a swarm must not run two of a kind, whose handlers would
//! compete for the same protocol. What the swarm must contain, from whichever side:
//!
//! | part | needed for | if the application brings its own |
//! |---|---|---|
//! | the dial requester, limits, load exchange | always ours | — |
//! | AutoNAT v1 **server** | "fully connected": a boot node's dial request arrives through it | [`BehaviourBuilder::app_autonat`], and [`HasBootstrap::autonat_event`] returns its events; its config must answer private addresses on a private network (`only_global_ips: false`) and allow a boot peer's requests (the throttles) |
//! | identify | the observed addresses behind the NAT kind (and the boot node learning our listen addresses) | [`BehaviourBuilder::app_identify`], and [`HasBootstrap::identify_event`] returns its events; any protocol version |
//! | ping | nothing of bootstrap's (keeps quiet connections measurably alive) | [`BehaviourBuilder::without_ping`] |
//!
//! [`HasBootstrap::autonat_event`]: crate::HasBootstrap::autonat_event
//! [`HasBootstrap::identify_event`]: crate::HasBootstrap::identify_event

use std::time::Duration;

use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{autonat, connection_limits, identify, identity, ping, request_response};

use crate::dial_request::{self, DialRequest, DialResponse};
use crate::limits::{AbuseLimits, IpLimit};
use crate::load;

/// Identify's protocol version for pyrsia-boot peers, unless the builder is given another
/// ([`BehaviourBuilder::identify_protocol_version`]). Informational only: nothing compares it.
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
    /// Identify: tells each side its observed address and the other's listen addresses. Off
    /// when the application runs its own.
    pub identify: Toggle<identify::Behaviour>,
    /// AutoNAT v1, on a node only: its server answers boot nodes' dial requests (which is
    /// what makes the node "fully connected"); its own timer-driven client is slowed to a
    /// crawl because pyrsia-boot decides when to probe (see [`dial_request`]). A boot node
    /// answers dial requests itself, through [`Behaviour::dial_request`] and its machine. Off
    /// too when the application runs its own.
    pub autonat: Toggle<autonat::Behaviour>,
    /// AutoNAT v2's server (`/libp2p/autonat/2/dial-request`), in both roles: a boot node
    /// answers v2-only clients with it; a node answers a v2-only boot node's request, which
    /// counts as "fully connected" like a v1 one. Off when [`BehaviourBuilder::without_v2`].
    pub autonat_v2_server: Toggle<crate::v2_server::EveryConnection>,
    /// AutoNAT v2's client, on a node built against libp2p 0.57 only: it tests our address
    /// candidates with servers that offer v2 (libp2p picks them, every 5 s); a boot peer's
    /// result is a verdict, verified by the nonce. libp2p 0.55's v2 client loops forever on a
    /// wrong nonce (rust-libp2p#5816, fixed in libp2p-autonat 0.15), so there it stays off.
    pub autonat_v2_client: Toggle<autonat::v2::client::Behaviour>,
    /// Keeps connections measurably alive (off when the application runs its own).
    pub ping: Toggle<ping::Behaviour>,
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
    /// From AutoNAT v2's server.
    AutonatV2Server(autonat::v2::server::Event),
    /// From AutoNAT v2's client.
    AutonatV2Client(autonat::v2::client::Event),
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

impl From<autonat::v2::server::Event> for Event {
    fn from(e: autonat::v2::server::Event) -> Self {
        Event::AutonatV2Server(e)
    }
}

impl From<autonat::v2::client::Event> for Event {
    fn from(e: autonat::v2::client::Event) -> Self {
        Event::AutonatV2Client(e)
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

pub use crate::timeouts::DIAL_REQUEST_TIMEOUT;

/// Whether this libp2p's AutoNAT v2 client may run: not 0.55's (rust-libp2p#5816).
const V2_CLIENT_SAFE: bool = cfg!(feature = "libp2p-057");

/// AutoNAT's own probe timer, slowed so it never races the core's decisions.
const AUTONAT_TIMER_OFF: Duration = Duration::from_secs(24 * 3600);

/// Which parts [`Behaviour`] supplies, and how: see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct BehaviourBuilder {
    key: identity::PublicKey,
    role: Role,
    limits: AbuseLimits,
    identify: bool,
    protocol_version: String,
    autonat: bool,
    ping: bool,
    v2: bool,
}

impl BehaviourBuilder {
    /// Leaves AutoNAT v2 (server and client) out.
    pub fn without_v2(mut self) -> Self {
        self.v2 = false;
        self
    }

    /// A boot node's limits (a node ignores them).
    pub fn limits(mut self, limits: AbuseLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The protocol version our identify announces (default [`PROTOCOL_VERSION`]).
    pub fn identify_protocol_version(mut self, version: impl Into<String>) -> Self {
        self.protocol_version = version.into();
        self
    }

    /// The application's swarm runs its own identify: ours is left out, and the driver reads
    /// the application's (through [`crate::HasBootstrap::identify_event`]).
    pub fn app_identify(mut self) -> Self {
        self.identify = false;
        self
    }

    /// The application's swarm runs its own AutoNAT v1: ours is left out, and the driver
    /// reads the application's (through [`crate::HasBootstrap::autonat_event`]). A boot node
    /// runs none either way.
    pub fn app_autonat(mut self) -> Self {
        self.autonat = false;
        self
    }

    /// Leaves ping out (the application runs its own, or none).
    pub fn without_ping(mut self) -> Self {
        self.ping = false;
        self
    }

    /// The behaviour.
    pub fn build(self) -> Behaviour {
        let BehaviourBuilder {
            key,
            role,
            limits,
            identify,
            protocol_version,
            autonat,
            ping,
            v2,
        } = self;
        let boot = matches!(role, Role::BootNode);
        let connection_limits = if boot {
            connection_limits::ConnectionLimits::default()
                .with_max_established(Some(limits.max_connections))
                .with_max_pending_incoming(Some(limits.max_pending_incoming))
        } else {
            connection_limits::ConnectionLimits::default()
        };
        Behaviour {
            limits: crate::limits::PeerlessLimits::new(connection_limits),
            ip_limit: IpLimit::new(boot.then_some(limits.max_per_ip)),
            identify: Toggle::from(identify.then(|| {
                identify::Behaviour::new(
                    identify::Config::new(protocol_version, key.clone())
                        .with_agent_version(format!("pyrsia-boot/{}", env!("CARGO_PKG_VERSION"))),
                )
            })),
            autonat: Toggle::from(
                (autonat && !boot)
                    .then(|| autonat::Behaviour::new(key.to_peer_id(), node_autonat())),
            ),
            autonat_v2_server: Toggle::from(v2.then(crate::v2_server::EveryConnection::default)),
            autonat_v2_client: Toggle::from(
                (v2 && !boot && V2_CLIENT_SAFE).then(autonat::v2::client::Behaviour::default),
            ),
            ping: Toggle::from(ping.then(|| ping::Behaviour::new(ping::Config::new()))),
            dial_request: if boot {
                dial_request::server(DIAL_REQUEST_TIMEOUT)
            } else {
                dial_request::requester(DIAL_REQUEST_TIMEOUT)
            },
            load: load::exchange(boot),
        }
    }
}

/// The AutoNAT v1 configuration of a node's own AutoNAT: its server answers boot nodes' dial
/// requests with the throttles a boot node's own server uses, on loopback and LANs too
/// (otherwise AutoNAT refuses them, reference notes run B); its timer-driven client is slowed
/// to a crawl because pyrsia-boot decides when to probe. An application bringing its own
/// AutoNAT can start from this.
pub fn node_autonat() -> autonat::Config {
    let throttles = pyrsia_boot_core::DialBackPolicy::default();
    autonat::Config {
        boot_delay: AUTONAT_TIMER_OFF,
        retry_interval: AUTONAT_TIMER_OFF,
        refresh_interval: AUTONAT_TIMER_OFF,
        use_connected: false,
        only_global_ips: false,
        throttle_clients_global_max: throttles.global as usize,
        throttle_clients_peer_max: throttles.per_peer as usize,
        throttle_clients_period: throttles.period,
        ..autonat::Config::default()
    }
}

impl Behaviour {
    /// The behaviour for `role`, identified by `key`, with every part ours (a boot node gets
    /// the default [`AbuseLimits`]).
    pub fn new(key: &identity::PublicKey, role: Role) -> Self {
        Behaviour::builder(key, role).build()
    }

    /// The behaviour for `role`; a boot node enforces `limits` (a node ignores them).
    pub fn with_limits(key: &identity::PublicKey, role: Role, limits: &AbuseLimits) -> Self {
        Behaviour::builder(key, role).limits(*limits).build()
    }

    /// A builder, to leave identify, AutoNAT or ping to the application's own.
    pub fn builder(key: &identity::PublicKey, role: Role) -> BehaviourBuilder {
        BehaviourBuilder {
            key: key.clone(),
            role,
            limits: AbuseLimits::default(),
            identify: true,
            protocol_version: PROTOCOL_VERSION.to_string(),
            autonat: true,
            ping: true,
            v2: true,
        }
    }
}
