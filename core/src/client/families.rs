//! Address families: which are probed, over which boot connections, the second connection
//! to a dual-stack boot peer, and when probing is pending.

use super::*;

impl BootstrapMachine {
    /// Whether a verdict is sought for `family`: one of this node's addresses is of it (once
    /// the driver said), or, before that, one of its boot connections is.
    ///
    /// Before the driver has said ([`Input::Listening`]), the machine probes as if there were
    /// one family: one request at a time, over any boot connection, in the IPv4 slot; its
    /// answer still lands on the family of the address reached.
    pub(super) fn wanted(&self, family: Family) -> bool {
        match &self.prober.listening {
            Some(families) => families.contains(&family),
            None => family == Family::Ipv4 && !self.links.conns.is_empty(),
        }
    }

    /// The probe slot for a connection of `family` (see [`Self::wanted`]).
    pub(super) fn slot_family(&self, family: Family) -> Family {
        match self.prober.listening {
            Some(_) => family,
            None => Family::Ipv4,
        }
    }

    pub(super) fn settled(&self, family: Family) -> bool {
        match self.prober.listening {
            Some(_) => self.prober.nat.family(family).verdict != NatVerdict::Unknown,
            None => Family::ALL
                .iter()
                .any(|&f| self.prober.nat.family(f).verdict != NatVerdict::Unknown),
        }
    }

    /// A boot peer connected over `family`; peers that answered OK without dialing back are
    /// chosen only when no other is left.
    pub(super) fn probe_peer(&self, family: Family) -> Option<PeerId> {
        let legacy = self.prober.listening.is_none();
        let with = || (self.links.conns.iter()).filter(move |(_, c)| legacy || c.has(family));
        let unverified = &self.prober.unverified_peers;
        (with().find(|(p, _)| !unverified.contains(p)))
            .or_else(|| with().next())
            .map(|(p, _)| *p)
    }

    /// Unless a refused request's back-off is running: probe every family that is sought, has
    /// no verdict and no request under way, has attempts left and a boot connection to ask
    /// over. The families are probed at once, each over its own connection.
    pub(super) fn probe_next_family(&mut self) {
        if self.prober.own_probe_retry.is_some() {
            return;
        }
        for family in Family::ALL {
            if !self.wanted(family)
                || self.settled(family)
                || self.prober.own_probes[family.index()].is_some()
                || self.prober.budget.left[family.index()] == 0
            {
                continue;
            }
            if let Some(peer) = self.probe_peer(family) {
                self.send_own_probe(peer, family);
            }
        }
    }

    /// See [`Status::verdict_pending`].
    pub(super) fn verdict_pending(&self) -> bool {
        let unprobed = |f: Family| {
            self.wanted(f) && !self.settled(f) && self.prober.budget.left[f.index()] > 0
        };
        self.prober.own_probes.iter().any(Option::is_some)
            || (self.prober.own_probe_retry.is_some() && Family::ALL.into_iter().any(unprobed))
            || (self.links.dials.values())
                .any(|d| d.second_family && Family::ALL.into_iter().any(unprobed))
    }

    /// Probing stops being pending only with a report saying so: a verdict, or, when the last
    /// thing pending went away without one and a family is left without a verdict (its
    /// connection failed), that none is coming. A caller waiting for the verdicts needs no
    /// timer of its own.
    pub(super) fn end_of_probing(&mut self) {
        let pending = self.verdict_pending();
        let was = std::mem::replace(&mut self.prober.was_pending, pending);
        let said = (self.ctx.actions.iter()).any(|a| {
            matches!(
                a,
                Action::Report(Event::NatChanged(_) | Event::VerdictUnavailable { .. })
            )
        });
        let unsettled = Family::ALL
            .into_iter()
            .any(|f| self.wanted(f) && !self.settled(f));
        if was && !pending && !said && unsettled {
            let attempts = self.ctx.config.own_probe_attempts;
            self.ctx.report(Event::VerdictUnavailable { attempts });
        }
    }

    /// The driver's current addresses: the families among them are the ones probed.
    pub(super) fn on_listening(&mut self, addrs: &[Multiaddr]) {
        // A wildcard listener also reports `::1` and `fe80::` addresses that no boot peer can
        // dial back: those count only when nothing else is there (a test on loopback).
        use crate::addr::AddrClass;
        let addrs = &addrs[..addrs.len().min(64)];
        let local = |a: &&Multiaddr| {
            matches!(
                classify(a),
                AddrClass::Loopback | AddrClass::LinkLocal | AddrClass::Unspecified
            )
        };
        let mut families: BTreeSet<Family> = (addrs.iter())
            .filter(|a| !local(a))
            .filter_map(Family::of)
            .collect();
        if families.is_empty() {
            families = addrs.iter().filter_map(Family::of).collect();
        }
        if self.prober.listening.as_ref() == Some(&families) {
            return;
        }
        self.prober.listening = Some(families);
        let peers: Vec<PeerId> = self.links.conns.keys().copied().collect();
        for peer in peers {
            self.dial_other_family(peer);
        }
        self.probe_next_family();
    }

    /// A boot peer we are connected to over one family: when this node also has an address of
    /// the other, no boot connection goes over that one yet and the peer listed addresses of
    /// it, dial those too. The other family's probe then goes over a connection of its own
    /// (a server dials back the IP it sees on the connection the request came over).
    pub(super) fn dial_other_family(&mut self, peer: PeerId) {
        let Some(conn) = self.links.conns.get(&peer) else {
            return;
        };
        let family = conn.family();
        let Some(other) = Family::ALL.into_iter().find(|&f| f != family) else {
            return;
        };
        let sought = self
            .prober
            .listening
            .as_ref()
            .is_some_and(|l| l.contains(&other));
        let connected = self.links.conns.values().any(|c| c.has(other));
        let dialing = self.links.dials.values().any(|d| d.second_family);
        if !sought || connected || dialing || conn.other_addrs.is_empty() {
            return;
        }
        let (addrs, source) = (conn.other_addrs.clone(), conn.source);
        let dial = DialId(self.ctx.alloc_id());
        self.ctx.push(Action::Dial {
            dial,
            peer,
            addrs: addrs.clone(),
        });
        self.links.dials.insert(
            dial,
            PendingDial {
                peer,
                addrs,
                source,
                deadline: self.ctx.now + self.ctx.config.timeouts.dial,
                resolving: false,
                resolution: Resolution::default(),
                second_family: true,
            },
        );
    }

    /// The second-family dial to the connected boot peer `peer` connected.
    pub(super) fn on_second_family_connection(&mut self, peer: PeerId, addr: Option<&Multiaddr>) {
        let ip = addr
            .and_then(crate::addr::ip_and_tcp_port)
            .map(|(ip, _)| ip);
        let Some(conn) = self.links.conns.get_mut(&peer) else {
            return;
        };
        if ip.is_some_and(|ip| Family::of_ip(ip) != conn.family()) {
            conn.other_ip = ip;
        }
        self.probe_next_family();
    }
}
