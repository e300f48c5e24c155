//! Connections and sessions, dial requests to joining peers, the cluster's members and their
//! load, and the addresses the node advertises.

use super::*;

use crate::addr::{classify, AddrClass};
use crate::errors::{ProbeError, RequestFailure};
use crate::peer::split_p2p;

/// One other member of the cluster.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub(super) id: PeerId,
    /// Its address without `/p2p/`, for load questions.
    pub(super) addr: Multiaddr,
    /// Its full multiaddr as `/status` lists it.
    pub(super) entry: String,
    /// Its id in base58, as `peer_loads` names it (encoded once, not per request).
    pub(super) id_text: String,
}

/// Where a peer's dial request stands in its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Probe {
    /// None sent yet (no inbound connection so far, or a member).
    NotSent,
    /// Sent, awaiting the answer.
    InFlight(ProbeId),
    /// Answered, failed or timed out: none more in this session.
    Done,
}

/// A peer with at least one open connection.
#[derive(Debug, Clone, Copy)]
pub(super) struct Session {
    pub(super) conns: u32,
    pub(super) probe: Probe,
    pub(super) member: bool,
}

impl BootNodeMachine {
    pub(super) fn is_member(&self, peer: &PeerId) -> bool {
        self.members.iter().any(|m| m.id == *peer)
    }

    pub(super) fn on_connection_opened(&mut self, conn: Token, peer: PeerId, inbound: bool) {
        self.conns.insert(conn, peer);
        let member = self.is_member(&peer);
        let session = self.sessions.entry(peer).or_insert_with(|| {
            if !member {
                self.non_members += 1;
            }
            Session {
                conns: 0,
                probe: Probe::NotSent,
                member,
            }
        });
        session.conns += 1;
        // A joining node dials us: its first inbound connection gets the dial request at once.
        // Our own dials (a load question, an AutoNAT dial-back) do not start one.
        if inbound && !session.member && session.probe == Probe::NotSent {
            self.send_dial_request(peer);
        }
    }

    fn send_dial_request(&mut self, peer: PeerId) {
        let probe = ProbeId(self.alloc_id());
        let deadline = self.now + self.config.dial_request_timeout;
        if let Some(s) = self.sessions.get_mut(&peer) {
            s.probe = Probe::InFlight(probe);
        }
        self.probes.insert(probe, (peer, self.now));
        self.probe_deadlines.insert((deadline, probe));
        self.counters.dial_requests += 1;
        let addrs = self.dial_back.clone();
        self.push(BootNodeAction::SendDialRequest { probe, peer, addrs });
        self.report(BootNodeEvent::DialRequestSent { peer });
    }

    pub(super) fn on_connection_closed(&mut self, peer: PeerId) {
        let session = self
            .sessions
            .get_mut(&peer)
            .expect("invariant: every open connection's peer has a session");
        session.conns -= 1;
        if session.conns > 0 {
            return;
        }
        let Some(session) = self.sessions.remove(&peer) else {
            return;
        };
        if !session.member {
            self.non_members -= 1;
        }
        // Its dial-backs cannot be answered any more: nothing about it is kept.
        self.forget_dial_backs_of(peer);
        if let Probe::InFlight(probe) = session.probe {
            // The peer left before answering: nothing about it is kept.
            if let Some((_, sent)) = self.probes.remove(&probe) {
                self.end_dial_request(probe, peer, sent, DialRequestOutcome::PeerLeft);
            }
        }
    }

    pub(super) fn on_dial_request_answered(
        &mut self,
        probe: ProbeId,
        peer: PeerId,
        sent: Instant,
        result: &Result<Multiaddr, ProbeError>,
    ) {
        if let Some(s) = self.sessions.get_mut(&peer) {
            s.probe = Probe::Done;
        }
        let outcome = match result {
            Ok(addr) => DialRequestOutcome::Reachable(addr.clone()),
            Err(ProbeError::DialBackFailed) => DialRequestOutcome::DialError,
            Err(ProbeError::Refused) => DialRequestOutcome::Refused,
            Err(ProbeError::ServerFailed(_) | ProbeError::Request(_)) => DialRequestOutcome::Failed,
        };
        self.end_dial_request(probe, peer, sent, outcome);
    }

    /// Reports a dial request's end; it is already out of `probes`.
    fn end_dial_request(
        &mut self,
        probe: ProbeId,
        peer: PeerId,
        sent: Instant,
        outcome: DialRequestOutcome,
    ) {
        let deadline = sent + self.config.dial_request_timeout;
        self.probe_deadlines.remove(&(deadline, probe));
        let after = self.now.saturating_duration_since(sent);
        self.report(BootNodeEvent::DialRequestEnded {
            peer,
            outcome,
            after,
        });
    }

    pub(super) fn expire_dial_requests(&mut self) {
        while let Some(&(deadline, probe)) = self.probe_deadlines.first() {
            if deadline > self.now {
                return;
            }
            self.probe_deadlines.pop_first();
            if let Some((peer, sent)) = self.probes.remove(&probe) {
                if let Some(s) = self.sessions.get_mut(&peer) {
                    s.probe = Probe::Done;
                }
                self.end_dial_request(probe, peer, sent, DialRequestOutcome::TimedOut);
            }
        }
    }

    /// Replaces the cluster's members (entries without `/p2p/`, with nothing to dial, naming
    /// this node or a member twice are left out).
    pub(super) fn set_members(&mut self, addrs: &[Multiaddr]) {
        let mut members: Vec<Member> = Vec::new();
        for full in addrs {
            let Some((addr, id)) = split_p2p(full) else {
                continue;
            };
            let usable = !addr.is_empty() && id != self.config.local_peer;
            if usable && members.len() < MAX_MEMBERS && !members.iter().any(|m| m.id == id) {
                members.push(Member {
                    id,
                    addr,
                    entry: full.to_string(),
                    id_text: id.to_string(),
                });
            }
        }
        self.members = members;
        self.loads
            .retain(|id, _| self.members.iter().any(|m| m.id == *id));
        // Membership decides who gets a dial request and what `peers_count` counts.
        let members = &self.members;
        let mut non_members = 0;
        for (id, s) in &mut self.sessions {
            s.member = members.iter().any(|m| m.id == *id);
            non_members += u64::from(!s.member);
        }
        self.non_members = non_members;
        self.next_load_poll = match (self.members.is_empty(), self.next_load_poll) {
            (true, _) => None,
            (false, Some(t)) => Some(t),
            (false, None) => Some(self.now + self.config.load_interval),
        };
    }

    /// Asks every member for its load, one question at a time per member: a question still
    /// unanswered after two intervals is given up.
    pub(super) fn poll_loads(&mut self) {
        let interval = self.config.load_interval;
        let now = self.now;
        self.load_asks
            .retain(|_, (_, asked)| now.saturating_duration_since(*asked) < interval * 2);
        let members: Vec<(PeerId, Multiaddr)> = self
            .members
            .iter()
            .filter(|m| !self.load_asks.values().any(|(id, _)| *id == m.id))
            .map(|m| (m.id, m.addr.clone()))
            .collect();
        for (member, addr) in members {
            let ask = LoadAskId(self.alloc_id());
            self.load_asks.insert(ask, (member, now));
            self.counters.load_asks += 1;
            self.push(BootNodeAction::AskLoad { ask, member, addr });
        }
        self.next_load_poll = Some(now + interval);
    }

    pub(super) fn on_load_answered(
        &mut self,
        member: PeerId,
        result: &Result<u64, RequestFailure>,
    ) {
        match result {
            Ok(count) if self.is_member(&member) => {
                self.loads.insert(member, (*count, self.now));
            }
            Ok(_) => {}
            Err(error) => self.report(BootNodeEvent::LoadFailed {
                member,
                error: error.clone(),
            }),
        }
    }

    /// Recomputes what `/status` advertises and what dial requests carry.
    pub(super) fn refresh_addresses(&mut self) {
        let mut advertised: Vec<Multiaddr> = Vec::new();
        for a in &self.config.external_addrs {
            if !advertised.contains(a) {
                advertised.push(a.clone());
            }
        }
        // Only what another host could dial: never a link-local address (a wildcard listener
        // reports zone-less fe80:: ones no remote peer can use), and loopback only when there
        // is nothing else (a loopback demo), not beside a LAN or public address.
        let class = |a: &Multiaddr| classify(a);
        let beyond_loopback = self.listen.iter().any(|a| {
            !matches!(
                class(a),
                AddrClass::Loopback | AddrClass::LinkLocal | AddrClass::Unspecified
            ) && self.config.policy.allows(class(a))
        });
        for a in &self.listen {
            let usable = match class(a) {
                AddrClass::LinkLocal | AddrClass::Unspecified => false,
                AddrClass::Loopback => !beyond_loopback,
                _ => true,
            };
            if usable && self.config.policy.allows(class(a)) && !advertised.contains(a) {
                advertised.push(a.clone());
            }
        }
        // The peer's AutoNAT server keeps only addresses that start with an IP, swaps in the
        // IP it sees us at and keeps the port. Advertised IP addresses say which ports; when
        // there are none (a node behind a 1:1 NAT without --external-address, or one known
        // only by a DNS name), the listen addresses carry the ports instead.
        let starts_with_ip = |a: &Multiaddr| match a.iter().next() {
            Some(multiaddr::Protocol::Ip4(ip)) => !ip.is_unspecified(),
            Some(multiaddr::Protocol::Ip6(ip)) => !ip.is_unspecified(),
            _ => false,
        };
        let mut dial_back: Vec<Multiaddr> = advertised
            .iter()
            .filter(|a| starts_with_ip(a))
            .cloned()
            .collect();
        if dial_back.is_empty() {
            dial_back = self
                .listen
                .iter()
                .filter(|a| starts_with_ip(a))
                .cloned()
                .collect();
        }
        let me = multiaddr::Protocol::P2p(self.config.local_peer);
        self.own_entries = advertised
            .iter()
            .map(|a| a.clone().with(me.clone()).to_string())
            .collect();
        self.advertised = advertised;
        self.dial_back = dial_back;
        self.rebuild_lists();
    }
}
