//! The host's path to a DB instance: `ssh -N -L 127.0.0.1:PORT:ENDPOINT:3306` through the
//! bastion that may reach it, as `tierlab db tunnel` runs it (the lab's key, its known_hosts
//! with the pinned host key). The host connects only to 127.0.0.1; the bastion resolves the
//! endpoint for each connection, so a connection made after a failover reaches the new primary.
//!
//! The `ssh` process belongs to the lab: it is killed when the [`Tunnel`] is dropped (the lab's
//! shutdown or `Drop`), and it gets SIGTERM from the kernel if this process dies first
//! (`PR_SET_PDEATHSIG`), so a killed test leaves no `ssh` behind.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use crate::lab::{DatabaseStatus, LabStatus, db_access};
use crate::state::StateDir;

use super::HarnessError;

/// How long a tunnel may take to listen (ssh login through the bastion).
const OPEN_TIMEOUT: Duration = Duration::from_secs(20);
/// Attempts with a fresh port, when the one picked was taken in between.
const ATTEMPTS: usize = 3;

/// A running tunnel to one DB instance.
#[derive(Debug)]
pub struct Tunnel {
    /// Held for its `kill_on_drop`.
    _child: Child,
    port: u16,
    database: String,
}

impl Tunnel {
    /// Opens a tunnel to `db` (the lab's instance `id`, or its only one) and returns once its
    /// local port accepts connections.
    pub async fn open(
        status: &LabStatus,
        state: &StateDir,
        id: Option<&str>,
    ) -> Result<Tunnel, HarnessError> {
        let db = status.database(id).map_err(HarnessError::from_usage)?;
        let bastion = status
            .bastion_reaching(&db.identifier)
            .map_err(HarnessError::from_usage)?;
        let target = crate::bastion::ssh::Target {
            name: bastion.name.clone(),
            port: bastion.ssh_port,
            key: bastion.key_path.clone().into(),
            known_hosts: bastion.known_hosts.clone().into(),
        };
        let text = crate::bastion::ssh::client_config(&target, &[]);
        let file = format!("{}-tunnel.config", bastion.name);
        let config =
            crate::bastion::ssh::write_config(state, &status.lab, &file, &text).map_err(|e| {
                HarnessError::Tunnel {
                    database: db.identifier.clone(),
                    why: format!("cannot write its ssh config: {e}"),
                }
            })?;
        let mut last = String::new();
        for _ in 0..ATTEMPTS {
            let port = free_port().map_err(|e| tunnel_error(db, format!("no free port: {e}")))?;
            let mut args = db_access::forward_args(port, db);
            args.extend([
                "-F".into(),
                config.display().to_string(),
                bastion.name.clone(),
            ]);
            match start(&args, port).await {
                Ok(child) => {
                    return Ok(Tunnel {
                        _child: child,
                        port,
                        database: db.identifier.clone(),
                    });
                }
                Err(why) => last = why,
            }
        }
        Err(tunnel_error(db, last))
    }

    /// The 127.0.0.1 port that reaches the instance.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The DB instance it reaches.
    pub fn database(&self) -> &str {
        &self.database
    }
}

fn tunnel_error(db: &DatabaseStatus, why: String) -> HarnessError {
    HarnessError::Tunnel {
        database: db.identifier.clone(),
        why,
    }
}

/// Runs `ssh ARGS` and waits until 127.0.0.1:`port` accepts; on failure, what ssh said.
async fn start(args: &[String], port: u16) -> Result<Child, String> {
    let mut command = Command::new("ssh");
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches only the child.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| {
        format!("cannot run the system `ssh` client ({e}); install OpenSSH's client")
    })?;
    let deadline = tokio::time::Instant::now() + OPEN_TIMEOUT;
    loop {
        if let Some(exit) = child.try_wait().map_err(|e| e.to_string())? {
            let mut said = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut said).await;
            }
            return Err(format!("ssh exited ({exit}): {}", said.trim()));
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(child);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "127.0.0.1:{port} did not listen within {OPEN_TIMEOUT:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A free loopback port (bound, read and released; ssh's `ExitOnForwardFailure` catches the
/// rare case of another process taking it in between, and the caller tries another).
pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
