//! One run of a lab at a time: an exclusive `flock` on `<state>/labs/<lab>/run.lock`, held by
//! the process that runs the lab for as long as the lab runs.
//!
//! The kernel drops the lock when that process dies, however it dies, so the lock tells the
//! reaper of a crashed run whether a *new* run of the same lab has started meanwhile: the reaper
//! removes containers only while it holds the lock, and a new run waits for the reaper to
//! finish before it creates anything.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a waiting lock is tried again.
const RETRY: Duration = Duration::from_millis(100);

/// The held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// The lock's path for `lab_dir`.
    pub fn path_in(lab_dir: &Path) -> PathBuf {
        lab_dir.join("run.lock")
    }

    /// Takes the lock at once, or `None` when another process (or another lab of this process)
    /// holds it.
    pub fn try_acquire(path: &Path) -> io::Result<Option<RunLock>> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // std opens with O_CLOEXEC: child processes (the reaper among them) never inherit the
        // lock, so it dies with this process.
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(path)?;
        // SAFETY: flock on a descriptor we own; no memory is passed.
        let held = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if held == 0 {
            return Ok(Some(RunLock { _file: file }));
        }
        match io::Error::last_os_error() {
            e if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(None),
            e => Err(e),
        }
    }

    /// Takes the lock, trying until `wait` has passed; `None` if it stayed held.
    pub async fn acquire_within(path: &Path, wait: Duration) -> io::Result<Option<RunLock>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(lock) = RunLock::try_acquire(path)? {
                return Ok(Some(lock));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = RunLock::path_in(dir.path());
        let first = RunLock::try_acquire(&path).unwrap().expect("free at first");
        assert!(RunLock::try_acquire(&path).unwrap().is_none(), "held");
        let waited = RunLock::acquire_within(&path, Duration::from_millis(250));
        assert!(waited.await.unwrap().is_none(), "still held after the wait");
        drop(first);
        assert!(RunLock::try_acquire(&path).unwrap().is_some(), "released");
    }
}
