//! The boot-node machine in the simulator: one behaviour per scenario, then properties over
//! generated worlds. Every invariant listed in `tests/src/bootsim.rs` is checked at every
//! step of every run; these tests add whole-run expectations.

use std::time::Duration;

use pyrsia_boot_core::{BootNodeAction, BootNodeEvent, DialRequestOutcome, Multiaddr};
use pyrsia_boot_tests::bootsim::{run, run_quiet, BootOutcome};
use pyrsia_boot_tests::bootworld::{
    churn_world, joiner, quiet_world, sim_peer, steady_world, Answer, BootWorld, Happening,
};

const MS: Duration = Duration::from_millis(1);

fn at(w: &mut BootWorld, ms: u64, h: Happening) {
    w.happenings.push((MS * ms as u32, h));
}

/// `count` `/status` requests from `ms` on, `spacing` apart.
fn requests(w: &mut BootWorld, ms: u64, count: u32, spacing: Duration) {
    at(w, ms, Happening::StatusRequests { count, spacing });
}

/// Whether the machine reported a signing failure whose reason contains `why`.
fn signing_failed(out: &BootOutcome, why: &str) -> bool {
    out.actions.iter().any(|(_, a)| {
        matches!(a, BootNodeAction::Report(BootNodeEvent::SigningFailed { reason }) if reason.contains(why))
    })
}

fn dial_requests(out: &BootOutcome) -> Vec<(Duration, pyrsia_boot_core::PeerId, Vec<Multiaddr>)> {
    out.actions
        .iter()
        .filter_map(|(t, a)| match a {
            BootNodeAction::SendDialRequest { peer, addrs, .. } => Some((*t, *peer, addrs.clone())),
            _ => None,
        })
        .collect()
}

fn ended(out: &BootOutcome) -> Vec<DialRequestOutcome> {
    out.actions
        .iter()
        .filter_map(|(_, a)| match a {
            BootNodeAction::Report(BootNodeEvent::DialRequestEnded { outcome, .. }) => {
                Some(outcome.clone())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_joining_peer_gets_its_dial_request_in_the_step_it_connects() {
    let mut w = quiet_world(2, false);
    at(&mut w, 100, Happening::Join(joiner(1, 5_000 * MS)));
    let out = run(&w);
    let sent = dial_requests(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, 100 * MS, "sent when the connection was reported");
    assert_eq!(sent[0].1, sim_peer(1));
    assert_eq!(
        sent[0].2,
        ["/ip4/203.0.113.10/tcp/44000"
            .parse::<Multiaddr>()
            .expect("valid")]
    );
    assert!(matches!(
        ended(&out)[..],
        [DialRequestOutcome::Reachable(_)]
    ));
}

#[test]
fn a_member_never_gets_a_dial_request_and_is_not_counted() {
    let mut w = quiet_world(2, false);
    at(
        &mut w,
        10,
        Happening::MemberConnects {
            member: 0,
            inbound: true,
            stay: 3_000 * MS,
        },
    );
    at(&mut w, 20, Happening::Join(joiner(1, 3_000 * MS)));
    requests(&mut w, 30, 1, MS);
    let out = run(&w);
    let sent = dial_requests(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, sim_peer(1), "only the joiner, not the member");
    // The simulator checks peers_count against the world in every served document; here the
    // member is connected and the count is the joiner alone.
    assert!(out.transcript.iter().any(|l| l.contains("peers_count 1")));
}

#[test]
fn a_peer_that_leaves_before_answering_ends_its_request_and_leaves_nothing_behind() {
    let mut w = quiet_world(0, false);
    let mut j = joiner(1, 50 * MS);
    j.answer = (Answer::Reachable, 200 * MS);
    at(&mut w, 10, Happening::Join(j));
    let out = run(&w);
    assert_eq!(ended(&out), [DialRequestOutcome::PeerLeft]);
    let fp = out.status.footprint;
    assert_eq!((fp.connections, fp.peers, fp.dial_requests), (0, 0, 0));
    // libp2p's late "connection closed" failure for that request is stale.
    assert_eq!(out.status.counters.ignored_inputs, 1);
}

#[test]
fn a_failed_or_unanswered_dial_request_is_not_repeated_while_the_peer_stays() {
    for (answer, outcome) in [
        (Answer::Fails, DialRequestOutcome::Failed),
        (Answer::Refused, DialRequestOutcome::Refused),
        (Answer::Never, DialRequestOutcome::TimedOut),
    ] {
        let mut w = quiet_world(0, false);
        w.config.dial_request_timeout = 500 * MS;
        let mut j = joiner(1, 10_000 * MS);
        j.answer = (answer, 5 * MS);
        j.extra = vec![1_000 * MS, 1_000 * MS]; // two more inbound connections later
        at(&mut w, 10, Happening::Join(j));
        let out = run(&w);
        assert_eq!(dial_requests(&out).len(), 1, "{answer:?}");
        assert_eq!(ended(&out), [outcome], "{answer:?}");
    }
}

#[test]
fn a_reconnecting_peer_gets_a_new_request_per_session() {
    let mut w = quiet_world(0, false);
    at(&mut w, 10, Happening::Join(joiner(1, 100 * MS)));
    at(&mut w, 500, Happening::Join(joiner(1, 100 * MS)));
    let out = run(&w);
    let sent = dial_requests(&out);
    assert_eq!(
        sent.iter().map(|s| s.0).collect::<Vec<_>>(),
        [10 * MS, 500 * MS]
    );
}

#[test]
fn an_outbound_connection_starts_no_dial_request_until_the_peer_dials_in() {
    let mut w = quiet_world(0, false);
    let mut j = joiner(1, 5_000 * MS);
    j.inbound = false; // our AutoNAT dial-back to it
    j.extra = vec![700 * MS]; // then it connects to us
    at(&mut w, 10, Happening::Join(j));
    let out = run(&w);
    let sent = dial_requests(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, 710 * MS);
}

#[test]
fn dial_requests_carry_the_listen_ports_when_status_advertises_no_address() {
    // A public-only boot node whose listeners are all private (behind a 1:1 NAT, no external
    // address): /status has nothing of its own, but a dial request still needs a port, or the
    // peer's AutoNAT server refuses it and the peer is never "fully connected".
    let mut w = quiet_world(1, false);
    w.config.policy = pyrsia_boot_core::AddressPolicy::public_only();
    w.listen = vec![
        "/ip4/10.0.0.5/tcp/44000".parse().expect("valid"),
        "/ip4/127.0.0.1/tcp/44000".parse().expect("valid"),
    ];
    at(&mut w, 10, Happening::Join(joiner(1, 1_000 * MS)));
    requests(&mut w, 20, 1, MS);
    let out = run(&w);
    assert_eq!(out.status.advertised, Vec::<Multiaddr>::new());
    assert_eq!(dial_requests(&out)[0].2, w.listen);
    // An external DNS name alone carries no IP either: the listen ports are used then too.
    w.config.external_addrs = vec!["/dns4/boot.example.test/tcp/44000".parse().expect("valid")];
    let out = run(&w);
    assert_eq!(out.status.advertised, w.config.external_addrs);
    assert_eq!(dial_requests(&out)[0].2, w.listen);
}

#[test]
fn status_lists_this_node_first_then_every_member_in_turn() {
    let out = run(&steady_world(3, 9, false));
    let firsts: Vec<&str> = out
        .transcript
        .iter()
        .filter(|l| l.contains("> serve"))
        .map(|l| l.rsplit_once(", peers_count").map_or("", |(a, _)| a))
        .map(|l| l.rsplit(", ").next().unwrap_or(""))
        .collect();
    assert_eq!(
        firsts,
        [
            "M0 first", "M1 first", "M2 first", "M0 first", "M1 first", "M2 first", "M0 first",
            "M1 first", "M2 first"
        ]
    );
}

#[test]
fn a_fresh_load_is_listed_and_a_stale_one_left_out() {
    let mut w = quiet_world(2, false);
    w.config.load_interval = 1_000 * MS;
    w.members[1].latency = None; // M1 answers once, then never (below)
    requests(&mut w, 1_500, 1, MS);
    let out = run(&w);
    let served: Vec<&(Duration, BootNodeAction)> = out
        .actions
        .iter()
        .filter(|(_, a)| matches!(a, BootNodeAction::ServeStatus { .. }))
        .collect();
    let BootNodeAction::ServeStatus { body, .. } = &served[0].1 else {
        unreachable!()
    };
    let doc: serde_json::Value = serde_json::from_slice(body).expect("JSON");
    let loads = doc["peer_loads"].as_array().cloned().unwrap_or_default();
    assert_eq!(loads.len(), 1, "M0 answered at 1 s; M1 never did: {doc}");
    assert_eq!(loads[0]["peer_id"], w.members[0].id().to_string());
    // Past three intervals without an answer, a load is dropped.
    let mut w2 = quiet_world(1, false);
    w2.config.load_interval = 1_000 * MS;
    w2.members[0].fails = true;
    requests(&mut w2, 4_500, 1, MS);
    let out = run(&w2);
    assert!(out
        .actions
        .iter()
        .any(|(_, a)| matches!(a, BootNodeAction::Report(BootNodeEvent::LoadFailed { .. }))));
    assert!(out.transcript.iter().any(|l| l.contains("> serve")));
}

fn signatures_made(out: &BootOutcome) -> Vec<Duration> {
    out.actions
        .iter()
        .filter_map(|(t, a)| matches!(a, BootNodeAction::Sign { .. }).then_some(*t))
        .collect()
}

#[test]
fn every_list_is_signed_ahead_and_renewed_after_a_quarter_of_its_validity() {
    // Two members: two rotations, two lists. Validity 60 s: renewals every 15 s.
    let mut w = steady_world(2, 0, true);
    requests(&mut w, 10, 100, 1_000 * MS);
    let out = run(&w);
    let signed = signatures_made(&out);
    // Four jobs at the start (the lists before and after the listen address is reported),
    // then two every 15 s while the run lasts (100 s of requests and 60 s of settling).
    assert_eq!(&signed[..4], [Duration::ZERO; 4]);
    let renewals: Vec<u64> = signed[4..].iter().map(|t| t.as_secs()).collect();
    assert_eq!(
        renewals,
        [15, 15, 30, 30, 45, 45, 60, 60, 75, 75, 90, 90, 105, 105, 120, 120, 135, 135, 150, 150]
    );
    assert_eq!(
        out.served,
        (100, 100),
        "every request served signed, none kept waiting"
    );
}

#[test]
fn a_failing_signer_makes_status_unsigned_never_expired() {
    let mut w = steady_world(1, 0, true);
    w.signer.fail_every = 1; // every job fails
    requests(&mut w, 10, 20, 500 * MS);
    let out = run(&w);
    assert_eq!(out.served, (20, 0));
    assert_eq!(out.status.counters.status_served_unsigned, 20);
    // After each failure the machine waits at least `retry_after` (1 s) before the next job
    // (the one list's jobs all start at distinct times: the first two at the start, before
    // and after the listen address is reported, fail together).
    let signed = signatures_made(&out);
    let gaps: Vec<Duration> = signed
        .windows(2)
        .map(|p| p[1] - p[0])
        .filter(|g| !g.is_zero())
        .collect();
    assert!(!gaps.is_empty());
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_secs(1)),
        "{gaps:?}"
    );
    assert!(
        signed.len() < 100,
        "{} jobs: failures are not retried at once",
        signed.len()
    );
}

#[test]
fn a_signer_that_fails_at_once_is_asked_less_and_less_often() {
    // The fuzzer's find: a signer that fails instantly with a 1 ms retry was asked four times
    // a millisecond for as long as the node ran. The wait now doubles up to a minute.
    let mut w = steady_world(3, 0, true);
    w.signer.fail_every = 1;
    w.signer.latency = Duration::ZERO;
    if let Some(s) = &mut w.config.signing {
        s.retry_after = MS;
    }
    requests(&mut w, 10, 10, 6_000 * MS);
    let out = run(&w);
    assert_eq!(out.served, (10, 0));
    let jobs = signatures_made(&out);
    // 120 s of run: doublings from 1 ms reach the one-minute cap after 16 failures.
    assert!(jobs.len() < 100, "{} signing jobs", jobs.len());
    let gaps: Vec<Duration> = jobs
        .windows(2)
        .map(|p| p[1] - p[0])
        .filter(|g| !g.is_zero())
        .collect();
    assert!(
        gaps.windows(2).all(|g| g[1] >= g[0]),
        "waits only grow: {gaps:?}"
    );
}

#[test]
fn a_silent_signer_times_out_and_waiting_requests_are_served() {
    let mut w = steady_world(1, 0, true);
    w.signer.hang_every = 1;
    if let Some(s) = &mut w.config.signing {
        s.timeout = 300 * MS;
    }
    requests(&mut w, 10, 5, 10 * MS);
    let out = run(&w);
    // The simulator checks every request is answered; here none could be signed.
    assert_eq!(out.served, (5, 0));
    assert!(signing_failed(&out, "in time"));
}

#[test]
fn without_a_wall_clock_status_is_served_unsigned_and_says_why() {
    let mut w = steady_world(1, 3, true);
    w.config.unix_time = None;
    let out = run(&w);
    assert_eq!(out.served, (3, 0));
    assert!(signatures_made(&out).is_empty());
    assert!(signing_failed(&out, "wall clock"));
}

#[test]
fn a_stepped_wall_clock_is_followed_by_the_signatures() {
    // NTP steps the clock back ten minutes, later forward twenty: signatures made under the
    // old reading would look issued in the future, then expired, to every client. The
    // simulator checks each served signature against the world's clock.
    for steps in [[-600, 1_200], [1_200, -600]] {
        let mut w = steady_world(2, 0, true);
        requests(&mut w, 10, 60, 1_000 * MS);
        at(&mut w, 20_000, Happening::ClockStep(steps[0]));
        at(&mut w, 40_000, Happening::ClockStep(steps[1]));
        let out = run(&w);
        assert_eq!(out.served.0, 60);
        assert!(
            out.served.1 >= 55,
            "{steps:?}: {} of 60 signed",
            out.served.1
        );
        let jobs_after_step = out
            .actions
            .iter()
            .filter(|(t, a)| {
                matches!(a, BootNodeAction::Sign { .. }) && *t == Duration::from_secs(20)
            })
            .count();
        assert_eq!(
            jobs_after_step, 2,
            "{steps:?}: both lists signed again at the step"
        );
    }
}

#[test]
fn a_membership_change_is_listed_at_once() {
    let mut w = quiet_world(3, true);
    w.initial = vec![0];
    w.config.cluster = vec![w.members[0].full()];
    requests(&mut w, 10, 2, 10 * MS);
    at(&mut w, 100, Happening::ClusterChange(vec![0, 1, 2]));
    requests(&mut w, 200, 3, 10 * MS);
    let out = run(&w);
    // The simulator checks each document lists exactly the members of its time, in rotation.
    assert_eq!(out.served, (5, 5));
}

#[test]
fn replayed_tokens_and_invented_ids_are_ignored() {
    let mut w = quiet_world(1, false);
    at(&mut w, 10, Happening::Join(joiner(1, 1_000 * MS)));
    at(&mut w, 20, Happening::StrayAnswer(7));
    at(&mut w, 30, Happening::LoadAsked(3));
    let out = run(&w);
    assert_eq!(
        out.status.counters.ignored_inputs, 1,
        "the invented probe id"
    );
    assert_eq!(dial_requests(&out).len(), 1);
}

// ---- scale ---------------------------------------------------------------------------------

#[test]
fn state_stays_bounded_under_a_hundred_thousand_joins_and_leaves() {
    let w = churn_world(100_000, 7);
    let out = run_quiet(&w);
    // The simulator checked at every step that the machine held at most a constant per open
    // connection; at the end nothing about any peer is left.
    let fp = out.status.footprint;
    assert_eq!(
        (fp.connections, fp.peers, fp.dial_requests),
        (0, 0, 0),
        "{fp:?}"
    );
    assert_eq!(out.status.counters.dial_requests, 100_000);
    assert!(
        out.max_footprint <= 4 * out.max_open + 600,
        "held {} entries with at most {} connections open",
        out.max_footprint,
        out.max_open
    );
}

#[test]
fn rotation_is_fair_over_a_thousand_renders() {
    for members in [2, 3, 5, 7] {
        let out = run_quiet(&steady_world(members, 1_000, members % 2 == 1));
        assert_eq!(out.rotations.len(), 1);
        let counts: Vec<u32> = out.rotations[0].values().copied().collect();
        assert_eq!(counts.len(), members as usize);
        let (max, min) = (
            counts.iter().max().copied().unwrap_or(0),
            counts.iter().min().copied().unwrap_or(0),
        );
        assert!(
            f64::from(max) / f64::from(min) <= 1.1,
            "{members} members: {counts:?}"
        );
    }
}

fn dial_back_answers(out: &BootOutcome) -> Vec<(Duration, pyrsia_boot_core::DialBackAnswer)> {
    out.actions
        .iter()
        .filter_map(|(t, a)| match a {
            BootNodeAction::AnswerDialBack { answer, .. } => Some((*t, answer.clone())),
            _ => None,
        })
        .collect()
}

fn asking_joiner(peer: u32, ask: pyrsia_boot_tests::bootworld::DialBackAsk) -> Happening {
    let mut j = joiner(peer, 5_000 * MS);
    j.asks = Some(ask);
    Happening::Join(j)
}

const ASK: pyrsia_boot_tests::bootworld::DialBackAsk = pyrsia_boot_tests::bootworld::DialBackAsk {
    after: Duration::from_millis(10),
    rtt: Duration::from_millis(20),
    reachable: true,
    latency: Duration::from_millis(5),
    rejects: false,
    strangers_blocked: false,
    times: 1,
};

#[test]
fn a_silent_peer_hears_unreachable_after_a_few_round_trips_not_ten_seconds() {
    let mut w = quiet_world(0, false);
    w.config.dial_back.policy = w.config.policy;
    let silent = pyrsia_boot_tests::bootworld::DialBackAsk {
        reachable: false,
        ..ASK
    };
    at(&mut w, 100, asking_joiner(1, silent));
    at(&mut w, 100, asking_joiner(2, ASK));
    let out = run(&w);
    let answers = dial_back_answers(&out);
    // 600 ms plus 8 round trips of 20 ms, from the request at 110 ms.
    assert!(
        answers.contains(&(
            110 * MS + 760 * MS,
            pyrsia_boot_core::DialBackAnswer::DialError(
                "no dial-back attempt connected in time".into()
            )
        )),
        "{answers:?}"
    );
    // The reachable one hears as soon as its dial-back connected.
    assert!(
        answers
            .iter()
            .any(|(t, a)| *t == 115 * MS
                && matches!(a, pyrsia_boot_core::DialBackAnswer::Reachable(_))),
        "{answers:?}"
    );
}

#[test]
fn with_an_alternate_address_ok_means_a_stranger_got_in() {
    let mut w = quiet_world(0, false);
    w.config.dial_back.policy = w.config.policy;
    w.config.dial_back.alternate = true;
    let restricted = pyrsia_boot_tests::bootworld::DialBackAsk {
        strangers_blocked: true,
        ..ASK
    };
    at(&mut w, 100, asking_joiner(1, restricted));
    at(&mut w, 100, asking_joiner(2, ASK));
    let out = run(&w);
    let answers: Vec<_> = dial_back_answers(&out)
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    assert_eq!(answers.len(), 2, "{answers:?}");
    // The open one: both legs connect, OK at once.
    assert!(answers
        .iter()
        .any(|a| matches!(a, pyrsia_boot_core::DialBackAnswer::Reachable(_))));
    // The address-restricted one: only our own address got in, which is not OK.
    assert!(
        answers.iter().any(|a| matches!(a,
            pyrsia_boot_core::DialBackAnswer::DialError(why) if why.contains("address-dependent"))),
        "{answers:?}"
    );
    let legs: std::collections::BTreeSet<_> = (out.actions.iter())
        .filter_map(|(_, a)| match a {
            BootNodeAction::DialBack { job, from, .. } => Some((*job, *from)),
            _ => None,
        })
        .collect();
    assert_eq!(legs.len(), 4, "two legs per request");
}

#[test]
fn a_request_before_any_round_trip_waits_briefly_for_one_then_takes_the_long_timeout() {
    let mut w = quiet_world(0, false);
    w.config.dial_back.policy = w.config.policy;
    let unmeasured_silent = pyrsia_boot_tests::bootworld::DialBackAsk {
        rtt: Duration::ZERO, // the simulator then feeds no round trip
        reachable: false,
        ..ASK
    };
    at(&mut w, 100, asking_joiner(1, unmeasured_silent));
    let out = run(&w);
    let started: Vec<Duration> = out
        .actions
        .iter()
        .filter(|(_, a)| matches!(a, BootNodeAction::DialBack { .. }))
        .map(|(t, _)| *t)
        .collect();
    // The first attempt 500 ms after the request at 110 ms; the rest a quarter of the
    // unmeasured 3 s timeout later, since it did not connect.
    assert_eq!(started, [610 * MS, 1_360 * MS]);
    let answers = dial_back_answers(&out);
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, 3_610 * MS, "{answers:?}");
}

#[test]
fn a_wildcard_listener_advertises_only_addresses_another_host_could_dial() {
    let addr = |s: &str| -> Multiaddr { s.parse().expect("valid") };
    let mut w = quiet_world(0, false);
    w.config.policy = pyrsia_boot_core::AddressPolicy::allow_private();
    w.listen = vec![
        addr("/ip4/127.0.0.1/tcp/44000"),
        addr("/ip4/192.168.1.9/tcp/44000"),
        addr("/ip6/::1/tcp/44000"),
        addr("/ip6/fe80::1/tcp/44000"),
        addr("/ip4/169.254.3.4/tcp/44000"),
    ];
    let out = run(&w);
    assert_eq!(out.status.advertised, [addr("/ip4/192.168.1.9/tcp/44000")]);

    // A loopback demo has nothing else: its loopback addresses are what it advertises.
    let mut w = quiet_world(0, false);
    w.config.policy = pyrsia_boot_core::AddressPolicy::allow_private();
    w.listen = vec![
        addr("/ip4/127.0.0.1/tcp/44000"),
        addr("/ip6/fe80::1/tcp/44000"),
    ];
    let out = run(&w);
    assert_eq!(out.status.advertised, [addr("/ip4/127.0.0.1/tcp/44000")]);
}
