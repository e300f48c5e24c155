//! Rounds and sources: what to try next, candidates from each source, dials, giving up.

use super::*;

impl BootstrapMachine {
    pub(super) fn start_bootstrap(&mut self) {
        self.ctx.counters.bootstraps += 1;
        self.started = self.ctx.now;
        self.round = 0;
        self.rounds_started = 0;
        self.tried.clear();
        self.omitted = 0;
        self.dead_urls.clear();
        self.boot_peer = None;
        self.prober.budget = ProbeBudget::new(self.ctx.config.own_probe_attempts);
        self.sources.clear();
        for kind in self.ctx.config.source_order.clone() {
            match kind {
                SourceKind::Cache if !self.ctx.good_peers.is_empty() => {
                    self.sources.push(Source::Cache)
                }
                SourceKind::Urls => {
                    self.sources
                        .extend((0..self.ctx.config.boot_urls.len()).map(Source::Url));
                }
                SourceKind::Seeds if !self.ctx.config.seeds.is_empty() => {
                    self.sources.push(Source::Seeds)
                }
                _ => {}
            }
        }
        // A source kind listed twice would be visited twice per round; keep the first.
        let mut seen = Vec::new();
        self.sources.retain(|s| {
            let new = !seen.contains(s);
            seen.push(*s);
            new
        });
        if self.sources.is_empty() {
            self.give_up(GiveUpReason::NoSources);
            return;
        }
        self.ctx.counters.rounds += 1;
        self.rounds_started += 1;
        self.cursor = 0;
        self.phase = Phase::AwaitingDial;
    }

    pub(super) fn start_round(&mut self) {
        self.ctx.counters.rounds += 1;
        self.rounds_started += 1;
        self.cursor = 0;
        self.phase = Phase::AwaitingDial;
    }

    /// Opens the next source of the round, or ends the round. Boot URLs that failed
    /// permanently in this bootstrap are passed over.
    pub(super) fn next_source(&mut self) {
        while matches!(self.sources.get(self.cursor), Some(Source::Url(i)) if self.dead_urls.contains(i))
        {
            self.cursor += 1;
        }
        let Some(&source) = self.sources.get(self.cursor) else {
            self.round_failed();
            return;
        };
        self.cursor += 1;
        match source {
            Source::Url(i) => {
                let url = self.ctx.config.boot_urls[i].clone();
                if let Err(error) = crate::addr::check_boot_url(&url) {
                    // Never fetched, never retried: a typo does not get better with time.
                    self.dead_urls.insert(i);
                    self.fail_source(source, Failure::BadUrl(error));
                    return;
                }
                let request = RequestId(self.ctx.alloc_id());
                self.ctx.counters.fetches += 1;
                self.ctx.push(Action::FetchStatus {
                    request,
                    url,
                    max_body_bytes: self.ctx.config.limits.max_body_bytes,
                });
                self.phase = Phase::AwaitingStatus {
                    request,
                    url: i,
                    deadline: self.ctx.now + self.ctx.config.timeouts.http,
                };
            }
            Source::Cache | Source::Seeds => {
                let known = if source == Source::Cache {
                    self.ctx.good_peers.iter().map(|c| c.peer.clone()).collect()
                } else {
                    self.ctx.config.seeds.clone()
                };
                let mut skipped = SkipCounts::default();
                let candidates = self.known_candidates(&known, source, &mut skipped);
                self.ctx.counters.skipped.merge(&skipped);
                if candidates.is_empty() {
                    self.fail_source(source, Failure::NoDialableAddress(skipped));
                } else {
                    self.candidates = candidates;
                }
            }
        }
    }

    pub(super) fn round_failed(&mut self) {
        let alive = |s: &Source| !matches!(s, Source::Url(i) if self.dead_urls.contains(i));
        if !self.sources.iter().any(alive) {
            self.give_up(GiveUpReason::NothingLeftToTry);
            return;
        }
        self.round += 1;
        if self.round >= self.ctx.config.backoff.max_rounds {
            self.give_up(GiveUpReason::RoundsExhausted);
            return;
        }
        let delay = self
            .ctx
            .config
            .backoff
            .delay(self.round - 1, &mut self.ctx.rng);
        let deadline = self.ctx.now + delay;
        if deadline >= self.budget_deadline() {
            self.give_up(GiveUpReason::BudgetExhausted);
            return;
        }
        self.ctx.report(Event::RetryScheduled {
            round: self.round,
            delay,
        });
        self.phase = Phase::AwaitingRetry { deadline };
    }

    pub(super) fn give_up(&mut self, reason: GiveUpReason) {
        for dial in std::mem::take(&mut self.links.dials).into_keys() {
            self.ctx.push(Action::CancelDial { dial });
        }
        if let Phase::AwaitingStatus { request, .. } = self.phase {
            self.ctx.push(Action::CancelFetch { request });
        }
        self.candidates.clear();
        self.prober.own_probes = [None, None];
        self.prober.own_probe_retry = None;
        let report = GaveUp {
            reason,
            rounds: self.rounds_started,
            tried: std::mem::take(&mut self.tried),
            omitted: self.omitted,
        };
        self.phase = Phase::GaveUp;
        self.ctx.report(Event::GaveUp(report));
    }

    /// Keeps `tried` for the give-up report: a failure seen before is counted again, a new one
    /// is added while there is room.
    pub(super) fn record(&mut self, tried: Tried) {
        if let Some(seen) = self.tried.iter_mut().find(|r| r.tried == tried) {
            seen.times = seen.times.saturating_add(1);
        } else if self.tried.len() < MAX_TRIED {
            self.tried.push(Repeated { tried, times: 1 });
        } else {
            self.omitted = self.omitted.saturating_add(1);
        }
    }

    pub(super) fn source_name(&self, source: Source) -> SourceName {
        match source {
            Source::Cache => SourceName::Cache,
            Source::Url(i) => SourceName::Url(self.ctx.config.boot_urls[i].clone()),
            Source::Seeds => SourceName::Seeds,
        }
    }

    /// A source yielded nothing: record it and let `advance` open the next one.
    pub(super) fn fail_source(&mut self, source: Source, failure: Failure) {
        if matches!(source, Source::Url(_)) {
            self.ctx.counters.fetch_failures += 1;
        }
        let tried = Tried {
            source: self.source_name(source),
            failure,
        };
        self.record(tried.clone());
        self.ctx.report(Event::SourceFailed(tried));
        self.candidates.clear();
        self.phase = Phase::AwaitingDial;
    }

    pub(super) fn note_dial_failure(&mut self, source: Source, failure: Failure) {
        let tried = Tried {
            source: self.source_name(source),
            failure,
        };
        self.record(tried.clone());
        self.ctx.report(Event::DialFailed(tried));
    }

    pub(super) fn known_candidates(
        &self,
        known: &[KnownPeer],
        source: Source,
        skipped: &mut SkipCounts,
    ) -> VecDeque<Candidate> {
        let mut out = VecDeque::new();
        for peer in known {
            if Some(peer.id) == self.ctx.config.local_peer {
                peer.addrs
                    .iter()
                    .for_each(|_| skipped.add(SkipReason::LocalPeer));
                continue;
            }
            if !self.ctx.config.pinned.is_empty() && !self.ctx.config.pinned.contains(&peer.id) {
                peer.addrs
                    .iter()
                    .for_each(|_| skipped.add(SkipReason::NotPinned));
                continue;
            }
            let mut addrs: Vec<Multiaddr> = Vec::new();
            for addr in &peer.addrs {
                if !self.ctx.config.policy.allows(classify(addr)) {
                    skipped.add(SkipReason::NotRoutable);
                } else if addrs.contains(addr) {
                    skipped.add(SkipReason::Duplicate);
                } else if addrs.len() >= self.ctx.config.limits.max_addrs_per_peer {
                    skipped.add(SkipReason::TooManyAddrs);
                } else {
                    addrs.push(addr.clone());
                }
            }
            if !addrs.is_empty() {
                out.push_back(Candidate {
                    peer: peer.id,
                    addrs,
                    load: None,
                    source,
                });
            }
        }
        out
    }

    pub(super) fn list_candidates(&self, list: BootList, source: Source) -> VecDeque<Candidate> {
        let mut out: Vec<Candidate> = list
            .peers
            .into_iter()
            .map(|p| Candidate {
                peer: p.id,
                addrs: p.addrs.into_iter().map(|a| a.addr).collect(),
                load: p.peers_count,
                source,
            })
            .collect();
        if self.ctx.config.candidate_order == CandidateOrder::LeastLoaded {
            // Stable: equal loads keep document order; unknown loads go last.
            out.sort_by_key(|c| c.load.map_or((1, 0), |n| (0, n)));
        }
        out.into()
    }

    pub(super) fn fill_dials(&mut self) {
        while self.links.dials.len() < self.ctx.config.max_concurrent_dials {
            let Some(c) = self.candidates.pop_front() else {
                return;
            };
            let busy = self.links.conns.contains_key(&c.peer)
                || self.links.dials.values().any(|d| d.peer == c.peer);
            if busy {
                continue;
            }
            let dial = DialId(self.ctx.alloc_id());
            self.ctx.counters.dials += 1;
            // DNS names are resolved by the driver first; the policy then judges the IPs they
            // resolve to (a public name may point at a private address).
            let (mut names, literal): (Vec<Multiaddr>, Vec<Multiaddr>) =
                c.addrs.into_iter().partition(is_dns_name);
            let mut resolution = Resolution::default();
            for extra in names.split_off(names.len().min(self.ctx.config.resolve.max_lookups)) {
                resolution.errors.push(ResolveError::NotFollowed {
                    name: extra.to_string(),
                    why: ResolveLimit::Lookups,
                });
            }
            let resolving = !names.is_empty();
            if resolving {
                resolution.rounds = 1;
                resolution.looked_up = names.clone();
                self.ctx.push(Action::Resolve {
                    dial,
                    peer: c.peer,
                    names,
                });
            }
            let (literal, other) = if resolving {
                (literal, Vec::new())
            } else {
                self.split_by_family(literal)
            };
            for (dial, addrs, second_family) in [(dial, literal, false), (DialId(0), other, true)] {
                if second_family && addrs.is_empty() {
                    continue;
                }
                let dial = if second_family {
                    DialId(self.ctx.alloc_id())
                } else {
                    dial
                };
                if !resolving {
                    self.ctx.push(Action::Dial {
                        dial,
                        peer: c.peer,
                        addrs: addrs.clone(),
                    });
                }
                let pending = PendingDial {
                    peer: c.peer,
                    addrs,
                    source: c.source,
                    deadline: self.ctx.now + self.ctx.config.timeouts.dial,
                    resolving,
                    resolution: if second_family {
                        Resolution::default()
                    } else {
                        std::mem::take(&mut resolution)
                    },
                    second_family,
                };
                self.links.dials.insert(dial, pending);
            }
        }
    }

    /// A node with an address of another family than a boot peer's first address dials the
    /// peer twice at once, once per family, so each family gets a connection to be probed
    /// over. (One dial with both would race them and abort the loser, whose 4-tuple a later
    /// dial from the same reused port would collide with.) Otherwise `(addrs, [])`.
    fn split_by_family(&self, addrs: Vec<Multiaddr>) -> (Vec<Multiaddr>, Vec<Multiaddr>) {
        let first = addrs.first().and_then(Family::of);
        let wants_other =
            |first: Family| (self.prober.listening.iter().flatten()).any(|&f| f != first);
        match first {
            Some(first) if wants_other(first) => addrs
                .into_iter()
                .partition(|a| Family::of(a).is_none_or(|f| f == first)),
            _ => (addrs, Vec::new()),
        }
    }

    pub(super) fn drop_boot_conn(&mut self, peer: PeerId) -> Option<BootConn> {
        let conn = self.links.conns.remove(&peer)?;
        for slot in 0..self.prober.own_probes.len() {
            let Some(p) = self.prober.own_probes[slot].take_if(|p| p.peer == peer) else {
                continue;
            };
            // The awaited dial-back request went with its connection: ask through another boot
            // connection of its family if there is one (a new connection asks by itself
            // otherwise), so the verdict does not stay unknown for want of a question.
            if let Some(other) = self.probe_peer(p.family) {
                if self.prober.own_probe_retry.is_none() {
                    self.request_own_probe_via(other, p.family);
                }
            }
        }
        Some(conn)
    }
}
