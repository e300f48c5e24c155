//! A dial's DNS names: what the driver resolved, judged like any other address, and the next
//! round of `/dnsaddr` names within [`ResolveLimits`](crate::ResolveLimits).

use super::*;

impl BootstrapMachine {
    /// The driver resolved the names of `dial`.
    pub(super) fn on_resolved(
        &mut self,
        dial: DialId,
        results: &[Result<Vec<Multiaddr>, ResolveError>],
    ) {
        let limits = self.ctx.config.resolve;
        let policy = self.ctx.config.policy;
        let Some(d) = self.links.dials.get_mut(&dial) else {
            return;
        };
        d.resolving = false;
        let peer = d.peer;
        let mut skipped = SkipCounts::default();
        let mut next: Vec<Multiaddr> = Vec::new();
        for result in results {
            let addrs = match result {
                Ok(addrs) => addrs,
                Err(e) => {
                    d.resolution.errors.push(e.clone());
                    continue;
                }
            };
            let mut taken = 0;
            for addr in addrs {
                // `/dnsaddr` records end in the peer they are for; one name may list several.
                let (addr, named) = match crate::peer::split_p2p(addr) {
                    Some((transport, id)) => (transport, Some(id)),
                    None => (addr.clone(), None),
                };
                if named.is_some_and(|id| id != peer) {
                    skipped.add(SkipReason::OtherPeer);
                    continue;
                }
                if taken == limits.max_addrs_per_name {
                    skipped.add(SkipReason::TooManyAddrs);
                    continue;
                }
                taken += 1;
                if is_dns_name(&addr) {
                    if d.resolution.looked_up.contains(&addr) {
                        d.resolution.errors.push(ResolveError::NotFollowed {
                            name: addr.to_string(),
                            why: ResolveLimit::Loop,
                        });
                    } else if !next.contains(&addr) {
                        next.push(addr);
                    }
                } else if !policy.allows(classify(&addr)) {
                    skipped.add(SkipReason::NotRoutable);
                } else if !d.addrs.contains(&addr) {
                    d.addrs.push(addr);
                }
            }
        }
        self.ctx.counters.skipped.merge(&skipped);
        // Names that came back are looked up next, as far as the limits allow.
        let room = limits
            .max_lookups
            .saturating_sub(d.resolution.looked_up.len());
        let (keep, why) = if d.resolution.rounds >= limits.max_rounds {
            (0, ResolveLimit::Depth)
        } else {
            (next.len().min(room), ResolveLimit::Lookups)
        };
        let unfollowed = next.split_off(keep);
        let follow = next;
        for name in unfollowed {
            d.resolution.errors.push(ResolveError::NotFollowed {
                name: name.to_string(),
                why,
            });
        }
        if !follow.is_empty() {
            d.resolving = true;
            d.resolution.rounds += 1;
            d.resolution.looked_up.extend(follow.iter().cloned());
            self.ctx.push(Action::Resolve {
                dial,
                peer,
                names: follow,
            });
            return;
        }
        if !d.addrs.is_empty() {
            let addrs = d.addrs.clone();
            self.ctx.push(Action::Dial { dial, peer, addrs });
            return;
        }
        let Some(d) = self.links.dials.remove(&dial) else {
            return;
        };
        self.ctx.counters.dial_failures += 1;
        let error = if skipped.total() == 0 && !d.resolution.errors.is_empty() {
            DialError::Unresolved(d.resolution.errors)
        } else {
            DialError::ResolvedToNothing(skipped)
        };
        self.note_dial_failure(d.source, Failure::Dial { peer, error });
    }
}
