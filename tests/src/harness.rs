//! What both simulators (the client's, [`crate::sim`], and the boot node's,
//! [`crate::bootsim`]) are made of: the world's event queue in virtual time, the transcript and
//! the failure report, short names for peers, and the misbehaving driver.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use pyrsia_boot_core::{PeerId, SeededRng};

use crate::world::Hostility;

/// Events the world has scheduled, in time order (ties in the order they were scheduled).
#[derive(Debug)]
pub struct Queue<T> {
    items: BTreeMap<(Instant, u64), T>,
    seq: u64,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            items: BTreeMap::new(),
            seq: 0,
        }
    }
}

impl<T> Queue<T> {
    /// Schedules `item` at `at`.
    pub fn push(&mut self, at: Instant, item: T) {
        self.seq += 1;
        self.items.insert((at, self.seq), item);
    }

    /// When the next item is due.
    pub fn next_at(&self) -> Option<Instant> {
        self.items.keys().next().map(|k| k.0)
    }

    /// The next item.
    pub fn pop(&mut self) -> Option<T> {
        self.items.pop_first().map(|(_, item)| item)
    }
}

/// The transcript of a run: one line per input fed and action taken, with virtual times.
#[derive(Debug)]
pub struct Trace {
    base: Instant,
    keep: bool,
    lines: Vec<String>,
}

impl Trace {
    /// A transcript of a run that started at `base`; `keep: false` keeps no lines (for large
    /// worlds, whose violations then show none).
    pub fn new(base: Instant, keep: bool) -> Self {
        Trace {
            base,
            keep,
            lines: Vec::new(),
        }
    }

    /// Whether lines are kept (so callers only format them then).
    pub fn keeps(&self) -> bool {
        self.keep
    }

    /// Adds `line` at virtual time `now`.
    pub fn push(&mut self, now: Instant, line: String) {
        if self.keep {
            let ms = (now - self.base).as_millis();
            self.lines.push(format!("{ms:>6} {line}"));
        }
    }

    /// Panics with `what` and the transcript's last 40 lines.
    #[track_caller]
    pub fn fail(&self, what: &str) -> ! {
        let mut t = String::new();
        for line in self.lines.iter().rev().take(40).rev() {
            let _ = writeln!(t, "  {line}");
        }
        panic!("{what}\nlast transcript lines:\n{t}");
    }

    /// The lines.
    pub fn into_lines(self) -> Vec<String> {
        self.lines
    }
}

/// Short names for the peers of a world, for transcripts.
#[derive(Debug, Default)]
pub struct Names(BTreeMap<PeerId, String>);

impl Names {
    /// Names `peer`.
    pub fn insert(&mut self, peer: PeerId, name: String) {
        self.0.insert(peer, name);
    }

    /// The name of `peer`, or `X` and the last four characters of its id.
    pub fn of(&self, peer: &PeerId) -> String {
        self.0.get(peer).cloned().unwrap_or_else(|| {
            let s = peer.to_string();
            format!("X{}", &s[s.len() - 4..])
        })
    }
}

/// How one input is fed by a [`Misbehaviour`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feeding {
    /// The instant to feed it with (a tick may go back in time).
    pub at: Instant,
    /// Feed it once more this long from now (a stale replay).
    pub replay_after: Option<Duration>,
    /// How often to feed it now (twice: a duplicate).
    pub times: usize,
}

/// The driver's misbehaviour, as a world's [`Hostility`] says (none without one).
#[derive(Debug)]
pub struct Misbehaviour {
    hostility: Option<Hostility>,
    rng: Option<SeededRng>,
}

impl Misbehaviour {
    /// A driver misbehaving as `hostility` says.
    pub fn new(hostility: Option<Hostility>) -> Self {
        Misbehaviour {
            hostility,
            rng: hostility.map(|h| SeededRng::new(h.seed)),
        }
    }

    fn roll(&mut self, pct: impl Fn(&Hostility) -> u8) -> bool {
        let (Some(h), Some(rng)) = (self.hostility, self.rng.as_mut()) else {
            return false;
        };
        rng.next_u64() % 100 < u64::from(pct(&h))
    }

    fn draw(&mut self, max: Duration) -> Duration {
        self.rng
            .as_mut()
            .map_or(Duration::ZERO, |r| r.duration_up_to(max))
    }

    /// How to feed one input at `now`: a tick may be fed up to 1 s in the past (never before
    /// `base`); an event (`replayable`) may be replayed up to 10 s later and fed twice.
    pub fn feeding(
        &mut self,
        now: Instant,
        base: Instant,
        tick: bool,
        replayable: bool,
    ) -> Feeding {
        let mut at = now;
        if tick && self.roll(|h| h.backwards_pct) {
            let back = self.draw(Duration::from_secs(1));
            at = now.checked_sub(back).unwrap_or(now).max(base);
        }
        let mut replay_after = None;
        if replayable && self.roll(|h| h.replay_pct) {
            replay_after = Some(self.draw(Duration::from_secs(10)));
        }
        let twice = replayable && self.roll(|h| h.duplicate_pct);
        Feeding {
            at,
            replay_after,
            times: if twice { 2 } else { 1 },
        }
    }
}
