//! Pins the client machine's exact behaviour over many generated worlds, for a restructuring
//! that must not change it: `record DIR` writes each world's transcript, final status, give-up
//! report and step count; `compare DIR` reruns them and lists every world that differs (exit 1).
//! The worlds come from the properties' generator with fixed seeds (a third with a hostile
//! driver) plus the fuzz seeds. Run:
//! `cargo run --release -p pyrsia-boot-tests --example pin_transcripts -- record /tmp/pin`,
//! change the machine, then `... -- compare /tmp/pin`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write;
use std::path::Path;
use std::process::ExitCode;

use pyrsia_boot_tests::world::Hostility;
use pyrsia_boot_tests::{run, World};

/// Worlds generated from seeds.
const WORLDS: u64 = 12_000;

/// The generator's input for `seed`: up to 1 KiB from a xorshift stream.
fn bytes(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let len = (next() % 1024) as usize;
    (0..len).map(|_| next() as u8).collect()
}

fn worlds() -> Vec<(String, World)> {
    let mut out = Vec::new();
    for s in 0..WORLDS {
        let mut w = World::from_bytes(&bytes(s));
        if s % 3 == 0 {
            w.hostile = Some(Hostility::with(s, 10 + (s % 20) as u8, 5, 7));
        }
        out.push((format!("w{s}"), w));
    }
    let seeds = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/machine");
    if let Ok(dir) = std::fs::read_dir(seeds) {
        for entry in dir.flatten() {
            if let Ok(b) = std::fs::read(entry.path()) {
                let name = entry.file_name().to_string_lossy().into_owned();
                out.push((format!("seed-{name}"), World::from_bytes(&b)));
            }
        }
    }
    out
}

fn describe(w: &World) -> String {
    let out = run(w);
    let mut text = out.transcript.join("\n");
    let _ = write!(
        text,
        "\nSTATUS {:?}\nGAVEUP {:?}\nSTEPS {}\n",
        out.status, out.gave_up, out.steps
    );
    text
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, dir) = match args.as_slice() {
        [mode, dir] if mode == "record" || mode == "compare" => (mode.as_str(), Path::new(dir)),
        _ => {
            eprintln!("usage: pin_transcripts record|compare DIR");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("{}: {e}", dir.display());
        return ExitCode::from(2);
    }
    let (mut differ, mut total) = (Vec::new(), 0);
    for (name, w) in worlds() {
        total += 1;
        let text = describe(&w);
        let path = dir.join(format!("{name}.txt"));
        if mode == "record" {
            if let Err(e) = std::fs::write(&path, &text) {
                eprintln!("{}: {e}", path.display());
                return ExitCode::from(2);
            }
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            let _ = std::fs::write(dir.join(format!("{name}.new")), &text);
            differ.push(name);
        }
    }
    if mode == "record" {
        println!("recorded {total} worlds in {}", dir.display());
        return ExitCode::SUCCESS;
    }
    println!("{} of {total} worlds differ", differ.len());
    for name in differ.iter().take(20) {
        println!("  {name} (see {name}.new)");
    }
    if differ.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
