//! Deadlines: the earliest one, and firing those that are due.

use super::*;

impl BootstrapMachine {
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        match self.phase {
            Phase::AwaitingStatus { deadline, .. } | Phase::AwaitingRetry { deadline } => {
                consider(deadline)
            }
            Phase::GaveUp => return None,
            _ => {}
        }
        if self.bootstrapping() {
            consider(self.budget_deadline());
            self.dials.values().for_each(|d| consider(d.deadline));
            self.boot_conns
                .values()
                .for_each(|c| consider(c.probe_deadline));
        } else {
            // After Connected only a second-family dial keeps its deadline.
            (self.dials.values())
                .filter(|d| d.second_family)
                .for_each(|d| consider(d.deadline));
        }
        self.own_probes
            .iter()
            .flatten()
            .for_each(|p| consider(p.deadline));
        if let Some(t) = self.own_probe_retry {
            consider(t);
        }
        next
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

    /// Fires the first due deadline, if any. Returns whether one fired.
    pub(super) fn fire_one_deadline(&mut self) -> bool {
        let now = self.now;
        if self.phase == Phase::GaveUp {
            return false;
        }
        if self.bootstrapping() && now >= self.budget_deadline() {
            self.give_up(GiveUpReason::BudgetExhausted);
            return true;
        }
        match self.phase {
            Phase::AwaitingStatus {
                request,
                url,
                deadline,
            } if now >= deadline => {
                self.push(Action::CancelFetch { request });
                let after = self.config.timeouts.http;
                self.fail_source(Source::Url(url), Failure::HttpTimeout(after));
                return true;
            }
            Phase::AwaitingRetry { deadline } if now >= deadline => {
                self.start_round();
                return true;
            }
            _ => {}
        }
        if self.bootstrapping() {
            if let Some((&dial, _)) = self.dials.iter().find(|(_, d)| now >= d.deadline) {
                if let Some(d) = self.dials.remove(&dial) {
                    self.push(Action::CancelDial { dial });
                    self.counters.dial_failures += 1;
                    let after = self.config.timeouts.dial;
                    if d.second_family || self.boot_conns.contains_key(&d.peer) {
                        // The peer is connected over the other family: nothing failed there.
                        return true;
                    }
                    self.note_dial_failure(
                        d.source,
                        Failure::DialTimeout {
                            peer: d.peer,
                            after,
                        },
                    );
                }
                return true;
            }
            if let Some((&peer, _)) = self
                .boot_conns
                .iter()
                .find(|(_, c)| now >= c.probe_deadline)
            {
                if self.boot_conns.get(&peer).is_some_and(|c| c.answered_ours) {
                    // It never asked, but it answered ours (a settled go-libp2p node asks
                    // new peers only now and then).
                    self.become_connected(peer, ConnectedBy::OwnProbeAnswered);
                    return true;
                }
                let open = (self.own_probes.iter().flatten())
                    .filter(|p| p.peer == peer)
                    .map(|p| p.deadline)
                    .max();
                if let Some(c) = self.boot_conns.get_mut(&peer) {
                    if let Some(answer_due) = open.filter(|&t| t > now && !c.overdue) {
                        // Our request to it is still open: wait for that answer, once.
                        c.overdue = true;
                        c.probe_deadline = answer_due;
                        return true;
                    }
                }
                if let Some(c) = self.drop_boot_conn(peer) {
                    self.push(Action::Disconnect { peer });
                    let after = self.config.timeouts.inbound_probe;
                    self.note_dial_failure(c.source, Failure::NoInboundProbe { peer, after });
                }
                return true;
            }
        }
        let late = (self.dials.iter()).find(|(_, d)| d.second_family && now >= d.deadline);
        if let Some((&dial, _)) = late {
            self.dials.remove(&dial);
            self.push(Action::CancelDial { dial });
            self.counters.dial_failures += 1;
            // That family goes unprobed: say so if nothing else will.
            self.probe_next_family();
            return true;
        }
        for slot in 0..self.own_probes.len() {
            if let Some(p) = self.own_probes[slot].take_if(|p| now >= p.deadline) {
                self.on_own_probe_deadline(p);
                return true;
            }
        }
        if self.own_probe_retry.is_some_and(|t| now >= t) {
            self.own_probe_retry = None;
            self.request_own_probe();
            return true;
        }
        false
    }
}
