//! Our own dial-back probes, the NAT verdict and behaviour, and the persisted snapshot.
//!
//! An OK answer is believed only when a dial-back connection from the answering peer arrived
//! while the request was open, and the verdict's [`NatBehaviour`] says where it came from: from
//! an IP this node never sent a packet to (a stranger got in: endpoint-independent filtering),
//! or from a contacted host on a port we never sent to.

use super::*;
use crate::nat::{FamilyNat, NatBehaviour};

impl BootstrapMachine {
    pub(super) fn send_own_probe(&mut self, peer: PeerId, family: Family) {
        let left = &mut self.prober.budget.left[family.index()];
        if *left == 0 || self.prober.own_probes[family.index()].is_some() {
            return;
        }
        *left -= 1;
        self.ctx.counters.own_probes += 1;
        let probe = ProbeId(self.ctx.alloc_id());
        self.prober.own_probes[family.index()] = Some(OwnProbe {
            probe,
            peer,
            family,
            deadline: self.ctx.now + self.ctx.config.timeouts.own_probe,
            dial_backs: DialBacks::default(),
            held_ok: None,
        });
        // Until the driver has said which addresses we have, offer them all.
        let family = self.prober.listening.is_some().then_some(family);
        self.ctx.push(Action::ProbeVia {
            probe,
            peer,
            family,
        });
    }

    /// After an own probe went unanswered: ask again about each family without a verdict and
    /// without a request under way, through a boot connection of that family; when no attempt
    /// is left for one, say so once.
    pub(super) fn request_own_probe(&mut self) {
        for family in Family::ALL {
            if !self.wanted(family) || self.prober.own_probes[family.index()].is_some() {
                continue;
            }
            match self.probe_peer(family) {
                Some(peer) => self.request_own_probe_via(peer, family),
                None if !self.settled(family) => self.verdict_unavailable_if_spent(family),
                None => {}
            }
        }
    }

    /// [`Self::request_own_probe`] through `peer`.
    pub(super) fn request_own_probe_via(&mut self, peer: PeerId, family: Family) {
        if self.settled(family) {
            return;
        }
        self.send_own_probe(peer, family);
        self.verdict_unavailable_if_spent(family);
    }

    fn verdict_unavailable_if_spent(&mut self, family: Family) {
        let i = family.index();
        if self.prober.own_probes[i].is_none()
            && self.prober.budget.left[i] == 0
            && !self.prober.budget.unavailable_said[i]
        {
            self.prober.budget.unavailable_said[i] = true;
            let attempts = self.ctx.config.own_probe_attempts;
            self.ctx.report(Event::VerdictUnavailable { attempts });
        }
    }

    /// The awaited dial-back request `p` was answered.
    pub(super) fn on_own_probe(&mut self, mut p: OwnProbe, result: &Result<Multiaddr, ProbeError>) {
        match result {
            Ok(addr) if p.dial_backs.stranger => self.conclude(p, Ok(addr.clone())),
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
                p.deadline = self.ctx.now + wait;
                let slot = p.family.index();
                self.prober.own_probes[slot] = Some(p);
            }
            Err(ProbeError::DialBackFailed) => self.conclude(p, Err(())),
            Err(ProbeError::Refused | ProbeError::ServerFailed(_) | ProbeError::Request(_)) => {
                // Back off: a throttled server refuses everyone asking at once. No request
                // goes out before this, not even for a new boot connection.
                let max = self.ctx.config.timeouts.own_probe_retry;
                let delay = max / 2 + self.ctx.rng.duration_up_to(max / 2);
                self.prober.own_probe_retry = Some(self.ctx.now + delay);
                if !self.settled(p.family) {
                    // No attempt left to wait for: say so now.
                    self.verdict_unavailable_if_spent(p.family);
                }
            }
        }
    }

    /// One family's findings changed: the swarm's external addresses follow its public
    /// address, and the whole verdict and behaviour are recomputed and reported.
    pub(super) fn set_family(&mut self, family: Family, found: FamilyNat) {
        let old = self.prober.nat.family(family).clone();
        let stale = self.prober.nat_stale;
        if found == old && !stale {
            return;
        }
        if old.verdict != found.verdict {
            if let NatVerdict::Public(old) = &old.verdict {
                self.ctx.push(Action::RemoveExternalAddress(old.clone()));
            }
            if let NatVerdict::Public(new) = &found.verdict {
                self.ctx.push(Action::AddExternalAddress(new.clone()));
            }
        }
        let verdict_changed = old.verdict != found.verdict;
        *self.prober.nat.family_mut(family) = found;
        let primary = self.prober.nat.primary();
        let behaviour = primary.map_or_else(NatBehaviour::default, |f| {
            self.prober.nat.family(f).behaviour
        });
        if behaviour != self.prober.behaviour {
            self.prober.behaviour = behaviour;
            self.ctx.report(Event::NatBehaviourChanged(behaviour));
        }
        if !verdict_changed && !stale {
            return;
        }
        // A restored verdict stands until this run's first conclusion replaces it.
        let whole = primary.map_or(NatVerdict::Unknown, |f| {
            self.prober.nat.family(f).verdict.clone()
        });
        let conclusive = self.prober.nat.ipv4.verdict != NatVerdict::Unknown
            || self.prober.nat.ipv6.verdict != NatVerdict::Unknown;
        if stale && !conclusive {
            return;
        }
        self.prober.nat_stale = false;
        let whole_changed = whole != self.prober.nat.verdict;
        self.prober.nat.verdict = whole;
        self.ctx.report(Event::NatChanged(self.prober.nat.clone()));
        if whole_changed || stale {
            self.ctx.persist(&self.prober.nat.verdict);
        }
    }
}

/// Where this node has sent packets, as far as the machine knows: every address it asked the
/// driver to dial and every boot URL host given as an IP. Bounded; once full, no dial-back is
/// taken for a stranger's (the only safe reading of "not in the set").
#[derive(Debug, Clone, Default)]
pub(super) struct Contacted {
    endpoints: BTreeSet<(IpAddr, Option<u16>)>,
    /// An endpoint went unrecorded (the set was full, or a URL named its host by DNS).
    incomplete: bool,
}

/// Most contacted endpoints remembered.
const MAX_CONTACTED: usize = 256;

/// How a dial-back connection's source relates to what this node has contacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// From an IP this node never sent to.
    Stranger,
    /// From a contacted IP, from a port this node never sent to.
    ContactedHost,
    /// From an endpoint this node sent to, or from somewhere the driver did not say.
    Unclear,
}

impl Contacted {
    pub(super) fn insert(&mut self, addr: &Multiaddr) {
        match crate::addr::ip_and_tcp_port(addr) {
            Some((ip, port)) => self.insert_endpoint(ip, port),
            // A DNS name: the driver resolves it, the machine never learns the IP.
            None => self.incomplete = true,
        }
    }

    pub(super) fn insert_url(&mut self, url: &str) {
        match crate::addr::url_host_ip(url) {
            Some((ip, port)) => self.insert_endpoint(ip, Some(port)),
            None => self.incomplete = true,
        }
    }

    fn insert_endpoint(&mut self, ip: IpAddr, port: Option<u16>) {
        if self.endpoints.len() < MAX_CONTACTED {
            self.endpoints.insert((ip, port));
        } else if !self.endpoints.contains(&(ip, port)) {
            self.incomplete = true;
        }
    }

    fn origin(&self, remote: Option<&Multiaddr>) -> Origin {
        let Some((ip, port)) = remote.and_then(crate::addr::ip_and_tcp_port) else {
            return Origin::Unclear;
        };
        let mut hosts = self.endpoints.iter().filter(|(i, _)| *i == ip);
        if hosts.clone().next().is_none() {
            return if self.incomplete {
                Origin::Unclear
            } else {
                Origin::Stranger
            };
        }
        match port {
            Some(port) if !hosts.any(|(_, p)| *p == Some(port) || p.is_none()) => {
                Origin::ContactedHost
            }
            _ => Origin::Unclear,
        }
    }
}

/// The dial-back connections seen during one own probe, by [`Origin`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct DialBacks {
    stranger: bool,
    contacted_host: bool,
    unclear: bool,
}

impl DialBacks {
    fn any(self) -> bool {
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
const MAX_UNVERIFIED_PEERS: usize = 64;

impl BootstrapMachine {
    /// A new inbound connection from `peer`: a dial-back, if it is the peer we asked.
    pub(super) fn on_inbound_connection(&mut self, peer: PeerId, remote: Option<&Multiaddr>) {
        let origin = self.ctx.contacted.origin(remote);
        // The dial-back of the probe of its own family (two may be under way at one peer).
        let family = remote.and_then(Family::of);
        let asked = |p: &Option<OwnProbe>| p.as_ref().is_some_and(|p| p.peer == peer);
        let slot = (family
            .map(Family::index)
            .filter(|&i| asked(&self.prober.own_probes[i])))
        .or_else(|| self.prober.own_probes.iter().position(asked))
        .or_else(|| self.probe_dialed_back_from_its_servers_ip(remote));
        let Some(slot) = slot else {
            return;
        };
        let p = self.prober.own_probes[slot]
            .as_mut()
            .expect("invariant: found just above");
        match origin {
            Origin::Stranger => p.dial_backs.stranger = true,
            Origin::ContactedHost => p.dial_backs.contacted_host = true,
            Origin::Unclear => p.dial_backs.unclear = true,
        }
        if p.held_ok.is_none() {
            return;
        }
        if p.dial_backs.stranger {
            let mut p = self.prober.own_probes[slot]
                .take()
                .expect("invariant: matched just above");
            let addr = p.held_ok.take().expect("invariant: checked just above");
            self.conclude(p, Ok(addr));
        } else {
            // Backed now; a stranger's dial-back may still follow.
            p.deadline = p.deadline.min(self.ctx.now + STRANGER_SETTLE);
        }
    }

    /// The open probe whose server's IP (as our boot connection to it sees it) `remote` comes
    /// from, whatever the connecting peer's id. go-libp2p's AutoNAT v1 service (Kubo and the
    /// IPFS bootstrap nodes run it) dials back from a second host with a random peer id, on
    /// the server's IP and a new port: the connection proves what the asked peer's own would
    /// (someone at the server's host reached the address under test while the request was
    /// open). A connection from any other IP under another id proves nothing about this probe.
    fn probe_dialed_back_from_its_servers_ip(&self, remote: Option<&Multiaddr>) -> Option<usize> {
        let (ip, _) = remote.and_then(crate::addr::ip_and_tcp_port)?;
        let slot = Family::of_ip(ip).index();
        let probe = self.prober.own_probes[slot].as_ref()?;
        let conn = self.links.conns.get(&probe.peer)?;
        (conn.remote_ip == Some(ip) || conn.other_ip == Some(ip)).then_some(slot)
    }

    /// The peer at `peer` observes us at `observed` (identify): evidence for the mapping.
    pub(super) fn on_observed_addr(&mut self, peer: PeerId, observed: &Multiaddr) {
        let Some((ip, Some(port))) = crate::addr::ip_and_tcp_port(observed) else {
            return;
        };
        let family = Family::of_ip(ip);
        // The boot peer's IP on the connection of the observed address's family.
        let Some(remote) = (self.links.conns.get(&peer)).and_then(|c| {
            [c.remote_ip, c.other_ip]
                .into_iter()
                .flatten()
                .find(|r| Family::of_ip(*r) == family)
        }) else {
            return;
        };
        if self.prober.observed.len() >= MAX_OBSERVERS
            && !self.prober.observed.contains_key(&remote)
        {
            return;
        }
        self.prober.observed.insert(remote, (ip, port));
        let mut seen = (self.prober.observed.iter())
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
        let mut found = self.prober.nat.family(family).clone();
        found.behaviour.mapping = mapping;
        self.set_family(family, found);
    }

    /// The own probe's deadline passed: unanswered, or an OK whose dial-back never came.
    pub(super) fn on_own_probe_deadline(&mut self, mut p: OwnProbe) {
        if p.held_ok.is_some() && p.dial_backs.any() {
            // Backed by a dial-back from the contacted host only: public, strangers unproven.
            let addr = p.held_ok.take().expect("invariant: checked just above");
            return self.conclude(p, Ok(addr));
        }
        if p.held_ok.is_some() {
            // An OK with no dial-back connection: a server that answers without dialing (or
            // one that dialed someone else). Not believed; ask another boot peer.
            self.ctx.counters.unverified_answers += 1;
            if self.prober.unverified_peers.len() < MAX_UNVERIFIED_PEERS {
                self.prober.unverified_peers.insert(p.peer);
            }
            self.ctx.report(Event::DialBackUnverified { peer: p.peer });
        }
        self.request_own_probe();
    }

    /// An AutoNAT v2 result from a boot peer: concluded like an answered own probe whose
    /// dial-back from the contacted host was seen (the nonce proves it arrived). A v1 probe of
    /// the same family still open is left to finish; its answer may add a stranger's proof.
    pub(super) fn on_v2_tested(&mut self, server: PeerId, addr: &Multiaddr, reachable: bool) {
        let family = Family::of(addr).unwrap_or_else(|| {
            self.links
                .conns
                .get(&server)
                .map_or(Family::Ipv4, BootConn::family)
        });
        let p = OwnProbe {
            probe: ProbeId(0),
            peer: server,
            family,
            deadline: self.ctx.now,
            dial_backs: DialBacks {
                contacted_host: reachable,
                ..DialBacks::default()
            },
            held_ok: None,
        };
        let result = if reachable { Ok(addr.clone()) } else { Err(()) };
        self.conclude(p, result);
    }

    /// Records a verdict backed by what this node saw arrive during the probe.
    fn conclude(&mut self, p: OwnProbe, result: Result<Multiaddr, ()>) {
        use crate::nat::Filtering;
        let seen = p.dial_backs;
        // The family probed, or the one the server says it reached us over; before the
        // driver said which families it has, that of the connection asked over.
        let asked = match self.prober.listening {
            Some(_) => p.family,
            None => self
                .links
                .conns
                .get(&p.peer)
                .map_or(p.family, BootConn::family),
        };
        let family = match &result {
            Ok(addr) => Family::of(addr).unwrap_or(asked),
            Err(()) => asked,
        };
        let before = self.prober.nat.family(family).behaviour;
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
        self.set_family(family, FamilyNat { verdict, behaviour });
        let at_once = self.ctx.config.connected_rule == ConnectedRule::InboundOrOwnProbe;
        if let Some(conn) = self.links.conns.get_mut(&p.peer) {
            conn.answered_ours = true;
            if (at_once || conn.overdue) && self.bootstrapping() {
                self.become_connected(p.peer, ConnectedBy::OwnProbeAnswered);
            }
        }
        self.probe_next_family();
    }
}
