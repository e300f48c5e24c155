use super::*;
use std::sync::atomic::{AtomicBool, Ordering};

impl Handshakes {
    /// Runs queued steps in the queue's order, as one ticker would, until none is left.
    fn run_queued(&self) {
        while let Some(step) = self.0.queue.lock().ok().and_then(|mut q| q.pop()) {
            step.run();
        }
    }
}

/// A task that records `name` each time it runs and finishes after `polls` polls.
fn recorder(
    log: &Arc<Mutex<Vec<&'static str>>>,
    name: &'static str,
    polls: usize,
) -> BoxFuture<'static, ()> {
    let log = log.clone();
    let mut left = polls;
    futures::future::poll_fn(move |cx| {
        log.lock().expect("log").push(name);
        left -= 1;
        if left == 0 {
            return Poll::Ready(());
        }
        // Ready again at once: it goes back into the queue under its key.
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .boxed()
}

#[test]
fn established_work_runs_first_then_dials_then_inbound_handshakes_oldest_first() {
    let h = Handshakes::new(HandshakePriority::Low);
    let log = Arc::new(Mutex::new(Vec::new()));
    h.0.spawn(INBOUND, now(), recorder(&log, "in-1", 2));
    h.0.spawn(INBOUND, now(), recorder(&log, "in-2", 2));
    h.0.spawn(OUTBOUND, now(), recorder(&log, "dial", 1));
    h.0.spawn(ESTABLISHED, now(), recorder(&log, "conn-a", 2));
    h.0.spawn(ESTABLISHED, now(), recorder(&log, "conn-b", 1));
    h.run_queued();
    // Established work in wake order (a woken task goes behind the others woken before
    // it); the older inbound handshake finishes before the younger one takes a step.
    assert_eq!(
        *log.lock().expect("log"),
        ["conn-a", "conn-b", "conn-a", "dial", "in-1", "in-1", "in-2", "in-2"]
    );
}

#[test]
fn an_overdue_handshake_is_queued_with_established_work_in_wake_order() {
    // Overdue at once: the handshake's steps take turns with established work's.
    let h = Handshakes::with_times(HandshakePriority::Low, Duration::ZERO, Duration::MAX);
    let log = Arc::new(Mutex::new(Vec::new()));
    h.0.spawn(INBOUND, now(), recorder(&log, "in-1", 3));
    h.0.spawn(ESTABLISHED, now(), recorder(&log, "conn", 3));
    h.run_queued();
    assert_eq!(
        *log.lock().expect("log"),
        ["in-1", "conn", "in-1", "conn", "in-1", "conn"]
    );
}

#[test]
fn a_handshake_still_queued_past_its_timeout_fails_without_another_step() {
    let h = Handshakes::with_times(HandshakePriority::Low, OVERDUE, Duration::ZERO);
    let polled = Arc::new(AtomicBool::new(false));
    let seen = polled.clone();
    let upgrade: Upgrade = futures::future::poll_fn(move |_| {
        seen.store(true, Ordering::SeqCst);
        Poll::Pending
    })
    .boxed();
    let waiting = h.run(INBOUND, upgrade, None);
    h.run_queued();
    // Answered by the queue's one step, not left pending (the upgrade never finishes).
    let result = waiting
        .now_or_never()
        .expect("answered without the upgrade");
    assert!(
        matches!(&result, Err(e) if e.kind() == std::io::ErrorKind::TimedOut),
        "{:?}",
        result.err()
    );
    assert!(!polled.load(Ordering::SeqCst), "no step taken");
}

#[test]
fn a_handshake_the_swarm_drops_stops_and_a_stopped_queue_drops_its_work() {
    let h = Handshakes::new(HandshakePriority::Low);
    let upgrade: Upgrade = futures::future::pending().boxed();
    let waiting = h.run(INBOUND, upgrade, None);
    assert_eq!(h.0.queue.lock().expect("queue").len(), 1);
    h.run_queued(); // the handshake is pending now, not queued
    drop(waiting); // the swarm gave up on it: its task is woken to stop
    assert_eq!(h.0.queue.lock().expect("queue").len(), 1);
    h.run_queued();
    assert_eq!(h.0.queue.lock().expect("queue").len(), 0);

    let log = Arc::new(Mutex::new(Vec::new()));
    h.0.spawn(INBOUND, now(), recorder(&log, "late", 1));
    h.stop();
    h.run_queued();
    assert!(log.lock().expect("log").is_empty(), "stopped: nothing runs");
}

#[test]
fn with_the_same_priority_nothing_is_queued_and_a_finished_inbound_handshake_is_noted() {
    let h = Handshakes::new(HandshakePriority::Same);
    let remote: Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().expect("addr");
    let key = libp2p::identity::Keypair::generate_ed25519();
    let muxer = StreamMuxerBox::new(NeverMuxer);
    let upgrade: Upgrade = futures::future::ready(Ok((key.public().to_peer_id(), muxer))).boxed();
    let done = futures::executor::block_on(h.run(INBOUND, upgrade, Some(remote.clone())));
    assert!(done.is_ok());
    assert_eq!(h.0.queue.lock().expect("queue").len(), 0);
    assert!(h.take_done(&remote).is_some());
    assert!(h.take_done(&remote).is_none(), "taken once");
}

/// A muxer that never yields a stream (the test needs only a value).
struct NeverMuxer;

impl libp2p::core::StreamMuxer for NeverMuxer {
    type Substream = futures::io::Cursor<Vec<u8>>;
    type Error = std::io::Error;
    fn poll_inbound(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        Poll::Pending
    }
    fn poll_outbound(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        Poll::Pending
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn poll(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Result<libp2p::core::muxing::StreamMuxerEvent, Self::Error>> {
        Poll::Pending
    }
}
