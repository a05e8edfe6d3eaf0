//! The lab key and authenticated encryption of the store (AES-256-GCM).
//!
//! ring's AEAD is used because ring is already in the tree (rustls, SigV4) and is a maintained,
//! audited implementation: a second AES-GCM crate would add code to trust, not safety. The key
//! is 32 random bytes in its own file, mode 0600, created on first use; every sealing draws a
//! fresh random 96-bit nonce, written in front of the ciphertext.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use super::file;

/// Length of the key in bytes (AES-256).
const KEY_LEN: usize = 32;

/// What can go wrong with the key or a sealed box.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("lab key {path}: {action}")]
    KeyFile {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("lab key {path} is not {KEY_LEN} bytes: the store cannot be read with it")]
    KeyLength { path: PathBuf },
    #[error("cannot decrypt: wrong lab key, or the data was altered")]
    Open,
    #[error("no random bytes from the operating system")]
    Random,
}

/// The lab's data key. Never logged (its `Debug` hides the bytes).
pub struct LabKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for LabKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LabKey(..)")
    }
}

impl LabKey {
    /// Reads the key at `path`, or creates it (mode 0600, atomically) when there is none.
    pub fn load_or_create(path: &Path) -> Result<LabKey, CryptoError> {
        let err = |action| {
            move |source| CryptoError::KeyFile {
                path: path.to_path_buf(),
                action,
                source,
            }
        };
        match fs::read(path) {
            Ok(bytes) if bytes.len() == KEY_LEN => return LabKey::from_bytes(&bytes),
            Ok(_) => {
                return Err(CryptoError::KeyLength {
                    path: path.to_path_buf(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(err("read")(e)),
        }
        let mut bytes = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| CryptoError::Random)?;
        file::write_atomic(path, &bytes).map_err(err("write"))?;
        LabKey::from_bytes(&bytes)
    }

    /// A key from raw bytes (tests).
    pub fn from_bytes(bytes: &[u8]) -> Result<LabKey, CryptoError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| CryptoError::Open)?;
        Ok(LabKey {
            key: LessSafeKey::new(unbound),
        })
    }

    /// `nonce || ciphertext || tag`, bound to `context` (which must be given again to open it).
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| CryptoError::Random)?;
        let mut buffer = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut buffer,
            )
            .map_err(|_| CryptoError::Open)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&buffer);
        Ok(sealed)
    }

    /// The plaintext of [`LabKey::seal`]'s output; fails on any altered byte or another key.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Open)?;
        let mut buffer = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context), &mut buffer)
            .map_err(|_| CryptoError::Open)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn sealing_round_trips_and_hides_the_plaintext() {
        let key = LabKey::from_bytes(&[7; KEY_LEN]).unwrap();
        let sealed = key.seal(b"ctx", b"hunter2-password").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(key.open(b"ctx", &sealed).unwrap(), b"hunter2-password");
        // A fresh nonce every time.
        assert_ne!(sealed, key.seal(b"ctx", b"hunter2-password").unwrap());
    }

    #[test]
    fn altered_data_another_key_or_context_does_not_open() {
        let key = LabKey::from_bytes(&[7; KEY_LEN]).unwrap();
        let mut sealed = key.seal(b"ctx", b"value").unwrap();
        assert!(key.open(b"other", &sealed).is_err());
        let other = LabKey::from_bytes(&[8; KEY_LEN]).unwrap();
        assert!(other.open(b"ctx", &sealed).is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(key.open(b"ctx", &sealed).is_err());
        assert!(key.open(b"ctx", b"short").is_err());
    }

    #[test]
    fn the_key_file_is_created_once_with_mode_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lab.key");
        let first = LabKey::load_or_create(&path).unwrap();
        let sealed = first.seal(b"c", b"v").unwrap();
        let again = LabKey::load_or_create(&path).unwrap();
        assert_eq!(again.open(b"c", &sealed).unwrap(), b"v");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::write(&path, b"short").unwrap();
        assert!(matches!(
            LabKey::load_or_create(&path),
            Err(CryptoError::KeyLength { .. })
        ));
    }
}
