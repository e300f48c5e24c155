//! Candidates: the boot peers a source yields, in the order they are dialed, and the dials
//! they become (a few at a time; DNS names resolved first; a dual-stack peer dialed once per
//! family).

use super::*;

/// A boot peer to dial, from `source`.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub(super) peer: PeerId,
    pub(super) addrs: Vec<Multiaddr>,
    pub(super) load: Option<u32>,
    pub(super) source: Source,
}

/// Dials `candidates` (first first) while fewer than `max_concurrent_dials` dials are under way.
pub(super) fn fill_dials(
    candidates: &mut VecDeque<Candidate>,
    ctx: &mut Ctx,
    links: &mut Links,
    listening: Option<&BTreeSet<Family>>,
) {
    while links.dials.len() < ctx.config.max_concurrent_dials {
        let Some(c) = candidates.pop_front() else {
            return;
        };
        let busy =
            links.conns.contains_key(&c.peer) || links.dials.values().any(|d| d.peer == c.peer);
        if busy {
            continue;
        }
        let dial = DialId(ctx.alloc_id());
        ctx.counters.dials += 1;
        // DNS names are resolved by the driver first; the policy then judges the IPs they
        // resolve to (a public name may point at a private address).
        let (mut names, literal): (Vec<Multiaddr>, Vec<Multiaddr>) =
            c.addrs.into_iter().partition(is_dns_name);
        let mut resolution = Resolution::default();
        for extra in names.split_off(names.len().min(ctx.config.resolve.max_lookups)) {
            resolution.errors.push(ResolveError::NotFollowed {
                name: extra.to_string(),
                why: ResolveLimit::Lookups,
            });
        }
        let resolving = !names.is_empty();
        if resolving {
            resolution.rounds = 1;
            resolution.looked_up = names.clone();
            ctx.push(Action::Resolve {
                dial,
                peer: c.peer,
                names,
            });
        }
        let (literal, other) = if resolving {
            (literal, Vec::new())
        } else {
            split_by_family(listening, literal)
        };
        for (dial, addrs, second_family) in [(dial, literal, false), (DialId(0), other, true)] {
            if second_family && addrs.is_empty() {
                continue;
            }
            let dial = if second_family {
                DialId(ctx.alloc_id())
            } else {
                dial
            };
            if !resolving {
                ctx.push(Action::Dial {
                    dial,
                    peer: c.peer,
                    addrs: addrs.clone(),
                });
            }
            let pending = PendingDial {
                peer: c.peer,
                addrs,
                source: c.source,
                deadline: ctx.now + ctx.config.timeouts.dial,
                resolving,
                resolution: if second_family {
                    Resolution::default()
                } else {
                    std::mem::take(&mut resolution)
                },
                second_family,
            };
            links.dials.insert(dial, pending);
        }
    }
}

pub(super) fn known_candidates(
    config: &Config,
    known: &[KnownPeer],
    source: Source,
    skipped: &mut SkipCounts,
) -> VecDeque<Candidate> {
    let mut out = VecDeque::new();
    for peer in known {
        if Some(peer.id) == config.local_peer {
            peer.addrs
                .iter()
                .for_each(|_| skipped.add(SkipReason::LocalPeer));
            continue;
        }
        if !config.pinned.is_empty() && !config.pinned.contains(&peer.id) {
            peer.addrs
                .iter()
                .for_each(|_| skipped.add(SkipReason::NotPinned));
            continue;
        }
        let mut addrs: Vec<Multiaddr> = Vec::new();
        for addr in &peer.addrs {
            if !config.policy.allows(classify(addr)) {
                skipped.add(SkipReason::NotRoutable);
            } else if addrs.contains(addr) {
                skipped.add(SkipReason::Duplicate);
            } else if addrs.len() >= config.limits.max_addrs_per_peer {
                skipped.add(SkipReason::TooManyAddrs);
            } else {
                addrs.push(addr.clone());
            }
        }
        if !addrs.is_empty() {
            out.push_back(Candidate {
                peer: peer.id,
                addrs,
                load: None,
                source,
            });
        }
    }
    out
}

pub(super) fn list_candidates(
    config: &Config,
    list: BootList,
    source: Source,
) -> VecDeque<Candidate> {
    let mut out: Vec<Candidate> = list
        .peers
        .into_iter()
        .map(|p| Candidate {
            peer: p.id,
            addrs: p.addrs.into_iter().map(|a| a.addr).collect(),
            load: p.peers_count,
            source,
        })
        .collect();
    if config.candidate_order == CandidateOrder::LeastLoaded {
        // Stable: equal loads keep document order; unknown loads go last.
        out.sort_by_key(|c| c.load.map_or((1, 0), |n| (0, n)));
    }
    out.into()
}

/// A node with an address of another family than a boot peer's first address dials the peer
/// twice at once, once per family, so each family gets a connection to be probed over. (One
/// dial with both would race them and abort the loser, whose 4-tuple a later dial from the
/// same reused port would collide with.) Otherwise `(addrs, [])`.
pub(super) fn split_by_family(
    listening: Option<&BTreeSet<Family>>,
    addrs: Vec<Multiaddr>,
) -> (Vec<Multiaddr>, Vec<Multiaddr>) {
    let first = addrs.first().and_then(Family::of);
    let wants_other = |first: Family| (listening.into_iter().flatten()).any(|&f| f != first);
    match first {
        Some(first) if wants_other(first) => addrs
            .into_iter()
            .partition(|a| Family::of(a).is_none_or(|f| f == first)),
        _ => (addrs, Vec::new()),
    }
}
