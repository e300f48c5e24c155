//! Golden transcripts: the control flow of the happy path and each main failure path, at a
//! glance. A change in behaviour shows up as a diff of `tests/golden/*.txt`; after checking it
//! is intended, regenerate with `UPDATE_GOLDEN=1 cargo test -p pyrsia-boot-tests --test golden`.

use std::time::Duration;

use pyrsia_boot_tests::bootsim;
use pyrsia_boot_tests::bootworld::{
    joiner, quiet_world, steady_world, Answer, BootWorld, Happening,
};
use pyrsia_boot_tests::world::{simple_world, Reply};
use pyrsia_boot_tests::{run, World};

const MS: Duration = Duration::from_millis(1);

fn base() -> World {
    let mut w = simple_world(7, 20 * MS);
    w.config.max_concurrent_dials = 1;
    w
}

fn check(name: &str, world: World) {
    compare(name, run(&world).transcript.join("\n") + "\n");
}

fn check_boot(name: &str, mut world: BootWorld) {
    world.settle = Duration::from_secs(1);
    compare(name, bootsim::run(&world).transcript.join("\n") + "\n");
}

fn compare(name: &str, got: String) {
    let path = format!("{}/golden/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {path}: {e} (run with UPDATE_GOLDEN=1 to create it)"));
    assert!(
        got == want,
        "transcript {name} changed.\n--- want\n{want}--- got\n{got}\
         (if intended: UPDATE_GOLDEN=1 cargo test -p pyrsia-boot-tests --test golden)"
    );
}

#[test]
fn happy_path() {
    check("happy_path", base());
}

#[test]
fn first_url_answers_500() {
    let w = base().first_url_then_good(vec![Reply::Answer {
        latency: 5 * MS,
        status: 500,
        body: b"boom".to_vec(),
    }]);
    check("first_url_500", w);
}

#[test]
fn garbage_body_then_good() {
    check(
        "garbage_then_good",
        base().first_url_then_good(vec![pyrsia_boot_tests::world::ok(
            5 * MS,
            b"\x00garbage".to_vec(),
        )]),
    );
}

#[test]
fn first_boot_peer_dead() {
    let mut w = base();
    w.peers[0] = w.peers[0].clone().dead();
    check("dead_peer", w);
}

#[test]
fn boot_peer_never_probes() {
    // Neither asks nor answers: dropped at its request's deadline, the next peer connects.
    let mut w = base();
    w.peers[0].probe_delay = None;
    w.peers[0].answer_delay = None;
    check("no_inbound_probe", w);
}

#[test]
fn boot_peer_answers_but_never_asks() {
    // A settled go-libp2p boot node: connected by its answer once its request is overdue.
    let mut w = base();
    w.peers[0].probe_delay = None;
    check("answers_but_never_asks", w);
}

#[test]
fn every_source_fails() {
    let mut w = base();
    w.servers[0].replies = vec![Reply::Fail { latency: 5 * MS }];
    w.config.backoff.max_rounds = 3;
    check("every_source_fails", w);
}

#[test]
fn budget_runs_out() {
    let mut w = base();
    w.servers[0].replies = vec![Reply::Hang];
    w.config.budget = Duration::from_secs(12);
    check("budget_exhausted", w);
}

#[test]
fn connection_lost_then_rebootstrap() {
    let mut w = base();
    w.peers[0].drop_after = Some(Duration::from_secs(2));
    check("rebootstrap", w);
}

#[test]
fn behind_nat() {
    let mut w = base();
    w.reachability = pyrsia_boot_tests::world::Reachability::Private;
    check("behind_nat", w);
}

// ---- the boot node ------------------------------------------------------------------------

#[test]
fn boot_node_a_peer_joins_and_answers() {
    let mut w = quiet_world(0, false);
    w.happenings
        .push((100 * MS, Happening::Join(joiner(1, 500 * MS))));
    w.happenings.push((
        200 * MS,
        Happening::StatusRequests {
            count: 1,
            spacing: MS,
        },
    ));
    check_boot("bootnode_join", w);
}

#[test]
fn boot_node_a_member_connects_and_a_peer_leaves_before_answering() {
    let mut w = quiet_world(1, false);
    w.config.load_interval = Duration::from_secs(1);
    w.happenings.push((
        50 * MS,
        Happening::MemberConnects {
            member: 0,
            inbound: true,
            stay: 2_000 * MS,
        },
    ));
    let mut j = joiner(1, 300 * MS);
    j.answer = (Answer::Never, MS);
    w.happenings.push((100 * MS, Happening::Join(j)));
    w.happenings.push((
        1_500 * MS,
        Happening::StatusRequests {
            count: 1,
            spacing: MS,
        },
    ));
    check_boot("bootnode_member_and_leaver", w);
}

#[test]
fn boot_node_signs_rotates_and_renews() {
    let mut w = steady_world(2, 0, true);
    if let Some(s) = &mut w.config.signing {
        s.validity = Duration::from_secs(8);
    }
    w.config.load_interval = Duration::from_secs(60);
    w.happenings.push((
        10 * MS,
        Happening::StatusRequests {
            count: 4,
            spacing: 2_500 * MS,
        },
    ));
    check_boot("bootnode_signed_rotation", w);
}
