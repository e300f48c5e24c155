//! Heap allocations per bootstrap and per parse, counted by a wrapping global allocator.
//! Run: `cargo bench -p pyrsia-boot-tests --bench alloc`.
#![allow(clippy::print_stdout)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use pyrsia_boot_core::parse_status;
use pyrsia_boot_tests::bench::{bench_options, document, instant_bootstrap, limit_sized_document};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// A global allocator is an `unsafe impl` by definition; this is the one place in the
// workspace that allows `unsafe_code`, and it only forwards to `System`.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwards the caller's layout unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count(f: impl FnOnce()) -> (u64, u64) {
    let (a, b) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    f();
    (
        ALLOCS.load(Ordering::Relaxed) - a,
        BYTES.load(Ordering::Relaxed) - b,
    )
}

fn main() {
    let options = bench_options();
    // Warm the peer-id table outside the counted regions.
    let small = document(3, 1);
    let docs = [
        ("1 peer", document(1, 1)),
        ("3 peers", small.clone()),
        ("64 peers", document(64, 2)),
        (
            "limit-sized",
            limit_sized_document(options.limits.max_body_bytes),
        ),
    ];
    println!("## Heap allocations\n");
    println!("| what | allocations | bytes allocated |");
    println!("|---|---:|---:|");
    for (name, body) in &docs {
        let (n, bytes) = count(|| {
            std::hint::black_box(parse_status(body, &options).ok());
        });
        let (vn, vbytes) = count(|| {
            std::hint::black_box(serde_json::from_slice::<serde_json::Value>(body).ok());
        });
        println!(
            "| parse_status, {name} ({} B) | {n} | {bytes} |",
            body.len()
        );
        println!("| serde_json::Value, {name} | {vn} | {vbytes} |");
    }
    let start = Instant::now();
    for (name, body) in [("3-peer", &small), ("64-peer", &docs[2].1)] {
        let (n, bytes) = count(|| {
            std::hint::black_box(instant_bootstrap(body, start));
        });
        println!(
            "| one whole bootstrap, {name} document (machine + driver's inputs, body copy included) | {n} | {bytes} |"
        );
    }
}
