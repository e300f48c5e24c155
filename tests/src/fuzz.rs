//! Fuzz target bodies. The targets in `fuzz/` are one line each; the corpus replay test calls
//! these same functions on stable.

use pyrsia_boot_core::{parse_status, AddressPolicy, Limits, ParseOptions, Trust};

/// The key the fuzz seeds are signed with; the trusted pass trusts it.
pub fn trusted_signer() -> libp2p_identity::Keypair {
    libp2p_identity::Keypair::ed25519_from_bytes([0x5e; 32]).expect("32 bytes make a key")
}

/// The clock of the trusted pass (the seeds are valid at this time).
pub const FUZZ_NOW: u64 = 1_795_000_000;

/// Parses arbitrary bytes with default and lab options, and once more requiring a signature by
/// [`trusted_signer`]; checks the output's bounds, and that an accepted signed list names its
/// trusted signer.
pub fn status_parser(data: &[u8]) {
    let trust = Trust {
        keys: vec![trusted_signer().public()],
        unix_time: Some(FUZZ_NOW),
        sequences: Vec::new(),
    };
    for (policy, trust) in [
        (AddressPolicy::default(), Trust::default()),
        (AddressPolicy::allow_private(), Trust::default()),
        (AddressPolicy::allow_private(), trust),
    ] {
        let options = ParseOptions {
            limits: Limits::default(),
            policy,
            local_peer: Some(crate::world::local_peer()),
            pinned: Vec::new(),
            trust,
        };
        if let Ok(list) = parse_status(data, &options) {
            if options.trust.required() {
                let by = list.signed_by.as_ref().expect("accepted ⇒ signed");
                assert!(options.trust.keys.contains(&by.key));
            }
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

/// Runs `world` twice with `run`: every invariant holds (the simulators panic otherwise) and
/// both runs give the same transcript.
fn twice<W>(world: &W, run: impl Fn(&W) -> Vec<String>) {
    assert_eq!(
        run(world),
        run(world),
        "same world, same seed, different transcript"
    );
}

/// Decodes bytes into a world and runs it through the client simulator twice.
pub fn machine(data: &[u8]) {
    twice(&crate::world::World::from_bytes(data), |w| {
        crate::sim::run(w).transcript
    });
}

/// Decodes bytes into a boot-node world and runs it through the boot-node simulator twice.
pub fn bootnode(data: &[u8]) {
    twice(&crate::bootworld::BootWorld::from_bytes(data), |w| {
        crate::bootsim::run(w).transcript
    });
}
