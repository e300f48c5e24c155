# pyrsia-boot tasks. Build and test per package (-p): a workspace-wide build unifies features
# and would drag one adapter's runtime into another's tree.

set shell := ["bash", "-euo", "pipefail", "-c"]

core_pkgs := "-p pyrsia-boot-core -p pyrsia-boot-tests"

# List the recipes.
default:
    @just --list

# The embedded demo: three boot nodes and a client on loopback, in one process.
demo:
    cargo run --release -q -p pyrsia-boot -- demo

# A simulated bootstrap in virtual time, printed as a transcript.
simulate:
    cargo run --release -q -p pyrsia-boot-tests --example simulate

# The test suite: parser, address registries, both machines' scenarios, golden transcripts,
# properties and corpus replay, the libp2p glue, and the conformance suite (tests/conformance)
# on each adapter, each built on its own, against real swarms and HTTP servers on loopback;
# then the CLI as processes (and, as root with nftables and nginx, the NAT lab and nginx).
test:
    cargo test {{core_pkgs}}
    cargo test -p pyrsia-boot-libp2p
    cargo test -p pyrsia-boot-smol
    cargo test -p pyrsia-boot-async-std
    cargo test -p pyrsia-boot-tokio
    cargo test -p pyrsia-boot

# The NAT lab tests alone (root, nftables), with each case's time to Connected and to a verdict,
# and the flood test's numbers (it runs examples/flood.rs inside the lab).
natlab:
    cargo build -p pyrsia-boot --examples
    cargo test -p pyrsia-boot --test natlab -- --nocapture 2>&1 | grep -E "natlab (timing|flood)|test result|panicked|skipping"

# Type-check every package, tests and benches included.
check:
    cargo check {{core_pkgs}} --all-targets
    cargo check -p pyrsia-boot-libp2p --all-targets
    cargo check -p pyrsia-boot-conformance --all-targets
    cargo check -p pyrsia-boot-smol --all-targets
    cargo check -p pyrsia-boot-async-std --all-targets
    cargo check -p pyrsia-boot-tokio --all-targets
    cargo check -p pyrsia-boot --all-targets

# Formatting, clippy and rustdoc with warnings as errors (per package), and the purity check.
lint: purity
    cargo fmt --all -- --check
    cargo clippy -p pyrsia-boot-core --all-targets -- -D warnings
    cargo clippy -p pyrsia-boot-tests --all-targets -- -D warnings
    cargo clippy -p pyrsia-boot-libp2p --all-targets -- -D warnings
    cargo clippy -p pyrsia-boot-conformance --all-targets -- -D warnings
    cargo clippy -p pyrsia-boot-smol --all-targets -- -D warnings
    cargo clippy -p pyrsia-boot-async-std --all-targets -- -D warnings
    cargo clippy -p pyrsia-boot-tokio --all-targets -- -D warnings
    cargo clippy -p pyrsia-boot --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc -q -p pyrsia-boot-core -p pyrsia-boot-libp2p -p pyrsia-boot-smol -p pyrsia-boot-async-std --no-deps
    RUSTDOCFLAGS="-D warnings" cargo doc -q -p pyrsia-boot-tokio --no-deps

# The core has no runtime, async or swarm dependency (DESIGN §4); smol's tree has no async-std.
purity:
    #!/usr/bin/env bash
    set -euo pipefail
    tree=$(cargo tree -p pyrsia-boot-core -e normal --prefix none)
    if bad=$(grep -E '^(async-std|async-io|smol|tokio|futures|libp2p-swarm)(-[a-z0-9-]+)? v' <<<"$tree"); then
        echo "pyrsia-boot-core must stay pure, but its tree contains:"; echo "$bad"; exit 1
    fi
    echo "purity: pyrsia-boot-core has no runtime, async or swarm dependency"
    # The smol adapter must not pull async-std in (reference notes §2.2), not even in its tests;
    # the async-std adapter's tests run without smol, so each conformance run is one runtime.
    if cargo tree -p pyrsia-boot-smol -e normal,dev --prefix none | grep -E '^async-std v'; then
        echo "async-std is in pyrsia-boot-smol's tree"; exit 1
    fi
    echo "purity: pyrsia-boot-smol has no async-std"
    if cargo tree -p pyrsia-boot-async-std -e normal,dev --prefix none | grep -E '^smol v'; then
        echo "smol is in pyrsia-boot-async-std's tree"; exit 1
    fi
    echo "purity: pyrsia-boot-async-std has no smol"
    # libp2p 0.57 and tokio's runtime stay in the tokio adapter; smol, async-std and libp2p 0.55
    # stay out of it. (hyper always brings tokio's `sync` primitives, and surf's pool tokio's
    # time types: no runtime, so only tokio's `rt` and `net` features count.)
    for p in pyrsia-boot-smol pyrsia-boot-async-std pyrsia-boot; do
        if cargo tree -p $p -e normal,dev --prefix none | grep -E '^libp2p v0\.57'; then
            echo "libp2p 0.57 is in $p's tree"; exit 1
        fi
        if cargo tree -p $p -e features,normal,dev -i tokio --prefix none 2>/dev/null \
            | grep -E '^tokio feature "(rt|rt-multi-thread|net)"'; then
            echo "tokio's runtime is in $p's tree"; exit 1
        fi
    done
    echo "purity: no libp2p 0.57 and no tokio runtime in the smol, async-std and CLI trees"
    if cargo tree -p pyrsia-boot-tokio -e normal,dev --prefix none | grep -E '^(async-std|smol) v|^libp2p v0\.55'; then
        echo "a 0.55 runtime or libp2p 0.55 is in pyrsia-boot-tokio's tree"; exit 1
    fi
    echo "purity: pyrsia-boot-tokio has no async-std, no smol and no libp2p 0.55"
    # tokio's reactor is the only one in the tokio tree: the alternate dial-back address uses
    # tokio's sockets (Runtime::connect_from), not async-io's.
    if cargo tree -p pyrsia-boot-tokio -e normal --prefix none | grep -E '^async-io v'; then
        echo "async-io (a second reactor) is in pyrsia-boot-tokio's tree"; exit 1
    fi
    echo "purity: no async-io in pyrsia-boot-tokio's tree"
    # One protobuf crate per tree: our AutoNAT v1 codec follows the one libp2p and
    # libp2p-identity use (prost 0.14), instead of carrying a second.
    for p in pyrsia-boot-smol pyrsia-boot-async-std pyrsia-boot-tokio; do
        n=$(cargo tree -p $p -e normal --prefix none | grep -E '^prost v' | cut -d' ' -f2 | sort -u | wc -l)
        if [[ $n -gt 1 ]]; then echo "$p's tree has $n prost versions"; exit 1; fi
    done
    echo "purity: one prost in each adapter's tree"

# start → Connected on smol, async-std and tokio side by side in one run (tokio, on libp2p
# 0.57, in a helper process the bench drives round by round), and warm vs cold restarts.
bench-runtimes:
    cargo build --release -p pyrsia-boot-tokio --example bench-rounds
    cargo bench -p pyrsia-boot --bench runtimes

# `cargo package` for every published crate: each is packed and built from its own .crate, the
# unpublished ones served from a local overlay registry (crates.io is needed for the rest).
# Cargo keeps what it unpacked from that overlay under ~/.cargo/registry/src and would reuse a
# previous run's copy of our crates (same version, stale source): those copies go first.
package:
    rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/pyrsia-boot-* "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/pyrsia-boot-*
    cargo package --locked -p pyrsia-boot-core -p pyrsia-boot-libp2p -p pyrsia-boot-smol -p pyrsia-boot-async-std -p pyrsia-boot-tokio -p pyrsia-boot

# The MSRV as this machine can check it (no other toolchain can be installed here): every crate
# each published package builds declares a rust-version no newer than ours; clippy's
# incompatible_msrv lint (in `just lint`) covers our own use of std.
msrv:
    python3 tools/msrv-check.py pyrsia-boot-core pyrsia-boot-libp2p pyrsia-boot-smol pyrsia-boot-async-std pyrsia-boot-tokio pyrsia-boot

# The core's public API against its snapshot (rustdoc JSON, nightly): a change shows as a diff.
api:
    python3 tools/public-api.py pyrsia-boot-core core/public-api.txt

# Accept the core's public API as it is now (after saying why in CHANGELOG.md).
api-bless:
    python3 tools/public-api.py pyrsia-boot-core core/public-api.txt --bless

# Live fuzzing on nightly: `just fuzz status_parser 600`, `just fuzz machine 600`,
# `just fuzz bootnode 600` (corpus in fuzz/corpus, seeds in fuzz/seeds).
fuzz TARGET SECONDS="60":
    mkdir -p fuzz/corpus/{{TARGET}}
    cd fuzz && cargo +nightly fuzz run {{TARGET}} corpus/{{TARGET}} seeds/{{TARGET}} -- -max_total_time={{SECONDS}} -print_final_stats=1

# Build the fuzz targets on nightly without running them.
fuzz-build:
    cd fuzz && cargo +nightly fuzz build

# Replay the committed seed corpus (and any local corpus) through the fuzz bodies, on stable.
fuzz-replay:
    cargo test -p pyrsia-boot-tests --test corpus_replay

# Benchmarks: parser vs serde_json::Value and bootstraps/s side by side, then allocation counts.
bench:
    cargo bench -p pyrsia-boot-tests --bench core
    cargo bench -p pyrsia-boot-tests --bench alloc

# What one joining peer costs a boot node: its machine alone, the whole process, the floor.
bench-join:
    cargo bench -p pyrsia-boot --bench join_cost

# A crowd from worker processes: bursts of 1..5000 joiners, then steady rates against a node
# pinned to one core (BENCHMARKS §18; about 5 min).
bench-crowd:
    CROWD_BURST=1,10,100,1000,5000 cargo bench -p pyrsia-boot --bench crowd

# Ten minutes of join/leave churn: RSS and lost /status requests (BENCHMARKS §17).
bench-soak:
    cargo bench -p pyrsia-boot --bench soak

# Verdicts in the NAT lab per NAT kind, runtime and loss, with the stranger's ground truth,
# beside the stock libp2p-autonat pair as Pyrsia configured it (root, nftables; ~20 min).
bench-natlab:
    cargo build --release -p pyrsia-boot --example stock_autonat
    cargo bench -p pyrsia-boot --bench natlab_verdicts

# Regenerate the golden transcripts after an intended behaviour change (review the diff!).
golden:
    UPDATE_GOLDEN=1 cargo test -p pyrsia-boot-tests --test golden
