//! The lab's own AWS credentials: an access key id (`AKIA` + 16 characters, 20 in all) and a
//! secret access key (40 characters), as AWS shapes them. Generated on a lab's first run and
//! kept (mode 0600) in its state directory, so `tierlab env` and every later `up` use the same
//! pair. The secret is never logged: `Debug` redacts it.

use std::fmt;
use std::io;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::state::{StateDir, StateError, write_private_file};

/// File name under `labs/<lab>/secrets/`.
const FILE: &str = "aws-credentials.json";
/// Access key ids are `AKIA` followed by 16 characters of this (base32) alphabet.
const KEY_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Secret access keys are 40 characters of the base64 alphabet.
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// An access key pair.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

impl AwsCredentials {
    /// A fresh random pair.
    pub fn generate() -> AwsCredentials {
        let mut rng = rand::rng();
        let mut pick = |alphabet: &[u8], n: usize| -> String {
            (0..n)
                .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
                .collect()
        };
        AwsCredentials {
            access_key_id: format!("AKIA{}", pick(KEY_ID_ALPHABET, 16)),
            secret_access_key: pick(SECRET_ALPHABET, 40),
        }
    }

    /// The pair of `lab`, created (and stored, mode 0600) on first use.
    pub fn load_or_create(state: &StateDir, lab: &str) -> Result<AwsCredentials, StateError> {
        if let Some(existing) = AwsCredentials::load(state, lab)? {
            return Ok(existing);
        }
        let path = state.secret_path(lab, FILE);
        if let Some(dir) = path.parent() {
            crate::state::create_private_dir(dir)?;
        }
        let fresh = AwsCredentials::generate();
        let json = serde_json::to_vec_pretty(&fresh).expect("credentials serialise");
        write_private_file(&path, &json)?;
        Ok(fresh)
    }

    /// The stored pair of `lab`, if one was made. A file that does not parse is an error (it
    /// is never silently replaced: clients may hold the old pair).
    pub fn load(state: &StateDir, lab: &str) -> Result<Option<AwsCredentials>, StateError> {
        let path = state.secret_path(lab, FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError {
                    path,
                    action: "read AWS credentials",
                    source,
                });
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StateError {
                path,
                action: "parse AWS credentials (delete the file to make a new pair)",
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_pairs_have_aws_shape() {
        let c = AwsCredentials::generate();
        assert_eq!(c.access_key_id.len(), 20);
        assert!(c.access_key_id.starts_with("AKIA"));
        assert!(
            c.access_key_id[4..]
                .bytes()
                .all(|b| KEY_ID_ALPHABET.contains(&b))
        );
        assert_eq!(c.secret_access_key.len(), 40);
        assert_ne!(c, AwsCredentials::generate());
    }

    #[test]
    fn the_pair_is_made_once_and_kept_private() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::at(tmp.path());
        assert_eq!(AwsCredentials::load(&state, "lab").unwrap(), None);
        let first = AwsCredentials::load_or_create(&state, "lab").unwrap();
        let again = AwsCredentials::load_or_create(&state, "lab").unwrap();
        assert_eq!(first, again);
        let path = state.secret_path("lab", FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::write(&path, "garbage").unwrap();
        let e = AwsCredentials::load_or_create(&state, "lab").unwrap_err();
        assert!(e.action.contains("delete the file"), "{e}");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = AwsCredentials::generate();
        let text = format!("{c:?}");
        assert!(!text.contains(&c.secret_access_key));
        assert!(text.contains(&c.access_key_id));
    }
}
