//! A control file whose `up` is gone (killed with SIGKILL, a crashed machine): every `tierlab`
//! command of the lab checks for one first, says what it found, and removes it, so nothing
//! talks to a dead endpoint or refuses to start because of it.
//!
//! A file is stale when its process is not running, or when that pid now belongs to another
//! program than the one that wrote it (the pid was reused): `tierlab`, or the program of a lab
//! served from the library. A live `tierlab` whose endpoint does not answer is
//! *not* judged stale: an `up` that is stopping has closed its endpoint but still removes its
//! containers, and `tierlab down` waits for its control file to go.

use std::path::Path;

use super::{ControlFile, read_control_file};

/// What the check of a lab's control file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No control file: no `up` runs.
    Nothing,
    /// A running `up` wrote it.
    Running,
    /// A stale file, with why (for the message), now removed.
    Stale(String),
}

/// What is known of the process a control file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    Gone,
    /// Running the program that wrote the file (`/proc/<pid>/comm`).
    Writer,
    /// Running another program (the pid was reused).
    Other,
}

/// Why a control file of `pid` is stale, or `None` when its `up` may still run (pure).
pub fn staleness(pid: u32, process: Process) -> Option<String> {
    match process {
        Process::Gone => Some(format!("its `tierlab up` (pid {pid}) is not running")),
        Process::Other => Some(format!("pid {pid} that wrote it now runs another program")),
        Process::Writer => None,
    }
}

/// Checks the control file at `path` and removes it when stale. An unreadable file counts as
/// stale (a write cut short).
pub fn check(path: &Path) -> Found {
    if !path.exists() {
        return Found::Nothing;
    }
    let why = match read_control_file(path) {
        Some(ControlFile { pid, program, .. }) => staleness(pid, process(pid, &program)),
        None => Some("it cannot be read".to_string()),
    };
    match why {
        None => Found::Running,
        Some(why) => {
            let _ = std::fs::remove_file(path);
            Found::Stale(why)
        }
    }
}

/// What runs as `pid` now.
/// The program name of `pid` (`/proc/PID/comm`), if it can be read.
pub fn program_of(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|comm| comm.trim().to_string())
}

/// Whether `pid` runs, and runs `program` (the control file's writer).
fn process(pid: u32, program: &str) -> Process {
    let Ok(raw) = i32::try_from(pid) else {
        return Process::Gone;
    };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let alive = unsafe { libc::kill(raw, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !alive {
        return Process::Gone;
    }
    match program_of(pid) {
        Some(comm) if comm == program => Process::Writer,
        Some(_) => Process::Other,
        // No /proc (not Linux): trust the pid.
        None => Process::Writer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gone_or_reused_pid_is_stale_a_running_tierlab_is_not() {
        assert_eq!(
            staleness(42, Process::Gone).unwrap(),
            "its `tierlab up` (pid 42) is not running"
        );
        assert!(
            staleness(42, Process::Other)
                .unwrap()
                .contains("another program")
        );
        assert_eq!(staleness(42, Process::Writer), None);
    }

    #[test]
    fn a_file_of_a_dead_pid_is_removed_and_a_missing_one_is_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.json");
        assert_eq!(check(&path), Found::Nothing);
        // A child that has exited and been waited for: its pid is gone.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let file = ControlFile {
            pid,
            program: "tierlab".into(),
            address: "127.0.0.1:1".parse().unwrap(),
            config: "emulator.toml".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            token: "t".into(),
        };
        std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
        assert!(matches!(check(&path), Found::Stale(why) if why.contains("not running")));
        assert!(!path.exists());
        std::fs::write(&path, b"{ half").unwrap();
        assert_eq!(check(&path), Found::Stale("it cannot be read".into()));
        assert!(!path.exists());
    }

    #[test]
    fn this_process_is_running_but_not_tierlab() {
        assert_eq!(process(std::process::id(), "tierlab"), Process::Other);
        let me = program_of(std::process::id()).unwrap();
        assert_eq!(process(std::process::id(), &me), Process::Writer);
    }
}
