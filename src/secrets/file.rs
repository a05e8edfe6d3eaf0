//! Atomic, private file writes: the new contents go to a temporary file in the same directory
//! (mode 0600), are flushed to disk, and replace the old file with one `rename`; the directory is
//! synced too, so after a crash the store is either the old one or the new one, never a mix.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically with mode 0600, creating the parent (mode 0700).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent directory"))?;
    crate::state::create_private_dir(dir).map_err(|e| e.source)?;
    let tmp = temp_path(path);
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    // The rename itself must reach the disk for the new contents to survive a crash.
    fs::File::open(dir)?.sync_all()
}

/// A temporary name next to `path`, unique per process (two labs never share a state
/// directory's lab folder, but a test may write the same path from two threads in turn).
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_replace_the_file_whole_with_mode_0600_and_leave_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sub/store.bin");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["store.bin"]);
    }

    #[test]
    fn a_failed_write_keeps_the_old_contents() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("store.bin");
        write_atomic(&path, b"old").unwrap();
        // The rename cannot replace a directory: the write fails after the temp file is made.
        let dir_path = tmp.path().join("dir");
        fs::create_dir(&dir_path).unwrap();
        fs::write(dir_path.join("x"), b"").unwrap();
        assert!(write_atomic(&dir_path, b"new").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert!(!temp_path(&dir_path).exists());
    }
}
