//! Prints the simulator's transcript of the world drawn from the bytes of a file (or of the
//! simple world when no file is given): `cargo run -p pyrsia-boot-tests --example simulate -- FILE`.
#![allow(clippy::print_stdout)]

fn main() {
    let world = match std::env::args().nth(1) {
        Some(path) => {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
            pyrsia_boot_tests::World::from_bytes(&bytes)
        }
        None => pyrsia_boot_tests::world::simple_world(1, std::time::Duration::from_millis(20)),
    };
    let out = pyrsia_boot_tests::run(&world);
    for line in &out.transcript {
        println!("{line}");
    }
    println!(
        "-- {:?} after {} steps, {:?} virtual",
        out.status.phase, out.steps, out.elapsed
    );
}
