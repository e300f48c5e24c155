//! The `--state FILE`: the core's snapshot on disk, written atomically (a temporary file in
//! the same directory, fsync, rename, fsync of the directory) so a crash leaves the old file
//! or the new one, never half of one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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

/// Writes `snapshot` to `path` atomically.
pub fn save(path: &Path, snapshot: &Snapshot) -> io::Result<()> {
    let tmp = temp_path(path)?;
    let written = write_synced(&tmp, &snapshot.to_json()).and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        // Never leave a partial file behind; the old state file, if any, is untouched.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // Make the rename itself durable. Directories cannot be opened for sync everywhere; the
    // data is already on disk either way, so a failure here is not an error.
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        )
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    Ok(path.with_file_name(tmp_name))
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
