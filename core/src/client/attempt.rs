//! One bootstrap: the attempt. It exists from the start of a bootstrap to Connected or GaveUp
//! ([`Life`]), so nothing of one bootstrap can leak into the next: a new one is a new value.
//! It walks the sources in rounds (cache, boot URLs, seeds by default), turns each into
//! candidates and dials them a few at a time; a round in which every source fails ends in a
//! jittered wait, and the attempt ends when the rounds, the sources or the budget run out.

use super::*;

/// Where the machine is in its life: bootstrapping (with the attempt), or after one.
#[derive(Debug)]
pub(super) enum Life {
    Bootstrapping(Attempt),
    Connected {
        /// The boot peer reported; another connected one when it leaves.
        boot_peer: Option<PeerId>,
        /// The attempt's last round, for [`Status::round`].
        round: u32,
    },
    GaveUp {
        round: u32,
    },
}

/// What a bootstrap waits for; named after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // each is named after what it waits for, as rustls' Expect*
pub(super) enum Phase {
    AwaitingStatus {
        request: RequestId,
        url: usize,
        deadline: Instant,
    },
    /// Dials and boot connections carry their own deadlines.
    AwaitingDial,
    AwaitingProbe,
    AwaitingRetry {
        deadline: Instant,
    },
}

/// One bootstrap's state.
#[derive(Debug)]
pub(super) struct Attempt {
    pub(super) phase: Phase,
    pub(super) started: Instant,
    /// Rounds that failed (drives the backoff).
    pub(super) round: u32,
    /// Rounds started (reported when giving up).
    rounds_started: u32,
    sources: Vec<Source>,
    cursor: usize,
    candidates: VecDeque<Candidate>,
    tried: Vec<Repeated>,
    omitted: u32,
    /// Boot URLs (by index) that cannot be asked again in this bootstrap: a permanent HTTP
    /// status, or a URL that cannot be fetched at all.
    pub(super) dead_urls: BTreeSet<usize>,
}

impl Attempt {
    /// A bootstrap starting now, over the sources the configuration and the cache give, its
    /// first round started. `None` when there is no source at all.
    pub(super) fn start(ctx: &mut Ctx) -> Result<Attempt, GiveUpReason> {
        let mut sources = Vec::new();
        for kind in &ctx.config.source_order {
            match kind {
                SourceKind::Cache if !ctx.good_peers.is_empty() => sources.push(Source::Cache),
                SourceKind::Urls => {
                    sources.extend((0..ctx.config.boot_urls.len()).map(Source::Url));
                }
                SourceKind::Seeds if !ctx.config.seeds.is_empty() => sources.push(Source::Seeds),
                _ => {}
            }
        }
        // A source kind listed twice would be visited twice per round; keep the first.
        let mut seen = Vec::new();
        sources.retain(|s| {
            let new = !seen.contains(s);
            seen.push(*s);
            new
        });
        let mut attempt = Attempt {
            phase: Phase::AwaitingDial,
            started: ctx.now,
            round: 0,
            rounds_started: 0,
            sources,
            cursor: 0,
            candidates: VecDeque::new(),
            tried: Vec::new(),
            omitted: 0,
            dead_urls: BTreeSet::new(),
        };
        if attempt.sources.is_empty() {
            return Err(GiveUpReason::NoSources);
        }
        attempt.start_round(ctx);
        Ok(attempt)
    }

    /// An attempt that never started (no source): only for its give-up report.
    pub(super) fn empty(now: Instant) -> Attempt {
        Attempt {
            phase: Phase::AwaitingDial,
            started: now,
            round: 0,
            rounds_started: 0,
            sources: Vec::new(),
            cursor: 0,
            candidates: VecDeque::new(),
            tried: Vec::new(),
            omitted: 0,
            dead_urls: BTreeSet::new(),
        }
    }

    pub(super) fn budget_deadline(&self, config: &Config) -> Instant {
        self.started + config.budget
    }

    pub(super) fn start_round(&mut self, ctx: &mut Ctx) {
        ctx.counters.rounds += 1;
        self.rounds_started += 1;
        self.cursor = 0;
        self.phase = Phase::AwaitingDial;
    }

    /// The give-up report, which ends the attempt.
    pub(super) fn gave_up(self, reason: GiveUpReason) -> GaveUp {
        GaveUp {
            reason,
            rounds: self.rounds_started,
            tried: self.tried,
            omitted: self.omitted,
        }
    }

    /// The boot URL (by index) whose `/status` answer `request` is, if awaited.
    pub(super) fn awaited_url(&self, request: RequestId) -> Option<usize> {
        match self.phase {
            Phase::AwaitingStatus {
                request: awaited,
                url,
                ..
            } if awaited == request => Some(url),
            _ => None,
        }
    }

    /// Moves forward while the phase has nothing to wait for: dials candidates, opens the next
    /// source, ends the round. `Err` when the attempt must give up.
    pub(super) fn advance(
        &mut self,
        ctx: &mut Ctx,
        links: &mut Links,
        listening: Option<&BTreeSet<Family>>,
    ) -> Result<(), GiveUpReason> {
        // Each pass either returns or consumes a source, and sources are finite per round.
        loop {
            match self.phase {
                Phase::AwaitingStatus { .. } | Phase::AwaitingRetry { .. } => return Ok(()),
                Phase::AwaitingDial | Phase::AwaitingProbe => {
                    if !links.conns.is_empty() {
                        self.phase = Phase::AwaitingProbe;
                        return Ok(());
                    }
                    self.phase = Phase::AwaitingDial;
                    fill_dials(&mut self.candidates, ctx, links, listening);
                    if !links.dials.is_empty() {
                        return Ok(());
                    }
                    self.next_source(ctx)?;
                }
            }
        }
    }

    /// Opens the next source of the round, or ends the round. Boot URLs that failed
    /// permanently in this bootstrap are passed over.
    fn next_source(&mut self, ctx: &mut Ctx) -> Result<(), GiveUpReason> {
        while matches!(self.sources.get(self.cursor), Some(Source::Url(i)) if self.dead_urls.contains(i))
        {
            self.cursor += 1;
        }
        let Some(&source) = self.sources.get(self.cursor) else {
            return self.round_failed(ctx);
        };
        self.cursor += 1;
        match source {
            Source::Url(i) => {
                let url = ctx.config.boot_urls[i].clone();
                if let Err(error) = crate::addr::check_boot_url(&url) {
                    // Never fetched, never retried: a typo does not get better with time.
                    self.dead_urls.insert(i);
                    self.fail_source(ctx, source, Failure::BadUrl(error));
                    return Ok(());
                }
                let request = RequestId(ctx.alloc_id());
                ctx.counters.fetches += 1;
                ctx.push(Action::FetchStatus {
                    request,
                    url,
                    max_body_bytes: ctx.config.limits.max_body_bytes,
                });
                self.phase = Phase::AwaitingStatus {
                    request,
                    url: i,
                    deadline: ctx.now + ctx.config.timeouts.http,
                };
            }
            Source::Cache | Source::Seeds => {
                let known = if source == Source::Cache {
                    ctx.good_peers.iter().map(|c| c.peer.clone()).collect()
                } else {
                    ctx.config.seeds.clone()
                };
                let mut skipped = SkipCounts::default();
                let candidates = known_candidates(&ctx.config, &known, source, &mut skipped);
                ctx.counters.skipped.merge(&skipped);
                if candidates.is_empty() {
                    self.fail_source(ctx, source, Failure::NoDialableAddress(skipped));
                } else {
                    self.candidates = candidates;
                }
            }
        }
        Ok(())
    }

    fn round_failed(&mut self, ctx: &mut Ctx) -> Result<(), GiveUpReason> {
        let alive = |s: &Source| !matches!(s, Source::Url(i) if self.dead_urls.contains(i));
        if !self.sources.iter().any(alive) {
            return Err(GiveUpReason::NothingLeftToTry);
        }
        self.round += 1;
        if self.round >= ctx.config.backoff.max_rounds {
            return Err(GiveUpReason::RoundsExhausted);
        }
        let delay = ctx.config.backoff.delay(self.round - 1, &mut ctx.rng);
        let deadline = ctx.now + delay;
        if deadline >= self.budget_deadline(&ctx.config) {
            return Err(GiveUpReason::BudgetExhausted);
        }
        ctx.report(Event::RetryScheduled {
            round: self.round,
            delay,
        });
        self.phase = Phase::AwaitingRetry { deadline };
        Ok(())
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

    /// A source yielded nothing: record it and let `advance` open the next one.
    pub(super) fn fail_source(&mut self, ctx: &mut Ctx, source: Source, failure: Failure) {
        if matches!(source, Source::Url(_)) {
            ctx.counters.fetch_failures += 1;
        }
        let tried = Tried {
            source: source.name(&ctx.config),
            failure,
        };
        self.record(tried.clone());
        ctx.report(Event::SourceFailed(tried));
        self.candidates.clear();
        self.phase = Phase::AwaitingDial;
    }

    /// The boot list `list` came from `source`: its peers are the candidates now.
    pub(super) fn take_list(&mut self, config: &Config, list: BootList, source: Source) {
        self.candidates = list_candidates(config, list, source);
        self.phase = Phase::AwaitingDial;
    }

    /// A boot connection is up: its dial request is awaited.
    pub(super) fn awaiting_probe(&mut self) {
        self.phase = Phase::AwaitingProbe;
    }
}
