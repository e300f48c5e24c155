//! Writing a file so that a crash leaves the old file or the new one, never half of one: a
//! temporary file in the same directory, written and fsynced, then renamed (or hard-linked,
//! when an existing file must not be replaced) over the name, then the directory fsynced so
//! the rename itself is durable. The state file, `keygen`, `sign --out` and a boot node's
//! `--key` all write through here.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Who may read the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readable {
    /// The owner only (mode 0600): keys, the state file.
    Owner,
    /// Everyone (mode 0644): a signed boot list a web server serves.
    Everyone,
}

/// Whether an existing file at the path is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace it (atomically: readers see the old bytes or the new).
    Replace,
    /// Keep it: the write fails with [`io::ErrorKind::AlreadyExists`] (keys are never
    /// overwritten).
    Keep,
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8], readable: Readable, existing: Existing) -> io::Result<()> {
    let tmp = temp_path(path)?;
    let written = write_synced(&tmp, bytes, readable).and_then(|()| match existing {
        Existing::Replace => fs::rename(&tmp, path),
        // A hard link fails when the name exists, so two writers cannot both "create" it.
        Existing::Keep => fs::hard_link(&tmp, path),
    });
    // The temporary name goes either way: renamed away, linked (then unlinked here), or failed.
    let _ = fs::remove_file(&tmp);
    written?;
    sync_dir(path);
    Ok(())
}

fn temp_path(path: &Path) -> io::Result<PathBuf> {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        )
    })?;
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    Ok(path.with_file_name(tmp_name))
}

fn write_synced(path: &Path, bytes: &[u8], readable: Readable) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(
        &mut options,
        match readable {
            Readable::Owner => 0o600,
            Readable::Everyone => 0o644,
        },
    );
    #[cfg(not(unix))]
    let _ = readable;
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the rename durable. Directories cannot be opened for sync everywhere; the data is on
/// disk either way, so a failure here is not an error.
fn sync_dir(path: &Path) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("pyrsia-boot-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("temp dir");
        d
    }

    fn leftovers(d: &Path) -> Vec<String> {
        fs::read_dir(d)
            .expect("readable")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect()
    }

    #[test]
    fn replaces_or_keeps_and_leaves_no_temporary_file() {
        let d = dir("modes");
        let p = d.join("f");
        write(&p, b"one", Readable::Owner, Existing::Replace).expect("written");
        write(&p, b"two", Readable::Owner, Existing::Replace).expect("replaced");
        assert_eq!(fs::read(&p).expect("read"), b"two");
        let err = write(&p, b"three", Readable::Owner, Existing::Keep).expect_err("kept");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&p).expect("read"), b"two");
        assert!(leftovers(&d).is_empty(), "{:?}", leftovers(&d));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&p), 0o600);
            let public = d.join("g");
            write(&public, b"x", Readable::Everyone, Existing::Keep).expect("created");
            // 0644 less the process umask; the owner-only bits are what matter for keys.
            assert_eq!(mode(&public) & 0o700, 0o600);
        }
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let d = dir("fail");
        let p = d.join("f");
        write(&p, b"old", Readable::Owner, Existing::Replace).expect("written");
        // A path whose parent is a file: the temporary cannot be created.
        let bad = p.join("child");
        assert!(write(&bad, b"new", Readable::Owner, Existing::Replace).is_err());
        assert_eq!(fs::read(&p).expect("read"), b"old");
        assert!(leftovers(&d).is_empty());
        let _ = fs::remove_dir_all(&d);
    }
}
