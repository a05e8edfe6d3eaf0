//! Crash safety, in the spirit of Testcontainers' Ryuk: a lab that runs containers starts a
//! watchdog process, `tierlab reap`, that outlives it.
//!
//! - The lab holds the write end of the watchdog's stdin. The kernel closes it when the lab's
//!   process ends, however it ends (SIGKILL, a test binary that aborts), so the watchdog reads
//!   EOF. A clean stop writes `bye` first, and the watchdog exits quietly.
//! - On EOF without `bye`, the watchdog takes the lab's run lock ([`RunLock`]), removes the
//!   lab's containers and networks by tierlab's labels (never volumes, as `down`) and the
//!   control file the dead process left, then exits. If a new run of the lab holds the lock
//!   (it cleared the leftovers itself when it started), the watchdog leaves everything alone.
//! - The watchdog is the `tierlab` binary itself, re-executed with the hidden `reap`
//!   subcommand. Library users and tests are not `tierlab`, so [`Reaper::Auto`] looks for
//!   the binary: `$TIERLAB_BIN`, this executable if it is `tierlab`, else a `tierlab` next to it
//!   or one directory up (Cargo puts test binaries in `target/<profile>/deps/`, the binary in
//!   `target/<profile>/`). Integration tests pass `CARGO_BIN_EXE_tierlab` as [`Reaper::Binary`].
//!   Without a binary the lab still runs, with a warning that a crash would leave it behind.
//! - An ephemeral lab's watchdog (`--ephemeral`: a test's lab on a temporary state directory)
//!   also removes the lab's volumes and, last, its state directory: a killed test leaves
//!   nothing.
//! - The watchdog runs in its own process group, so a Ctrl-C in the terminal reaches `up`
//!   (which stops cleanly and says `bye`) but not the watchdog.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use crate::docker::DockerClient;
use crate::state::StateDir;

use super::cleanup::{Removed, remove_lab_within};
use super::run_lock::RunLock;

/// Environment variable naming the `tierlab` binary to run as the reaper.
pub const BIN_ENV: &str = "TIERLAB_BIN";
/// The watchdog's hidden subcommand.
pub const SUBCOMMAND: &str = "reap";
/// What the watchdog prints on stdout once it watches (the lab waits for it).
const READY: &str = "ready";
/// What the lab writes to the watchdog on a clean stop.
const BYE: &str = "bye";
/// How long the lab waits for the watchdog's `ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the watchdog waits for the dead run's lock (the kernel drops it with the process;
/// only a new run keeps it longer).
const LOCK_WAIT: Duration = Duration::from_secs(3);
/// Pause before the second removal pass.
const SECOND_PASS_AFTER: Duration = Duration::from_millis(750);
/// A database's grace to stop when the watchdog removes it: everything must be gone within
/// 10 s of the crash.
const DATABASE_GRACE: Duration = Duration::from_secs(3);

/// Which watchdog [`Lab::start`](super::Lab::start) starts for a lab that runs containers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Reaper {
    /// Find the `tierlab` binary (see the module docs); warn and run without one if none.
    #[default]
    Auto,
    /// This `tierlab` binary.
    Binary(PathBuf),
    /// None: a crash of this process leaves the lab's containers to the next start or `down`.
    Off,
}

impl Reaper {
    /// The binary to run, if any.
    fn binary(&self) -> Option<PathBuf> {
        match self {
            Reaper::Auto => find_binary(),
            Reaper::Binary(path) => Some(path.clone()),
            Reaper::Off => None,
        }
    }
}

/// `$TIERLAB_BIN`, else the current executable if it is `tierlab`, else `tierlab` beside it or
/// one directory up.
fn find_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(BIN_ENV) {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    if exe.file_stem().is_some_and(|s| s == "tierlab") {
        return Some(exe);
    }
    let dir = exe.parent()?;
    [dir.join("tierlab"), dir.parent()?.join("tierlab")]
        .into_iter()
        .find(|p| p.is_file())
}

/// The running watchdog of one lab, as its parent sees it.
#[derive(Debug)]
pub struct Watchdog {
    child: Child,
    stdin: ChildStdin,
}

impl Watchdog {
    /// Starts the watchdog for `lab` and waits for it to say it watches. `Ok(None)` when
    /// `reaper` finds no binary.
    pub async fn start(
        reaper: &Reaper,
        lab: &str,
        state: &StateDir,
        ephemeral: bool,
    ) -> std::io::Result<Option<Watchdog>> {
        let Some(binary) = reaper.binary() else {
            return Ok(None);
        };
        let mut child = Command::new(&binary)
            .arg(SUBCOMMAND)
            .args(["--lab", lab])
            .arg("--state-dir")
            .arg(state.root())
            .args(["--parent-pid", &std::process::id().to_string()])
            .args(ephemeral.then_some("--ephemeral"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .map_err(|e| with_context(e, &format!("cannot run {}", binary.display())))?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let ready = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        });
        let answer = tokio::time::timeout(READY_TIMEOUT, ready).await;
        match answer {
            Ok(Ok(Ok(line))) if line.trim() == READY => Ok(Some(Watchdog { child, stdin })),
            other => {
                // Ours to end: it never said it watches (and its stdout read then ends too).
                let _ = child.kill();
                let _ = child.wait();
                let why = match other {
                    Err(_) => format!("no answer within {READY_TIMEOUT:?}"),
                    Ok(Ok(Ok(line))) if line.is_empty() => "it exited".to_string(),
                    Ok(Ok(Ok(line))) => format!("it said {:?}", line.trim()),
                    Ok(Ok(Err(e))) => e.to_string(),
                    Ok(Err(e)) => e.to_string(),
                };
                Err(std::io::Error::other(format!(
                    "{} {SUBCOMMAND} did not start: {why}",
                    binary.display()
                )))
            }
        }
    }

    /// The lab stopped cleanly: tell the watchdog, and wait for it to exit (it does at once).
    pub fn dismiss(mut self) {
        let _ = writeln!(self.stdin, "{BYE}");
        drop(self.stdin);
        // Bounded: a watchdog that does not exit within a second is ended (it is ours).
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The watchdog's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn with_context(e: std::io::Error, context: &str) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{context}: {e}"))
}

/// What `tierlab reap` was told.
#[derive(Debug, Clone)]
pub struct ReapArgs {
    pub lab: String,
    pub state_dir: PathBuf,
    pub parent_pid: u32,
    /// Remove the lab's volumes and its state directory too.
    pub ephemeral: bool,
}

/// The watchdog's side (`tierlab reap`): says it watches, waits for `bye` or EOF on stdin, and
/// on EOF removes what the dead run left. Messages go to stderr, prefixed with `tierlab reap`.
pub async fn watch(args: ReapArgs) -> std::io::Result<()> {
    // A terminal that closes must not end the watchdog before it did its job.
    let _hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{READY}")?;
        stdout.flush()?;
    }
    let dismissed = tokio::task::spawn_blocking(wait_for_bye)
        .await
        .map_err(std::io::Error::other)?;
    if dismissed {
        return Ok(());
    }
    reap(&args).await;
    Ok(())
}

/// Reads stdin until `bye` (true) or EOF (false).
fn wait_for_bye() -> bool {
    let stdin = std::io::stdin();
    let mut line = String::new();
    loop {
        line.clear();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) if line.trim() == BYE => return true,
            Ok(_) => {}
        }
    }
}

/// Removes the dead run's containers, networks and control file, under the run lock.
async fn reap(args: &ReapArgs) {
    let ReapArgs {
        lab,
        parent_pid,
        ephemeral,
        ..
    } = args;
    let state = StateDir::at(&args.state_dir);
    let what = if *ephemeral {
        "its containers, networks, volumes and state directory"
    } else {
        "its containers and networks (data volumes are kept)"
    };
    eprintln!(
        "tierlab reap: the process running lab `{lab}` (pid {parent_pid}) ended without stopping it; removing {what}"
    );
    let lock = RunLock::acquire_within(&RunLock::path_in(&state.lab_dir(lab)), LOCK_WAIT).await;
    let _lock = match lock {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            eprintln!(
                "tierlab reap: a new run of lab `{lab}` holds its lock; leaving the lab to it"
            );
            return;
        }
        Err(e) => {
            eprintln!("tierlab reap: cannot take lab `{lab}`'s run lock: {e}; removing anyway");
            return remove(args, &state).await;
        }
    };
    remove(args, &state).await;
    if *ephemeral {
        // Last, lock file and all: nothing of the lab is left to guard.
        match std::fs::remove_dir_all(state.root()) {
            Ok(()) => eprintln!(
                "tierlab reap: removed the state directory {}",
                state.root().display()
            ),
            Err(e) => eprintln!(
                "tierlab reap: cannot remove the state directory {}: {e}",
                state.root().display()
            ),
        }
    }
}

async fn remove(args: &ReapArgs, state: &StateDir) {
    let (lab, parent_pid) = (args.lab.as_str(), args.parent_pid);
    let control = state.control_file(lab);
    if stale_control_file_of(&control, parent_pid) {
        let _ = std::fs::remove_file(&control);
        eprintln!(
            "tierlab reap: removed the stale control file {}",
            control.display()
        );
    }
    let docker = match DockerClient::connect().await {
        Ok(docker) => docker,
        Err(e) => {
            let e = crate::error::chain(&e);
            return eprintln!("tierlab reap: cannot reach Docker to remove lab `{lab}`: {e}");
        }
    };
    let mut removed = Removed::default();
    // Twice: a create request the dead process had in flight lands after the first pass.
    for pass in 0..2 {
        if pass > 0 {
            tokio::time::sleep(SECOND_PASS_AFTER).await;
        }
        match remove_lab_within(&docker, lab, args.ephemeral, DATABASE_GRACE).await {
            Ok(more) => {
                removed.containers += more.containers;
                removed.networks += more.networks;
                removed.volumes += more.volumes;
            }
            Err(e) => eprintln!(
                "tierlab reap: removing lab `{lab}` failed: {e}",
                e = crate::error::chain(&e)
            ),
        }
    }
    eprintln!(
        "tierlab reap: lab `{lab}`: removed {} container(s), {} network(s), {} volume(s)",
        removed.containers, removed.networks, removed.volumes
    );
}

/// Whether the control file at `path` was written by the dead process `pid` (a new `up` of the
/// lab writes its own, which stays).
fn stale_control_file_of(path: &Path, pid: u32) -> bool {
    crate::control::read_control_file(path).is_some_and(|file| file.pid == pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_binary_and_off() {
        let path = PathBuf::from("/opt/tierlab");
        assert_eq!(Reaper::Binary(path.clone()).binary(), Some(path));
        assert_eq!(Reaper::Off.binary(), None);
    }
}
