//! Cancel safety of the driver's futures: [`Driver::next`](pyrsia_boot_libp2p::Driver::next)
//! and the event-driven API's [`Driver::wait`](pyrsia_boot_libp2p::Driver::wait), dropped at
//! random points by a `select!` whose other branch is a short random timer, must lose nothing:
//! the client still connects and gets its verdict.

use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use pyrsia_boot_core::Event;
use pyrsia_boot_libp2p::{Output, Progress, Runtime};

use crate::harness::*;
use crate::Adapter;

/// A small xorshift generator, seeded per run (the seed is in every failure message).
struct Cuts(u64);

impl Cuts {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos());
        Cuts(u64::from(nanos) | 1)
    }

    /// The next cut: up to 1.5 ms, a few times a round trip on loopback.
    fn next(&mut self) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_micros(self.0 % 1500)
    }
}

fn assert_connected_after_cuts(events: &[Event], dropped: u32, seed: u64) {
    assert!(
        connected_with_verdict(events),
        "seed {seed}: not connected with a verdict after {dropped} drops: {events:?}"
    );
    // Each cut that won dropped a pending future; a test that never dropped one proves nothing.
    assert!(dropped > 0, "seed {seed}: no future was dropped");
}

/// `next()` raced against a random timer: every lost race drops the `next` future wherever
/// it was (an HTTP fetch, a dial, the dial-back request in flight).
pub fn next_dropped_at_random_points_still_connects_with_a_verdict<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let mut client = Client::<A>::start(loopback_config(vec![boot.status_url()])).await;
        let mut cuts = Cuts::new();
        let seed = cuts.0;
        let mut dropped = 0;
        let deadline = Instant::now() + GUARD;
        while !connected_with_verdict(&client.events) {
            assert!(
                Instant::now() < deadline,
                "seed {seed}: {:?}",
                client.events
            );
            let cut = A::runtime().timer(Instant::now() + cuts.next()).fuse();
            let next = client.driver.next(&mut client.swarm).fuse();
            let (mut cut, mut next) = (std::pin::pin!(cut), std::pin::pin!(next));
            futures::select! {
                out = next => match out {
                    Output::Report(Event::GaveUp(why)) => panic!("seed {seed}: gave up: {why}"),
                    Output::Report(e) => client.events.push(e),
                    Output::Persist(_) | Output::Swarm(_) => {}
                },
                () = cut => dropped += 1,
            }
        }
        assert_connected_after_cuts(&client.events, dropped, seed);
    });
}

/// An application's own loop on the event-driven API: it polls the swarm itself, feeds every
/// event to `on_swarm_event`, and races `wait()` against a random timer that drops it.
pub fn an_own_select_loop_on_the_event_driven_api_connects_while_dropping_wait<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let mut client = Client::<A>::start(loopback_config(vec![boot.status_url()])).await;
        let (driver, swarm) = (&mut client.driver, &mut client.swarm);
        let mut cuts = Cuts::new();
        let seed = cuts.0;
        let (mut dropped, mut swarm_events) = (0, 0);
        let deadline = Instant::now() + GUARD;
        let mut events = Vec::new();
        while !connected_with_verdict(&events) {
            assert!(Instant::now() < deadline, "seed {seed}: {events:?}");
            while let Some(progress) = driver.poll_progress(swarm) {
                match progress {
                    Progress::Report(Event::GaveUp(why)) => panic!("seed {seed}: gave up: {why}"),
                    Progress::Report(e) => events.push(e),
                    Progress::Persist(_) => {}
                }
            }
            let cut = A::runtime().timer(Instant::now() + cuts.next()).fuse();
            let mut cut = std::pin::pin!(cut);
            futures::select! {
                event = swarm.select_next_some() => {
                    driver.on_swarm_event(swarm, &event);
                    swarm_events += 1;
                }
                () = driver.wait().fuse() => {}
                () = cut => dropped += 1,
            }
        }
        assert_connected_after_cuts(&events, dropped, seed);
        assert!(swarm_events > 0, "the application polled the swarm");
    });
}
