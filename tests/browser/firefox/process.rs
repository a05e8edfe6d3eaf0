//! The Firefox process: started headless with Marionette on a fresh profile (user.js beside
//! this file), and ended with every process it started, the profile removed.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Bound on Firefox's start, up to Marionette listening (a first start writes the profile).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on Firefox's own shutdown after SIGTERM, before it is killed.
const QUIT_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `firefox-esr`; it and its profile are gone once this is dropped.
pub struct Process {
    child: Child,
    profile: PathBuf,
    log: PathBuf,
    /// Holds the profile and the log; removed after the processes are gone (fields drop after
    /// `Drop::drop`).
    _dir: tempfile::TempDir,
}

impl Process {
    /// Starts `firefox-esr --headless --marionette` on a new profile.
    pub fn start() -> Process {
        let dir = tempfile::Builder::new()
            .prefix("tierlab-firefox-")
            .tempdir()
            .unwrap();
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile).unwrap();
        std::fs::write(profile.join("user.js"), include_str!("user.js")).unwrap();
        let log = dir.path().join("firefox.log");
        let output = std::fs::File::create(&log).unwrap();
        let child = Command::new("firefox-esr")
            .args(["--headless", "--marionette", "--no-remote", "--profile"])
            .arg(&profile)
            // Remote settings from the profile's `services.settings.server` (a data: URL), which
            // release builds otherwise ignore: without it Firefox still looks their host up in
            // DNS, proxy or not (strace showed the queries).
            .env("MOZ_REMOTE_SETTINGS_DEVTOOLS", "1")
            // A process group of its own, so `Drop` can end its content processes with it.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run firefox-esr ({e}): install it with `scripts/browser.sh`")
            });
        Process {
            child,
            profile,
            log,
            _dir: dir,
        }
    }

    /// The port Marionette listens on: with `marionette.port` 0 Firefox picks a free one and
    /// writes it into the profile once it listens.
    pub async fn marionette_port(&mut self) -> u16 {
        let started = Instant::now();
        loop {
            let written = std::fs::read_to_string(self.profile.join("MarionetteActivePort"));
            if let Some(port) = written.ok().and_then(|p| p.trim().parse().ok()) {
                return port;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "firefox-esr exited ({status}) before Marionette listened:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "Firefox's Marionette did not listen within {START_TIMEOUT:?}:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Firefox's output so far (its stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The end of Firefox's output, for a failure message.
    pub fn log_tail(&self) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Process {
    /// Ends Firefox and every process it started, also when the test panicked: left running,
    /// they would keep the test's inherited descriptors (the Docker lock's among them) open.
    /// SIGTERM first, which Firefox takes as a quit (its crash helper, in a session of its own,
    /// goes with it); then SIGKILL to its process group (the fork server and content processes)
    /// and to a crash helper still there. Blocking: `Drop` cannot await.
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain kill(2) calls. The pid and group id are our child's (`process_group(0)`
        // made its id the group's), and the child is reaped only after both signals, so
        // neither id can have been reused by another process meanwhile.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let started = Instant::now();
        while !exited(pid) && started.elapsed() < QUIT_TIMEOUT {
            std::thread::sleep(Duration::from_millis(50));
        }
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = self.child.wait();
        for helper in crash_helpers_of(pid) {
            // SAFETY: kill(2) of a process whose command line names our Firefox as its own.
            unsafe { libc::kill(helper, libc::SIGKILL) };
        }
    }
}

/// Whether `pid` is gone or a zombie (exited, not yet reaped).
fn exited(pid: libc::pid_t) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S ...": the state follows the command name, which may hold spaces.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_none_or(|(_, rest)| rest.starts_with('Z')),
        Err(_) => true,
    }
}

/// The crash helpers of the Firefox `pid`: `crashhelper <pid> ...`, each in a session of its
/// own, so not in Firefox's process group.
fn crash_helpers_of(pid: libc::pid_t) -> Vec<libc::pid_t> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parent = pid.to_string();
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|p: &libc::pid_t| {
            let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            let mut args = cmdline.split(|&b| b == 0);
            args.next().is_some_and(|a| a.ends_with(b"crashhelper"))
                && args.next() == Some(parent.as_bytes())
        })
        .collect()
}
