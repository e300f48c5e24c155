//! Properties over generated worlds. Every invariant is checked inside the simulator at every
//! step (it panics on a violation); these tests add the whole-run properties.

use proptest::prelude::*;
use pyrsia_boot_core::PhaseName;
use pyrsia_boot_tests::world::Hostility;
use pyrsia_boot_tests::{proptest_cases, run, World};

fn world() -> impl Strategy<Value = World> {
    proptest::collection::vec(any::<u8>(), 0..1024).prop_map(|b| World::from_bytes(&b))
}

fn honest_world() -> impl Strategy<Value = World> {
    world().prop_map(|mut w| {
        w.hostile = None;
        w
    })
}

fn hostile_world() -> impl Strategy<Value = World> {
    (world(), any::<u64>(), 1u8..40, 1u8..40, 1u8..40).prop_map(|(mut w, seed, d, r, b)| {
        w.hostile = Some(Hostility::with(seed, d, r, b));
        w
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: proptest_cases(512), ..ProptestConfig::default() })]

    /// Terminates (the simulator bounds steps and virtual time and checks the budget at every
    /// step), and ends either idle in Connected or in GaveUp.
    #[test]
    fn every_world_terminates_connected_or_given_up(w in honest_world()) {
        let out = run(&w);
        prop_assert!(
            matches!(out.status.phase, PhaseName::Connected | PhaseName::GaveUp),
            "ended in {:?}", out.status.phase
        );
        prop_assert_eq!(out.gave_up.is_some(), out.status.phase == PhaseName::GaveUp);
    }

    #[test]
    fn same_world_and_seed_give_the_same_transcript(w in world()) {
        prop_assert_eq!(run(&w).transcript, run(&w).transcript);
    }

    /// Stale ids, duplicates, replays and time going backwards: no panic, and the simulator's
    /// invariants (dial cap, listed addresses, Connected only when earned, NAT report, budget)
    /// still hold.
    #[test]
    fn a_hostile_driver_breaks_no_invariant(w in hostile_world()) {
        let out = run(&w);
        prop_assert!(out.steps > 0);
    }

    /// A world with a good boot URL and a well-behaved boot peer always connects.
    #[test]
    fn connects_whenever_one_path_works(seed in any::<u64>(), latency in 1u64..500) {
        let w = pyrsia_boot_tests::world::simple_world(seed, std::time::Duration::from_millis(latency));
        let out = run(&w);
        prop_assert_eq!(out.status.phase, PhaseName::Connected);
        prop_assert_eq!(out.connects, 1);
    }
}
