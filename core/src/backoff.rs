//! Retry timing: a seeded RNG and the RFC 8489 schedule with full jitter.
//!
//! STUN (RFC 8489 §6.2.1) retransmits after an initial RTO of at least 500 ms, doubling each
//! time, at most Rc = 7 requests. We use the same shape for whole bootstrap rounds, with
//! "full jitter" (a uniform draw in `[0, min(cap, initial · 2^n)]`) so that a cluster restart
//! does not make every client retry in lock step.

use std::time::Duration;

/// SplitMix64: tiny, fast, and fully determined by its seed. Not cryptographic; it only
/// spreads retries.
#[derive(Debug, Clone)]
pub struct SeededRng {
    state: u64,
}

impl SeededRng {
    /// An RNG whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform duration in `[0, max]`, at nanosecond resolution.
    pub fn duration_up_to(&mut self, max: Duration) -> Duration {
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        // Multiply-shift maps 64 random bits onto [0, nanos] without modulo bias worth caring
        // about for retry timing.
        let draw = ((u128::from(self.next_u64()) * (u128::from(nanos) + 1)) >> 64) as u64;
        Duration::from_nanos(draw)
    }
}

/// The retry schedule between bootstrap rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first wait (RFC 8489's initial RTO; 500 ms by default).
    pub initial: Duration,
    /// The largest ceiling any wait can have.
    pub cap: Duration,
    /// Rounds in one bootstrap before giving up (RFC 8489's Rc; 7 by default).
    pub max_rounds: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            cap: Duration::from_secs(8),
            max_rounds: 7,
        }
    }
}

impl Backoff {
    /// The ceiling of the wait after failed round `round` (0-based): `min(cap, initial · 2^round)`.
    pub fn ceiling(&self, round: u32) -> Duration {
        let factor = 1u32.checked_shl(round.min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.cap)
    }

    /// A full-jitter draw for the wait after failed round `round`.
    pub fn delay(&self, round: u32, rng: &mut SeededRng) -> Duration {
        rng.duration_up_to(self.ceiling(round))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_from_the_initial_rto_up_to_the_cap() {
        let b = Backoff::default();
        let ms: Vec<u128> = (0..7).map(|r| b.ceiling(r).as_millis()).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 8000, 8000, 8000]);
        assert_eq!(b.ceiling(200), b.cap);
    }

    #[test]
    fn jittered_delays_stay_within_the_ceiling_and_vary() {
        let b = Backoff::default();
        let mut rng = SeededRng::new(7);
        let draws: Vec<Duration> = (0..200).map(|_| b.delay(3, &mut rng)).collect();
        assert!(draws.iter().all(|d| *d <= b.ceiling(3)));
        let distinct: std::collections::BTreeSet<_> = draws.iter().collect();
        assert!(distinct.len() > 150, "full jitter should spread draws");
        // Roughly uniform: the mean of 200 draws lies near half the ceiling.
        let mean = draws.iter().sum::<Duration>() / 200;
        assert!(mean > Duration::from_millis(1500) && mean < Duration::from_millis(2500));
    }

    #[test]
    fn same_seed_gives_the_same_sequence() {
        let (mut a, mut b) = (SeededRng::new(42), SeededRng::new(42));
        assert!((0..100).all(|_| a.next_u64() == b.next_u64()));
        assert_ne!(SeededRng::new(1).next_u64(), SeededRng::new(2).next_u64());
    }
}
