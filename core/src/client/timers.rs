//! The client machine's deadlines, listed once: [`BootstrapMachine::timer`] says, for each
//! kind, its earliest instant and the item due now; both the next deadline and the firing read
//! it (quinn-proto's timer table). Single deadlines stay where their state is (the phase, the
//! bootstrap's start, each own probe, the retry after a refusal); per-item ones are read from
//! the dials and boot connections they belong to.
//!
//! Firing goes one deadline at a time in the fixed order of [`ORDER`] (not in time order), the
//! first due item of a kind by key (dial id, peer id), and the bootstrap moves forward
//! ([`BootstrapMachine::settle`]) before the next: a firing may end the bootstrap or remove
//! what a later one would have fired.

use super::*;

/// A kind of deadline.
#[derive(Debug, Clone, Copy)]
enum Timer {
    /// The bootstrap's time budget.
    Budget,
    /// The phase's own wait: a `/status` answer, or the backoff before the next round.
    Phase,
    /// A dial's timeout, while bootstrapping.
    Dial,
    /// A boot peer's AutoNAT dial request, while bootstrapping.
    InboundProbe,
    /// A second-family dial's timeout, after Connected (the only dials kept timed then).
    LateSecondFamily,
    /// Our dial-back request's answer (or its dial-back's grace), per family slot.
    OwnProbe(usize),
    /// Asking again after a refusal.
    ProbeRetry,
}

/// The order in which due deadlines fire.
const ORDER: [Timer; 8] = [
    Timer::Budget,
    Timer::Phase,
    Timer::Dial,
    Timer::InboundProbe,
    Timer::LateSecondFamily,
    Timer::OwnProbe(0),
    Timer::OwnProbe(1),
    Timer::ProbeRetry,
];

/// A deadline that is due, and what it is about.
#[derive(Debug, Clone, Copy)]
enum Due {
    Budget,
    Status { request: RequestId, url: usize },
    Retry,
    Dial(DialId),
    InboundProbe(PeerId),
    LateSecondFamily(DialId),
    OwnProbe(usize),
    ProbeRetry,
}

impl BootstrapMachine {
    /// The one listing: for `timer`, under its guard, its earliest instant and, when asked
    /// about `due_at`, the item due then (the first by key when several are).
    fn timer(&self, timer: Timer, due_at: Option<Instant>) -> (Option<Instant>, Option<Due>) {
        if self.gave_up() {
            return (None, None);
        }
        let attempt = match &self.life {
            Life::Bootstrapping(attempt) => Some(attempt),
            _ => None,
        };
        let single = |at: Option<Instant>, due: Due| {
            let is_due = at.zip(due_at).is_some_and(|(at, now)| now >= at);
            (at, is_due.then_some(due))
        };
        match timer {
            Timer::Budget => {
                let at = attempt.map(|a| a.budget_deadline(&self.ctx.config));
                single(at, Due::Budget)
            }
            Timer::Phase => match attempt.map(|a| a.phase) {
                Some(Phase::AwaitingStatus {
                    request,
                    url,
                    deadline,
                }) => single(Some(deadline), Due::Status { request, url }),
                Some(Phase::AwaitingRetry { deadline }) => single(Some(deadline), Due::Retry),
                _ => (None, None),
            },
            Timer::Dial if self.bootstrapping() => {
                let dials = self.links.dials.iter().map(|(&id, d)| (id, d.deadline));
                earliest_and_due(dials, due_at, Due::Dial)
            }
            Timer::InboundProbe if self.bootstrapping() => {
                let conns = self.links.conns.iter().map(|(&p, c)| (p, c.probe_deadline));
                earliest_and_due(conns, due_at, Due::InboundProbe)
            }
            Timer::LateSecondFamily if !self.bootstrapping() => {
                let dials = (self.links.dials.iter())
                    .filter(|(_, d)| d.second_family)
                    .map(|(&id, d)| (id, d.deadline));
                earliest_and_due(dials, due_at, Due::LateSecondFamily)
            }
            Timer::OwnProbe(slot) => {
                let at = self.prober.own_probes[slot].as_ref().map(|p| p.deadline);
                single(at, Due::OwnProbe(slot))
            }
            Timer::ProbeRetry => single(self.prober.own_probe_retry, Due::ProbeRetry),
            Timer::Dial | Timer::InboundProbe | Timer::LateSecondFamily => (None, None),
        }
    }

    /// The earliest deadline of any kind.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        ORDER.iter().filter_map(|&t| self.timer(t, None).0).min()
    }

    /// Fires due deadlines and moves the bootstrap forward until it waits for something.
    pub(super) fn settle(&mut self) {
        for _ in 0..MAX_FIRINGS_PER_CALL {
            self.advance();
            if !self.fire_one_deadline() {
                return;
            }
        }
        // Every firing removes a deadline or pushes one into the future, so the loop ends long
        // before the guard; reaching it means a deadline re-arms at `now`: a bug.
        panic!("invariant: deadlines fired in one call stay below {MAX_FIRINGS_PER_CALL}");
    }

    /// Fires the first due deadline in [`ORDER`], if any. Returns whether one fired.
    fn fire_one_deadline(&mut self) -> bool {
        let now = Some(self.ctx.now);
        match ORDER.iter().find_map(|&t| self.timer(t, now).1) {
            Some(due) => {
                self.fire(due);
                true
            }
            None => false,
        }
    }

    fn fire(&mut self, due: Due) {
        let now = self.ctx.now;
        match due {
            Due::Budget => self.give_up(GiveUpReason::BudgetExhausted),
            Due::Status { request, url } => {
                self.ctx.push(Action::CancelFetch { request });
                let after = self.ctx.config.timeouts.http;
                self.fail_source(Source::Url(url), Failure::HttpTimeout(after));
            }
            Due::Retry => {
                if let Life::Bootstrapping(attempt) = &mut self.life {
                    attempt.start_round(&mut self.ctx);
                }
            }
            Due::Dial(dial) => {
                let Some(d) = self.links.dials.remove(&dial) else {
                    return;
                };
                self.ctx.push(Action::CancelDial { dial });
                self.ctx.counters.dial_failures += 1;
                let after = self.ctx.config.timeouts.dial;
                if d.second_family || self.links.conns.contains_key(&d.peer) {
                    // The peer is connected over the other family: nothing failed there.
                    return;
                }
                let failure = Failure::DialTimeout {
                    peer: d.peer,
                    after,
                };
                self.note_dial_failure(d.source, failure);
            }
            Due::InboundProbe(peer) => {
                if self.links.conns.get(&peer).is_some_and(|c| c.answered_ours) {
                    // It never asked, but it answered ours (a settled go-libp2p node asks
                    // new peers only now and then).
                    self.become_connected(peer, ConnectedBy::OwnProbeAnswered);
                    return;
                }
                let open = (self.prober.own_probes.iter().flatten())
                    .filter(|p| p.peer == peer)
                    .map(|p| p.deadline)
                    .max();
                if let Some(c) = self.links.conns.get_mut(&peer) {
                    if let Some(answer_due) = open.filter(|&t| t > now && !c.overdue) {
                        // Our request to it is still open: wait for that answer, once.
                        c.overdue = true;
                        c.probe_deadline = answer_due;
                        return;
                    }
                }
                if let Some(c) = self.drop_boot_conn(peer) {
                    self.ctx.push(Action::Disconnect { peer });
                    let after = self.ctx.config.timeouts.inbound_probe;
                    self.note_dial_failure(c.source, Failure::NoInboundProbe { peer, after });
                }
            }
            Due::LateSecondFamily(dial) => {
                self.links.dials.remove(&dial);
                self.ctx.push(Action::CancelDial { dial });
                self.ctx.counters.dial_failures += 1;
                // That family goes unprobed: say so if nothing else will.
                self.probe_next_family();
            }
            Due::OwnProbe(slot) => {
                if let Some(p) = self.prober.own_probes[slot].take() {
                    self.on_own_probe_deadline(p);
                }
            }
            Due::ProbeRetry => {
                self.prober.own_probe_retry = None;
                self.request_own_probe();
            }
        }
    }
}

/// The earliest of `items`' deadlines, and, when asked about `due_at`, the first item (by key)
/// due then.
fn earliest_and_due<K: Ord + Copy>(
    items: impl Iterator<Item = (K, Instant)>,
    due_at: Option<Instant>,
    due: impl Fn(K) -> Due,
) -> (Option<Instant>, Option<Due>) {
    let (mut earliest, mut first_due) = (None::<Instant>, None::<K>);
    for (key, at) in items {
        earliest = Some(earliest.map_or(at, |e| e.min(at)));
        if due_at.is_some_and(|now| now >= at) && first_due.is_none_or(|k| key < k) {
            first_due = Some(key);
        }
    }
    (earliest, first_due.map(due))
}
