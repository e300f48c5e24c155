//! Properties of the boot-node machine over generated worlds, 512 each. The simulator checks
//! every invariant at every step (it panics on a violation, which proptest shrinks); these add
//! the whole-run ones: determinism and rotation fairness.

use proptest::prelude::*;
use pyrsia_boot_tests::bootsim::{run, run_quiet};
use pyrsia_boot_tests::bootworld::{steady_world, BootWorld, Happening};
use pyrsia_boot_tests::proptest_cases;
use pyrsia_boot_tests::world::Hostility;

fn world() -> impl Strategy<Value = BootWorld> {
    proptest::collection::vec(any::<u8>(), 0..1024).prop_map(|b| BootWorld::from_bytes(&b))
}

fn honest_world() -> impl Strategy<Value = BootWorld> {
    world().prop_map(|mut w| {
        w.hostile = None;
        w
    })
}

fn hostile_world() -> impl Strategy<Value = BootWorld> {
    (world(), any::<u64>(), 1u8..40, 1u8..40, 1u8..40).prop_map(|(mut w, seed, d, r, b)| {
        w.hostile = Some(Hostility::with(seed, d, r, b));
        w
    })
}

/// A cluster of 2 to 8 members, signed or not, with 1 000 to 1 100 `/status` requests at a
/// random spacing, and joiners coming and going meanwhile.
fn steady() -> impl Strategy<Value = BootWorld> {
    (2u32..=8, 1_000u32..=1_100, any::<bool>(), 0u64..50, world()).prop_map(
        |(members, renders, signed, spacing, noise)| {
            let mut w = steady_world(members, 0, signed);
            w.happenings.push((
                std::time::Duration::from_millis(5),
                Happening::StatusRequests {
                    count: renders,
                    spacing: std::time::Duration::from_millis(spacing),
                },
            ));
            // Peers join and leave meanwhile; the lists stay the same.
            w.happenings.extend(
                noise
                    .happenings
                    .into_iter()
                    .filter(|(_, h)| matches!(h, Happening::Join(_))),
            );
            w
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: proptest_cases(512), ..ProptestConfig::default() })]

    /// Every invariant of `tests/src/bootsim.rs`, at every step, and every `/status` request
    /// answered by the end; once every peer has left, nothing about any is held.
    #[test]
    fn every_boot_world_keeps_every_invariant(w in honest_world()) {
        let fp = run_quiet(&w).status.footprint;
        prop_assert_eq!((fp.connections, fp.peers, fp.dial_requests, fp.waiting_requests), (0, 0, 0, 0));
    }

    /// Duplicated and replayed inputs, time going backwards: ignored or clamped, every
    /// invariant still holds, and a replayed connection leaves no phantom behind.
    #[test]
    fn a_hostile_driver_breaks_no_boot_node_invariant(w in hostile_world()) {
        let fp = run_quiet(&w).status.footprint;
        prop_assert_eq!((fp.connections, fp.peers, fp.dial_requests, fp.waiting_requests), (0, 0, 0, 0));
    }

    #[test]
    fn the_same_boot_world_gives_the_same_transcript(w in world()) {
        prop_assert_eq!(run(&w).transcript, run(&w).transcript);
    }

    /// Over a thousand renders or more, no member comes first after this node more than 1.1
    /// times as often as another.
    #[test]
    fn the_rotation_is_fair_over_a_thousand_renders(w in steady()) {
        let out = run_quiet(&w);
        prop_assert_eq!(out.rotations.len(), 1);
        let counts: Vec<u32> = out.rotations[0].values().copied().collect();
        prop_assert_eq!(counts.len(), w.members.len());
        let max = counts.iter().copied().max().unwrap_or(0);
        let min = counts.iter().copied().min().unwrap_or(0);
        prop_assert!(min > 0 && f64::from(max) / f64::from(min) <= 1.1, "{:?}", counts);
    }
}
