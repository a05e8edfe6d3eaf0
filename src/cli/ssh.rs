//! `tierlab ssh [NAME] [-- COMMAND]`, and what `db shell` and `db tunnel` share: the system
//! `ssh` client pointed at a bastion through a config file tierlab writes (key, port, the lab's
//! known_hosts with the bastion's pinned host key, `StrictHostKeyChecking yes`).
//!
//! The sessions are prepared here as plain data ([`Session`]), from the running lab's status
//! and the state directory, so tests run exactly what the commands run.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::bastion::BastionStatus;
use crate::bastion::ssh::{self, Target};
use crate::config::Config;
use crate::error::Error;
use crate::lab::LabStatus;
use crate::state::StateDir;

/// An `ssh` invocation: its arguments, and the config file to remove once it ends (one that
/// holds a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub args: Vec<String>,
    pub remove_after: Option<PathBuf>,
}

/// `tierlab ssh`: logs in (or runs `command`) on the bastion; exits with ssh's status.
pub async fn run(config: &Config, name: Option<&str>, command: &[String]) -> Result<(), Error> {
    let status = super::running::status(config).await?;
    let state = StateDir::resolve(config.lab.state_dir.as_deref());
    let session = login(&status, &state, name, command)?;
    exec(&session)
}

/// The session of `tierlab ssh [NAME] [COMMAND...]`.
pub fn login(
    status: &LabStatus,
    state: &StateDir,
    name: Option<&str>,
    command: &[String],
) -> Result<Session, Error> {
    let bastion = bastion(status, name)?;
    let config = write_config(
        status,
        state,
        bastion,
        &format!("{}.config", bastion.name),
        &[],
    )?;
    let mut args = base_args(&config, bastion);
    args.extend(command.iter().cloned());
    Ok(Session {
        args,
        remove_after: None,
    })
}

/// The bastion called `name`, or the only one.
pub fn bastion<'s>(status: &'s LabStatus, name: Option<&str>) -> Result<&'s BastionStatus, Error> {
    let names = || {
        let all: Vec<&str> = status.bastions.iter().map(|b| b.name.as_str()).collect();
        all.join(", ")
    };
    match name {
        Some(name) => status
            .bastions
            .iter()
            .find(|b| b.name == name)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "lab `{}` has no bastion `{name}` (bastions: {})",
                    status.lab,
                    names()
                ))
            }),
        None => match status.bastions.as_slice() {
            [only] => Ok(only),
            [] => Err(Error::Usage(format!(
                "lab `{}` has no bastion; add a [bastions.NAME] table (see emulator.toml)",
                status.lab
            ))),
            _ => Err(Error::Usage(format!(
                "lab `{}` has several bastions; name one: {}",
                status.lab,
                names()
            ))),
        },
    }
}

/// Writes the ssh config for `bastion` (mode 0600) with `set_env` sent to the server.
pub fn write_config(
    status: &LabStatus,
    state: &StateDir,
    bastion: &BastionStatus,
    file_name: &str,
    set_env: &[(&str, &str)],
) -> Result<PathBuf, Error> {
    let target = Target {
        name: bastion.name.clone(),
        port: bastion.ssh_port,
        key: PathBuf::from(&bastion.key_path),
        known_hosts: PathBuf::from(&bastion.known_hosts),
    };
    let text = ssh::client_config(&target, set_env);
    Ok(ssh::write_config(state, &status.lab, file_name, &text)?)
}

/// `-F CONFIG NAME`: everything else is in the config file.
pub fn base_args(config: &Path, bastion: &BastionStatus) -> Vec<String> {
    vec![
        "-F".into(),
        config.display().to_string(),
        bastion.name.clone(),
    ]
}

/// Replaces this process with `ssh` (its exit status becomes ours); a session with a file to
/// remove runs as a child instead, and the file goes when it ends.
pub fn exec(session: &Session) -> Result<(), Error> {
    let mut command = Command::new("ssh");
    command.args(&session.args);
    let Some(file) = &session.remove_after else {
        use std::os::unix::process::CommandExt;
        let e = command.exec();
        return Err(not_found(e));
    };
    let mut child = command.spawn().map_err(not_found)?;
    // Ctrl-C belongs to the session (ssh passes it on); this process only waits for it.
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    let status = child.wait();
    let _ = std::fs::remove_file(file);
    let status = status.map_err(not_found)?;
    match status.code() {
        Some(0) => Ok(()),
        code => std::process::exit(code.unwrap_or(1)),
    }
}

fn not_found(e: std::io::Error) -> Error {
    Error::Usage(format!(
        "cannot run the system `ssh` client ({e}); install OpenSSH's client (Debian/Ubuntu: `sudo apt-get install openssh-client`)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> LabStatus {
        crate::cli::status::sample::lab_status()
    }

    #[test]
    fn the_only_bastion_is_the_default_and_a_wrong_name_lists_them() {
        let status = status();
        assert_eq!(bastion(&status, None).unwrap().name, "flask-bastion-host");
        let e = bastion(&status, Some("jump")).unwrap_err().to_string();
        assert!(
            e.contains("no bastion `jump` (bastions: flask-bastion-host)"),
            "{e}"
        );
        let mut none = status.clone();
        none.bastions.clear();
        let e = bastion(&none, None).unwrap_err().to_string();
        assert!(e.contains("[bastions.NAME]"), "{e}");
    }

    #[test]
    fn login_points_ssh_at_a_config_file_and_runs_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(dir.path());
        let session = login(&status(), &state, None, &["uptime".into()]).unwrap();
        let config = dir
            .path()
            .join("labs/flask-app/ssh/flask-bastion-host.config");
        assert_eq!(
            session.args,
            [
                "-F",
                config.to_str().unwrap(),
                "flask-bastion-host",
                "uptime"
            ]
        );
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(text.contains("  Port 32801\n"), "{text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
