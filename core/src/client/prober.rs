//! The prober: our own dial-back requests, the per-family verdicts and what is known of the
//! NAT. It lives across bootstraps (a verdict outlasts the connections it was learned over);
//! only its budget of requests is per bootstrap. It reads the boot connections ([`Links`]) to
//! know whom to ask and tells the machine who answered ([`Concluded`]); the verdict itself is
//! in `verdict.rs`.

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

/// Most of this node's addresses kept (the first ones the driver lists).
pub(super) const MAX_ADDRESSES: usize = 64;

/// The prober's state.
#[derive(Debug)]
pub(super) struct Prober {
    pub(super) budget: ProbeBudget,
    /// [`Status::verdict_pending`] after the previous input.
    pub(super) was_pending: bool,
    /// The families among this node's addresses ([`Input::Listening`]); `None` until told.
    pub(super) listening: Option<BTreeSet<Family>>,
    /// This node's addresses as the driver last told them (at most [`MAX_ADDRESSES`]),
    /// sorted, each once: what a dial-back request offers.
    pub(super) addresses: Vec<Multiaddr>,
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
            addresses: Vec::new(),
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
    pub(super) dial_backs: DialBacks,
    /// An OK answer waiting for its dial-back connection to show up.
    pub(super) held_ok: Option<Multiaddr>,
}

/// A probe concluded with a believed answer from `peer`: the machine marks the peer as having
/// answered (which may make the bootstrap connected) and asks about the next family.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub(super) struct Concluded {
    pub(super) peer: PeerId,
}

impl Prober {
    /// Whether a verdict is sought for `family`: one of this node's addresses is of it (once
    /// the driver said), or, before that, one of its boot connections is.
    ///
    /// Before the driver has said ([`Input::Listening`]), the machine probes as if there were
    /// one family: one request at a time, over any boot connection, in the IPv4 slot; its
    /// answer still lands on the family of the address reached.
    pub(super) fn wanted(&self, links: &Links, family: Family) -> bool {
        match &self.listening {
            Some(families) => families.contains(&family),
            None => family == Family::Ipv4 && !links.conns.is_empty(),
        }
    }

    /// The probe slot for a connection of `family` (see [`Self::wanted`]).
    pub(super) fn slot_family(&self, family: Family) -> Family {
        match self.listening {
            Some(_) => family,
            None => Family::Ipv4,
        }
    }

    pub(super) fn settled(&self, family: Family) -> bool {
        match self.listening {
            Some(_) => self.nat.family(family).verdict != NatVerdict::Unknown,
            None => Family::ALL
                .iter()
                .any(|&f| self.nat.family(f).verdict != NatVerdict::Unknown),
        }
    }

    /// A boot peer connected over `family`; peers that answered OK without dialing back are
    /// chosen only when no other is left.
    pub(super) fn probe_peer(&self, links: &Links, family: Family) -> Option<PeerId> {
        let legacy = self.listening.is_none();
        let with = || (links.conns.iter()).filter(move |(_, c)| legacy || c.has(family));
        let unverified = &self.unverified_peers;
        (with().find(|(p, _)| !unverified.contains(p)))
            .or_else(|| with().next())
            .map(|(p, _)| *p)
    }

    /// Unless a refused request's back-off is running: probe every family that is sought, has
    /// no verdict and no request under way, has attempts left and a boot connection to ask
    /// over. The families are probed at once, each over its own connection.
    pub(super) fn probe_next_family(&mut self, ctx: &mut Ctx, links: &Links) {
        if self.own_probe_retry.is_some() {
            return;
        }
        for family in Family::ALL {
            if !self.wanted(links, family)
                || self.settled(family)
                || self.own_probes[family.index()].is_some()
                || self.budget.left[family.index()] == 0
            {
                continue;
            }
            if let Some(peer) = self.probe_peer(links, family) {
                self.send_own_probe(ctx, peer, family);
            }
        }
    }

    /// See [`Status::verdict_pending`].
    pub(super) fn verdict_pending(&self, links: &Links) -> bool {
        let unprobed = |f: Family| {
            self.wanted(links, f) && !self.settled(f) && self.budget.left[f.index()] > 0
        };
        self.own_probes.iter().any(Option::is_some)
            || (self.own_probe_retry.is_some() && Family::ALL.into_iter().any(unprobed))
            || (links.dials.values())
                .any(|d| d.second_family && Family::ALL.into_iter().any(unprobed))
    }

    /// Probing stops being pending only with a report saying so: a verdict, or, when the last
    /// thing pending went away without one and a family is left without a verdict (its
    /// connection failed), that none is coming. A caller waiting for the verdicts needs no
    /// timer of its own.
    pub(super) fn end_of_probing(&mut self, ctx: &mut Ctx, links: &Links) {
        let pending = self.verdict_pending(links);
        let was = std::mem::replace(&mut self.was_pending, pending);
        let said = (ctx.actions.iter()).any(|a| {
            matches!(
                a,
                Action::Report(Event::NatChanged(_) | Event::VerdictUnavailable { .. })
            )
        });
        let unsettled = Family::ALL
            .into_iter()
            .any(|f| self.wanted(links, f) && !self.settled(f));
        if was && !pending && !said && unsettled {
            let attempts = ctx.config.own_probe_attempts;
            ctx.report(Event::VerdictUnavailable { attempts });
        }
    }

    pub(super) fn send_own_probe(&mut self, ctx: &mut Ctx, peer: PeerId, family: Family) {
        let left = &mut self.budget.left[family.index()];
        if *left == 0 || self.own_probes[family.index()].is_some() {
            return;
        }
        *left -= 1;
        ctx.counters.own_probes += 1;
        let probe = ProbeId(ctx.alloc_id());
        self.own_probes[family.index()] = Some(OwnProbe {
            probe,
            peer,
            family,
            deadline: ctx.now + ctx.config.timeouts.own_probe,
            dial_backs: DialBacks::default(),
            held_ok: None,
        });
        // Until the driver has said which addresses we have, offer them all.
        let family = self.listening.is_some().then_some(family);
        let addrs = (self.addresses.iter())
            .filter(|a| family.is_none_or(|f| Family::of(a) == Some(f)))
            .cloned()
            .collect();
        ctx.push(Action::ProbeVia {
            probe,
            peer,
            family,
            addrs,
        });
    }

    /// After an own probe went unanswered: ask again about each family without a verdict and
    /// without a request under way, through a boot connection of that family; when no attempt
    /// is left for one, say so once.
    pub(super) fn request_own_probe(&mut self, ctx: &mut Ctx, links: &Links) {
        for family in Family::ALL {
            if !self.wanted(links, family) || self.own_probes[family.index()].is_some() {
                continue;
            }
            match self.probe_peer(links, family) {
                Some(peer) => self.request_own_probe_via(ctx, peer, family),
                None if !self.settled(family) => self.verdict_unavailable_if_spent(ctx, family),
                None => {}
            }
        }
    }

    /// [`Self::request_own_probe`] through `peer`.
    pub(super) fn request_own_probe_via(&mut self, ctx: &mut Ctx, peer: PeerId, family: Family) {
        if self.settled(family) {
            return;
        }
        self.send_own_probe(ctx, peer, family);
        self.verdict_unavailable_if_spent(ctx, family);
    }

    fn verdict_unavailable_if_spent(&mut self, ctx: &mut Ctx, family: Family) {
        let i = family.index();
        if self.own_probes[i].is_none()
            && self.budget.left[i] == 0
            && !self.budget.unavailable_said[i]
        {
            self.budget.unavailable_said[i] = true;
            let attempts = ctx.config.own_probe_attempts;
            ctx.report(Event::VerdictUnavailable { attempts });
        }
    }

    /// The awaited dial-back request `p` was answered.
    pub(super) fn on_own_probe(
        &mut self,
        ctx: &mut Ctx,
        links: &Links,
        mut p: OwnProbe,
        result: &Result<Multiaddr, ProbeError>,
    ) -> Option<Concluded> {
        match result {
            Ok(addr) if p.dial_backs.stranger => {
                Some(self.conclude(ctx, links, p, Ok(addr.clone())))
            }
            Ok(addr) => {
                // Believed only once its dial-back connection shows up. One from the contacted
                // host has: a stranger's may still be on its way (a boot node with an
                // alternate address answers OK when that one connects, and the answer can
                // overtake it), so wait briefly for it before settling for less.
                let wait = if p.dial_backs.any() {
                    STRANGER_SETTLE
                } else {
                    DIAL_BACK_GRACE
                };
                p.held_ok = Some(addr.clone());
                p.deadline = ctx.now + wait;
                let slot = p.family.index();
                self.own_probes[slot] = Some(p);
                None
            }
            Err(ProbeError::DialBackFailed) => Some(self.conclude(ctx, links, p, Err(()))),
            Err(ProbeError::Refused | ProbeError::ServerFailed(_) | ProbeError::Request(_)) => {
                // Back off: a throttled server refuses everyone asking at once. No request
                // goes out before this, not even for a new boot connection.
                let max = ctx.config.timeouts.own_probe_retry;
                let delay = max / 2 + ctx.rng.duration_up_to(max / 2);
                self.own_probe_retry = Some(ctx.now + delay);
                if !self.settled(p.family) {
                    // No attempt left to wait for: say so now.
                    self.verdict_unavailable_if_spent(ctx, p.family);
                }
                None
            }
        }
    }

    /// The own probe's deadline passed: unanswered, or an OK whose dial-back never came.
    pub(super) fn on_own_probe_deadline(
        &mut self,
        ctx: &mut Ctx,
        links: &Links,
        mut p: OwnProbe,
    ) -> Option<Concluded> {
        if p.held_ok.is_some() && p.dial_backs.any() {
            // Backed by a dial-back from the contacted host only: public, strangers unproven.
            let addr = p.held_ok.take().expect("invariant: checked just above");
            return Some(self.conclude(ctx, links, p, Ok(addr)));
        }
        if p.held_ok.is_some() {
            // An OK with no dial-back connection: a server that answers without dialing (or
            // one that dialed someone else). Not believed; ask another boot peer.
            ctx.counters.unverified_answers += 1;
            if self.unverified_peers.len() < MAX_UNVERIFIED_PEERS {
                self.unverified_peers.insert(p.peer);
            }
            ctx.report(Event::DialBackUnverified { peer: p.peer });
        }
        self.request_own_probe(ctx, links);
        None
    }
}
