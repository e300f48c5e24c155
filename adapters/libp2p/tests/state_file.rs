//! The state file: round trip, and every way a stored file can be unusable.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use pyrsia_boot_core::{CachedPeer, KnownPeer, NatVerdict, Snapshot};
use pyrsia_boot_libp2p::state_file::{load, save, Loaded};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pyrsia-boot-state-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sample() -> Snapshot {
    Snapshot {
        good_peers: vec![CachedPeer {
            peer: KnownPeer {
                id: libp2p::PeerId::random(),
                addrs: vec!["/ip4/198.51.100.3/tcp/44000".parse().expect("valid")],
            },
            last_seen: Some(1_790_000_000),
        }],
        nat: NatVerdict::Private,
        boot_sequences: vec![pyrsia_boot_core::SeenSequence {
            key: libp2p::identity::Keypair::generate_ed25519().public(),
            sequence: 12,
        }],
    }
}

#[test]
fn saves_and_loads_leaving_only_the_state_file() {
    let dir = TempDir::new();
    let path = dir.0.join("state.json");
    assert_eq!(load(&path), Loaded::Missing);
    let s = sample();
    save(&path, &s).expect("save");
    assert_eq!(load(&path), Loaded::Snapshot(s.clone()));
    let newer = Snapshot {
        nat: NatVerdict::Unknown,
        ..s
    };
    save(&path, &newer).expect("save over");
    assert_eq!(load(&path), Loaded::Snapshot(newer));
    assert_eq!(dir.entries(), ["state.json"], "no temporary file left");
}

#[test]
fn ignores_truncated_corrupt_and_wrong_version_files_naming_the_file() {
    let dir = TempDir::new();
    let path = dir.0.join("state.json");
    let good = sample().to_json();
    let wrong_version = String::from_utf8(good.clone())
        .expect("utf-8")
        .replace("\"version\": 1", "\"version\": 9");
    for (what, bytes, reason) in [
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            "not a pyrsia-boot state document",
        ),
        (
            "corrupt",
            b"\xde\xad\xbe\xef".to_vec(),
            "not a pyrsia-boot state document",
        ),
        ("empty", Vec::new(), "not a pyrsia-boot state document"),
        (
            "wrong version",
            wrong_version.into_bytes(),
            "format version 9",
        ),
        ("huge", vec![b' '; 300 * 1024], "larger than"),
    ] {
        std::fs::write(&path, &bytes).expect("write");
        match load(&path) {
            Loaded::Ignored(msg) => {
                assert!(msg.contains(&path.display().to_string()), "{what}: {msg}");
                assert!(msg.contains(reason), "{what}: {msg}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn a_failed_save_leaves_the_old_file_and_no_partial_one() {
    let dir = TempDir::new();
    // The target is a directory, so the final rename fails after the temp file was written.
    let path = dir.0.join("state.json");
    std::fs::create_dir(&path).expect("mkdir");
    std::fs::write(path.join("keep"), b"x").expect("write");
    assert!(save(&path, &sample()).is_err());
    assert_eq!(dir.entries(), ["state.json"], "the temp file was removed");
    assert!(path.join("keep").exists());
}
