//! What every part of the client machine shares: the configuration, the clock as fed, the
//! seeded RNG, the id counter, the queue of actions (and, recorded as they are queued, where
//! this node has sent packets), the counters, and what is persisted across runs.

use super::*;

/// The machine's shared context; the parts borrow it for the length of a call.
#[derive(Debug)]
pub(super) struct Ctx {
    pub(super) config: Config,
    /// The latest instant fed (time never goes backwards here).
    pub(super) now: Instant,
    /// One stream of draws for every part: backoff delays and refusal retries.
    pub(super) rng: SeededRng,
    next_id: u64,
    pub(super) actions: VecDeque<Action>,
    /// Where this node has sent packets: a dial-back from elsewhere came from a stranger.
    pub(super) contacted: Contacted,
    pub(super) counters: Counters,
    /// Boot peers that made a bootstrap connected, most recent first (the cache source).
    pub(super) good_peers: Vec<CachedPeer>,
    /// The highest signed-document sequence accepted per signer (from earlier runs and this).
    pub(super) sequences: Vec<SeenSequence>,
    /// The instant [`Config::unix_time`] was read at.
    clock_origin: Instant,
}

impl Ctx {
    /// The context of a machine started at `now` on `config` (already sanitized).
    pub(super) fn new(config: Config, now: Instant) -> Ctx {
        let mut good_peers: Vec<CachedPeer> = config
            .cache
            .iter()
            .filter(|c| match (config.unix_time, c.last_seen) {
                (Some(now), Some(seen)) => {
                    now.saturating_sub(seen) <= config.max_cache_age.as_secs()
                }
                _ => true,
            })
            .cloned()
            .collect();
        good_peers.truncate(config.max_good_peers);
        let mut sequences = config.boot_sequences.clone();
        sequences.truncate(MAX_SEQUENCES);
        Ctx {
            rng: SeededRng::new(config.rng_seed),
            config,
            now,
            next_id: 1,
            actions: VecDeque::new(),
            contacted: Contacted::default(),
            counters: Counters::default(),
            good_peers,
            sequences,
            clock_origin: now,
        }
    }

    /// The wall clock now, from [`Config::unix_time`] and the instants fed since.
    pub(super) fn unix_now(&self) -> Option<u64> {
        let since = self.now.saturating_duration_since(self.clock_origin);
        self.config
            .unix_time
            .map(|t| t.saturating_add(since.as_secs()))
    }

    /// The next id, for any kind ([`RequestId`], [`DialId`], [`ProbeId`]): one space, in order.
    pub(super) fn alloc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Queues `action`; a dial or a fetch also records where this node sends packets.
    pub(super) fn push(&mut self, action: Action) {
        match &action {
            Action::Dial { addrs, .. } => addrs.iter().for_each(|a| self.contacted.insert(a)),
            Action::FetchStatus { url, .. } => self.contacted.insert_url(url),
            _ => {}
        }
        self.actions.push_back(action);
    }

    pub(super) fn report(&mut self, event: Event) {
        self.push(Action::Report(event));
    }

    /// Counts and logs an input that names nothing the machine waits for.
    pub(super) fn ignore(&mut self, input: &Input, why: &'static str) {
        self.counters.ignored_inputs = self.counters.ignored_inputs.saturating_add(1);
        tracing::debug!(?input, why, "ignored input");
    }

    /// Queues the snapshot to persist, with `nat` as the verdict.
    pub(super) fn persist(&mut self, nat: &NatVerdict) {
        let snapshot = Snapshot {
            good_peers: self.good_peers.clone(),
            nat: nat.clone(),
            boot_sequences: self.sequences.clone(),
        };
        self.push(Action::PersistState(snapshot));
    }
}
