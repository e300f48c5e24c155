//! Our own dial-back probes, the NAT verdict, and the persisted snapshot.

use super::*;

impl BootstrapMachine {
    pub(super) fn send_own_probe(&mut self, peer: PeerId) {
        if self.own_probes_left == 0 {
            return;
        }
        self.own_probes_left -= 1;
        self.counters.own_probes += 1;
        let probe = ProbeId(self.alloc_id());
        self.own_probe = Some(OwnProbe {
            probe,
            peer,
            deadline: self.now + self.config.timeouts.own_probe,
        });
        self.push(Action::ProbeVia { probe, peer });
    }

    /// After an own probe went unanswered: ask again, through any boot connection, while the
    /// verdict is still unconfirmed; when no attempt is left, say so once.
    pub(super) fn request_own_probe(&mut self) {
        if let Some(&peer) = self.boot_conns.keys().next() {
            self.request_own_probe_via(peer);
        } else if self.nat == NatVerdict::Unknown || self.nat_stale {
            self.verdict_unavailable_if_spent();
        }
    }

    /// [`Self::request_own_probe`] through `peer`.
    pub(super) fn request_own_probe_via(&mut self, peer: PeerId) {
        if self.nat != NatVerdict::Unknown && !self.nat_stale {
            return;
        }
        self.send_own_probe(peer);
        self.verdict_unavailable_if_spent();
    }

    fn verdict_unavailable_if_spent(&mut self) {
        if self.own_probe.is_none() && self.own_probes_left == 0 {
            let attempts = self.config.own_probe_attempts;
            self.report(Event::VerdictUnavailable { attempts });
        }
    }

    /// The awaited dial-back request (to `peer`) was answered.
    pub(super) fn on_own_probe(&mut self, peer: PeerId, result: &Result<Multiaddr, ProbeError>) {
        self.own_probe = None;
        let answered = match result {
            Ok(addr) => {
                self.set_verdict(NatVerdict::Public(addr.clone()));
                true
            }
            Err(ProbeError::DialBackFailed) => {
                self.set_verdict(NatVerdict::Private);
                true
            }
            Err(ProbeError::Refused | ProbeError::ServerFailed(_) | ProbeError::Request(_)) => {
                // Back off: a throttled server refuses everyone asking at once. No request
                // goes out before this, not even for a new boot connection.
                let max = self.config.timeouts.own_probe_retry;
                let delay = max / 2 + self.rng.duration_up_to(max / 2);
                self.own_probe_retry = Some(self.now + delay);
                if self.own_probes_left == 0 {
                    // No attempt left to wait for: say so now.
                    self.request_own_probe();
                }
                false
            }
        };
        let counts = self.config.connected_rule == ConnectedRule::InboundOrOwnProbe;
        if answered && counts && self.bootstrapping() && self.boot_conns.contains_key(&peer) {
            self.become_connected(peer);
        }
    }

    pub(super) fn set_verdict(&mut self, verdict: NatVerdict) {
        let stale = std::mem::replace(&mut self.nat_stale, false);
        if verdict == self.nat && !stale {
            return;
        }
        self.nat = verdict.clone();
        self.report(Event::NatChanged(verdict));
        self.persist();
    }

    pub(super) fn persist(&mut self) {
        let snapshot = Snapshot {
            good_peers: self.good_peers.clone(),
            nat: self.nat.clone(),
            boot_sequences: self.sequences.clone(),
        };
        self.push(Action::PersistState(snapshot));
    }
}
