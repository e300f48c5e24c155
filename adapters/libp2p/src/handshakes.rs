//! A boot node's connection work, ordered so that a crowd does not delay those already in.
//!
//! When a crowd joins, most of a boot node's CPU goes into noise handshakes. libp2p's swarm
//! spawns each connection's handshake and, later, its established connection as tasks on the
//! runtime, beside the swarm's own loop, and the runtime runs them in one FIFO queue. A joiner
//! whose handshake is done then waits for its dial request behind every other joiner's
//! handshake step, and every handshake advances in lockstep with all the others, so all of
//! them finish late (BENCHMARKS §18).
//!
//! [`Handshakes`] keeps the swarm's connection tasks in a queue of its own, ordered:
//! 1. established connections and the swarm's wrappers around pending ones, in wake order;
//! 2. outbound handshakes (dial-backs, load questions), oldest first;
//! 3. inbound handshakes, oldest first: the joiner that came first finishes first.
//!
//! Where each woken task goes is the core's rule, `pyrsia_boot_core::WorkRules::place`, a pure
//! function of (class, when it began, now), unit-tested in virtual time: a handshake that
//! began more than [`OVERDUE`] ago is queued with established work, and one still queued past
//! the transport's timeout ([`crate::CONNECTION_TIMEOUT`]) fails without another step. This
//! file is only the mechanism; it reads the clock in one place (its `now`).
//!
//! A few ticker tasks on the runtime run that queue one step at a time and go to the back of
//! the runtime's queue after each step, so the swarm's loop and the `/status` server (tasks on
//! the runtime itself) wait at most one step per ticker. When nothing else waits, the tickers
//! use every thread. A step costs a few microseconds more than on the runtime (two hand-offs),
//! against a handshake's ~0.4 ms of CPU.
//!
//! It also notes when each inbound handshake finished, so a boot node can measure its own
//! connection → dial request wait (`pyrsia_boot_handshake_to_dial_request_seconds`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use async_task::Runnable;
use futures::channel::oneshot;
use futures::future::{BoxFuture, Shared};
use futures::{Future, FutureExt};
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{Boxed, DialOpts, ListenerId, TransportError, TransportEvent};
use libp2p::{swarm, Multiaddr, PeerId, Transport};

use pyrsia_boot_core::{WorkClass, WorkPlace, WorkRules};

use crate::runtime::Runtime;

mod offload;

use offload::Offloaded;

/// The one clock read of the connection-work queue: when a task began, when it is woken, when
/// a handshake finished.
fn now() -> Instant {
    Instant::now()
}

/// Where a boot node's connection work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HandshakePriority {
    /// In the order above: established work first, then handshakes oldest first (the
    /// default).
    #[default]
    Low,
    /// On the runtime, in turn with everything else (libp2p's way).
    Same,
}

/// Finished inbound handshakes not yet seen by the swarm's loop are noted at most this many
/// times (each entry is an address and an instant). The loop takes its entry when the
/// connection is established or refused, so this is only reached if the loop stops.
const MAX_STAMPS: usize = 1 << 16;

type Upgrade = BoxFuture<'static, std::io::Result<(PeerId, StreamMuxerBox)>>;

pub use crate::timeouts::OVERDUE;

/// A task's class and sequence number (its place among its class: first spawned first).
type Key = (u8, u64);

const ESTABLISHED: WorkClass = WorkClass::Established;
const OUTBOUND: WorkClass = WorkClass::Outbound;
const INBOUND: WorkClass = WorkClass::Inbound;

/// A class's rank in the queue: lower runs first.
fn rank(class: WorkClass) -> u8 {
    match class {
        WorkClass::Established => 0,
        WorkClass::Outbound => 1,
        _ => 2,
    }
}

struct Queued {
    key: Key,
    runnable: Runnable,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

#[derive(Default)]
struct Queue {
    /// Established work, first woken first.
    established: std::collections::VecDeque<Runnable>,
    /// Handshakes by class, then age.
    handshakes: BinaryHeap<Reverse<Queued>>,
    /// Tickers waiting for work, by ticker number.
    idle: Vec<(usize, Waker)>,
    next_seq: u64,
}

impl Queue {
    fn push(&mut self, key: Key, runnable: Runnable) {
        if key.0 == rank(ESTABLISHED) {
            self.established.push_back(runnable);
        } else {
            self.handshakes.push(Reverse(Queued { key, runnable }));
        }
    }

    /// Established work first, then the best handshake.
    fn pop(&mut self) -> Option<Runnable> {
        (self.established.pop_front())
            .or_else(|| self.handshakes.pop().map(|Reverse(next)| next.runnable))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.established.len() + self.handshakes.len()
    }
}

struct Inner {
    priority: HandshakePriority,
    queue: Mutex<Queue>,
    /// When each inbound handshake finished, by the remote address it came from.
    done: Mutex<HashMap<Multiaddr, Instant>>,
    /// Dropped by [`Handshakes::stop`]: the tickers stop.
    stop: Mutex<Option<oneshot::Sender<()>>>,
    stopped: Shared<oneshot::Receiver<()>>,
    /// Where woken work goes, and when a handshake gives up (the core's rule).
    rules: WorkRules,
}

impl Inner {
    fn seq(&self) -> u64 {
        self.queue.lock().map_or(0, |mut q| {
            q.next_seq += 1;
            q.next_seq
        })
    }

    fn push(&self, key: Key, runnable: Runnable) {
        let waker = match self.queue.lock() {
            Ok(mut q) => {
                q.push(key, runnable);
                q.idle.pop().map(|(_, w)| w)
            }
            Err(_) => None,
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Spawns `task`, queued as `class` began at `began`: where each wake puts it is the
    /// core's rule (a handshake by its age, its sequence number fixed at spawn; established
    /// work, and overdue handshakes, in wake order).
    fn spawn(self: &Arc<Self>, class: WorkClass, began: Instant, task: BoxFuture<'static, ()>) {
        let weak: Weak<Inner> = Arc::downgrade(self);
        let fixed = self.seq();
        let schedule = move |runnable: Runnable| {
            // The boot node is gone: dropping the runnable cancels its task.
            let Some(inner) = weak.upgrade() else {
                return;
            };
            let place = match inner.rules.place(class, began, now()) {
                WorkPlace::Handshake(class) => rank(class),
                // Given up: its next step ends it at once (see `run`).
                _ => rank(ESTABLISHED),
            };
            inner.push((place, fixed), runnable);
        };
        let (runnable, task) = async_task::spawn(task, schedule);
        runnable.schedule();
        task.detach();
    }
}

/// The next queued step, for ticker `me`.
struct NextStep<'a> {
    inner: &'a Inner,
    me: usize,
}

impl Future for NextStep<'_> {
    type Output = Option<Runnable>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Runnable>> {
        let Ok(mut q) = self.inner.queue.lock() else {
            return Poll::Ready(None);
        };
        if let Some(next) = q.pop() {
            return Poll::Ready(Some(next));
        }
        let me = self.me;
        q.idle.retain(|(id, _)| *id != me);
        q.idle.push((me, cx.waker().clone()));
        Poll::Pending
    }
}

/// A boot node's connection work (see the module docs). Cloning shares it.
#[derive(Clone)]
pub struct Handshakes(Arc<Inner>);

impl std::fmt::Debug for Handshakes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshakes")
            .field("priority", &self.0.priority)
            .finish_non_exhaustive()
    }
}

impl Handshakes {
    /// Connection work ordered as `priority` says. With [`HandshakePriority::Low`], start the
    /// tickers with [`Handshakes::run_on`], or no connection ever makes progress.
    pub fn new(priority: HandshakePriority) -> Self {
        Self::with_times(priority, OVERDUE, crate::CONNECTION_TIMEOUT)
    }

    /// With other times than [`OVERDUE`] and the transport's timeout (for tests).
    fn with_times(priority: HandshakePriority, overdue: Duration, give_up: Duration) -> Self {
        let rules = WorkRules { overdue, give_up };
        let (stop, stopped) = oneshot::channel();
        Handshakes(Arc::new(Inner {
            priority,
            queue: Mutex::new(Queue::default()),
            done: Mutex::new(HashMap::new()),
            stop: Mutex::new(Some(stop)),
            stopped: stopped.shared(),
            rules,
        }))
    }

    /// `transport` (already secured and multiplexed, as [`crate::secure_and_multiplex`]
    /// builds it) with its handshakes queued here.
    pub fn wrap(
        &self,
        transport: Boxed<(PeerId, StreamMuxerBox)>,
    ) -> Boxed<(PeerId, StreamMuxerBox)> {
        Offloaded {
            inner: transport,
            handshakes: self.clone(),
        }
        .boxed()
    }

    /// The swarm configuration whose connection tasks are queued here, with pyrsia-boot's idle
    /// timeout; `runtime_config` (the runtime's own) with [`HandshakePriority::Same`].
    pub fn swarm_config(&self, runtime_config: swarm::Config) -> swarm::Config {
        if self.0.priority == HandshakePriority::Same {
            return runtime_config;
        }
        let inner = self.0.clone();
        swarm::Config::with_executor(move |task| inner.spawn(ESTABLISHED, now(), task))
            .with_idle_connection_timeout(crate::IDLE_CONNECTION_TIMEOUT)
    }

    /// Starts `tickers` tasks on `runtime` that run the queue (one per runtime thread lets
    /// them use every core when nothing else waits). They stop when [`Handshakes::stop`] is
    /// called. Nothing to start with [`HandshakePriority::Same`].
    pub fn run_on<R: Runtime>(&self, runtime: &R, tickers: usize) {
        if self.0.priority == HandshakePriority::Same {
            return;
        }
        for me in 0..tickers.max(1) {
            let inner = self.0.clone();
            runtime.spawn(
                async move {
                    let stopped = inner.stopped.clone();
                    let work = async {
                        while let Some(step) = (NextStep { inner: &inner, me }).await {
                            step.run();
                            YieldNow(false).await;
                        }
                    };
                    futures::pin_mut!(work);
                    let _ = futures::future::select(work, stopped).await;
                }
                .boxed(),
            );
        }
    }

    /// Stops the tickers. Queued work is dropped with the last handle (the swarm's transport
    /// holds one).
    pub fn stop(&self) {
        if let Ok(mut stop) = self.0.stop.lock() {
            stop.take();
        }
        // Dropped outside the lock: a dropped task may wake another, which locks the queue.
        let dropped = self.0.queue.lock().map(|mut q| {
            q.idle.clear();
            (
                std::mem::take(&mut q.established),
                std::mem::take(&mut q.handshakes),
            )
        });
        drop(dropped);
    }

    /// When the inbound handshake from `remote` finished, if it did and was not taken yet.
    pub fn take_done(&self, remote: &Multiaddr) -> Option<Instant> {
        self.0.done.lock().ok()?.remove(remote)
    }

    fn note_done(&self, remote: Multiaddr) {
        if let Ok(mut done) = self.0.done.lock() {
            if done.len() < MAX_STAMPS {
                done.insert(remote, now());
            }
        }
    }

    /// `upgrade` queued as `class`; `noted`: the remote address to note its end under.
    fn run(&self, class: WorkClass, upgrade: Upgrade, noted: Option<Multiaddr>) -> Upgrade {
        let this = self.clone();
        let upgrade = async move {
            let result = upgrade.await;
            if let (Ok(_), Some(remote)) = (&result, noted) {
                this.note_done(remote);
            }
            result
        };
        if self.0.priority == HandshakePriority::Same {
            return upgrade.boxed();
        }
        let (tx, rx) = oneshot::channel();
        let began = now();
        let rules = self.0.rules;
        let task = async move {
            let mut upgrade = std::pin::pin!(upgrade);
            let mut tx = tx;
            // The swarm dropped the connection (its own timeout, a limit): stop the handshake.
            let result = futures::future::poll_fn(|cx| {
                if tx.poll_canceled(cx).is_ready() {
                    return Poll::Ready(None);
                }
                // Too late (the transport's timeout would fail it after this step's work).
                if rules.place(class, began, now()) == WorkPlace::GiveUp {
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the handshake waited past its timeout",
                    ))));
                }
                upgrade.as_mut().poll(cx).map(Some)
            })
            .await;
            if let Some(result) = result {
                let _ = tx.send(result);
            }
        };
        self.0.spawn(class, began, task.boxed());
        async move {
            rx.await
                .unwrap_or_else(|_| Err(std::io::Error::other("the boot node is stopping")))
        }
        .boxed()
    }
}

/// Yields once to the runtime: wakes itself and returns pending, so the task goes to the back
/// of the runtime's queue.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests;
