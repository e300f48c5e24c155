//! The order of a boot node's connection work: a pure rule of (class, when it began, now).
//! The glue's queue (`pyrsia_boot_libp2p::Handshakes`) is only the mechanism: it asks this
//! rule where each woken task goes and reads the clock in one place.
//!
//! When a crowd joins, most of a boot node's CPU goes into noise handshakes. Established
//! connections go first (a joiner whose handshake is done waits for its dial request behind
//! nothing but other established work), then outbound handshakes (dial-backs, load questions),
//! then inbound ones, oldest first. Two rules bound what a crowd too big for the node's cores
//! does to its youngest joiners: a handshake that began [`WorkRules::overdue`] ago is queued
//! with established work (under overload the queue becomes libp2p's one FIFO again, in which
//! every handshake keeps advancing), and one still queued past [`WorkRules::give_up`] fails
//! without another step (its peer has given up; the step's noise work would be thrown away).

use std::time::{Duration, Instant};

/// What a piece of connection work is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum WorkClass {
    /// An established connection's work, or the swarm's wrapper around a pending one.
    Established,
    /// A handshake on a connection this node dialed (a dial-back, a load question).
    Outbound,
    /// A handshake on a connection a peer opened (a joiner).
    Inbound,
}

/// Where a woken piece of work goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkPlace {
    /// With established work, in wake order.
    WithEstablished,
    /// Among the handshakes, by class, then oldest first.
    Handshake(WorkClass),
    /// Nowhere: it fails without another step.
    GiveUp,
}

/// The times the rule works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkRules {
    /// A handshake that began this long ago is queued with established work.
    pub overdue: Duration,
    /// A handshake still unfinished this long after it began fails without another step (the
    /// transport's own timeout would fail it after the step's work).
    pub give_up: Duration,
}

impl WorkRules {
    /// Where `class` work that began at `began` goes at `now` (a `now` before `began` counts
    /// as `began`).
    pub fn place(&self, class: WorkClass, began: Instant, now: Instant) -> WorkPlace {
        if class == WorkClass::Established {
            return WorkPlace::WithEstablished;
        }
        let age = now.saturating_duration_since(began);
        if age >= self.give_up {
            WorkPlace::GiveUp
        } else if age >= self.overdue {
            WorkPlace::WithEstablished
        } else {
            WorkPlace::Handshake(class)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: WorkRules = WorkRules {
        overdue: Duration::from_secs(3),
        give_up: Duration::from_secs(10),
    };

    fn at(ms: u64, start: Instant) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn established_work_is_always_first_class() {
        // The test's starting instant; the rule reads no clock.
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        for ms in [0, 5_000, 60_000] {
            let place = RULES.place(WorkClass::Established, t0, at(ms, t0));
            assert_eq!(place, WorkPlace::WithEstablished);
        }
    }

    #[test]
    fn a_young_handshake_waits_among_handshakes_by_class() {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        for class in [WorkClass::Outbound, WorkClass::Inbound] {
            assert_eq!(RULES.place(class, t0, t0), WorkPlace::Handshake(class));
            assert_eq!(
                RULES.place(class, t0, at(2_999, t0)),
                WorkPlace::Handshake(class)
            );
        }
    }

    #[test]
    fn an_overdue_handshake_joins_established_work_and_a_late_one_gives_up() {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let place = |ms| RULES.place(WorkClass::Inbound, t0, at(ms, t0));
        assert_eq!(place(3_000), WorkPlace::WithEstablished);
        assert_eq!(place(9_999), WorkPlace::WithEstablished);
        assert_eq!(place(10_000), WorkPlace::GiveUp);
    }

    #[test]
    fn time_going_backwards_counts_as_no_time() {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now() + Duration::from_secs(5);
        let earlier = t0 - Duration::from_secs(5);
        assert_eq!(
            RULES.place(WorkClass::Inbound, t0, earlier),
            WorkPlace::Handshake(WorkClass::Inbound)
        );
    }
}
