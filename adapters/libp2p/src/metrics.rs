//! Prometheus metrics of a boot node: libp2p's own (swarm, identify, ping) plus what is
//! specific to bootstrap, from the boot-node machine's reports: dial requests sent to new peers
//! and how they ended, how long a new peer waited for its request to be answered, `/status`
//! requests and signatures; and AutoNAT probes served, from the swarm.

use std::sync::Arc;

use libp2p::metrics::{Metrics as Libp2pMetrics, Recorder};
use libp2p::swarm::SwarmEvent;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use pyrsia_boot_core::BootNodeEvent;

use crate::behaviour::Event;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// A boot node's metrics and the registry that encodes them.
pub struct BootMetrics {
    registry: Arc<Registry>,
    libp2p: Libp2pMetrics,
    connected_peers: Gauge,
    dial_requests: Family<Outcome, Counter>,
    dial_request_seconds: Histogram,
    handshake_to_dial_request_seconds: Histogram,
    probes_served: Family<Outcome, Counter>,
    dial_back_seconds: Histogram,
    status_requests: Counter,
    status_signatures: Counter,
    signing_failures: Counter,
}

impl std::fmt::Debug for BootMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootMetrics").finish_non_exhaustive()
    }
}

impl BootMetrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let libp2p = Libp2pMetrics::new(&mut registry);
        let boot = registry.sub_registry_with_prefix("pyrsia_boot");
        let connected_peers = Gauge::default();
        boot.register(
            "connected_peers",
            "Peers connected to this boot node",
            connected_peers.clone(),
        );
        let dial_requests = Family::<Outcome, Counter>::default();
        boot.register(
            "dial_requests",
            "Dial-back requests sent to newly connected peers, by outcome (sent, reachable, dial_error, refused, failed, timed_out, peer_left)",
            dial_requests.clone(),
        );
        let dial_request_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        boot.register(
            "dial_request_seconds",
            "Time from sending a new peer its dial-back request to its answer",
            dial_request_seconds.clone(),
        );
        // Fine buckets (10 % apart, 50 µs to 4.6 s): the crowd bench reads quantiles from them.
        let handshake_to_dial_request_seconds =
            Histogram::new(exponential_buckets(0.000_05, 1.1, 120));
        boot.register(
            "handshake_to_dial_request_seconds",
            "Time from a joining peer's finished handshake to its dial request being sent (how long the swarm's loop kept it waiting)",
            handshake_to_dial_request_seconds.clone(),
        );
        let probes_served = Family::<Outcome, Counter>::default();
        boot.register(
            "autonat_probes_served",
            "AutoNAT dial-back requests from peers: every request, then its answer (reachable, reachable_from_own_address_only, unreachable, refused, bad_request)",
            probes_served.clone(),
        );
        let dial_back_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        boot.register(
            "dial_back_seconds",
            "Time from a peer's AutoNAT dial request to our answer",
            dial_back_seconds.clone(),
        );
        let status_requests = Counter::default();
        boot.register(
            "status_requests",
            "GET /status requests served",
            status_requests.clone(),
        );
        let status_signatures = Counter::default();
        boot.register(
            "status_signatures",
            "Signatures made for /status (one per distinct peer list, renewed as they age)",
            status_signatures.clone(),
        );
        let signing_failures = Counter::default();
        boot.register(
            "status_signing_failures",
            "Signing jobs for /status that failed or timed out (lists without a valid signature are served unsigned meanwhile)",
            signing_failures.clone(),
        );
        BootMetrics {
            registry: Arc::new(registry),
            libp2p,
            connected_peers,
            dial_requests,
            dial_request_seconds,
            handshake_to_dial_request_seconds,
            probes_served,
            dial_back_seconds,
            status_requests,
            status_signatures,
            signing_failures,
        }
    }

    /// A handle for the HTTP side: encodes the registry.
    pub fn exporter(&self) -> MetricsExporter {
        MetricsExporter {
            registry: self.registry.clone(),
        }
    }

    /// Records one report of the boot-node machine.
    pub fn on_event(&mut self, event: &BootNodeEvent) {
        match event {
            BootNodeEvent::DialRequestSent { .. } => self.count(&self.dial_requests, "sent"),
            BootNodeEvent::DialRequestEnded { outcome, after, .. } => {
                self.dial_request_seconds.observe(after.as_secs_f64());
                self.count(&self.dial_requests, outcome.name());
            }
            BootNodeEvent::StatusServed { .. } => {
                self.status_requests.inc();
            }
            BootNodeEvent::Signed { .. } => {
                self.status_signatures.inc();
            }
            BootNodeEvent::SigningFailed { .. } => {
                self.signing_failures.inc();
            }
            BootNodeEvent::DialBackServed { outcome, after, .. } => {
                self.count(&self.probes_served, "request");
                self.count(&self.probes_served, outcome);
                self.dial_back_seconds.observe(after.as_secs_f64());
            }
            // Load failures are logged; a report this release does not know counts nowhere.
            _ => {}
        }
    }

    /// A joiner waited `wait` from its finished handshake to its dial request.
    pub fn handshake_to_dial_request(&self, wait: std::time::Duration) {
        self.handshake_to_dial_request_seconds
            .observe(wait.as_secs_f64());
    }

    /// Sets the connected-peers gauge.
    pub fn set_connected_peers(&self, peers: usize) {
        self.connected_peers
            .set(i64::try_from(peers).unwrap_or(i64::MAX));
    }

    fn count(&self, family: &Family<Outcome, Counter>, outcome: &'static str) {
        family.get_or_create(&Outcome { outcome }).inc();
    }

    /// Records one swarm event (libp2p's own metrics, AutoNAT probes served).
    pub fn record(&mut self, event: &SwarmEvent<Event>) {
        self.libp2p.record(event);
        let SwarmEvent::Behaviour(event) = event else {
            return;
        };
        match event {
            Event::Identify(e) => self.libp2p.record(&**e),
            Event::Ping(e) => self.libp2p.record(e),
            // AutoNAT v2 requests are answered by libp2p's v2 server; counted as they end. Its
            // event says whether the answer went out, not what it said: an answer that the
            // dial-back failed is `Ok` too (libp2p-autonat 0.14 and 0.16).
            Event::AutonatV2Server(e) => {
                let outcome = if e.result.is_ok() {
                    "v2_answered"
                } else {
                    "v2_not_answered"
                };
                self.count(&self.probes_served, outcome);
            }
            // A boot node answers AutoNAT v1 requests through its machine (see `on_event`).
            Event::Autonat(_)
            | Event::AutonatV2Client(_)
            | Event::DialRequest(_)
            | Event::Load(_) => {}
        }
    }
}

impl Default for BootMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The HTTP side of [`BootMetrics`]. Cheap to clone.
#[derive(Clone)]
pub struct MetricsExporter {
    registry: Arc<Registry>,
}

impl std::fmt::Debug for MetricsExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsExporter").finish_non_exhaustive()
    }
}

impl MetricsExporter {
    /// The Prometheus / OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
