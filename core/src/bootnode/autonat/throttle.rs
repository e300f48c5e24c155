//! The AutoNAT server's throttles: a peer asking too often is refused at once; a crowd over
//! the global limit queues for a place, oldest first, so every one of its peers gets an
//! answer.
//!
//! The global throttle counts dial-backs when they start. A request that holds a place but
//! waits for its connection's round trip counts too, so no period ever sees more starts than
//! allowed.

use std::time::Instant;

use libp2p_identity::PeerId;

use super::Stage;
use crate::bootnode::{BootNodeMachine, DialBackAnswer};
use crate::ids::DialBackId;

impl BootNodeMachine {
    /// The stage a new request of `peer` starts in ([`Stage::Queued`] when no place is free or
    /// others already wait), or why it is refused.
    pub(super) fn throttle(&mut self, peer: PeerId) -> Result<Stage, String> {
        let policy = &self.config.dial_back;
        let not_started = (self.autonat.jobs.values()).filter(|j| j.stage != Stage::Started);
        let mine = (self.autonat.recent.iter().map(|(_, p)| *p))
            .chain(not_started.map(|j| j.peer))
            .filter(|p| *p == peer)
            .count();
        if mine >= policy.per_peer as usize {
            return Err("throttled: too many dial-backs for you this period".into());
        }
        let max_queued = policy.max_queued as usize;
        let queued = self.queued().count();
        if queued == 0 && self.free_places() > 0 {
            return Ok(Stage::AwaitingRtt);
        }
        if queued >= max_queued {
            return Err("throttled: too many dial-backs this period".into());
        }
        Ok(Stage::Queued)
    }

    fn queued(&self) -> impl Iterator<Item = DialBackId> + '_ {
        (self.autonat.jobs.iter())
            .filter(|(_, j)| j.stage == Stage::Queued)
            .map(|(id, _)| *id)
    }

    /// Places left under the global throttle this period.
    fn free_places(&mut self) -> usize {
        let (now, period) = (self.now, self.config.dial_back.period);
        let recent = &mut self.autonat.recent;
        while (recent.front()).is_some_and(|(t, _)| now.saturating_duration_since(*t) >= period) {
            recent.pop_front();
        }
        let waiting = (self.autonat.jobs.values())
            .filter(|j| j.stage == Stage::AwaitingRtt)
            .count();
        let taken = self.autonat.recent.len() + waiting;
        (self.config.dial_back.global as usize).saturating_sub(taken)
    }

    /// Queued requests take the places that freed, oldest first (ids grow with arrival).
    pub(super) fn admit_queued(&mut self) {
        while self.free_places() > 0 {
            let Some(job) = self.queued().next() else {
                return;
            };
            let rtt_wait = self.config.dial_back.rtt_wait;
            let Some(j) = self.autonat.jobs.get_mut(&job) else {
                return;
            };
            j.stage = Stage::AwaitingRtt;
            j.deadline = self.now + rtt_wait;
            let rtt = self.conn_facts.get(&j.conn).and_then(|f| f.rtt);
            if rtt.is_some() {
                self.start_dial_back(job, rtt);
            }
        }
    }

    /// A queued request found no place in time.
    pub(super) fn refuse_queued(&mut self, job: DialBackId) {
        let Some(j) = self.autonat.jobs.remove(&job) else {
            return;
        };
        let wait = self.config.dial_back.queue_wait.as_millis();
        let why = format!("throttled: no dial-back place within {wait} ms");
        self.answer(
            j.reply,
            j.peer,
            j.asked,
            DialBackAnswer::Refused(why),
            "refused",
        );
    }

    /// With requests queued, when the next place frees: the oldest start leaves the period.
    pub(super) fn next_place(&self) -> Option<Instant> {
        self.queued().next()?;
        let (t, _) = self.autonat.recent.front()?;
        Some(*t + self.config.dial_back.period)
    }
}
