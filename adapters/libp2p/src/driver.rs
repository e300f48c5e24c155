//! The driver loop: carries out the core's actions on a swarm and a [`Runtime`], and turns
//! swarm events and HTTP completions into core inputs. It makes no decisions: every retry,
//! timeout and "what next" is the core's.
//!
//! Two ways to run it:
//!
//! - **[`Driver::next`]**, the convenience: the driver polls the swarm too, and hands every
//!   swarm event on after it has seen it. It must then be the swarm's only poller.
//! - **Event-driven**, for an application that keeps its own loop (and polls the swarm itself):
//!   feed every swarm event to [`Driver::on_swarm_event`], wait on [`Driver::wait`] beside
//!   your other futures, and after either call [`Driver::poll_progress`] until it returns
//!   `None`, which carries out the machine's actions on the swarm and returns its reports and
//!   snapshots.
//!
//! ```ignore
//! loop {
//!     while let Some(progress) = driver.poll_progress(&mut swarm) {
//!         handle(progress);
//!     }
//!     futures::select! {
//!         event = swarm.select_next_some() => {
//!             driver.on_swarm_event(&swarm, &event);
//!             my_app.on(event);
//!         }
//!         () = driver.wait().fuse() => {}
//!         command = my_commands.select_next_some() => my_app.run(command, &mut swarm),
//!     }
//! }
//! ```
//!
//! **Cancel safety.** [`Driver::next`] and [`Driver::wait`] may be dropped at any point before
//! they complete (a `select!` whose other branch won, a timeout) and called again: nothing is
//! lost. Every in-flight HTTP request, lookup and timer lives in the driver, not in the
//! future; a result is fed to the machine in the same poll that receives it, and a swarm event
//! `next` took from the swarm is returned from that same poll. The conformance suite drops both
//! at random points and still connects.

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
    without_p2p, Action, BootstrapMachine, DialError, DialId, Event, HttpError, Input, ProbeError,
    ProbeId, RequestFailure, RequestId, ResolveError, Snapshot,
};

use crate::behaviour::{Behaviour, Event as BehaviourEvent};
use crate::dial_request::{DialRequest, DialResponse};
use crate::runtime::{HttpReply, Runtime};
use crate::v2_client::{self, V2Outcome};

mod events;
mod lookup;

use events::{changes_addresses, dial_error};
pub(crate) use events::{dialable_addrs, probe_result, request_failure};
use lookup::resolve_addr;

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
    /// An event of the application's own identify, if it runs one instead of ours
    /// ([`crate::behaviour::BehaviourBuilder::app_identify`]).
    fn identify_event(event: &Self::ToSwarm) -> Option<&identify::Event> {
        let _ = event;
        None
    }
    /// An event of the application's own AutoNAT v1, if it runs one instead of ours
    /// ([`crate::behaviour::BehaviourBuilder::app_autonat`]). Without it, a boot node's dial
    /// request never reaches the driver and the node never counts as fully connected.
    fn autonat_event(event: &Self::ToSwarm) -> Option<&autonat::Event> {
        let _ = event;
        None
    }
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
    outbox: VecDeque<Progress>,
    timer: Option<Armed>,
    /// Where `/dnsaddr` TXT queries go; read from `/etc/resolv.conf` at the first one.
    nameserver: Option<std::net::SocketAddr>,
}

/// What the machine has for the application, from [`Driver::poll_progress`] (the event-driven
/// API; [`Driver::next`] returns the same as [`Output::Report`] and [`Output::Persist`]).
#[allow(clippy::large_enum_variant)] // as for `Output`
#[derive(Debug)]
pub enum Progress {
    /// A report for the timeline.
    Report(Event),
    /// State to persist.
    Persist(Snapshot),
}

impl<E> From<Progress> for Output<E> {
    fn from(p: Progress) -> Self {
        match p {
            Progress::Report(e) => Output::Report(e),
            Progress::Persist(s) => Output::Persist(s),
        }
    }
}

/// The armed timer: the machine's deadline it was made for, and the runtime's future.
struct Armed {
    at: Instant,
    timer: BoxFuture<'static, ()>,
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
            timer: None,
            nameserver: None,
        }
    }

    /// The machine, for its status.
    pub fn machine(&self) -> &BootstrapMachine {
        &self.machine
    }

    /// Sends `/dnsaddr` TXT queries to `server` instead of the first nameserver of
    /// `/etc/resolv.conf`.
    pub fn set_nameserver(&mut self, server: std::net::SocketAddr) {
        self.nameserver = Some(server);
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
    /// outputs it also keeps the swarm polled, so connections stay up. Cancel-safe (see the
    /// module documentation).
    pub async fn next<B: HasBootstrap>(&mut self, swarm: &mut Swarm<B>) -> Output<B::ToSwarm> {
        loop {
            if let Some(progress) = self.poll_progress(swarm) {
                return progress.into();
            }
            let event = futures::select! {
                event = swarm.select_next_some() => event,
                () = self.wait().fuse() => continue,
            };
            self.on_swarm_event(swarm, &event);
            // The actions this caused are carried out at the top of the next call.
            return Output::Swarm(event);
        }
    }

    /// Event-driven API: carries out the machine's queued actions on `swarm` and returns the
    /// next report or snapshot, or `None` when there is nothing (more) for the application.
    /// Call it until `None` after every [`Driver::on_swarm_event`] and every completed
    /// [`Driver::wait`].
    pub fn poll_progress<B: HasBootstrap>(&mut self, swarm: &mut Swarm<B>) -> Option<Progress> {
        while let Some(action) = self.machine.poll_action() {
            self.apply(action, swarm);
        }
        self.outbox.pop_front()
    }

    /// Event-driven API: what the swarm just reported (every event, including the
    /// application's own behaviours'; the driver takes what concerns bootstrap and ignores the
    /// rest). The actions it causes are carried out by the next [`Driver::poll_progress`].
    pub fn on_swarm_event<B: HasBootstrap>(
        &mut self,
        swarm: &Swarm<B>,
        event: &SwarmEvent<B::ToSwarm>,
    ) {
        if let Some(input) = self.map_swarm_event::<B>(event) {
            self.machine.handle(Instant::now(), input);
        }
        if changes_addresses(event) {
            let addrs = dialable_addrs(swarm);
            self.machine
                .handle(Instant::now(), Input::Listening { addrs });
        }
    }

    /// Event-driven API: completes when the driver's own IO (its timer, an HTTP response, a
    /// DNS answer) has given the machine an input; then call [`Driver::poll_progress`].
    /// Cancel-safe: drop it whenever another branch of your `select!` wins.
    pub fn wait(&mut self) -> impl std::future::Future<Output = ()> + '_ {
        futures::future::poll_fn(move |cx| self.poll_wait(cx))
    }

    /// [`Driver::wait`] as a poll function, for hand-written futures and streams.
    pub fn poll_wait(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        use std::task::Poll;
        loop {
            let deadline = self.machine.poll_timeout();
            if self.timer.as_ref().map(|t| t.at) != deadline {
                self.timer = deadline.map(|at| Armed {
                    at,
                    timer: self.runtime.timer(at),
                });
            }
            // The one clock read per input: the core takes time as an argument.
            let input = if let Some(Poll::Ready(())) =
                self.timer.as_mut().map(|t| t.timer.poll_unpin(cx))
            {
                self.timer = None;
                Input::Tick
            } else if let Poll::Ready(Some((dial, results))) = self.resolutions.poll_next_unpin(cx)
            {
                Input::Resolved { dial, results }
            } else {
                match self.fetches.poll_next_unpin(cx) {
                    Poll::Ready(Some(Some((request, result)))) => {
                        self.aborts.remove(&request);
                        http_input(request, result)
                    }
                    Poll::Ready(Some(None)) => continue, // cancelled
                    // Empty sets wake nobody; a new fetch or lookup comes from
                    // `poll_progress`, after which the caller waits again.
                    Poll::Ready(None) | Poll::Pending => return Poll::Pending,
                }
            };
            self.machine.handle(Instant::now(), input);
            return Poll::Ready(());
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
                if self.nameserver.is_none() && names.iter().any(is_dnsaddr) {
                    self.nameserver = crate::dnsaddr::system_nameserver();
                }
                let lookups: Vec<_> = names
                    .into_iter()
                    .map(|name| resolve_addr(&self.runtime, self.nameserver, name))
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
                addrs,
            } => {
                // The machine names the addresses once it has been told them (`Listening`,
                // fed at start by `driver_for` and on every change); before that, all of ours.
                let addrs = match (family, addrs.is_empty()) {
                    (None, true) => dialable_addrs(swarm),
                    _ => addrs,
                };
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
            Action::PersistState(snapshot) => self.outbox.push_back(Progress::Persist(snapshot)),
            Action::Report(event) => self.outbox.push_back(Progress::Report(event)),
        }
    }
}

fn is_dnsaddr(addr: &Multiaddr) -> bool {
    matches!(addr.iter().next(), Some(Protocol::Dnsaddr(_)))
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
