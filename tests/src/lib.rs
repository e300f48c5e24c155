//! Test support for pyrsia-boot: a simulated [`world::World`], the deterministic simulator
//! ([`sim::run`]) that checks the core's invariants at every step, and the bodies of the fuzz
//! targets ([`fuzz`]), so the fuzzer, proptest and the corpus replay run the same code.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bench;
pub mod bootsim;
pub mod bootworld;
pub mod fuzz;
pub mod harness;
pub mod sim;
pub mod world;

pub use sim::{run, Outcome};
pub use world::{local_peer, peer, World};

/// `default` property cases, or `PROPTEST_CASES` when set (a longer hunt:
/// `PROPTEST_CASES=5000 cargo test --release -p pyrsia-boot-tests --test bootnode_properties`).
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
