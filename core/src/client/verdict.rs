//! The verdict: what an answered probe, a dial-back connection, an observation or an AutoNAT
//! v2 result proves, per address family.
//!
//! An OK answer is believed only when a dial-back connection arrived while the request was
//! open, and the verdict's [`NatBehaviour`] says where it came from: from an IP this node never
//! sent a packet to (a stranger got in: endpoint-independent filtering), or from a contacted
//! host on a port we never sent to.

use super::*;
use crate::nat::{FamilyNat, NatBehaviour};

use super::contacted::Origin;

/// The dial-back connections seen during one own probe, by [`Origin`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct DialBacks {
    pub(super) stranger: bool,
    pub(super) contacted_host: bool,
    pub(super) unclear: bool,
}

impl DialBacks {
    pub(super) fn any(self) -> bool {
        self.stranger || self.contacted_host || self.unclear
    }
}

/// How long an OK answer waits for its dial-back connection to be reported: the connection
/// and the answer travel on different streams, so the answer may be handled first.
pub const DIAL_BACK_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// How long an OK backed only by the contacted host's dial-back waits for a stranger's (a boot
/// node's alternate address) before the verdict settles without that proof.
pub const STRANGER_SETTLE: std::time::Duration = std::time::Duration::from_millis(150);

/// Most addresses of the other family kept per boot connection, for a second-family dial.
pub(super) const MAX_OTHER_ADDRS: usize = 8;

/// Most boot peer IPs whose observation of us is kept.
const MAX_OBSERVERS: usize = 8;
/// Most boot peers remembered for answering OK without dialing back.
pub(super) const MAX_UNVERIFIED_PEERS: usize = 64;

impl Prober {
    /// One family's findings changed: the swarm's external addresses follow its public
    /// address, and the whole verdict and behaviour are recomputed and reported.
    pub(super) fn set_family(&mut self, ctx: &mut Ctx, family: Family, found: FamilyNat) {
        let old = self.nat.family(family).clone();
        let stale = self.nat_stale;
        if found == old && !stale {
            return;
        }
        if old.verdict != found.verdict {
            if let NatVerdict::Public(old) = &old.verdict {
                ctx.push(Action::RemoveExternalAddress(old.clone()));
            }
            if let NatVerdict::Public(new) = &found.verdict {
                ctx.push(Action::AddExternalAddress(new.clone()));
            }
        }
        let verdict_changed = old.verdict != found.verdict;
        *self.nat.family_mut(family) = found;
        let primary = self.nat.primary();
        let behaviour =
            primary.map_or_else(NatBehaviour::default, |f| self.nat.family(f).behaviour);
        if behaviour != self.behaviour {
            self.behaviour = behaviour;
            ctx.report(Event::NatBehaviourChanged(behaviour));
        }
        if !verdict_changed && !stale {
            return;
        }
        // A restored verdict stands until this run's first conclusion replaces it.
        let whole = primary.map_or(NatVerdict::Unknown, |f| self.nat.family(f).verdict.clone());
        let conclusive = self.nat.ipv4.verdict != NatVerdict::Unknown
            || self.nat.ipv6.verdict != NatVerdict::Unknown;
        if stale && !conclusive {
            return;
        }
        self.nat_stale = false;
        let whole_changed = whole != self.nat.verdict;
        self.nat.verdict = whole;
        ctx.report(Event::NatChanged(self.nat.clone()));
        if whole_changed || stale {
            ctx.persist(&self.nat.verdict);
        }
    }

    /// A new inbound connection from `peer`: a dial-back, if it is the peer we asked.
    pub(super) fn on_inbound_connection(
        &mut self,
        ctx: &mut Ctx,
        links: &Links,
        peer: PeerId,
        remote: Option<&Multiaddr>,
    ) -> Option<Concluded> {
        let origin = ctx.contacted.origin(remote);
        // The dial-back of the probe of its own family (two may be under way at one peer).
        let family = remote.and_then(Family::of);
        let asked = |p: &Option<OwnProbe>| p.as_ref().is_some_and(|p| p.peer == peer);
        let slot = (family
            .map(Family::index)
            .filter(|&i| asked(&self.own_probes[i])))
        .or_else(|| self.own_probes.iter().position(asked))
        .or_else(|| self.probe_dialed_back_from_its_servers_ip(links, remote));
        let slot = slot?;
        let p = self.own_probes[slot]
            .as_mut()
            .expect("invariant: found just above");
        match origin {
            Origin::Stranger => p.dial_backs.stranger = true,
            Origin::ContactedHost => p.dial_backs.contacted_host = true,
            Origin::Unclear => p.dial_backs.unclear = true,
        }
        // No answer held yet: the dial-back is noted for when it comes.
        p.held_ok.as_ref()?;
        if p.dial_backs.stranger {
            let mut p = self.own_probes[slot]
                .take()
                .expect("invariant: matched just above");
            let addr = p.held_ok.take().expect("invariant: checked just above");
            Some(self.conclude(ctx, links, p, Ok(addr)))
        } else {
            // Backed now; a stranger's dial-back may still follow.
            p.deadline = p.deadline.min(ctx.now + STRANGER_SETTLE);
            None
        }
    }

    /// The open probe whose server's IP (as our boot connection to it sees it) `remote` comes
    /// from, whatever the connecting peer's id. go-libp2p's AutoNAT v1 service (Kubo and the
    /// IPFS bootstrap nodes run it) dials back from a second host with a random peer id, on
    /// the server's IP and a new port: the connection proves what the asked peer's own would
    /// (someone at the server's host reached the address under test while the request was
    /// open). A connection from any other IP under another id proves nothing about this probe.
    fn probe_dialed_back_from_its_servers_ip(
        &self,
        links: &Links,
        remote: Option<&Multiaddr>,
    ) -> Option<usize> {
        let (ip, _) = remote.and_then(crate::addr::ip_and_tcp_port)?;
        let slot = Family::of_ip(ip).index();
        let probe = self.own_probes[slot].as_ref()?;
        let conn = links.conns.get(&probe.peer)?;
        (conn.remote_ip == Some(ip) || conn.other_ip == Some(ip)).then_some(slot)
    }

    /// The peer at `peer` observes us at `observed` (identify): evidence for the mapping.
    pub(super) fn on_observed_addr(
        &mut self,
        ctx: &mut Ctx,
        links: &Links,
        peer: PeerId,
        observed: &Multiaddr,
    ) {
        let Some((ip, Some(port))) = crate::addr::ip_and_tcp_port(observed) else {
            return;
        };
        let family = Family::of_ip(ip);
        // The boot peer's IP on the connection of the observed address's family.
        let Some(remote) = (links.conns.get(&peer)).and_then(|c| {
            [c.remote_ip, c.other_ip]
                .into_iter()
                .flatten()
                .find(|r| Family::of_ip(*r) == family)
        }) else {
            return;
        };
        if self.observed.len() >= MAX_OBSERVERS && !self.observed.contains_key(&remote) {
            return;
        }
        self.observed.insert(remote, (ip, port));
        let mut seen = (self.observed.iter())
            .filter(|(r, _)| Family::of_ip(**r) == family)
            .map(|(_, o)| *o);
        let first = seen.next();
        let mut rest = seen.peekable();
        let mapping = if rest.peek().is_none() {
            crate::nat::Mapping::Unknown
        } else if rest.all(|o| Some(o) == first) {
            crate::nat::Mapping::EndpointIndependent
        } else {
            crate::nat::Mapping::AddressDependent
        };
        let mut found = self.nat.family(family).clone();
        found.behaviour.mapping = mapping;
        self.set_family(ctx, family, found);
    }

    /// An AutoNAT v2 result from a boot peer: concluded like an answered own probe whose
    /// dial-back from the contacted host was seen (the nonce proves it arrived). A v1 probe of
    /// the same family still open is left to finish; its answer may add a stranger's proof.
    pub(super) fn on_v2_tested(
        &mut self,
        ctx: &mut Ctx,
        links: &Links,
        server: PeerId,
        addr: &Multiaddr,
        reachable: bool,
    ) -> Concluded {
        let family = Family::of(addr).unwrap_or_else(|| {
            links
                .conns
                .get(&server)
                .map_or(Family::Ipv4, BootConn::family)
        });
        let p = OwnProbe {
            probe: ProbeId(0),
            peer: server,
            family,
            deadline: ctx.now,
            dial_backs: DialBacks {
                contacted_host: reachable,
                ..DialBacks::default()
            },
            held_ok: None,
        };
        let result = if reachable { Ok(addr.clone()) } else { Err(()) };
        self.conclude(ctx, links, p, result)
    }

    /// Records a verdict backed by what this node saw arrive during the probe. The machine
    /// then hears that `p.peer` answered ([`BootstrapMachine::after_conclusion`]).
    pub(super) fn conclude(
        &mut self,
        ctx: &mut Ctx,
        links: &Links,
        p: OwnProbe,
        result: Result<Multiaddr, ()>,
    ) -> Concluded {
        use crate::nat::Filtering;
        let seen = p.dial_backs;
        // The family probed, or the one the server says it reached us over; before the
        // driver said which families it has, that of the connection asked over.
        let asked = match self.listening {
            Some(_) => p.family,
            None => links.conns.get(&p.peer).map_or(p.family, BootConn::family),
        };
        let family = match &result {
            Ok(addr) => Family::of(addr).unwrap_or(asked),
            Err(()) => asked,
        };
        let before = self.nat.family(family).behaviour;
        let filtering = match (&result, seen) {
            (_, DialBacks { stranger: true, .. }) => Filtering::EndpointIndependent,
            // A stock server dials from the contacted host only: its OK proves only that the
            // filtering is not address-and-port-dependent; an earlier stranger's proof stands.
            (Ok(_), _) => match before.filtering {
                Filtering::EndpointIndependent => Filtering::EndpointIndependent,
                _ => Filtering::Unknown,
            },
            (
                Err(()),
                DialBacks {
                    contacted_host: true,
                    ..
                },
            ) => Filtering::AddressDependent,
            (Err(()), DialBacks { unclear: true, .. }) => Filtering::Unknown,
            (Err(()), _) => Filtering::AddressAndPortDependent,
        };
        let (verdict, verified) = match result {
            Ok(addr) => (NatVerdict::Public(addr), true),
            // The server could not reach us: what arrived agrees unless a stranger got in.
            Err(()) => (NatVerdict::Private, !seen.stranger),
        };
        let behaviour = NatBehaviour {
            filtering,
            verified,
            stranger_reached: seen.stranger,
            ..before
        };
        self.set_family(ctx, family, FamilyNat { verdict, behaviour });
        Concluded { peer: p.peer }
    }
}
