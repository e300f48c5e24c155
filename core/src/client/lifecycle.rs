//! The machine's part in a bootstrap's life: starting one, giving up, and the failures it
//! records; and a boot connection going away, whatever the phase.

use super::*;

impl BootstrapMachine {
    /// Starts a bootstrap: a new attempt and a new request budget for the prober.
    pub(super) fn start_bootstrap(&mut self) {
        self.ctx.counters.bootstraps += 1;
        self.prober.budget = ProbeBudget::new(self.ctx.config.own_probe_attempts);
        match Attempt::start(&mut self.ctx) {
            Ok(attempt) => self.life = Life::Bootstrapping(attempt),
            Err(reason) => {
                self.life = Life::Bootstrapping(Attempt::empty(self.ctx.now));
                self.give_up(reason);
            }
        }
    }

    /// Ends the attempt: every dial and the fetch under way are cancelled, the prober stops
    /// asking, and the report names every failure.
    pub(super) fn give_up(&mut self, reason: GiveUpReason) {
        for dial in std::mem::take(&mut self.links.dials).into_keys() {
            self.ctx.push(Action::CancelDial { dial });
        }
        let life = std::mem::replace(&mut self.life, Life::GaveUp { round: 0 });
        let Life::Bootstrapping(attempt) = life else {
            // Only an attempt gives up.
            self.life = life;
            return;
        };
        if let Phase::AwaitingStatus { request, .. } = attempt.phase {
            self.ctx.push(Action::CancelFetch { request });
        }
        self.prober.own_probes = [None, None];
        self.prober.own_probe_retry = None;
        let round = attempt.round;
        let report = attempt.gave_up(reason);
        self.life = Life::GaveUp { round };
        self.ctx.report(Event::GaveUp(report));
    }

    /// A dial or a boot connection failed: reported, and kept for the give-up report while
    /// bootstrapping.
    pub(super) fn note_dial_failure(&mut self, source: Source, failure: Failure) {
        let tried = Tried {
            source: source.name(&self.ctx.config),
            failure,
        };
        if let Life::Bootstrapping(attempt) = &mut self.life {
            attempt.record(tried.clone());
        }
        self.ctx.report(Event::DialFailed(tried));
    }

    /// `fail_source` of the attempt, if one is under way.
    pub(super) fn fail_source(&mut self, source: Source, failure: Failure) {
        if let Life::Bootstrapping(attempt) = &mut self.life {
            attempt.fail_source(&mut self.ctx, source, failure);
        }
    }

    pub(super) fn drop_boot_conn(&mut self, peer: PeerId) -> Option<BootConn> {
        let conn = self.links.conns.remove(&peer)?;
        // The awaited dial-back request went with its connection.
        self.probe_elsewhere(peer);
        Some(conn)
    }
}
