//! Start → Connected measured the same way on every runtime (the runtimes bench): one client
//! bootstrapping against a boot node, its milestones from the client's start, and a round of
//! a cold start followed by a warm one from the cold run's snapshot through a state file. A
//! round's result travels between processes as one text line, so an adapter on another
//! libp2p release (tokio, 0.57) is measured in its own process, round by round beside the
//! others.

use std::path::Path;
use std::time::{Duration, Instant};

use pyrsia_boot_core::{AddressPolicy, Config, Event, Snapshot};
use pyrsia_boot_libp2p::state_file::{self, Loaded};
use pyrsia_boot_libp2p::{Behaviour, Driver, Output, Runtime};

use pyrsia_boot_libp2p::libp2p::Swarm;

/// Milestones of one bootstrap, from the client's start (swarm creation included).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Milestones {
    /// `/status` fetched (a warm start fetches none).
    pub status: Option<Duration>,
    /// Connected to the boot peer.
    pub boot_connected: Duration,
    /// Fully connected.
    pub connected: Duration,
    /// The first verdict.
    pub verdict: Duration,
}

/// A client configuration for `url` on loopback, one dial at a time, from `snapshot` if any.
pub fn client_config(url: &str, snapshot: Option<Snapshot>) -> Config {
    let mut config = Config::with_urls([url.to_string()]);
    config.policy = AddressPolicy::allow_private();
    config.max_concurrent_dials = 1;
    if let Some(s) = snapshot {
        config.restore(s);
    }
    config
}

/// Drives a started client to Connected and a verdict; returns its milestones and the last
/// snapshot it persisted.
pub async fn drive<R: Runtime>(
    start: Instant,
    mut driver: Driver<R>,
    mut swarm: Swarm<Behaviour>,
) -> (Milestones, Snapshot) {
    let mut m = Milestones::default();
    let (mut connected, mut verdict) = (false, false);
    let mut snapshot = None;
    while !(connected && verdict) {
        let event = match driver.next(&mut swarm).await {
            Output::Report(e) => e,
            Output::Persist(s) => {
                snapshot = Some(s);
                continue;
            }
            Output::Swarm(_) => continue,
        };
        let at = start.elapsed();
        match event {
            Event::StatusFetched { .. } => m.status = Some(at),
            Event::BootPeerConnected { .. } => m.boot_connected = at,
            Event::Connected { .. } => (m.connected, connected) = (at, true),
            Event::NatChanged(_) => (m.verdict, verdict) = (at, true),
            Event::GaveUp(g) => panic!("bench bootstrap gave up: {g}"),
            _ => {}
        }
    }
    for out in driver.flush(&mut swarm) {
        if let Output::Persist(s) = out {
            snapshot = Some(s);
        }
    }
    (m, snapshot.expect("a snapshot after the verdict"))
}

/// One round: `run(None)` cold, its snapshot saved to and loaded from `state`, then
/// `run(Some(snapshot))` warm, which must not need `/status`.
pub fn cold_then_warm(
    state: &Path,
    mut run: impl FnMut(Option<Snapshot>) -> (Milestones, Snapshot),
) -> (Milestones, Milestones) {
    let (cold, snapshot) = run(None);
    state_file::save(state, &snapshot).expect("save state");
    let Loaded::Snapshot(loaded) = state_file::load(state) else {
        panic!("state file unreadable");
    };
    let (warm, _) = run(Some(loaded));
    assert!(
        warm.status.is_none(),
        "a warm start should not need /status"
    );
    (cold, warm)
}

/// A round as one line: `cold <status> <boot> <connected> <verdict> warm …`, in microseconds
/// (`-` for no `/status`).
pub fn to_line(cold: &Milestones, warm: &Milestones) -> String {
    let one = |m: &Milestones| {
        let us = |d: Duration| d.as_micros().to_string();
        format!(
            "{} {} {} {}",
            m.status.map_or("-".to_string(), us),
            us(m.boot_connected),
            us(m.connected),
            us(m.verdict)
        )
    };
    format!("cold {} warm {}", one(cold), one(warm))
}

/// Reads a line [`to_line`] wrote.
pub fn from_line(line: &str) -> Option<(Milestones, Milestones)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let [c, c1, c2, c3, c4, w, w1, w2, w3, w4] = words[..] else {
        return None;
    };
    if c != "cold" || w != "warm" {
        return None;
    }
    let us = |s: &str| s.parse::<u64>().ok().map(Duration::from_micros);
    let one = |s: &str, b: &str, k: &str, v: &str| {
        Some(Milestones {
            status: if s == "-" { None } else { Some(us(s)?) },
            boot_connected: us(b)?,
            connected: us(k)?,
            verdict: us(v)?,
        })
    };
    Some((one(c1, c2, c3, c4)?, one(w1, w2, w3, w4)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_survives_its_line() {
        let ms = |n: u64| Duration::from_micros(n);
        let cold = Milestones {
            status: Some(ms(930)),
            boot_connected: ms(2220),
            connected: ms(3250),
            verdict: ms(6420),
        };
        let warm = Milestones {
            status: None,
            ..cold
        };
        let line = to_line(&cold, &warm);
        assert_eq!(from_line(&line), Some((cold, warm)));
        assert_eq!(from_line("cold 1 2 3"), None);
    }
}
