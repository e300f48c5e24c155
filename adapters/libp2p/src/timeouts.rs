//! Every timeout the glue owns, in one place, each checked at compile time against the core
//! values its safety depends on. The machines decide when a step has failed; these are the
//! transport's and the servers' own bounds, set so that the machine's decision always comes
//! first (or, for the dial-back, last).

use std::time::Duration;

use pyrsia_boot_core::{BootNodeConfig, Timeouts};

/// How long a libp2p dial (TCP connect + noise + yamux) may take before it fails. Every
/// adapter's transport uses it. It also bounds a boot node's AutoNAT dial-back, so it must stay
/// below the core's own-probe timeout: a node behind NAT then hears "dial-back failed"
/// (private) before it gives up waiting for the answer.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
const _: () = assert!(CONNECTION_TIMEOUT.as_millis() < Timeouts::DEFAULT.own_probe.as_millis());

/// How long a connection may sit idle before the swarm closes it. The swarm's default (10 s)
/// would drop a boot connection between probes; identify and AutoNAT do not keep it alive.
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);
const _: () = assert!(
    IDLE_CONNECTION_TIMEOUT.as_millis() > Timeouts::DEFAULT.own_probe.as_millis()
        && IDLE_CONNECTION_TIMEOUT.as_millis() > Timeouts::DEFAULT.inbound_probe.as_millis()
);

/// How long one targeted dial request may take at the transport, end to end: a backstop
/// only. The machines time their requests themselves (the client's own probe, the boot node's
/// request to a joining peer) and ignore an answer that comes later, so this is set past
/// both: a request's fate is always decided by its machine.
pub const DIAL_REQUEST_TIMEOUT: Duration = Duration::from_secs(25);
const _: () = assert!(
    DIAL_REQUEST_TIMEOUT.as_millis() > Timeouts::DEFAULT.own_probe.as_millis()
        && DIAL_REQUEST_TIMEOUT.as_millis()
            > BootNodeConfig::DEFAULT_DIAL_REQUEST_TIMEOUT.as_millis()
);

/// A boot node's handshake that began this long ago is queued with established work (see
/// `handshakes`): well below the transport's timeout, and above what the crowds a node can
/// serve at once make their youngest wait (BENCHMARKS §18).
pub const OVERDUE: Duration = Duration::from_secs(3);
const _: () = assert!(OVERDUE.as_millis() < CONNECTION_TIMEOUT.as_millis());

/// How long a dial-back connection from the alternate address stays open: long enough for
/// the peer to finish its side of the handshake and see it.
pub const ALTERNATE_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an HTTP client may take to send its request headers to a boot node.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
