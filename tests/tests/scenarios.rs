//! Scenarios, one behaviour each, run in the simulator (which also checks every invariant).

use std::time::Duration;

use pyrsia_boot_core::{
    Action, AddressPolicy, CachedPeer, CandidateOrder, ConnectedBy, ConnectedRule, Event, Failure,
    GiveUpReason, NatVerdict, PhaseName, SeenSequence, SignatureError, SkipReason, Snapshot,
    SourceKind, SourceName, StatusError, UrlError,
};
use pyrsia_boot_tests::world::{
    ok, simple_world, status_document, DialScript, Reachability, Reply,
};
use pyrsia_boot_tests::{peer, run, World};

const MS: Duration = Duration::from_millis(1);

fn base() -> World {
    simple_world(7, 20 * MS)
}

fn failures(out: &pyrsia_boot_tests::Outcome) -> Vec<Failure> {
    out.events()
        .filter_map(|e| match e {
            Event::SourceFailed(t) | Event::DialFailed(t) => Some(t.failure.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn connects_through_the_first_boot_url_and_learns_it_is_public() {
    let out = run(&base());
    assert_eq!(out.status.phase, PhaseName::Connected);
    assert_eq!(out.first_connect(), Some((peer(1), 60 * MS)));
    let public = "/ip4/203.0.113.200/tcp/4001".parse().expect("valid");
    assert_eq!(out.status.nat, NatVerdict::Public(public));
    assert_eq!(out.fetched(), ["http://boot.test/status"]);
}

#[test]
fn falls_back_to_the_second_url_when_the_first_answers_500() {
    let w = base().first_url_then_good(vec![Reply::Answer {
        latency: 5 * MS,
        status: 500,
        body: b"boom".to_vec(),
    }]);
    let out = run(&w);
    assert_eq!(out.status.phase, PhaseName::Connected);
    assert_eq!(failures(&out), [Failure::HttpStatus(500)]);
    assert_eq!(out.fetched().len(), 2);
}

#[test]
fn moves_past_a_garbage_body_to_the_next_url() {
    let out = run(&base().first_url_then_good(vec![ok(5 * MS, b"<html>".to_vec())]));
    assert_eq!(out.status.phase, PhaseName::Connected);
    let f = failures(&out);
    assert!(
        matches!(&f[..], [Failure::BadDocument(e)] if e.to_string().starts_with("body is not valid JSON")),
        "{f:?}"
    );
}

#[test]
fn times_out_a_hanging_boot_url_and_tries_the_next() {
    let out = run(&base().first_url_then_good(vec![Reply::Hang]));
    assert_eq!(out.status.phase, PhaseName::Connected);
    assert_eq!(
        failures(&out),
        [Failure::HttpTimeout(Duration::from_secs(5))]
    );
    let cancelled = out
        .actions
        .iter()
        .any(|(t, a)| matches!(a, Action::CancelFetch { .. }) && *t == Duration::from_secs(5));
    assert!(cancelled, "the hung request is cancelled at its deadline");
}

#[test]
fn skips_a_dead_boot_peer_and_connects_through_another() {
    let mut w = base();
    w.peers[0] = w.peers[0].clone().dead();
    w.config.max_concurrent_dials = 1;
    let out = run(&w);
    assert_eq!(out.first_connect().map(|c| c.0), Some(peer(2)));
    assert_eq!(out.dialed(), [peer(1), peer(2)]);
}

#[test]
fn drops_a_boot_peer_that_neither_asks_nor_answers_and_tries_the_next() {
    let mut w = base();
    w.peers[0].probe_delay = None;
    w.peers[0].answer_delay = None;
    w.config.max_concurrent_dials = 1;
    let out = run(&w);
    assert_eq!(out.first_connect().map(|c| c.0), Some(peer(2)));
    let disconnected = out
        .actions
        .iter()
        .any(|(_, a)| *a == Action::Disconnect { peer: peer(1) });
    assert!(disconnected);
    assert!(failures(&out)
        .iter()
        .any(|f| matches!(f, Failure::NoInboundProbe { peer: p, .. } if *p == peer(1))));
}

#[test]
fn a_boot_peer_that_never_asks_but_answers_ours_connects_once_its_request_is_overdue() {
    // A settled go-libp2p boot node: it answers dial-back requests but asks new peers only
    // every 15-30 min. Pyrsia's signal is waited for first; then the answer counts.
    let mut w = base();
    w.peers[0].probe_delay = None;
    w.config.max_concurrent_dials = 1;
    let out = run(&w);
    let inbound = w.config.timeouts.inbound_probe;
    let (who, at) = out.first_connect().expect("connected");
    assert_eq!(who, peer(1));
    assert!(at >= inbound, "not before its own request was due: {at:?}");
    assert!(out.events().any(|e| matches!(
        e,
        Event::Connected {
            by: ConnectedBy::OwnProbeAnswered,
            ..
        }
    )));
    assert!(failures(&out).is_empty(), "{:?}", failures(&out));
    assert_eq!(out.dialed(), [peer(1)]);
}

#[test]
fn a_boot_peer_whose_answer_is_late_is_waited_for_once_past_its_request_deadline() {
    // Our request to it is still open when its own is overdue: the deadline waits for the
    // answer (within the own-probe timeout), and the answer connects.
    let mut w = base();
    w.peers[0].probe_delay = None;
    w.peers[0].answer_delay =
        Some(w.config.timeouts.inbound_probe + 2 * w.peers[0].addrs.len() as u32 * MS);
    w.config.max_concurrent_dials = 1;
    let out = run(&w);
    let (who, at) = out.first_connect().expect("connected");
    assert_eq!(who, peer(1));
    assert!(at > w.config.timeouts.inbound_probe, "{at:?}");
    assert!(failures(&out).is_empty(), "{:?}", failures(&out));
}

#[test]
fn a_boot_peer_that_asks_connects_by_its_request() {
    let out = run(&base());
    assert!(out.events().any(|e| matches!(
        e,
        Event::Connected {
            by: ConnectedBy::InboundProbeRequest,
            ..
        }
    )));
}

#[test]
fn tries_cached_peers_before_boot_urls() {
    let mut w = base();
    w.config.cache = vec![cached(&w, 2, None)];
    let out = run(&w);
    assert!(out.fetched().is_empty(), "the cache sufficed");
    assert_eq!(out.first_connect().map(|c| c.0), Some(peer(3)));
}

fn cached(w: &World, i: usize, last_seen: Option<u64>) -> CachedPeer {
    CachedPeer {
        peer: w.peers[i].known(),
        last_seen,
    }
}

#[test]
fn dials_only_pinned_boot_peers() {
    let mut w = base();
    w.config.pinned = vec![peer(3)];
    let out = run(&w);
    assert_eq!(out.first_connect().map(|c| c.0), Some(peer(3)));
    let dialed_others = out
        .actions
        .iter()
        .any(|(_, a)| matches!(a, Action::Dial { peer: p, .. } if *p != peer(3)));
    assert!(!dialed_others);
    assert_eq!(out.status.counters.skipped.get(SkipReason::NotPinned), 2);

    // Pinned to a peer nobody lists: every round fails, naming the pin.
    w.config.pinned = vec![peer(9)];
    let out = run(&w);
    assert!(out.gave_up.is_some());
    assert!(failures(&out)
        .iter()
        .any(|f| f.to_string().contains("not pinned")));
}

#[test]
fn skips_cached_peers_unseen_for_longer_than_the_cache_horizon() {
    let day = 24 * 3600;
    let now = 1_790_000_000;
    let mut w = base();
    w.config.unix_time = Some(now);
    // Peer 3 was seen 31 days ago (past the 30-day default), peer 2 yesterday.
    w.config.cache = vec![
        cached(&w, 2, Some(now - 31 * day)),
        cached(&w, 1, Some(now - day)),
    ];
    w.config.max_concurrent_dials = 1;
    let out = run(&w);
    assert!(out.fetched().is_empty(), "the fresh cached peer sufficed");
    assert_eq!(out.first_connect().map(|c| c.0), Some(peer(2)));

    // Without a wall clock nothing can be judged old: the first entry is tried.
    w.config.unix_time = None;
    let out = run(&w);
    assert_eq!(out.first_connect().map(|c| c.0), Some(peer(3)));
}

#[test]
fn falls_back_to_seeds_after_every_url_fails() {
    let mut w = base();
    w.servers[0].replies = vec![Reply::Fail { latency: 5 * MS }];
    w.config.seeds = vec![w.peers[1].known()];
    let out = run(&w);
    assert_eq!(out.first_connect().map(|c| c.0), Some(peer(2)));
}

#[test]
fn follows_a_configured_source_order() {
    let mut w = base();
    w.config.seeds = vec![w.peers[1].known()];
    w.config.source_order = vec![SourceKind::Seeds, SourceKind::Urls];
    let out = run(&w);
    assert!(out.fetched().is_empty());
    assert_eq!(out.first_connect().map(|c| c.0), Some(peer(2)));
}

#[test]
fn gives_up_after_every_boot_url_fails_listing_what_was_tried() {
    let mut w = base();
    w.servers[0].replies = vec![Reply::Fail { latency: 5 * MS }];
    w.add_url(
        "http://boot-b.test/status",
        vec![Reply::Answer {
            latency: 5 * MS,
            status: 503,
            body: Vec::new(),
        }],
    );
    w.config.backoff.max_rounds = 3;
    let out = run(&w);
    let g = out.gave_up.clone().expect("gave up");
    assert_eq!(g.reason, GiveUpReason::RoundsExhausted);
    assert_eq!(g.rounds, 3);
    assert_eq!(g.failures(), 6, "two URLs, three rounds");
    assert_eq!(g.tried.len(), 2, "each URL failed the same way every round");
    assert_eq!(
        g.tried[1].tried.source,
        SourceName::Url("http://boot-b.test/status".into())
    );
    assert_eq!((g.tried[0].times, g.tried[1].times), (3, 3));
    let text = g.to_string();
    assert!(
        text.contains("http://boot.test/status: connect failed: connection refused (\u{d7}3)"),
        "{text}"
    );
    assert!(text.contains("HTTP status 503 (\u{d7}3)"), "{text}");
    assert_eq!(out.fetched().len(), 6);
}

fn status(code: u16) -> Reply {
    Reply::Answer {
        latency: 5 * MS,
        status: code,
        body: b"no".to_vec(),
    }
}

#[test]
fn a_url_that_answers_404_is_not_asked_again_in_this_bootstrap() {
    let mut w = base();
    w.servers[0].replies = vec![status(404)];
    w.add_url(
        "http://boot-b.test/status",
        vec![Reply::Fail { latency: 5 * MS }],
    );
    w.config.backoff.max_rounds = 3;
    let out = run(&w);
    let g = out.gave_up.clone().expect("gave up");
    assert_eq!(g.reason, GiveUpReason::RoundsExhausted);
    let fetched = out.fetched();
    assert_eq!(
        fetched
            .iter()
            .filter(|u| **u == "http://boot.test/status")
            .count(),
        1
    );
    assert_eq!(
        fetched
            .iter()
            .filter(|u| **u == "http://boot-b.test/status")
            .count(),
        3
    );
    let text = g.to_string();
    assert!(
        text.contains(
            "http://boot.test/status: HTTP status 404 (not asked again in this bootstrap);"
        ),
        "{text}"
    );
}

#[test]
fn when_every_url_is_gone_it_gives_up_after_one_round() {
    let mut w = base();
    w.servers[0].replies = vec![status(410)];
    w.add_url("http://boot-b.test/status", vec![status(403)]);
    w.config.backoff.max_rounds = 7;
    let out = run(&w);
    let g = out.gave_up.clone().expect("gave up");
    assert_eq!(g.reason, GiveUpReason::NothingLeftToTry);
    assert_eq!(g.rounds, 1);
    assert_eq!(out.fetched().len(), 2);
    assert!(
        !out.events()
            .any(|e| matches!(e, Event::RetryScheduled { .. })),
        "no retry is scheduled when nothing is left to ask"
    );
}

#[test]
fn a_url_that_cannot_be_parsed_is_never_fetched_and_alone_ends_the_bootstrap_at_once() {
    let mut w = base();
    w.config.boot_urls[0] = "boot.test/status".into();
    w.servers[0].url = "boot.test/status".into();
    w.config.backoff.max_rounds = 7;
    let out = run(&w);
    assert!(out.fetched().is_empty(), "{:?}", out.fetched());
    let g = out.gave_up.clone().expect("gave up");
    assert_eq!(g.reason, GiveUpReason::NothingLeftToTry);
    assert_eq!(g.rounds, 1);
    assert_eq!(failures(&out), [Failure::BadUrl(UrlError::NoScheme)]);
    let text = g.to_string();
    assert!(
        text.contains("boot.test/status: not a usable boot URL: no scheme"),
        "{text}"
    );
}

#[test]
fn a_url_that_cannot_be_parsed_is_passed_over_for_the_next_one() {
    let mut w = base().first_url_then_good(vec![Reply::Hang]);
    w.config.boot_urls[0] = "ftp://boot.test/status".into();
    w.servers[0].url = "ftp://boot.test/status".into();
    let out = run(&w);
    assert_eq!(out.status.phase, PhaseName::Connected);
    assert_eq!(out.fetched(), ["http://boot-b.test/status"]);
    assert_eq!(
        failures(&out),
        [Failure::BadUrl(UrlError::UnsupportedScheme("ftp".into()))]
    );
}

#[test]
fn a_url_the_driver_cannot_use_is_not_asked_again_in_this_bootstrap() {
    let mut w = base();
    w.servers[0].replies = vec![Reply::Unusable { latency: 5 * MS }];
    w.add_url(
        "http://boot-b.test/status",
        vec![Reply::Fail { latency: 5 * MS }],
    );
    w.config.backoff.max_rounds = 3;
    let out = run(&w);
    let g = out.gave_up.clone().expect("gave up");
    assert_eq!(g.reason, GiveUpReason::RoundsExhausted);
    let asked = |url: &str| out.fetched().iter().filter(|u| **u == url).count();
    assert_eq!(asked("http://boot.test/status"), 1);
    assert_eq!(asked("http://boot-b.test/status"), 3);
}

#[test]
fn a_408_a_429_and_a_5xx_are_asked_again_next_round() {
    for code in [408, 429, 500, 503] {
        let mut w = base();
        let body = w.full_document();
        w.servers[0].replies = vec![status(code), ok(5 * MS, body)];
        let out = run(&w);
        assert_eq!(out.status.phase, PhaseName::Connected, "after {code}");
        assert_eq!(out.fetched().len(), 2, "after {code}");
    }
}

#[test]
fn a_permanently_failed_url_is_asked_again_by_the_next_bootstrap() {
    // Connected through a seed after the URL said 404; when that connection drops, the new
    // bootstrap starts with a clean slate and asks the URL again.
    let mut w = base();
    let good = w.full_document();
    w.servers[0].replies = vec![status(404), ok(5 * MS, good)];
    w.config.seeds = vec![w.peers[1].known()];
    w.config.source_order = vec![SourceKind::Urls, SourceKind::Seeds];
    w.peers[1].drop_after = Some(Duration::from_secs(2));
    let out = run(&w);
    assert!(out.events().any(|e| matches!(e, Event::Rebootstrapping)));
    assert_eq!(
        out.fetched(),
        ["http://boot.test/status", "http://boot.test/status"]
    );
}

#[test]
fn retries_rounds_with_jittered_exponential_backoff() {
    let mut w = base();
    w.servers[0].replies = vec![Reply::Fail { latency: MS }];
    w.config.backoff.max_rounds = 6;
    w.config.budget = Duration::from_secs(600);
    let delays = |seed: u64| -> Vec<Duration> {
        let mut w = w.clone();
        w.config.rng_seed = seed;
        run(&w)
            .events()
            .filter_map(|e| match e {
                Event::RetryScheduled { delay, .. } => Some(*delay),
                _ => None,
            })
            .collect()
    };
    let (a, b) = (delays(1), delays(2));
    assert_eq!(a.len(), 5);
    for (round, d) in a.iter().enumerate() {
        assert!(
            *d <= w.config.backoff.ceiling(round as u32),
            "round {round}: {d:?}"
        );
    }
    assert_ne!(a, b, "different seeds spread retries differently");
    assert_eq!(a, delays(1), "the same seed replays the same schedule");
}

#[test]
fn gives_up_when_the_budget_runs_out() {
    let mut w = base();
    w.servers[0].replies = vec![Reply::Hang];
    w.config.budget = Duration::from_secs(12);
    w.config.backoff.initial = Duration::from_secs(1);
    let out = run(&w);
    let g = out.gave_up.expect("gave up");
    assert_eq!(g.reason, GiveUpReason::BudgetExhausted);
    assert_eq!(g.rounds, 3, "the third round was cut short by the budget");
    assert_eq!(
        g.failures(),
        2,
        "the cut-short fetch is cancelled, not counted as tried"
    );
    assert_eq!(g.tried.len(), 1, "two timeouts of one URL are one line");
    assert!(out.elapsed <= Duration::from_secs(12), "{:?}", out.elapsed);
}

#[test]
fn gives_up_at_once_without_any_source() {
    let mut w = base();
    w.config.boot_urls.clear();
    w.servers.clear();
    let out = run(&w);
    assert_eq!(out.gave_up.map(|g| g.reason), Some(GiveUpReason::NoSources));
    assert_eq!(out.elapsed, Duration::ZERO);
}

#[test]
fn rebootstraps_when_the_boot_connection_is_lost() {
    let mut w = base();
    w.config.max_concurrent_dials = 1;
    w.peers[0].drop_after = Some(Duration::from_secs(2));
    let out = run(&w);
    assert_eq!(out.connects, 2);
    let rebootstrapped = out.events().any(|e| *e == Event::Rebootstrapping);
    assert!(rebootstrapped);
    // The lost peer comes first from the cache, and it answers again (it drops only once).
    assert_eq!(out.status.boot_peer, Some(peer(1)));
    assert_eq!(out.status.counters.bootstraps, 2);
}

#[test]
fn reports_private_when_the_dial_back_fails() {
    let mut w = base();
    w.reachability = Reachability::Private;
    let out = run(&w);
    assert_eq!(out.status.nat, NatVerdict::Private);
    let reports: Vec<&NatVerdict> = out
        .events()
        .filter_map(|e| match e {
            Event::NatChanged(v) => Some(&v.verdict),
            _ => None,
        })
        .collect();
    assert_eq!(reports, [&NatVerdict::Private], "reported once, on change");
}

#[test]
fn asks_again_for_a_dial_back_that_is_never_answered() {
    let mut w = base();
    w.config.max_concurrent_dials = 1;
    w.peers[0].answer_delay = None;
    let out = run(&w);
    assert_eq!(out.status.phase, PhaseName::Connected);
    assert_eq!(out.status.nat, NatVerdict::Unknown);
    assert_eq!(out.status.counters.own_probes, w.config.own_probe_attempts);
    let unavailable: Vec<&Event> = out
        .events()
        .filter(|e| matches!(e, Event::VerdictUnavailable { .. }))
        .collect();
    assert_eq!(
        unavailable,
        [&Event::VerdictUnavailable { attempts: 3 }],
        "reported once, when the last request timed out"
    );
}

#[test]
fn ignores_inbound_probes_from_peers_it_never_dialed() {
    let mut w = base();
    w.peers[0] = w.peers[0].clone().dead();
    w.peers[1] = w.peers[1].clone().dead();
    w.peers[2] = w.peers[2].clone().dead();
    w.stray_probes = vec![(5 * MS, peer(9)), (15 * MS, peer(1))];
    w.config.backoff.max_rounds = 1;
    let out = run(&w);
    assert_eq!(out.status.phase, PhaseName::GaveUp);
    assert_eq!(out.status.counters.inbound_probes, 0);
    assert!(out.status.counters.ignored_inputs >= 2);
}

#[test]
fn dials_the_least_loaded_peer_first_when_asked() {
    let mut w = base();
    w.config.candidate_order = CandidateOrder::LeastLoaded;
    w.config.max_concurrent_dials = 1;
    let mut doc: serde_json::Value = serde_json::from_slice(&w.full_document()).expect("json");
    doc["peers_count"] = 40.into();
    doc["peer_loads"] = serde_json::json!([
        {"peer_id": peer(2).to_string(), "peers_count": 9},
        {"peer_id": peer(3).to_string(), "peers_count": 2},
    ]);
    w.servers[0].replies = vec![ok(MS, doc.to_string().into_bytes())];
    let out = run(&w);
    assert_eq!(out.dialed()[0], peer(3));
    assert_eq!(out.first_connect().map(|c| c.0), Some(peer(3)));
}

#[test]
fn counts_our_own_answered_probe_as_connected_when_configured() {
    let mut w = base();
    w.config.max_concurrent_dials = 1;
    w.peers[0].probe_delay = None; // never sends its own request
    w.config.connected_rule = ConnectedRule::InboundOrOwnProbe;
    let out = run(&w);
    // The answer at 60 ms, backed by a dial-back from the peer's own host; the verdict (and
    // with it Connected) settles once no stranger's dial-back followed (150 ms).
    assert_eq!(out.first_connect(), Some((peer(1), 210 * MS)));
}

#[test]
fn never_dials_loopback_addresses_from_a_public_list() {
    let mut w = base();
    w.peers[0].addrs[0].0 = "/ip4/127.0.0.1/tcp/4001".parse().expect("valid");
    w.servers[0].replies = vec![ok(MS, w.full_document())];
    let out = run(&w);
    assert!(!out.dialed().contains(&peer(1)));
    assert_eq!(out.first_connect().map(|c| c.0), Some(peer(2)));
    let skipped = out.events().find_map(|e| match e {
        Event::StatusFetched { skipped, .. } => Some(*skipped),
        _ => None,
    });
    assert_eq!(
        skipped.map(|s| s.to_string()).as_deref(),
        Some("1 not routable")
    );

    w.config.policy = AddressPolicy::allow_private();
    let out = run(&w);
    assert_eq!(out.dialed()[0], peer(1));
}

#[test]
fn times_out_a_hanging_dial() {
    let mut w = base();
    w.peers[0].addrs[0].1 = DialScript::Hang;
    w.config.max_concurrent_dials = 1;
    let out = run(&w);
    assert!(matches!(failures(&out)[..], [Failure::DialTimeout { .. }]));
    assert_eq!(out.first_connect().map(|c| c.0), Some(peer(2)));
}

#[test]
fn persists_good_peers_and_the_verdict_and_restores_them_as_stale() {
    let out = run(&base());
    let snapshot: Snapshot = out.persisted().last().cloned().expect("persisted");
    assert_eq!(snapshot.good_peers[0].peer.id, peer(1));
    assert_eq!(
        snapshot.good_peers[0].last_seen, None,
        "no wall clock given"
    );
    assert!(matches!(snapshot.nat, NatVerdict::Public(_)));

    // Next start: the cached peer is tried first; the old verdict is reported as stale until
    // a dial-back confirms it.
    let mut w = base();
    w.config.restore(snapshot.clone());
    w.peers[0].answer_delay = None;
    w.config.max_concurrent_dials = 1;
    let out = run(&w);
    assert!(out.fetched().is_empty());
    assert_eq!(out.status.nat, snapshot.nat);
    assert!(out.status.nat_stale, "not re-confirmed");

    let mut w = base();
    w.config.restore(snapshot);
    w.reachability = Reachability::Private;
    let out = run(&w);
    assert_eq!(out.status.nat, NatVerdict::Private);
    assert!(!out.status.nat_stale);
}

#[test]
fn stamps_a_good_peer_with_the_wall_clock_time_it_was_connected_through() {
    let mut w = base();
    let start = 1_790_000_000;
    w.config.unix_time = Some(start);
    let out = run(&w);
    let (_, at) = out.first_connect().expect("connected");
    let snapshot = out.persisted().next().cloned().expect("persisted");
    assert_eq!(snapshot.good_peers[0].peer.id, peer(1));
    assert_eq!(snapshot.good_peers[0].last_seen, Some(start + at.as_secs()));
}

#[test]
fn stays_connected_through_another_boot_peer_when_one_closes() {
    let mut w = base(); // three dials at once: all three peers connect
    w.peers[0].drop_after = Some(Duration::from_secs(2));
    let out = run(&w);
    assert_eq!(
        out.connects, 1,
        "no re-bootstrap while another boot connection is up"
    );
    assert_eq!(out.status.phase, PhaseName::Connected);
    assert_eq!(out.status.boot_connections, 2);
    assert_eq!(out.status.boot_peer, Some(peer(2)));
}

fn with_dns_name(w: &mut World, ips: &[&str]) {
    w.peers[0].addrs[0].0 = "/dns4/p1.test/tcp/4001".parse().expect("valid");
    w.dns.insert(
        "p1.test".into(),
        ips.iter().map(|ip| ip.parse().expect("valid ip")).collect(),
    );
    w.servers[0].replies = vec![ok(MS, w.full_document())];
    w.config.max_concurrent_dials = 1;
}

#[test]
fn resolves_a_dns_boot_address_before_dialing_its_ip() {
    let mut w = base();
    with_dns_name(&mut w, &["203.0.113.1"]);
    let out = run(&w);
    let resolve_then_dial: Vec<&Action> = out
        .actions
        .iter()
        .map(|(_, a)| a)
        .filter(|a| matches!(a, Action::Resolve { .. } | Action::Dial { .. }))
        .collect();
    assert!(
        matches!(resolve_then_dial[..2], [Action::Resolve { .. }, Action::Dial { addrs, .. }]
            if addrs.iter().map(ToString::to_string).collect::<Vec<_>>() == ["/ip4/203.0.113.1/tcp/4001"]),
        "{resolve_then_dial:?}"
    );
    assert_eq!(out.first_connect().map(|c| c.0), Some(peer(1)));
}

#[test]
fn refuses_a_name_that_resolves_to_a_private_address() {
    let mut w = base();
    with_dns_name(&mut w, &["10.0.0.1", "127.0.0.1"]);
    let out = run(&w);
    let f = failures(&out);
    assert!(
        matches!(&f[..], [Failure::Dial { error, .. }] if error.to_string().contains("2 not routable")),
        "{f:?}"
    );
    assert_eq!(out.first_connect().map(|c| c.0), Some(peer(2)));
}

#[test]
fn a_name_that_does_not_resolve_fails_its_dial() {
    let mut w = base();
    with_dns_name(&mut w, &[]);
    w.dns.clear();
    let out = run(&w);
    let f = failures(&out);
    assert!(
        matches!(&f[..], [Failure::Dial { error, .. }] if error.to_string().contains("DNS resolution failed")),
        "{f:?}"
    );
    assert_eq!(out.first_connect().map(|c| c.0), Some(peer(2)));
}

/// Peer 1 listed as `/dnsaddr/boot.test`, whose TXT records are `records`; `more` are further
/// names' records.
fn with_dnsaddr(w: &mut World, records: Vec<String>, more: Vec<(&str, Vec<String>)>) {
    w.peers[0].addrs[0].0 = "/dnsaddr/boot.test".parse().expect("valid");
    let parsed = |records: Vec<String>| -> Vec<pyrsia_boot_core::Multiaddr> {
        records
            .iter()
            .map(|r| r.parse().expect("valid record"))
            .collect()
    };
    w.dnsaddr.insert("boot.test".into(), parsed(records));
    for (name, records) in more {
        w.dnsaddr.insert(name.into(), parsed(records));
    }
    w.servers[0].replies = vec![ok(MS, w.full_document())];
    w.config.max_concurrent_dials = 1;
}

fn resolves_and_dials(out: &pyrsia_boot_tests::Outcome) -> Vec<String> {
    let joined = |addrs: &[pyrsia_boot_core::Multiaddr]| {
        addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    out.actions
        .iter()
        .filter_map(|(_, a)| match a {
            Action::Resolve { names, .. } => Some(format!("resolve {}", joined(names))),
            Action::Dial { addrs, .. } => Some(format!("dial {}", joined(addrs))),
            _ => None,
        })
        .collect()
}

#[test]
fn a_dnsaddr_name_is_followed_two_levels_down_and_only_the_peers_own_records_are_dialed() {
    let mut w = base();
    let (me, other) = (peer(1), peer(5));
    with_dnsaddr(
        &mut w,
        vec![format!("/dnsaddr/ams.boot.test/p2p/{me}")],
        vec![(
            "ams.boot.test",
            vec![
                format!("/ip4/203.0.113.9/tcp/4001/p2p/{other}"),
                format!("/ip4/203.0.113.1/tcp/4001/p2p/{me}"),
                format!("/dns4/p1.test/tcp/4002/p2p/{me}"),
            ],
        )],
    );
    w.dns
        .insert("p1.test".into(), vec!["203.0.113.1".parse().expect("ip")]);
    let out = run(&w);
    let steps = resolves_and_dials(&out);
    assert_eq!(
        steps[..4],
        [
            "resolve /dnsaddr/boot.test",
            "resolve /dnsaddr/ams.boot.test",
            "resolve /dns4/p1.test/tcp/4002",
            "dial /ip4/203.0.113.1/tcp/4001 /ip4/203.0.113.1/tcp/4002",
        ],
        "{steps:?}"
    );
    assert_eq!(out.first_connect().map(|c| c.0), Some(me));
    assert_eq!(out.status.counters.skipped.get(SkipReason::OtherPeer), 1);
}

#[test]
fn a_dnsaddr_loop_stops_at_the_name_seen_before_and_fails_the_dial_naming_it() {
    let mut w = base();
    let me = peer(1);
    with_dnsaddr(
        &mut w,
        vec![format!("/dnsaddr/loop.boot.test/p2p/{me}")],
        vec![(
            "loop.boot.test",
            vec![format!("/dnsaddr/boot.test/p2p/{me}")],
        )],
    );
    let out = run(&w);
    let steps = resolves_and_dials(&out);
    assert_eq!(
        steps[..2],
        [
            "resolve /dnsaddr/boot.test",
            "resolve /dnsaddr/loop.boot.test"
        ],
        "{steps:?}"
    );
    let f = failures(&out);
    assert!(
        matches!(&f[..], [Failure::Dial { error, .. }]
            if error.to_string().contains("/dnsaddr/boot.test: not followed, past the /dnsaddr limits (loop)")),
        "{f:?}"
    );
    assert_eq!(out.first_connect().map(|c| c.0), Some(peer(2)));
}

#[test]
fn a_dnsaddr_chain_deeper_than_the_limit_is_cut_off_there() {
    let mut w = base();
    let me = peer(1);
    w.config.resolve.max_rounds = 2;
    let level = |n: u8| vec![format!("/dnsaddr/l{n}.boot.test/p2p/{me}")];
    with_dnsaddr(
        &mut w,
        level(1),
        vec![("l1.boot.test", level(2)), ("l2.boot.test", level(3))],
    );
    let out = run(&w);
    let steps = resolves_and_dials(&out);
    assert_eq!(
        steps[..2],
        [
            "resolve /dnsaddr/boot.test",
            "resolve /dnsaddr/l1.boot.test"
        ],
        "{steps:?}"
    );
    let f = failures(&out);
    assert!(
        matches!(&f[..], [Failure::Dial { error, .. }]
            if error.to_string().contains("/dnsaddr/l2.boot.test: not followed, past the /dnsaddr limits (depth)")),
        "{f:?}"
    );
}

// ---- signed boot documents ---------------------------------------------------------------

const UNIX_NOW: u64 = 1_795_000_000;

fn operator(i: u8) -> libp2p_identity::Keypair {
    libp2p_identity::Keypair::ed25519_from_bytes([0x40 + i; 32]).expect("32 bytes make a key")
}

/// Every peer of `w`, signed by `signer`, valid [issued, expires), with `sequence`.
fn signed(w: &World, signer: u8, issued: u64, expires: u64, sequence: u64) -> Vec<u8> {
    let mut doc = status_document(&w.peers.iter().collect::<Vec<_>>());
    doc.sign(&operator(signer), issued, expires, sequence)
        .expect("ed25519 signs");
    doc.to_json()
}

/// The base world trusting operator 1, with the clock at [`UNIX_NOW`].
fn trusting_world() -> World {
    let mut w = base();
    w.config.trusted = vec![operator(1).public()];
    w.config.unix_time = Some(UNIX_NOW);
    w
}

fn signature_failures(out: &pyrsia_boot_tests::Outcome) -> Vec<SignatureError> {
    failures(out)
        .into_iter()
        .filter_map(|f| match f {
            Failure::BadDocument(StatusError::Signature(e)) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn with_trusted_keys_refuses_each_bad_document_and_connects_through_a_signed_one() {
    let mut w = trusting_world();
    w.config.boot_sequences = vec![SeenSequence {
        key: operator(1).public(),
        sequence: 10,
    }];
    let (issued, expires) = (UNIX_NOW - 60, UNIX_NOW + 3600);
    // An attacker on the path puts its own peer first in a signed list.
    let attacker = format!("/ip4/203.0.113.66/tcp/1/p2p/{}", peer(66));
    let tampered = String::from_utf8(signed(&w, 1, issued, expires, 12))
        .expect("utf-8")
        .replacen(
            r#""peer_addrs":[""#,
            &format!(r#""peer_addrs":["{attacker}",""#),
            1,
        );
    let bad = [
        w.full_document(),                        // unsigned
        signed(&w, 2, issued, expires, 12),       // another operator
        tampered.into_bytes(),                    // list altered after signing
        signed(&w, 1, issued - 7200, issued, 12), // expired
        signed(&w, 1, issued, expires, 9),        // older than the one seen before
    ];
    let good = signed(&w, 1, issued, expires, 12);
    w.servers[0].replies = vec![ok(5 * MS, bad[0].clone())];
    for (i, body) in bad[1..].iter().enumerate() {
        w.add_url(
            &format!("http://bad-{i}.test/status"),
            vec![ok(5 * MS, body.clone())],
        );
    }
    w.add_url("http://good.test/status", vec![ok(5 * MS, good)]);
    let out = run(&w);
    assert_eq!(out.status.phase, PhaseName::Connected);
    assert!(out
        .dialed()
        .iter()
        .all(|p| w.peers.iter().any(|q| q.id == *p)));
    let got = signature_failures(&out);
    assert!(
        matches!(
            &got[..],
            [
                SignatureError::Unsigned,
                SignatureError::UntrustedKey(_),
                SignatureError::BadSignature,
                SignatureError::Expired { .. },
                SignatureError::RolledBack {
                    sequence: 9,
                    seen: 10
                },
            ]
        ),
        "{got:?}"
    );
    let reported = out.events().find_map(|e| match e {
        Event::StatusFetched { signed, .. } => signed.clone(),
        _ => None,
    });
    assert_eq!(reported.map(|s| s.sequence), Some(12));
}

#[test]
fn an_accepted_sequence_is_persisted_and_refuses_older_lists_after_a_restart() {
    let mut w = trusting_world();
    let body = signed(&w, 1, UNIX_NOW, UNIX_NOW + 3600, 5);
    w.servers[0].replies = vec![ok(5 * MS, body)];
    let out = run(&w);
    assert_eq!(out.status.phase, PhaseName::Connected);
    let snapshot = out.persisted().last().cloned().expect("state persisted");
    assert_eq!(
        snapshot.boot_sequences,
        [SeenSequence {
            key: operator(1).public(),
            sequence: 5
        }]
    );
    // Through the file format, as a restart reads it.
    let restored = Snapshot::from_json(&snapshot.to_json()).expect("round trip");
    let mut next = trusting_world();
    next.config.restore(restored);
    next.config.cache.clear(); // force the URL
    next.config.restored_nat = None;
    let replayed = signed(&next, 1, UNIX_NOW - 600, UNIX_NOW + 3000, 4);
    next.servers[0].replies = vec![ok(5 * MS, replayed)];
    let out = run(&next);
    assert!(out.gave_up.is_some());
    assert!(signature_failures(&out).iter().all(|e| *e
        == SignatureError::RolledBack {
            sequence: 4,
            seen: 5
        }));
    assert!(!signature_failures(&out).is_empty());
}

#[test]
fn expiry_is_judged_by_the_clock_at_arrival_not_at_start() {
    // Valid when the machine starts, expired 3 s later when the slow answer arrives.
    let mut w = trusting_world();
    let body = signed(&w, 1, UNIX_NOW - 60, UNIX_NOW + 2, 1);
    w = w.first_url_then_good(vec![ok(Duration::from_secs(3), body)]);
    let fresh = signed(&w, 1, UNIX_NOW, UNIX_NOW + 3600, 1);
    w.servers[1].replies = vec![ok(5 * MS, fresh)];
    let out = run(&w);
    assert_eq!(out.status.phase, PhaseName::Connected);
    assert_eq!(
        signature_failures(&out),
        [SignatureError::Expired {
            expires_at: UNIX_NOW + 2,
            now: UNIX_NOW + 3
        }]
    );
}

#[test]
fn a_refused_dial_back_request_is_retried_after_a_backoff_not_at_once() {
    // One boot peer, throttled: it refuses our first two dial-back requests.
    let mut w = base();
    w.peers.truncate(1);
    w.servers[0].replies = vec![ok(20 * MS, w.full_document())];
    w.peers[0].refusals = 2;
    let out = run(&w);
    let probes: Vec<Duration> = out
        .actions
        .iter()
        .filter(|(_, a)| matches!(a, Action::ProbeVia { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(probes.len(), 3, "{:?}", out.transcript);
    let retry = w.config.timeouts.own_probe_retry;
    for pair in probes.windows(2) {
        // Each refusal arrives `latency` after the request; the next waits at least half the
        // retry time on top.
        assert!(pair[1] - pair[0] >= 20 * MS + retry / 2, "{probes:?}");
        assert!(pair[1] - pair[0] <= 20 * MS + retry, "{probes:?}");
    }
    let public = "/ip4/203.0.113.200/tcp/4001".parse().expect("valid");
    assert_eq!(out.status.nat, NatVerdict::Public(public));
}

#[test]
fn a_late_answer_to_a_replaced_dial_back_request_is_ignored() {
    // The boot peer answers every dial-back request 150 ms after it was sent; the machine
    // gives each one 100 ms and then asks again. Every answer belongs to a request that was
    // already replaced: none of them may set the verdict, each is counted as ignored.
    let mut w = base();
    w.config.timeouts.own_probe = 100 * MS;
    w.config.own_probe_attempts = 3;
    for p in &mut w.peers {
        p.answer_delay = Some(150 * MS);
    }
    let out = run(&w);
    assert_eq!(out.status.phase, PhaseName::Connected);
    assert_eq!(out.status.nat, NatVerdict::Unknown);
    assert!(out
        .events()
        .any(|e| matches!(e, Event::VerdictUnavailable { attempts: 3 })));
    let probes: Vec<_> = out
        .actions
        .iter()
        .filter_map(|(_, a)| match a {
            Action::ProbeVia { probe, .. } => Some(*probe),
            _ => None,
        })
        .collect();
    assert_eq!(probes.len(), 3);
    assert!(
        probes.windows(2).all(|p| p[0] != p[1]),
        "each request has its own id"
    );
    assert!(
        out.status.counters.ignored_inputs >= 2,
        "{:?}",
        out.status.counters
    );
}

#[test]
fn when_the_probed_boot_peer_leaves_another_boot_peer_is_asked_at_once() {
    // Connected through three boot peers; P1, asked for our dial-back, never answers and
    // closes its connection after 500 ms. The question goes to another boot connection then,
    // not after the 15 s own-probe timeout (which went with P1's connection) or never.
    let mut w = base();
    w.peers[0].answer_delay = None;
    w.peers[0].drop_after = Some(500 * MS);
    let out = run(&w);
    let probes: Vec<(Duration, pyrsia_boot_core::PeerId)> = out
        .actions
        .iter()
        .filter_map(|(t, a)| match a {
            Action::ProbeVia { peer, .. } => Some((*t, *peer)),
            _ => None,
        })
        .collect();
    assert_eq!(probes.len(), 2, "{probes:?}");
    assert_eq!(probes[0].1, peer(1));
    assert_ne!(probes[1].1, peer(1));
    assert_eq!(probes[1].0, probes[0].0 + 500 * MS, "asked when P1 left");
    assert!(
        matches!(out.status.nat, NatVerdict::Public(_)),
        "{:?}",
        out.status.nat
    );
}

#[test]
fn an_ok_without_a_dial_back_connection_is_not_believed() {
    // A boot peer whose AutoNAT server answers OK without dialing (py-libp2p 0.8 does when a
    // connection to the asker already exists): the node is not told it is public.
    let mut w = base();
    w.config.max_concurrent_dials = 1;
    w.peers[0].answers_without_dialing = true;
    let out = run(&w);
    assert_eq!(out.status.phase, PhaseName::Connected);
    assert_eq!(out.status.nat, NatVerdict::Unknown);
    assert!(!out.status.behaviour.verified);
    let attempts = w.config.own_probe_attempts;
    assert_eq!(out.status.counters.unverified_answers, attempts);
    let unverified = out
        .events()
        .filter(|e| matches!(e, Event::DialBackUnverified { peer: p } if *p == peer(1)))
        .count();
    assert_eq!(unverified, attempts as usize);
    assert!(out
        .events()
        .any(|e| matches!(e, Event::VerdictUnavailable { .. })));
}

#[test]
fn an_honest_boot_peer_gives_the_verdict_a_lying_one_could_not() {
    // All three boot peers are dialed at once. P1 connects first and answers OK without
    // dialing; the next question goes to another boot connection, which dials back for real.
    let mut w = base();
    w.peers[0].answers_without_dialing = true;
    let out = run(&w);
    assert!(
        matches!(out.status.nat, NatVerdict::Public(_)),
        "{:?}",
        out.status
    );
    assert!(out.status.behaviour.verified);
    assert_eq!(out.status.counters.unverified_answers, 1);
    let asked: Vec<_> = out
        .actions
        .iter()
        .filter_map(|(_, a)| match a {
            Action::ProbeVia { peer, .. } => Some(*peer),
            _ => None,
        })
        .collect();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(asked[0], peer(1));
    assert_ne!(asked[1], peer(1), "the peer that lied is asked last");
}

// ---- AutoNAT v2 ------------------------------------------------------------------------------

/// Drives a machine by hand to Connected through peer 1 (document, dial, its dial request).
fn connected_by_hand() -> (pyrsia_boot_core::BootstrapMachine, std::time::Instant) {
    use pyrsia_boot_core::{BootstrapMachine, Config, Input};
    let w = base();
    let mut config = Config::with_urls(["http://boot.test/status"]);
    config.policy = w.config.policy;
    config.own_probe_attempts = 0; // the verdict here comes from AutoNAT v2 only
    let mut now = std::time::Instant::now();
    let mut m = BootstrapMachine::new(config, now);
    let body = pyrsia_boot_tests::world::document(&[&w.peers[0]]);
    let mut connected = false;
    for _ in 0..50 {
        now += MS;
        let mut inputs = Vec::new();
        while let Some(action) = m.poll_action() {
            match action {
                Action::FetchStatus { request, .. } => inputs.push(Input::HttpResponse {
                    request,
                    status: 200,
                    body: body.clone(),
                }),
                Action::Dial { dial, peer, addrs } => {
                    inputs.push(Input::DialSucceeded {
                        dial,
                        peer,
                        addr: addrs.first().cloned(),
                    });
                    inputs.push(Input::InboundProbeRequest { peer });
                }
                Action::Report(Event::Connected { .. }) => connected = true,
                _ => {}
            }
        }
        if connected {
            return (m, now);
        }
        for input in inputs {
            m.handle(now, input);
        }
    }
    panic!("never connected");
}

#[test]
fn an_autonat_v2_result_from_a_boot_peer_is_a_verified_verdict_and_a_strangers_is_ignored() {
    use pyrsia_boot_core::Input;
    let (mut m, now) = connected_by_hand();
    let public: pyrsia_boot_core::Multiaddr = "/ip4/203.0.113.50/tcp/4001".parse().expect("valid");
    // A peer we never dialed is no boot peer: its word counts for nothing.
    let ignored = m.status().counters.ignored_inputs;
    m.handle(
        now,
        Input::AutonatV2Tested {
            server: peer(9),
            addr: public.clone(),
            reachable: true,
        },
    );
    assert_eq!(m.status().counters.ignored_inputs, ignored + 1);
    assert_eq!(m.status().counters.v2_results, 0);
    // The boot peer's: public at the tested address, verified (the nonce came back).
    m.handle(
        now,
        Input::AutonatV2Tested {
            server: peer(1),
            addr: public.clone(),
            reachable: true,
        },
    );
    let actions: Vec<Action> = std::iter::from_fn(|| m.poll_action()).collect();
    assert!(
        actions.contains(&Action::AddExternalAddress(public.clone())),
        "{actions:?}"
    );
    let verdict = actions.iter().find_map(|a| match a {
        Action::Report(Event::NatChanged(r)) => Some(r.clone()),
        _ => None,
    });
    let verdict = verdict.expect("a verdict");
    assert_eq!(verdict.verdict, NatVerdict::Public(public.clone()));
    assert!(verdict.ipv4.behaviour.verified);
    assert!(!verdict.ipv4.behaviour.stranger_reached);
    // Then unreachable: private.
    m.handle(
        now,
        Input::AutonatV2Tested {
            server: peer(1),
            addr: public.clone(),
            reachable: false,
        },
    );
    let actions: Vec<Action> = std::iter::from_fn(|| m.poll_action()).collect();
    assert!(
        actions.contains(&Action::RemoveExternalAddress(public)),
        "{actions:?}"
    );
    assert_eq!(m.status().counters.v2_results, 2);
}
