//! The driver loop: carries out the core's actions on a swarm and a [`Runtime`], and turns
//! swarm events and HTTP completions into core inputs. It makes no decisions: every retry,
//! timeout and "what next" is the core's.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Instant;

use futures::future::{AbortHandle, Abortable, BoxFuture};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use libp2p::autonat::{self, InboundProbeEvent};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, DialError as SwarmDialError, NetworkBehaviour, SwarmEvent};
use libp2p::{identify, Multiaddr, PeerId, Swarm};
use pyrsia_boot_core::{
    without_p2p, Action, BootstrapMachine, DialError, DialId, Event, Family, HttpError, Input,
    ProbeError, ProbeId, RequestFailure, RequestId, ResolveError, Snapshot,
};

use crate::behaviour::{Behaviour, Event as BehaviourEvent};
use crate::dial_request::{DialRequest, DialResponse};

/// An HTTP response as the runtime read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Body, cut after `max_body_bytes + 1` bytes.
    pub body: Vec<u8>,
}

/// What a runtime adapter provides: a timer, an HTTP GET, a DNS lookup and a way to spawn a
/// task. The swarm's own tasks run on the executor set when the swarm is built.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// A future that completes at `at`.
    fn timer(&self, at: Instant) -> BoxFuture<'static, ()>;
    /// GET `url`, reading at most `max_body_bytes + 1` bytes of body.
    fn http_get(
        &self,
        url: String,
        max_body_bytes: usize,
    ) -> BoxFuture<'static, Result<HttpReply, HttpError>>;
    /// The IP addresses of `host` (the system resolver's answer).
    fn resolve(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
    /// Runs `task` in the background until it completes.
    fn spawn(&self, task: BoxFuture<'static, ()>);
}

/// What the driver hands to the application.
// A handful of outputs per bootstrap: their size does not matter, matching on them plainly does.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Output<E = BehaviourEvent> {
    /// A report for the timeline.
    Report(Event),
    /// State to persist.
    Persist(Snapshot),
    /// A swarm event, after the driver has taken what it needs from it: the application's
    /// own behaviours' events arrive here.
    Swarm(SwarmEvent<E>),
}

/// A swarm behaviour that contains pyrsia-boot's [`Behaviour`]: [`Behaviour`] itself, or an
/// application's derived behaviour with a `Behaviour` field.
pub trait HasBootstrap: NetworkBehaviour {
    /// The pyrsia-boot part.
    fn bootstrap(&mut self) -> &mut Behaviour;
    /// The pyrsia-boot part of an event, if the event came from it.
    fn bootstrap_event(event: &Self::ToSwarm) -> Option<&BehaviourEvent>;
}

impl HasBootstrap for Behaviour {
    fn bootstrap(&mut self) -> &mut Behaviour {
        self
    }
    fn bootstrap_event(event: &BehaviourEvent) -> Option<&BehaviourEvent> {
        Some(event)
    }
}

type Fetch = BoxFuture<'static, Option<(RequestId, Result<HttpReply, HttpError>)>>;
type Resolution = BoxFuture<'static, (DialId, Vec<Result<Vec<Multiaddr>, ResolveError>>)>;

/// Drives a [`BootstrapMachine`] with a [`Swarm`] running [`Behaviour`].
pub struct Driver<R> {
    machine: BootstrapMachine,
    runtime: R,
    fetches: FuturesUnordered<Fetch>,
    resolutions: FuturesUnordered<Resolution>,
    aborts: HashMap<RequestId, AbortHandle>,
    /// Dials under way: the machine's id and the peer it must authenticate as.
    dials: HashMap<ConnectionId, (DialId, PeerId)>,
    /// Connections that machine dials established (their identify observations count).
    boot_connections: std::collections::HashSet<ConnectionId>,
    probes: HashMap<OutboundRequestId, ProbeId>,
    outbox: VecDeque<Pending>,
}

/// Outputs waiting to be handed out.
#[allow(clippy::large_enum_variant)] // as for `Output`
#[derive(Debug)]
enum Pending {
    Report(Event),
    Persist(Snapshot),
}

impl<E> From<Pending> for Output<E> {
    fn from(p: Pending) -> Self {
        match p {
            Pending::Report(e) => Output::Report(e),
            Pending::Persist(s) => Output::Persist(s),
        }
    }
}

impl<R> std::fmt::Debug for Driver<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("status", &self.machine.status())
            .field("fetches", &self.fetches.len())
            .field("dials", &self.dials.len())
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> Driver<R> {
    /// A driver for `machine` on `runtime`.
    pub fn new(machine: BootstrapMachine, runtime: R) -> Self {
        Driver {
            machine,
            runtime,
            fetches: FuturesUnordered::new(),
            resolutions: FuturesUnordered::new(),
            aborts: HashMap::new(),
            dials: HashMap::new(),
            boot_connections: std::collections::HashSet::new(),
            probes: HashMap::new(),
            outbox: VecDeque::new(),
        }
    }

    /// The machine, for its status.
    pub fn machine(&self) -> &BootstrapMachine {
        &self.machine
    }

    /// Carries out the machine's queued actions and returns the outputs they produce, without
    /// waiting for anything. Call it before dropping the driver, so the last snapshot and
    /// reports are not lost.
    pub fn flush<B: HasBootstrap>(&mut self, swarm: &mut Swarm<B>) -> Vec<Output<B::ToSwarm>> {
        while let Some(action) = self.machine.poll_action() {
            self.apply(action, swarm);
        }
        self.outbox.drain(..).map(Output::from).collect()
    }

    /// Runs until the machine has something for the application. Keep calling it: between
    /// outputs it also keeps the swarm polled, so connections stay up.
    pub async fn next<B: HasBootstrap>(&mut self, swarm: &mut Swarm<B>) -> Output<B::ToSwarm> {
        loop {
            while let Some(action) = self.machine.poll_action() {
                self.apply(action, swarm);
            }
            if let Some(out) = self.outbox.pop_front() {
                return out.into();
            }
            let timer = match self.machine.poll_timeout() {
                Some(at) => self.runtime.timer(at),
                None => futures::future::pending().boxed(),
            };
            let input = futures::select! {
                () = timer.fuse() => Input::Tick,
                (dial, results) = self.resolutions.select_next_some() => {
                    Input::Resolved { dial, results }
                }
                done = self.fetches.select_next_some() => match done {
                    Some((request, result)) => {
                        self.aborts.remove(&request);
                        http_input(request, result)
                    }
                    None => continue, // cancelled
                },
                event = swarm.select_next_some() => {
                    if let Some(input) = self.map_swarm_event::<B>(&event) {
                        self.machine.handle(Instant::now(), input);
                    }
                    if changes_addresses(&event) {
                        let addrs = dialable_addrs(swarm);
                        self.machine.handle(Instant::now(), Input::Listening { addrs });
                    }
                    // The actions this caused are carried out at the top of the next call.
                    return Output::Swarm(event);
                }
            };
            // The one clock read per input: the core takes time as an argument.
            self.machine.handle(Instant::now(), input);
        }
    }

    fn apply<B: HasBootstrap>(&mut self, action: Action, swarm: &mut Swarm<B>) {
        match action {
            Action::FetchStatus {
                request,
                url,
                max_body_bytes,
            } => {
                let (handle, registration) = AbortHandle::new_pair();
                let get = self.runtime.http_get(url, max_body_bytes);
                let fetch = Abortable::new(get, registration)
                    .map(move |r| r.ok().map(|result| (request, result)))
                    .boxed();
                self.aborts.insert(request, handle);
                self.fetches.push(fetch);
            }
            Action::CancelFetch { request } => {
                if let Some(handle) = self.aborts.remove(&request) {
                    handle.abort();
                }
            }
            Action::Dial { dial, peer, addrs } => {
                let opts = DialOpts::peer_id(peer)
                    .addresses(addrs)
                    .condition(PeerCondition::Always)
                    .build();
                let connection = opts.connection_id();
                match swarm.dial(opts) {
                    Ok(()) => {
                        self.dials.insert(connection, (dial, peer));
                    }
                    Err(e) => {
                        let error = dial_error(&e, peer);
                        self.machine
                            .handle(Instant::now(), Input::DialFailed { dial, error });
                    }
                }
            }
            Action::Resolve { dial, names, .. } => {
                let lookups: Vec<_> = names
                    .into_iter()
                    .map(|name| resolve_addr(&self.runtime, name))
                    .collect();
                self.resolutions.push(
                    futures::future::join_all(lookups)
                        .map(move |results| (dial, results))
                        .boxed(),
                );
            }
            Action::CancelDial { dial } => {
                // A pending libp2p dial cannot be aborted; forgetting it makes a late success
                // an unknown connection, which the machine never hears about.
                self.dials.retain(|_, (d, _)| *d != dial);
            }
            Action::ProbeVia {
                probe,
                peer,
                family,
            } => {
                let mut addrs = dialable_addrs(swarm);
                if let Some(family) = family {
                    addrs.retain(|a| Family::of(a) == Some(family));
                }
                let request = DialRequest {
                    peer: *swarm.local_peer_id(),
                    addrs,
                };
                let id = swarm
                    .behaviour_mut()
                    .bootstrap()
                    .dial_request
                    .send_request(&peer, request);
                self.probes.insert(id, probe);
            }
            Action::Disconnect { peer } => {
                // Err means not connected, which is the requested state.
                let _ = swarm.disconnect_peer_id(peer);
            }
            Action::AddExternalAddress(addr) => swarm.add_external_address(addr),
            Action::RemoveExternalAddress(addr) => swarm.remove_external_address(&addr),
            Action::PersistState(snapshot) => self.outbox.push_back(Pending::Persist(snapshot)),
            Action::Report(event) => self.outbox.push_back(Pending::Report(event)),
        }
    }

    fn map_swarm_event<B: HasBootstrap>(
        &mut self,
        event: &SwarmEvent<B::ToSwarm>,
    ) -> Option<Input> {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                if endpoint.is_listener() {
                    // Someone dialed us: during a dial-back request, the dial-back itself.
                    let remote = Some(without_p2p(endpoint.get_remote_address()));
                    let peer = *peer_id;
                    return Some(Input::InboundConnection { peer, remote });
                }
                let (dial, _) = self.dials.remove(connection_id)?;
                self.boot_connections.insert(*connection_id);
                // The core lists addresses without their `/p2p/` suffix.
                let addr = without_p2p(endpoint.get_remote_address());
                Some(Input::DialSucceeded {
                    dial,
                    peer: *peer_id,
                    addr: Some(addr),
                })
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => {
                let (dial, expected) = self.dials.remove(connection_id)?;
                Some(Input::DialFailed {
                    dial,
                    error: dial_error(error, expected),
                })
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } => {
                self.boot_connections.remove(connection_id);
                (*num_established == 0).then_some(Input::ConnectionClosed { peer: *peer_id })
            }
            SwarmEvent::Behaviour(event) => self.map_behaviour_event(B::bootstrap_event(event)?),
            _ => None,
        }
    }

    fn map_behaviour_event(&mut self, event: &BehaviourEvent) -> Option<Input> {
        match event {
            BehaviourEvent::Autonat(autonat::Event::InboundProbe(InboundProbeEvent::Request {
                peer,
                ..
            })) => Some(Input::InboundProbeRequest { peer: *peer }),
            BehaviourEvent::Identify(e) => match e.as_ref() {
                // Only over connections the machine dialed (from the listening port): our own
                // dial-backs to a boot node leave from a new port, whose mapping says nothing
                // about the listening port's.
                identify::Event::Received {
                    connection_id,
                    peer_id,
                    info,
                } if self.boot_connections.contains(connection_id) => Some(Input::ObservedAddr {
                    peer: *peer_id,
                    observed: info.observed_addr.clone(),
                }),
                _ => None,
            },
            BehaviourEvent::DialRequest(request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            }) => {
                let probe = self.probes.remove(request_id)?;
                let result = probe_result(response);
                Some(Input::OwnProbeAnswered { probe, result })
            }
            BehaviourEvent::DialRequest(request_response::Event::OutboundFailure {
                request_id,
                error,
                ..
            }) => {
                let probe = self.probes.remove(request_id)?;
                let result = Err(ProbeError::Request(request_failure(error)));
                Some(Input::OwnProbeAnswered { probe, result })
            }
            _ => None,
        }
    }
}

/// Resolves the DNS name that starts `addr` and returns `addr` once per IP of the right
/// family, the name replaced. Whether those IPs may be dialed is the core's decision.
fn resolve_addr<R: Runtime>(
    runtime: &R,
    addr: Multiaddr,
) -> BoxFuture<'static, Result<Vec<Multiaddr>, ResolveError>> {
    let mut parts = addr.iter();
    let (host, v4, v6) = match parts.next() {
        Some(Protocol::Dns(h)) => (h.to_string(), true, true),
        Some(Protocol::Dns4(h)) => (h.to_string(), true, false),
        Some(Protocol::Dns6(h)) => (h.to_string(), false, true),
        _ => return futures::future::ready(Err(ResolveError::NotAName(addr.to_string()))).boxed(),
    };
    let rest: Vec<Protocol<'static>> = parts.map(|p| p.acquire()).collect();
    let lookup = runtime.resolve(host.clone());
    async move {
        let ips = lookup.await.map_err(|e| ResolveError::Lookup {
            host: host.clone(),
            reason: e.to_string(),
        })?;
        let addrs: Vec<Multiaddr> = ips
            .into_iter()
            .filter(|ip| if ip.is_ipv4() { v4 } else { v6 })
            .map(|ip| {
                let first = match ip {
                    IpAddr::V4(a) => Protocol::Ip4(a),
                    IpAddr::V6(a) => Protocol::Ip6(a),
                };
                std::iter::once(first).chain(rest.iter().cloned()).collect()
            })
            .collect();
        if addrs.is_empty() {
            return Err(ResolveError::NoAddress { host });
        }
        Ok(addrs)
    }
    .boxed()
}

fn http_input(request: RequestId, result: Result<HttpReply, HttpError>) -> Input {
    match result {
        Ok(reply) => Input::HttpResponse {
            request,
            status: reply.status,
            body: reply.body,
        },
        Err(error) => Input::HttpFailed { request, error },
    }
}

fn dial_error(e: &SwarmDialError, expected: PeerId) -> DialError {
    match e {
        SwarmDialError::Transport(_) | SwarmDialError::NoAddresses => {
            DialError::Unreachable(e.to_string())
        }
        SwarmDialError::WrongPeerId { obtained, .. } => DialError::WrongPeer {
            expected,
            actual: *obtained,
        },
        SwarmDialError::Denied { cause, .. } => DialError::Denied(cause.to_string()),
        SwarmDialError::LocalPeerId { .. }
        | SwarmDialError::Aborted
        | SwarmDialError::DialPeerConditionFalse(_) => DialError::Other(e.to_string()),
    }
}

/// The core's reading of an AutoNAT v1 dial response.
pub(crate) fn probe_result(response: &DialResponse) -> Result<Multiaddr, ProbeError> {
    match response {
        DialResponse::Reachable(addr) => Ok(addr.clone()),
        DialResponse::DialError(_) => Err(ProbeError::DialBackFailed),
        DialResponse::Refused(_) => Err(ProbeError::Refused),
        DialResponse::Failed(text) => Err(ProbeError::ServerFailed(text.clone())),
    }
}

/// The core's reading of a request-response failure.
pub(crate) fn request_failure(error: &request_response::OutboundFailure) -> RequestFailure {
    use request_response::OutboundFailure as F;
    match error {
        F::DialFailure => RequestFailure::Unreachable,
        F::Timeout => RequestFailure::Timeout,
        F::ConnectionClosed => RequestFailure::ConnectionClosed,
        F::UnsupportedProtocols => RequestFailure::Unsupported,
        F::Io(e) => RequestFailure::Stream(e.to_string()),
    }
}

/// Whether `event` changes the addresses [`dialable_addrs`] returns.
fn changes_addresses<E>(event: &SwarmEvent<E>) -> bool {
    matches!(
        event,
        SwarmEvent::NewListenAddr { .. }
            | SwarmEvent::ExpiredListenAddr { .. }
            | SwarmEvent::ListenerClosed { .. }
            | SwarmEvent::ExternalAddrConfirmed { .. }
            | SwarmEvent::ExternalAddrExpired { .. }
    )
}

/// The addresses a dial-back may reach: our listen and confirmed external addresses, minus
/// wildcards' meaningless cousins (the AutoNAT server substitutes the IP it observes).
fn dialable_addrs<B: NetworkBehaviour>(swarm: &Swarm<B>) -> Vec<Multiaddr> {
    let mut addrs: Vec<Multiaddr> = swarm
        .external_addresses()
        .chain(swarm.listeners())
        .cloned()
        .collect();
    addrs.dedup();
    addrs
}
