//! Configuration of a [`crate::BootNodeMachine`].

use std::time::Duration;

use libp2p_identity::{PeerId, PublicKey};
use multiaddr::Multiaddr;

use crate::addr::AddressPolicy;

/// How a boot node signs its `/status` document (see [`crate::signing`]). The key itself stays
/// with the driver, which carries out [`crate::BootNodeAction::Sign`]; the machine decides what
/// is signed, when, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningPolicy {
    /// The operator's public key: a signature the driver hands back must be by this key.
    pub key: PublicKey,
    /// How long a signature is valid. One is renewed once a quarter of this has passed, so a
    /// served signature normally has about three quarters of it left; while renewals fail it
    /// is served down to a quarter, never below.
    pub validity: Duration,
    /// The list's sequence: raise it whenever the cluster's membership changes, the same on
    /// every member; clients that saw a sequence refuse lower ones.
    pub sequence: u64,
    /// How long the driver may take to sign before the machine stops waiting for it.
    pub timeout: Duration,
    /// After a signing job failed or timed out, wait this long before starting another; the
    /// wait doubles with each failure in a row, up to a minute, and resets on a success.
    pub retry_after: Duration,
}

impl SigningPolicy {
    /// Signatures by `key`, valid for an hour, sequence 1.
    pub fn new(key: PublicKey) -> Self {
        SigningPolicy {
            key,
            validity: Duration::from_secs(3600),
            sequence: 1,
            timeout: Duration::from_secs(5),
            retry_after: Duration::from_secs(1),
        }
    }
}

/// Everything a [`crate::BootNodeMachine`] needs to know up front.
#[derive(Debug, Clone)]
pub struct BootNodeConfig {
    /// This boot node's own id (listed in `/status`, named in its dial requests).
    pub local_peer: PeerId,
    /// Addresses to advertise, like Pyrsia's `PYRSIA_EXTERNAL_IP`; listed first in `/status`.
    pub external_addrs: Vec<Multiaddr>,
    /// Which of the node's listen addresses may be advertised in `/status` (public only on the
    /// internet; [`AddressPolicy::allow_private`] on a LAN, in a lab, or in a loopback demo).
    pub policy: AddressPolicy,
    /// The other members of the cluster, as full multiaddrs ending in `/p2p/<id>`: listed after
    /// this node in `/status` (in rotating order), asked for their load, never sent a dial
    /// request. Entries without a `/p2p/` suffix are ignored.
    pub cluster: Vec<Multiaddr>,
    /// How often to ask each member for its load.
    pub load_interval: Duration,
    /// A member's load older than this many intervals is left out of `/status`.
    pub load_max_age_intervals: u32,
    /// How long a newly connected peer's answer to our dial request may take.
    pub dial_request_timeout: Duration,
    /// Sign `/status`, so clients with trusted keys accept it.
    pub signing: Option<SigningPolicy>,
    /// `/status` requests kept waiting for a signature at most; past this they are served
    /// unsigned at once (the HTTP server's own connection cap keeps this far away).
    pub max_waiting_requests: usize,
    /// The wall clock, in seconds since the Unix epoch, at the instant given to
    /// [`crate::BootNodeMachine::new`]; the machine advances it by the instants it is fed.
    /// Without it, nothing is signed.
    pub unix_time: Option<u64>,
    /// How this node's AutoNAT v1 server dials peers back.
    pub dial_back: DialBackPolicy,
}

/// How a boot node answers AutoNAT v1 dial requests (`/libp2p/autonat/1.0.0`).
///
/// A dial-back goes only to the IP the request came from (the AutoNAT rule that keeps a
/// server from being aimed at third parties), from a new port, as several connection attempts
/// so that one lost SYN does not decide the verdict: one at once, the others only when it has
/// not connected after [`DialBackPolicy::stagger`] (a reachable peer then costs one handshake,
/// not one per attempt). Its timeout follows the round trip
/// measured on the asking connection instead of a fixed 10 s: a node behind a router that
/// drops unsolicited packets hears "unreachable" within a second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialBackPolicy {
    /// Which addresses may be dialed back (public only on the internet).
    pub policy: AddressPolicy,
    /// Dial-backs per peer per [`DialBackPolicy::period`]; more are refused.
    pub per_peer: u32,
    /// Dial-backs started in total per period; more wait in a queue
    /// ([`DialBackPolicy::queue_wait`]) for a place.
    pub global: u32,
    /// How long a request over the global throttle waits for a place before it is refused
    /// (AutoNAT clients wait 15–30 s for an answer; the dial-back's own timeout comes on top).
    pub queue_wait: Duration,
    /// Requests waiting for a place at most; more are refused at once.
    pub max_queued: u32,
    /// The throttles' period.
    pub period: Duration,
    /// Connection attempts per dial-back (per leg).
    pub attempts: u32,
    /// The first attempt starts alone; the others start when it has not connected after this
    /// plus [`DialBackPolicy::stagger_rtt_multiple`] round trips (or at once when it failed).
    /// Zero starts them all together.
    pub stagger_min: Duration,
    /// Round trips the first attempt is given before the others start (a connection takes
    /// about four: TCP, noise XX, the multiplexer).
    pub stagger_rtt_multiple: u32,
    /// The timeout is `rtt_multiple` round trips plus this, at least.
    pub min_timeout: Duration,
    /// Round trips a dial-back may take (TCP handshake, noise, multiplexer: about four).
    pub rtt_multiple: u32,
    /// How long a request waits for the first round trip on its connection (ping measures a
    /// new connection at once) before the dial-back starts without one.
    pub rtt_wait: Duration,
    /// The timeout when no round trip was measured on the asking connection in time.
    pub unmeasured_timeout: Duration,
    /// The longest timeout, however slow the round trip.
    pub max_timeout: Duration,
    /// The driver also dials back from a second address that is never advertised (as a STUN
    /// server's alternate address): an OK then means a host the node never contacted got in.
    pub alternate: bool,
    /// The alternate address's family: a dial-back to the other family has no alternate leg
    /// (its OK then means only the contacted host got in). `None`: any family.
    pub alternate_family: Option<crate::nat::Family>,
}

impl Default for DialBackPolicy {
    fn default() -> Self {
        DialBackPolicy {
            policy: AddressPolicy::public_only(),
            per_peer: 3,
            // A dial-back to a reachable peer costs one handshake (about 0.4 ms of CPU): 500
            // per second is a fifth of a core.
            global: 500,
            queue_wait: Duration::from_secs(4),
            max_queued: 4096,
            period: Duration::from_secs(1),
            attempts: 4,
            stagger_min: Duration::from_millis(150),
            stagger_rtt_multiple: 4,
            min_timeout: Duration::from_millis(600),
            rtt_multiple: 8,
            rtt_wait: Duration::from_millis(500),
            unmeasured_timeout: Duration::from_secs(3),
            max_timeout: Duration::from_secs(10),
            alternate: false,
            alternate_family: None,
        }
    }
}

impl DialBackPolicy {
    /// The dial-back timeout for a connection whose round trip is `rtt`, if measured.
    pub fn timeout(&self, rtt: Option<Duration>) -> Duration {
        let t = match rtt {
            Some(rtt) => self.min_timeout + rtt.saturating_mul(self.rtt_multiple),
            None => self.unmeasured_timeout,
        };
        t.min(self.max_timeout)
    }

    /// When, after a dial-back starts, its remaining attempts start if the first has not
    /// connected: never later than half the timeout, so they keep time to connect.
    pub fn stagger(&self, rtt: Option<Duration>) -> Duration {
        let timeout = self.timeout(rtt);
        let t = match rtt {
            Some(rtt) => self.stagger_min + rtt.saturating_mul(self.stagger_rtt_multiple),
            None => self.stagger_min.max(timeout / 4),
        };
        t.min(timeout / 2)
    }
}

impl BootNodeConfig {
    /// The default [`BootNodeConfig::dial_request_timeout`], as a constant (drivers check
    /// their own timeouts against it at compile time).
    pub const DEFAULT_DIAL_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

    /// A boot node with id `local_peer`, every other setting at its default: no external
    /// address, public listen addresses only, no cluster, no signing.
    pub fn new(local_peer: PeerId) -> Self {
        BootNodeConfig {
            local_peer,
            external_addrs: Vec::new(),
            policy: AddressPolicy::public_only(),
            cluster: Vec::new(),
            load_interval: Duration::from_secs(5),
            load_max_age_intervals: 3,
            dial_request_timeout: BootNodeConfig::DEFAULT_DIAL_REQUEST_TIMEOUT,
            signing: None,
            max_waiting_requests: 1024,
            unix_time: None,
            dial_back: DialBackPolicy::default(),
        }
    }

    /// The configuration with every duration raised to at least 1 ms (a zero interval would
    /// make a deadline that is due when it is armed) and every count to at least 1.
    pub(crate) fn sanitized(mut self) -> Self {
        let ms = Duration::from_millis(1);
        self.load_interval = self.load_interval.max(ms);
        self.dial_request_timeout = self.dial_request_timeout.max(ms);
        self.load_max_age_intervals = self.load_max_age_intervals.max(1);
        self.max_waiting_requests = self.max_waiting_requests.max(1);
        let d = &mut self.dial_back;
        d.period = d.period.max(ms);
        d.global = d.global.max(1);
        d.attempts = d.attempts.clamp(1, 8);
        d.min_timeout = d.min_timeout.max(ms);
        d.rtt_wait = d.rtt_wait.max(ms);
        d.unmeasured_timeout = d.unmeasured_timeout.max(ms);
        d.max_timeout = d.max_timeout.max(d.min_timeout);
        if let Some(s) = &mut self.signing {
            s.validity = s.validity.max(Duration::from_secs(4));
            s.timeout = s.timeout.max(ms);
            s.retry_after = s.retry_after.max(ms);
        }
        self
    }
}
