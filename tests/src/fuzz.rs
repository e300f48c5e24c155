//! Fuzz target bodies. The targets in `fuzz/` are one line each; the corpus replay test calls
//! these same functions on stable.

use pyrsia_boot_core::{parse_status, AddressPolicy, Limits, ParseOptions};

/// Parses arbitrary bytes with default and with lab options; checks the output's bounds.
pub fn status_parser(data: &[u8]) {
    for policy in [AddressPolicy::default(), AddressPolicy::allow_private()] {
        let options = ParseOptions {
            limits: Limits::default(),
            policy,
            local_peer: Some(crate::world::local_peer()),
            pinned: Vec::new(),
        };
        if let Ok(list) = parse_status(data, &options) {
            let l = &options.limits;
            assert!(!list.peers.is_empty() && list.peers.len() <= l.max_peers);
            for p in &list.peers {
                assert!(!p.addrs.is_empty() && p.addrs.len() <= l.max_addrs_per_peer);
                assert!(p.addrs.iter().all(|a| options.policy.allows(a.class)));
                assert_ne!(Some(p.id), options.local_peer);
            }
        }
    }
}

/// Decodes bytes into a world and runs it through the simulator twice: every invariant holds
/// and both runs give the same transcript.
pub fn machine(data: &[u8]) {
    let world = crate::world::World::from_bytes(data);
    let a = crate::sim::run(&world);
    let b = crate::sim::run(&world);
    assert_eq!(
        a.transcript, b.transcript,
        "same world, same seed, different transcript"
    );
}
