//! How a bootstrap is shown: one line per report, or one JSON document at the end.

use std::time::Duration;

use pyrsia_boot_core::signing::encode_key;
use pyrsia_boot_core::{ConnectedBy, Event, NatBehaviour, NatVerdict};
use serde_json::{json, Value};

/// Short form of a peer id for the timeline: the last 8 characters.
fn short(peer: &impl std::fmt::Display) -> String {
    let s = peer.to_string();
    let tail = s.len().saturating_sub(8);
    format!("…{}", &s[tail..])
}

/// One human line for a report, or `None` for reports the timeline leaves out.
pub fn line(event: &Event) -> Option<String> {
    Some(match event {
        Event::StatusFetched {
            url,
            peers,
            addrs,
            skipped,
            signed,
        } => {
            let trust = match signed {
                Some(s) => format!(
                    "; signed by {}, sequence {}, expires {}",
                    short(&encode_key(&s.key)),
                    s.sequence,
                    s.expires_at
                ),
                None => String::new(),
            };
            format!(
                "boot list from {url}: {peers} peer(s), {addrs} usable address(es); {skipped}{trust}"
            )
        }
        Event::SourceFailed(t) => format!("source failed: {t}"),
        Event::DialFailed(t) => format!("dial failed: {}", t.failure),
        Event::BootPeerConnected { peer, addr } => match addr {
            Some(a) => format!(
                "connected to boot peer {} at {a}; asking it to dial us back",
                short(peer)
            ),
            None => format!(
                "connected to boot peer {}; asking it to dial us back",
                short(peer)
            ),
        },
        Event::Connected { peer, elapsed, by } => match by {
            ConnectedBy::OwnProbeAnswered => format!(
                "FULLY CONNECTED: boot peer {} answered our dial-back request (it sent none of \
                 its own) ({} ms after start)",
                short(peer),
                elapsed.as_millis()
            ),
            _ => format!(
                "FULLY CONNECTED: inbound AutoNAT dial request from boot peer {} ({} ms after \
                 start)",
                short(peer),
                elapsed.as_millis()
            ),
        },
        Event::NatChanged(r) => {
            let family = |f: &pyrsia_boot_core::FamilyNat| f.verdict.name();
            format!(
                "NAT verdict: {} (IPv4 {}, IPv6 {})",
                verdict_phrase(&r.verdict),
                family(&r.ipv4),
                family(&r.ipv6)
            )
        }
        Event::NatBehaviourChanged(b) => format!(
            "NAT behaviour: mapping {}, filtering {}{}",
            b.mapping.name(),
            b.filtering.name(),
            if b.stranger_reached {
                "; a host we never contacted reached us"
            } else {
                ""
            }
        ),
        Event::DialBackUnverified { peer } => format!(
            "boot peer {} answered OK but no dial-back connection arrived: not believed",
            short(peer)
        ),
        Event::RetryScheduled { round, delay } => {
            format!(
                "every source failed; round {} starts in {} ms",
                round + 1,
                delay.as_millis()
            )
        }
        Event::Rebootstrapping => "every boot connection closed; bootstrapping again".into(),
        Event::VerdictUnavailable { attempts } => {
            format!("no dial-back answer after {attempts} request(s); reachability stays unknown")
        }
        Event::GaveUp(g) => format!("GAVE UP: {g}"),
        // A report newer than this timeline: shown as the machine describes it.
        other => format!("{other:?}"),
    })
}

/// "public: reachable at …", "private: behind NAT or a firewall", "unknown".
pub fn verdict_phrase(v: &NatVerdict) -> String {
    match v {
        NatVerdict::Public(a) => format!("public, reachable at {a}"),
        NatVerdict::Private => {
            "private, behind NAT or a firewall (a boot peer could not dial back)".into()
        }
        _ => "unknown (no dial-back answer yet)".into(),
    }
}

/// The JSON form of one report.
pub fn json_event(event: &Event, at: Duration) -> Value {
    let ms = at.as_millis() as u64;
    match event {
        Event::StatusFetched {
            url,
            peers,
            addrs,
            skipped,
            signed,
        } => {
            let signed = signed.as_ref().map(|s| json!({"key": encode_key(&s.key), "sequence": s.sequence, "issued_at": s.issued_at, "expires_at": s.expires_at}));
            json!({"at_ms": ms, "event": "status_fetched", "url": url, "peers": peers, "addrs": addrs, "skipped": skipped.to_string(), "signed": signed})
        }
        Event::SourceFailed(t) => {
            json!({"at_ms": ms, "event": "source_failed", "source": t.source.to_string(), "error": t.failure.to_string()})
        }
        Event::DialFailed(t) => {
            json!({"at_ms": ms, "event": "dial_failed", "source": t.source.to_string(), "error": t.failure.to_string()})
        }
        Event::BootPeerConnected { peer, addr } => {
            json!({"at_ms": ms, "event": "boot_peer_connected", "peer": peer.to_string(), "addr": addr.as_ref().map(|a| a.to_string())})
        }
        Event::Connected { peer, elapsed, by } => {
            json!({"at_ms": ms, "event": "connected", "peer": peer.to_string(), "elapsed_ms": elapsed.as_millis() as u64, "by": by.name()})
        }
        Event::NatChanged(r) => {
            let v = &r.verdict;
            json!({"at_ms": ms, "event": "nat_changed", "verdict": v.name(), "address": public_address(v),
                "ipv4": r.ipv4.verdict.name(), "ipv6": r.ipv6.verdict.name()})
        }
        Event::NatBehaviourChanged(b) => {
            json!({"at_ms": ms, "event": "nat_behaviour", "mapping": b.mapping.name(), "filtering": b.filtering.name(), "verified": b.verified, "stranger_reached": b.stranger_reached})
        }
        Event::DialBackUnverified { peer } => {
            json!({"at_ms": ms, "event": "dial_back_unverified", "peer": peer.to_string()})
        }
        Event::RetryScheduled { round, delay } => {
            json!({"at_ms": ms, "event": "retry_scheduled", "round": round, "delay_ms": delay.as_millis() as u64})
        }
        Event::Rebootstrapping => json!({"at_ms": ms, "event": "rebootstrapping"}),
        Event::VerdictUnavailable { attempts } => {
            json!({"at_ms": ms, "event": "verdict_unavailable", "attempts": attempts})
        }
        Event::GaveUp(g) => {
            json!({"at_ms": ms, "event": "gave_up", "reason": format!("{:?}", g.reason), "message": g.to_string(),
            "tried": g.tried.iter().map(|t| json!({"source": t.tried.source.to_string(), "error": t.tried.failure.to_string(), "times": t.times})).collect::<Vec<_>>()})
        }
        other => json!({"at_ms": ms, "event": "other", "debug": format!("{other:?}")}),
    }
}

fn public_address(v: &NatVerdict) -> Option<String> {
    match v {
        NatVerdict::Public(a) => Some(a.to_string()),
        _ => None,
    }
}

/// The JSON form of a verdict and what is known of the NAT: `verdict`, `address`, `mapping`,
/// `filtering`, `hole_punching`, `verified`, `stranger_reached`.
pub fn nat_json(v: &NatVerdict, b: &NatBehaviour) -> Value {
    json!({
        "verdict": v.name(),
        "address": public_address(v),
        "mapping": b.mapping.name(),
        "filtering": b.filtering.name(),
        "hole_punching": b.hole_punching(v).name(),
        "verified": b.verified,
        "stranger_reached": b.stranger_reached,
    })
}

/// The JSON report's `nat`: the whole verdict as [`nat_json`], plus `ipv4` and `ipv6` with the
/// same fields for each family.
pub fn report_json(status: &pyrsia_boot_core::Status) -> Value {
    let mut whole = nat_json(&status.nat, &status.behaviour);
    for (name, f) in [("ipv4", &status.ipv4), ("ipv6", &status.ipv6)] {
        whole[name] = nat_json(&f.verdict, &f.behaviour);
    }
    whole
}

/// One line on what the NAT kind means for the user.
pub fn behaviour_phrase(v: &NatVerdict, b: &NatBehaviour) -> String {
    use pyrsia_boot_core::{Filtering, HolePunching};
    let punch = match b.hole_punching(v) {
        HolePunching::NotNeeded => "no hole punching needed, peers dial it directly",
        HolePunching::Likely => "hole punching likely to work",
        HolePunching::Unlikely => "hole punching unlikely: use a relay",
        _ => "hole-punching outlook unknown (fewer than two boot peers observed us)",
    };
    let who = match (v, b.filtering) {
        (NatVerdict::Public(_), Filtering::EndpointIndependent) => "; any host can connect",
        (NatVerdict::Public(_), _) => "; only the boot peer's host was seen to connect",
        (_, Filtering::AddressDependent) => "; only hosts we contacted can connect",
        _ => "",
    };
    format!(
        "mapping {}, filtering {}: {punch}{who}",
        b.mapping.name(),
        b.filtering.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyrsia_boot_core::{Filtering, Mapping};

    #[test]
    fn a_public_node_with_an_unknown_mapping_is_told_it_needs_no_punching() {
        let public = NatVerdict::Public("/ip4/198.51.100.7/tcp/4001".parse().expect("multiaddr"));
        let b = NatBehaviour {
            filtering: Filtering::EndpointIndependent,
            ..NatBehaviour::default()
        };
        let line = behaviour_phrase(&public, &b);
        assert!(line.contains("no hole punching needed"), "{line}");
        assert!(!line.contains("likely"), "{line}");
    }

    #[test]
    fn a_private_node_with_an_unknown_mapping_is_told_the_outlook_is_unknown() {
        let line = behaviour_phrase(&NatVerdict::Private, &NatBehaviour::default());
        assert!(line.contains("outlook unknown"), "{line}");
        let b = NatBehaviour {
            mapping: Mapping::EndpointIndependent,
            ..NatBehaviour::default()
        };
        let line = behaviour_phrase(&NatVerdict::Private, &b);
        assert!(line.contains("likely to work"), "{line}");
    }
}
