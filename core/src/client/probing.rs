//! The machine's side of probing: the prober asks over the boot connections, and what it
//! concludes reaches the attempt (a believed answer may make the bootstrap connected); the
//! driver's addresses decide which families are probed, a dual-stack boot peer gets a
//! connection per family.

use super::*;

impl BootstrapMachine {
    /// A probe concluded with `peer`'s believed answer: remembered on its connection; with
    /// [`ConnectedRule::InboundOrOwnProbe`], or once the peer's own request is overdue, the
    /// bootstrap is connected; then the next family is asked about.
    fn after_conclusion(&mut self, concluded: Option<Concluded>) {
        let Some(Concluded { peer }) = concluded else {
            return;
        };
        let at_once = self.ctx.config.connected_rule == ConnectedRule::InboundOrOwnProbe;
        if let Some(conn) = self.links.conns.get_mut(&peer) {
            conn.answered_ours = true;
            if (at_once || conn.overdue) && self.bootstrapping() {
                self.become_connected(peer, ConnectedBy::OwnProbeAnswered);
            }
        }
        self.probe_next_family();
    }

    pub(super) fn probe_next_family(&mut self) {
        self.prober.probe_next_family(&mut self.ctx, &self.links);
    }

    pub(super) fn request_own_probe(&mut self) {
        self.prober.request_own_probe(&mut self.ctx, &self.links);
    }

    pub(super) fn verdict_pending(&self) -> bool {
        self.prober.verdict_pending(&self.links)
    }

    pub(super) fn end_of_probing(&mut self) {
        self.prober.end_of_probing(&mut self.ctx, &self.links);
    }

    pub(super) fn on_own_probe(&mut self, p: OwnProbe, result: &Result<Multiaddr, ProbeError>) {
        let concluded = self
            .prober
            .on_own_probe(&mut self.ctx, &self.links, p, result);
        self.after_conclusion(concluded);
    }

    pub(super) fn on_own_probe_deadline(&mut self, p: OwnProbe) {
        let concluded = self
            .prober
            .on_own_probe_deadline(&mut self.ctx, &self.links, p);
        self.after_conclusion(concluded);
    }

    pub(super) fn on_inbound_connection(&mut self, peer: PeerId, remote: Option<&Multiaddr>) {
        let concluded =
            (self.prober).on_inbound_connection(&mut self.ctx, &self.links, peer, remote);
        self.after_conclusion(concluded);
    }

    pub(super) fn on_observed_addr(&mut self, peer: PeerId, observed: &Multiaddr) {
        (self.prober).on_observed_addr(&mut self.ctx, &self.links, peer, observed);
    }

    pub(super) fn on_v2_tested(&mut self, server: PeerId, addr: &Multiaddr, reachable: bool) {
        let concluded =
            (self.prober).on_v2_tested(&mut self.ctx, &self.links, server, addr, reachable);
        self.after_conclusion(Some(concluded));
    }

    /// A new boot connection: ask over it (unless a refusal's back-off runs), and the other
    /// family's probe too if it can go.
    pub(super) fn probe_over_new_connection(&mut self, peer: PeerId, family: Family) {
        let (ctx, links, prober) = (&mut self.ctx, &self.links, &mut self.prober);
        // After a refusal the pending retry asks (through any boot connection), not this one.
        // Asked over this connection even if its family has a verdict (each bootstrap
        // confirms it); the other family's probe goes too if it can.
        if prober.own_probe_retry.is_none() {
            let family = prober.slot_family(family);
            if prober.wanted(links, family) && prober.own_probes[family.index()].is_none() {
                prober.send_own_probe(ctx, peer, family);
            }
            prober.probe_next_family(ctx, links);
        }
    }

    /// `peer`'s connection went: a request awaited over it is asked again through another boot
    /// connection of its family, if there is one (a new connection asks by itself otherwise),
    /// so the verdict does not stay unknown for want of a question.
    pub(super) fn probe_elsewhere(&mut self, peer: PeerId) {
        let (ctx, links, prober) = (&mut self.ctx, &self.links, &mut self.prober);
        for slot in 0..prober.own_probes.len() {
            let Some(p) = prober.own_probes[slot].take_if(|p| p.peer == peer) else {
                continue;
            };
            if let Some(other) = prober.probe_peer(links, p.family) {
                if prober.own_probe_retry.is_none() {
                    prober.request_own_probe_via(ctx, other, p.family);
                }
            }
        }
    }

    /// The driver's current addresses: the families among them are the ones probed.
    pub(super) fn on_listening(&mut self, addrs: &[Multiaddr]) {
        // A wildcard listener also reports `::1` and `fe80::` addresses that no boot peer can
        // dial back: those count only when nothing else is there (a test on loopback).
        use crate::addr::AddrClass;
        let addrs = &addrs[..addrs.len().min(prober::MAX_ADDRESSES)];
        let mut offered = addrs.to_vec();
        offered.sort();
        offered.dedup();
        self.prober.addresses = offered;
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
