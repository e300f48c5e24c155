//! The wall clock, read where the machines are created (they take it as an input).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The wall clock in seconds since the Unix epoch; `None` when the clock is before it.
pub fn unix_time() -> Option<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// The wall clock as time since the Unix epoch; `None` when the clock is before it.
pub fn since_epoch() -> Option<Duration> {
    SystemTime::now().duration_since(UNIX_EPOCH).ok()
}
