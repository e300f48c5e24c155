//! The boot node's AutoNAT v1 server: who may be dialed back, where, how fast, how often.
//!
//! A stock server (libp2p-autonat) dials back with the swarm's connection timeout (10 s here)
//! from the very IP the asker contacted. Behind a router that silently drops unsolicited
//! packets that makes every "private" verdict take the full 10 s, and behind an
//! address-restricted cone NAT it makes a node "public" that no stranger can reach. This server
//! times each dial-back by the round trip measured on the asking connection, keeps several
//! attempts so one lost SYN does not decide (the first alone, the others only if it has not
//! connected after a few round trips, so a reachable peer costs one handshake), and with an
//! alternate address answers OK only when the dial-back from that never-contacted address got
//! in.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use libp2p_identity::PeerId;
use multiaddr::{Multiaddr, Protocol};

use super::{BootNodeAction, BootNodeEvent, BootNodeMachine, DialBackAnswer, DialBackFrom};
use crate::addr::{classify, ip_and_tcp_port};
use crate::ids::{DialBackId, Token};

/// Addresses dialed back per request at most (the AutoNAT v1 server's own cap is similar).
const MAX_DIAL_BACK_ADDRS: usize = 8;

/// What the machine knows of an open connection, for the dial-backs asked over it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ConnFacts {
    /// The remote IP (the asker's observed IP).
    pub(super) ip: Option<IpAddr>,
    /// The latest round trip measured on it.
    pub(super) rtt: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Leg {
    /// Under way (or not started yet), with this many attempts asked of the driver.
    Pending {
        launched: u32,
    },
    Reached(Multiaddr),
    Failed,
}

impl Leg {
    const NEW: Leg = Leg::Pending { launched: 0 };

    fn pending(&self) -> bool {
        matches!(self, Leg::Pending { .. })
    }
}

/// Where a dial-back request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for a place under the global throttle, at most
    /// [`crate::DialBackPolicy::queue_wait`].
    Queued,
    /// Holding a place, waiting for the asking connection's first round trip, at most
    /// [`crate::DialBackPolicy::rtt_wait`].
    AwaitingRtt,
    /// Its legs are under way.
    Started,
}

/// One dial-back under way.
#[derive(Debug, Clone)]
pub(super) struct Job {
    reply: Token,
    conn: Token,
    peer: PeerId,
    asked: Instant,
    targets: Vec<Multiaddr>,
    stage: Stage,
    /// When the stage ends: the legs' answers are due ([`Stage::Started`]), the legs start
    /// without a round trip ([`Stage::AwaitingRtt`]), the request is refused ([`Stage::Queued`]).
    pub(super) deadline: Instant,
    /// When a pending leg's remaining attempts start (`None`: none remain to start).
    rest_at: Option<Instant>,
    own: Leg,
    /// `None` without an alternate address.
    alternate: Option<Leg>,
}

/// The server's state.
#[derive(Debug, Default)]
pub(super) struct Server {
    pub(super) jobs: BTreeMap<DialBackId, Job>,
    /// When each recent dial-back started, and for whom (at most `global` entries).
    recent: VecDeque<(Instant, PeerId)>,
}

impl BootNodeMachine {
    pub(super) fn on_dial_back_asked(
        &mut self,
        reply: Token,
        conn: Token,
        peer: PeerId,
        claimed: PeerId,
        addrs: &[Multiaddr],
    ) {
        let policy = self.config.dial_back.clone();
        let now = self.now;
        let refuse = |m: &mut Self, answer, outcome| m.answer(reply, peer, now, answer, outcome);
        if claimed != peer {
            let why = "the DIAL names another peer than the one asking".to_string();
            return refuse(self, DialBackAnswer::BadRequest(why), "bad_request");
        }
        let (conn, facts) = self.asking_conn_of_family(conn, peer, addrs);
        let Some(observed) = facts.and_then(|f| f.ip) else {
            let why = "no observed address for the asking connection".to_string();
            return refuse(self, DialBackAnswer::Refused(why), "refused");
        };
        let stage = match self.throttle(peer) {
            Ok(stage) => stage,
            Err(why) => return refuse(self, DialBackAnswer::Refused(why), "refused"),
        };
        let targets = dial_back_targets(observed, addrs, &|a| policy.policy.allows(classify(a)));
        if targets.is_empty() {
            let why = format!("no dialable address at your observed IP {observed}");
            return refuse(self, DialBackAnswer::Refused(why), "refused");
        }
        // The alternate address dials back only its own family.
        let alternate = policy.alternate
            && (policy.alternate_family).is_none_or(|f| f == crate::nat::Family::of_ip(observed));
        let job = DialBackId(self.alloc_id());
        let rtt = facts.and_then(|f| f.rtt);
        self.autonat.jobs.insert(
            job,
            Job {
                reply,
                conn,
                peer,
                asked: now,
                targets,
                stage,
                deadline: now
                    + match stage {
                        Stage::Queued => policy.queue_wait,
                        _ => policy.rtt_wait,
                    },
                rest_at: None,
                own: Leg::NEW,
                alternate: alternate.then_some(Leg::NEW),
            },
        );
        // Ping measures every new connection at once, and a dial request often arrives first:
        // without a round trip yet, the dial-back waits for one (briefly) rather than fall
        // back to the long unmeasured timeout.
        if rtt.is_some() && stage == Stage::AwaitingRtt {
            self.start_dial_back(job, rtt);
        }
    }

    /// The connection whose observed IP a dial-back goes to: the asking one, unless the request
    /// names only addresses of the other family and the same (authenticated) peer has a
    /// connection of that family open too. Its IP is as much the asker's as the asking one's,
    /// and a client probing each family cannot choose which of its connections carries the
    /// request.
    fn asking_conn_of_family(
        &self,
        conn: Token,
        peer: PeerId,
        addrs: &[Multiaddr],
    ) -> (Token, Option<ConnFacts>) {
        let facts = self.conn_facts.get(&conn).copied();
        let family = |ip: IpAddr| ip.is_ipv4();
        let here = facts.and_then(|f| f.ip).map(family);
        let asked: Vec<bool> = (addrs.iter())
            .filter_map(|a| ip_and_tcp_port(a).map(|(ip, _)| family(ip)))
            .collect();
        let Some(&wanted) = asked.first() else {
            return (conn, facts);
        };
        if here.is_none_or(|h| h == wanted) || asked.iter().any(|&f| f != wanted) {
            return (conn, facts);
        }
        (self.conns.iter())
            .filter(|(_, p)| **p == peer)
            .find_map(|(c, _)| {
                let f = self.conn_facts.get(c).copied()?;
                f.ip.is_some_and(|ip| family(ip) == wanted)
                    .then_some((*c, Some(f)))
            })
            .unwrap_or((conn, facts))
    }

    /// A round trip was measured on `conn`: dial-backs asked over it and waiting start now.
    pub(super) fn on_round_trip(&mut self, conn: Token, rtt: Duration) {
        let waiting: Vec<DialBackId> = (self.autonat.jobs.iter())
            .filter(|(_, j)| j.conn == conn && j.stage == Stage::AwaitingRtt)
            .map(|(id, _)| *id)
            .collect();
        for job in waiting {
            self.start_dial_back(job, Some(rtt));
        }
    }

    fn start_dial_back(&mut self, job: DialBackId, rtt: Option<Duration>) {
        let policy = &self.config.dial_back;
        let (timeout, stagger) = (policy.timeout(rtt), policy.stagger(rtt));
        let first = if policy.stagger_min.is_zero() {
            policy.attempts
        } else {
            1
        };
        let Some(j) = self.autonat.jobs.get_mut(&job) else {
            return;
        };
        j.stage = Stage::Started;
        j.deadline = self.now + timeout;
        j.rest_at = (first < policy.attempts).then_some(self.now + stagger);
        self.autonat.recent.push_back((self.now, j.peer));
        // The stranger's leg first: it decides when there is one.
        self.launch(job, DialBackFrom::Alternate, first);
        self.launch(job, DialBackFrom::Own, first);
    }

    /// Asks the driver for up to `n` more attempts of a pending leg, within the policy's total.
    fn launch(&mut self, job: DialBackId, from: DialBackFrom, n: u32) {
        let total = self.config.dial_back.attempts;
        let Some(j) = self.autonat.jobs.get_mut(&job) else {
            return;
        };
        let leg = match from {
            DialBackFrom::Own => &mut j.own,
            DialBackFrom::Alternate => match &mut j.alternate {
                Some(leg) => leg,
                None => return,
            },
        };
        let Leg::Pending { launched } = leg else {
            return;
        };
        let attempts = n.min(total.saturating_sub(*launched));
        if attempts == 0 {
            return;
        }
        *launched += attempts;
        let (peer, addrs) = (j.peer, j.targets.clone());
        self.push(BootNodeAction::DialBack {
            job,
            from,
            peer,
            addrs,
            attempts,
        });
    }

    /// The first attempts have not connected in time: the rest of every pending leg start.
    fn launch_rest(&mut self, job: DialBackId) {
        let Some(j) = self.autonat.jobs.get_mut(&job) else {
            return;
        };
        j.rest_at = None;
        let all = self.config.dial_back.attempts;
        self.launch(job, DialBackFrom::Alternate, all);
        self.launch(job, DialBackFrom::Own, all);
    }

    pub(super) fn on_dialed_back(
        &mut self,
        job: DialBackId,
        from: DialBackFrom,
        result: &Result<Multiaddr, String>,
    ) -> bool {
        let Some(j) = self.autonat.jobs.get_mut(&job) else {
            return false;
        };
        let leg = match from {
            DialBackFrom::Own => &mut j.own,
            DialBackFrom::Alternate => match &mut j.alternate {
                Some(leg) => leg,
                None => return false,
            },
        };
        let Leg::Pending { launched } = *leg else {
            return false;
        };
        match result {
            Ok(addr) => *leg = Leg::Reached(addr.clone()),
            // Every attempt asked so far failed (a refusal, not silence): the remaining ones
            // start now rather than wait for the stagger.
            Err(_) if launched < self.config.dial_back.attempts && self.now < j.deadline => {
                self.launch(job, from, u32::MAX);
                return true;
            }
            Err(_) => *leg = Leg::Failed,
        }
        self.answer_if_decided(job);
        true
    }

    /// Answers once the outcome cannot change: the deciding leg reached the asker, or no
    /// leg is pending.
    fn answer_if_decided(&mut self, job: DialBackId) {
        let Some(j) = self.autonat.jobs.get(&job) else {
            return;
        };
        let deciding = j.alternate.as_ref().unwrap_or(&j.own);
        let pending = j.own.pending() || j.alternate.as_ref().is_some_and(Leg::pending);
        if matches!(deciding, Leg::Reached(_)) || !pending {
            self.finish_dial_back(job);
        }
    }

    /// Dial-backs whose timeout passed: what has not connected by now counts as failed. Those
    /// whose first attempts are due for company get the rest.
    pub(super) fn expire_dial_backs(&mut self) {
        let now = self.now;
        let staggered: Vec<DialBackId> = (self.autonat.jobs.iter())
            .filter(|(_, j)| j.rest_at.is_some_and(|t| now >= t) && now < j.deadline)
            .map(|(id, _)| *id)
            .collect();
        for job in staggered {
            self.launch_rest(job);
        }
        self.admit_queued();
        let due: Vec<(DialBackId, Stage)> = (self.autonat.jobs.iter())
            .filter(|(_, j)| now >= j.deadline)
            .map(|(id, j)| (*id, j.stage))
            .collect();
        for (job, stage) in due {
            match stage {
                Stage::Queued => self.refuse_queued(job),
                Stage::AwaitingRtt => self.start_dial_back(job, None),
                Stage::Started => self.finish_dial_back(job),
            }
        }
    }

    fn finish_dial_back(&mut self, job: DialBackId) {
        let Some(j) = self.autonat.jobs.remove(&job) else {
            return;
        };
        let (answer, outcome) = match (&j.alternate, &j.own) {
            (Some(Leg::Reached(a)), _) | (None, Leg::Reached(a)) => {
                (DialBackAnswer::Reachable(a.clone()), "reachable")
            }
            (Some(_), Leg::Reached(_)) => (
                DialBackAnswer::DialError(
                    "reached only from the address you contacted: a host you never contacted \
                     could not connect (address-dependent filtering)"
                        .into(),
                ),
                "reachable_from_own_address_only",
            ),
            _ => (
                DialBackAnswer::DialError("no dial-back attempt connected in time".into()),
                "unreachable",
            ),
        };
        let started = j.stage == Stage::Started;
        if started && (j.own.pending() || j.alternate.as_ref().is_some_and(Leg::pending)) {
            self.push(BootNodeAction::CancelDialBack { job });
        }
        self.answer(j.reply, j.peer, j.asked, answer, outcome);
    }

    /// Sends `answer` to the request `reply` of `peer`, asked at `asked`, and reports it.
    fn answer(
        &mut self,
        reply: Token,
        peer: PeerId,
        asked: Instant,
        answer: DialBackAnswer,
        outcome: &'static str,
    ) {
        self.push(BootNodeAction::AnswerDialBack { reply, answer });
        let after = self.now.saturating_duration_since(asked);
        self.report(BootNodeEvent::DialBackServed {
            peer,
            outcome,
            after,
        });
    }

    /// `peer` has no connection left: its answers have nowhere to go.
    pub(super) fn forget_dial_backs_of(&mut self, peer: PeerId) {
        let gone: Vec<DialBackId> = (self.autonat.jobs.iter())
            .filter(|(_, j)| j.peer == peer)
            .map(|(id, _)| *id)
            .collect();
        for job in gone {
            if (self.autonat.jobs.remove(&job)).is_some_and(|j| j.stage == Stage::Started) {
                self.push(BootNodeAction::CancelDialBack { job });
            }
        }
    }

    pub(super) fn next_dial_back_deadline(&self) -> Option<Instant> {
        (self.autonat.jobs.values())
            .flat_map(|j| [Some(j.deadline), j.rest_at])
            .chain([self.next_place()])
            .flatten()
            .min()
    }
}

/// The addresses to dial back: each asked-for TCP port at the observed IP (the IP in the
/// request is ignored, as AutoNAT v1 servers do: a node behind NAT knows only its private
/// one), relayed addresses left out, at most [`MAX_DIAL_BACK_ADDRS`].
fn dial_back_targets(
    observed: IpAddr,
    addrs: &[Multiaddr],
    allowed: &dyn Fn(&Multiaddr) -> bool,
) -> Vec<Multiaddr> {
    let mut out: Vec<Multiaddr> = Vec::new();
    for a in addrs {
        if a.iter().any(|p| matches!(p, Protocol::P2pCircuit)) {
            continue;
        }
        let Some((ip, Some(port))) = ip_and_tcp_port(a) else {
            continue;
        };
        if ip.is_ipv4() != observed.is_ipv4() {
            continue;
        }
        let target = Multiaddr::from(observed).with(Protocol::Tcp(port));
        if allowed(&target) && !out.contains(&target) && out.len() < MAX_DIAL_BACK_ADDRS {
            out.push(target);
        }
    }
    out
}

mod throttle;

#[cfg(test)]
#[path = "autonat_tests.rs"]
mod tests;
