//! tierlab's state directory: generated secrets, the local CA, logs and the control file of a
//! running `up`.
//!
//! Layout (under the root, see [`StateDir::resolve`]):
//! ```text
//! ca/ca.pem, ca/ca.key.pem          local certificate authority, shared by all labs
//! labs/<lab>/secrets/<name>         generated passwords and keys, mode 0600
//! labs/<lab>/control.json           address of the running `up`'s control endpoint
//! labs/<lab>/logs/...               CloudWatch-style log streams
//! ```

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::Rng;
use rand::distr::Alphanumeric;

/// Environment variable that overrides the state directory (tests point it at a temp dir).
pub const STATE_DIR_ENV: &str = "TIERLAB_STATE_DIR";

/// Length of generated passwords: 24 alphanumerics, about 142 bits.
const SECRET_LEN: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("state directory {path}: {action}")]
pub struct StateError {
    pub path: PathBuf,
    pub action: &'static str,
    #[source]
    pub source: io::Error,
}

impl StateDir {
    /// The configured directory, else `$TIERLAB_STATE_DIR`, else `$XDG_STATE_HOME/tierlab`, else
    /// `~/.local/state/tierlab`, else `./.tierlab`.
    pub fn resolve(configured: Option<&Path>) -> StateDir {
        let root = configured
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(STATE_DIR_ENV).map(PathBuf::from))
            .or_else(|| {
                std::env::var_os("XDG_STATE_HOME").map(|d| PathBuf::from(d).join("tierlab"))
            })
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/tierlab"))
            })
            .unwrap_or_else(|| PathBuf::from(".tierlab"));
        StateDir { root }
    }

    pub fn at(root: impl Into<PathBuf>) -> StateDir {
        StateDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory of the local certificate authority (shared by every lab, so it is trusted once).
    pub fn ca_dir(&self) -> PathBuf {
        self.root.join("ca")
    }

    pub fn lab_dir(&self, lab: &str) -> PathBuf {
        self.root.join("labs").join(lab)
    }

    pub fn control_file(&self, lab: &str) -> PathBuf {
        self.lab_dir(lab).join("control.json")
    }

    /// Path of a generated secret (whether or not it exists yet).
    pub fn secret_path(&self, lab: &str, name: &str) -> PathBuf {
        self.lab_dir(lab).join("secrets").join(name)
    }

    pub fn logs_dir(&self, lab: &str) -> PathBuf {
        self.lab_dir(lab).join("logs")
    }

    /// Checks that files can be created under `lab`'s directory (creating it, mode 0700), so a
    /// lab fails before it creates anything rather than half-way through its start.
    pub fn check_writable(&self, lab: &str) -> Result<(), StateError> {
        const ACTION: &str =
            "cannot write (choose another with `state-dir` in [lab] or $TIERLAB_STATE_DIR)";
        let dir = self.lab_dir(lab);
        let unwritable = |e: StateError| StateError {
            path: self.root.clone(),
            action: ACTION,
            source: e.source,
        };
        create_private_dir(&dir).map_err(unwritable)?;
        let probe = dir.join(".write-check");
        write_private_file(&probe, b"").map_err(unwritable)?;
        fs::remove_file(&probe).map_err(|source| StateError {
            path: self.root.clone(),
            action: ACTION,
            source,
        })
    }

    /// Returns the secret `name` of `lab`, generating and storing it (mode 0600) on first use.
    /// The value is never logged.
    pub fn secret(&self, lab: &str, name: &str) -> Result<String, StateError> {
        self.secret_with_origin(lab, name).map(|(value, _)| value)
    }

    /// Like [`StateDir::secret`], also telling whether the secret was created by this call.
    pub fn secret_with_origin(&self, lab: &str, name: &str) -> Result<(String, bool), StateError> {
        let dir = self.lab_dir(lab).join("secrets");
        let path = dir.join(name);
        match fs::read_to_string(&path) {
            Ok(s) if !s.trim().is_empty() => return Ok((s.trim().to_string(), false)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StateError {
                    path,
                    action: "read secret",
                    source,
                });
            }
        }
        create_private_dir(&dir)?;
        let value: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(SECRET_LEN)
            .map(char::from)
            .collect();
        write_private_file(&path, value.as_bytes())?;
        Ok((value, true))
    }
}

/// Creates `dir` (and parents) with mode 0700.
pub fn create_private_dir(dir: &Path) -> Result<(), StateError> {
    fs::create_dir_all(dir).map_err(|source| StateError {
        path: dir.to_path_buf(),
        action: "create directory",
        source,
    })?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|source| StateError {
        path: dir.to_path_buf(),
        action: "set permissions",
        source,
    })
}

/// Writes `bytes` to `path` atomically (temp file + rename) with mode 0600, so an interrupted
/// write never leaves a half-written secret behind.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let tmp = path.with_extension("tmp");
    let err = |action, source| StateError {
        path: path.to_path_buf(),
        action,
        source,
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| err("create file", e))?;
    file.write_all(bytes).map_err(|e| err("write file", e))?;
    file.sync_all().map_err(|e| err("sync file", e))?;
    fs::rename(&tmp, path).map_err(|e| err("rename file", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unwritable_state_directory_is_named_with_the_key_to_change() {
        let tmp = tempfile::tempdir().unwrap();
        // A regular file where a directory should be: unwritable even for root.
        let file = tmp.path().join("file");
        fs::write(&file, "").unwrap();
        let state = StateDir::at(file.join("state"));
        let err = state.check_writable("lab").unwrap_err();
        assert_eq!(err.path, file.join("state"));
        let text = crate::error::chain(&err).to_string();
        assert!(text.contains("state-dir"), "{text}");
        assert!(text.contains("Not a directory"), "{text}");
        StateDir::at(tmp.path().join("ok"))
            .check_writable("lab")
            .unwrap();
        assert!(!tmp.path().join("ok/labs/lab/.write-check").exists());
    }

    #[test]
    fn secret_is_generated_once_with_mode_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::at(tmp.path());
        let first = state.secret("lab", "db-password").unwrap();
        let second = state.secret("lab", "db-password").unwrap();
        assert_eq!(first, second);
        assert_eq!(first.len(), SECRET_LEN);
        let path = state.lab_dir("lab").join("secrets/db-password");
        let mode = fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
