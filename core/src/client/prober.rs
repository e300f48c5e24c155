//! The prober: our own dial-back requests, the per-family verdicts and what is known of the
//! NAT. It lives across bootstraps (a verdict outlasts the connections it was learned over);
//! only its budget of requests is per bootstrap.

use super::*;

/// Dial-back requests left per family in this bootstrap, and whether "no verdict is coming"
/// was said for each. Replaced whole when a bootstrap starts.
#[derive(Debug, Clone)]
pub(super) struct ProbeBudget {
    /// Requests left, per family (IPv4, IPv6).
    pub(super) left: [u32; 2],
    /// Whether `VerdictUnavailable` was said for a family.
    pub(super) unavailable_said: [bool; 2],
}

impl ProbeBudget {
    /// A bootstrap's budget: `attempts` requests per family.
    pub(super) fn new(attempts: u32) -> ProbeBudget {
        ProbeBudget {
            left: [attempts; 2],
            unavailable_said: [false; 2],
        }
    }
}

/// The prober's state.
#[derive(Debug)]
pub(super) struct Prober {
    pub(super) budget: ProbeBudget,
    /// [`Status::verdict_pending`] after the previous input.
    pub(super) was_pending: bool,
    /// The families among this node's addresses ([`Input::Listening`]); `None` until told.
    pub(super) listening: Option<BTreeSet<Family>>,
    /// The dial-back request under way per family (IPv4, IPv6): the families are probed at once.
    pub(super) own_probes: [Option<OwnProbe>; 2],
    /// When to ask for a dial-back again after a refusal.
    pub(super) own_probe_retry: Option<Instant>,
    /// The whole verdict (restored from the last run until a probe concludes) and each family's.
    pub(super) nat: NatReport,
    /// The whole verdict is the one restored from the last run, not yet confirmed.
    pub(super) nat_stale: bool,
    /// The whole behaviour last reported (the primary family's).
    pub(super) behaviour: NatBehaviour,
    /// Per boot peer IP, the address it observed us at (identify), for the mapping.
    pub(super) observed: BTreeMap<IpAddr, (IpAddr, u16)>,
    /// Boot peers that answered OK without dialing back; asked last.
    pub(super) unverified_peers: BTreeSet<PeerId>,
}

impl Prober {
    /// A prober that starts from `verdict` (stale when restored from the last run).
    pub(super) fn new(verdict: NatVerdict, stale: bool) -> Prober {
        Prober {
            budget: ProbeBudget::new(0),
            was_pending: false,
            listening: None,
            own_probes: [None, None],
            own_probe_retry: None,
            nat: NatReport {
                verdict,
                ..NatReport::default()
            },
            nat_stale: stale,
            behaviour: NatBehaviour::default(),
            observed: BTreeMap::new(),
            unverified_peers: BTreeSet::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct OwnProbe {
    pub(super) probe: ProbeId,
    pub(super) peer: PeerId,
    /// The family probed (the verdict it gives is that family's).
    pub(super) family: Family,
    /// The answer's deadline; once an unverified OK is held, the end of its grace.
    pub(super) deadline: Instant,
    /// Dial-back connections from the probed peer seen while the request was open.
    pub(super) dial_backs: nat::DialBacks,
    /// An OK answer waiting for its dial-back connection to show up.
    pub(super) held_ok: Option<Multiaddr>,
}
