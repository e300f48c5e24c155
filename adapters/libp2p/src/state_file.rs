//! The `--state FILE`: the core's snapshot on disk, written atomically ([`crate::atomic_file`])
//! so a crash leaves the old file or the new one, never half of one.

use std::fs::File;
use std::io;
use std::path::Path;

use crate::atomic_file::{self, Existing, Readable};

use pyrsia_boot_core::{Snapshot, MAX_SNAPSHOT_BYTES};

/// What reading a state file gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// No file yet (a first start).
    Missing,
    /// The stored snapshot.
    Snapshot(Snapshot),
    /// The file exists but is unusable; the message names the file and the reason. The caller
    /// starts cold and overwrites it on the next save.
    Ignored(String),
}

/// Reads the state file at `path`.
pub fn load(path: &Path) -> Loaded {
    let bytes = match read_capped(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Loaded::Missing,
        Err(e) => return Loaded::Ignored(format!("state file {}: {e}", path.display())),
    };
    match Snapshot::from_json(&bytes) {
        Ok(s) => Loaded::Snapshot(s),
        Err(e) => Loaded::Ignored(format!("state file {} ignored: {e}", path.display())),
    }
}

fn read_capped(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    // One byte over the cap is enough for the parser to refuse the file as too large.
    File::open(path)?
        .take(MAX_SNAPSHOT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Writes `snapshot` to `path` atomically, readable by the owner only.
pub fn save(path: &Path, snapshot: &Snapshot) -> io::Result<()> {
    atomic_file::write(
        path,
        &snapshot.to_json(),
        Readable::Owner,
        Existing::Replace,
    )
}
