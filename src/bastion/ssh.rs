//! The files the system `ssh` client is pointed at: the key pair, a known_hosts file that pins
//! the bastion's host key (so host keys are checked, never waved through), and an ssh config
//! file per use. All under `<state>/labs/<lab>/`, directories 0700 and files 0600 (the key
//! 0400).
//!
//! The host key is pinned under the bastion's name (`HostKeyAlias`), not `[127.0.0.1]:PORT`:
//! the published port changes at every `up`, the host key does not.

use std::path::{Path, PathBuf};

use crate::state::{StateDir, StateError};

use super::USER;
use super::keys::KeyPair;

/// `<state>/labs/<lab>/<key-name>.pem`, where `create-key-pair --output text > bastion-key.pem`
/// would have put it.
pub fn key_path(state: &StateDir, lab: &str, key_name: &str) -> PathBuf {
    state.lab_dir(lab).join(format!("{key_name}.pem"))
}

/// The directory of the ssh client files.
pub fn ssh_dir(state: &StateDir, lab: &str) -> PathBuf {
    state.lab_dir(lab).join("ssh")
}

/// Writes the known_hosts file of `bastion` (its host key under its name) and returns its path.
pub fn write_known_hosts(
    state: &StateDir,
    lab: &str,
    bastion: &str,
    host_key: &KeyPair,
) -> Result<PathBuf, StateError> {
    let dir = ssh_dir(state, lab);
    crate::state::create_private_dir(&dir)?;
    let path = dir.join(format!("{bastion}.known_hosts"));
    let line = format!("{}\n", host_key.known_hosts_line(bastion));
    crate::state::write_private_file(&path, line.as_bytes())?;
    Ok(path)
}

/// How to reach a bastion: what the ssh config's `Host` block needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The bastion's name: the `Host` alias and the `HostKeyAlias`.
    pub name: String,
    pub port: u16,
    pub key: PathBuf,
    pub known_hosts: PathBuf,
}

/// An ssh config with one `Host` block for the bastion. `set_env` lines go to the server as
/// `SetEnv` (sshd's `AcceptEnv` lists them): how `db shell` passes the password without a
/// command line or a terminal showing it.
pub fn client_config(target: &Target, set_env: &[(&str, &str)]) -> String {
    let mut text = format!(
        "# Written by tierlab for `{name}`; rewritten at each use (the port changes at every `up`).\n\
         Host {name}\n\
         \x20 HostName 127.0.0.1\n\
         \x20 Port {port}\n\
         \x20 User {USER}\n\
         \x20 IdentityFile {key}\n\
         \x20 IdentitiesOnly yes\n\
         \x20 HostKeyAlias {name}\n\
         \x20 UserKnownHostsFile {known_hosts}\n\
         \x20 StrictHostKeyChecking yes\n\
         \x20 PasswordAuthentication no\n\
         \x20 KbdInteractiveAuthentication no\n\
         \x20 LogLevel ERROR\n",
        name = target.name,
        port = target.port,
        key = quote(&target.key),
        known_hosts = quote(&target.known_hosts),
    );
    for (name, value) in set_env {
        text.push_str(&format!("  SetEnv {name}=\"{value}\"\n"));
    }
    text
}

/// Writes `text` as the ssh config file `file_name` (mode 0600) and returns its path.
pub fn write_config(
    state: &StateDir,
    lab: &str,
    file_name: &str,
    text: &str,
) -> Result<PathBuf, StateError> {
    let dir = ssh_dir(state, lab);
    crate::state::create_private_dir(&dir)?;
    let path = dir.join(file_name);
    crate::state::write_private_file(&path, text.as_bytes())?;
    Ok(path)
}

/// A path as ssh config takes it: in double quotes when it has a space.
fn quote(path: &Path) -> String {
    let text = path.display().to_string();
    if text.contains(' ') {
        format!("\"{text}\"")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            name: "flask-bastion-host".into(),
            port: 32801,
            key: "/s/labs/l/bastion-key.pem".into(),
            known_hosts: "/s/labs/l/ssh/flask-bastion-host.known_hosts".into(),
        }
    }

    #[test]
    fn the_config_checks_the_pinned_host_key_and_uses_only_the_key() {
        let text = client_config(&target(), &[]);
        for line in [
            "Host flask-bastion-host\n",
            "  HostName 127.0.0.1\n",
            "  Port 32801\n",
            "  User ec2-user\n",
            "  IdentityFile /s/labs/l/bastion-key.pem\n",
            "  IdentitiesOnly yes\n",
            "  HostKeyAlias flask-bastion-host\n",
            "  UserKnownHostsFile /s/labs/l/ssh/flask-bastion-host.known_hosts\n",
            "  StrictHostKeyChecking yes\n",
        ] {
            assert!(text.contains(line), "`{line}` missing from:\n{text}");
        }
        assert!(!text.contains("SetEnv"));
    }

    #[test]
    fn set_env_passes_values_to_the_server() {
        let text = client_config(&target(), &[("MYSQL_PWD", "s3cret")]);
        assert!(text.ends_with("  SetEnv MYSQL_PWD=\"s3cret\"\n"), "{text}");
    }

    #[test]
    fn known_hosts_pins_the_host_key_under_the_bastions_name() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(dir.path());
        let key = KeyPair::generate("h");
        let path = write_known_hosts(&state, "l", "jump", &key).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("jump ssh-ed25519 AAAA"), "{text}");
        assert_eq!(path, dir.path().join("labs/l/ssh/jump.known_hosts"));
    }
}
