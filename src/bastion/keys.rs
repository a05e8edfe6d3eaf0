//! Ed25519 key pairs in OpenSSH's own format, made in-process (ring's Ed25519, no `ssh-keygen`
//! needed): the user's key pair, as `aws ec2 create-key-pair --key-type ed25519` hands it out
//! (`bastion-key.pem`, which `ssh -i` reads), and the bastion's host key, so its identity is the
//! same across `down`/`up` and the lab's known_hosts file can pin it.
//!
//! Ed25519 rather than AWS's default RSA 2048: EC2 offers both; ed25519 keys are small, fast to
//! make and every OpenSSH since 6.5 takes them.
//!
//! The private key file is `openssh-key-v1`, unencrypted (cipher and KDF `none`), as
//! `ssh-keygen -t ed25519 -N ''` writes it (PROTOCOL.key in OpenSSH's sources).

use std::path::Path;

use ring::signature::{Ed25519KeyPair, KeyPair as _};

const MAGIC: &[u8] = b"openssh-key-v1\0";
const KEY_TYPE: &str = "ssh-ed25519";
const PEM_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const PEM_END: &str = "-----END OPENSSH PRIVATE KEY-----";
/// OpenSSH wraps the base64 body at 70 columns.
const PEM_WIDTH: usize = 70;

/// An Ed25519 key pair and its comment.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    seed: [u8; 32],
    public: [u8; 32],
    comment: String,
}

impl std::fmt::Debug for KeyPair {
    /// Never the private half.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair({})", self.public_line())
    }
}

impl KeyPair {
    /// A new random key pair.
    pub fn generate(comment: &str) -> KeyPair {
        let seed: [u8; 32] = rand::random();
        KeyPair::from_seed(seed, comment)
    }

    fn from_seed(seed: [u8; 32], comment: &str) -> KeyPair {
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).expect("any 32 bytes are a seed");
        let mut public = [0u8; 32];
        public.copy_from_slice(pair.public_key().as_ref());
        KeyPair {
            seed,
            public,
            comment: comment.to_string(),
        }
    }

    /// `ssh-ed25519 AAAA... comment`: a line of `authorized_keys` or of a `.pub` file.
    pub fn public_line(&self) -> String {
        format!(
            "{KEY_TYPE} {} {}",
            base64(&self.public_blob()),
            self.comment
        )
    }

    /// The public key as a known_hosts entry for `host`.
    pub fn known_hosts_line(&self, host: &str) -> String {
        format!("{host} {KEY_TYPE} {}", base64(&self.public_blob()))
    }

    /// The wire form of the public key: `string "ssh-ed25519", string key`.
    fn public_blob(&self) -> Vec<u8> {
        let mut blob = Vec::new();
        put_string(&mut blob, KEY_TYPE.as_bytes());
        put_string(&mut blob, &self.public);
        blob
    }

    /// The private key file (PEM-armoured `openssh-key-v1`).
    pub fn to_openssh_pem(&self) -> String {
        let check: u32 = rand::random();
        let mut private = Vec::new();
        private.extend_from_slice(&check.to_be_bytes());
        private.extend_from_slice(&check.to_be_bytes());
        put_string(&mut private, KEY_TYPE.as_bytes());
        put_string(&mut private, &self.public);
        let mut secret = self.seed.to_vec();
        secret.extend_from_slice(&self.public);
        put_string(&mut private, &secret);
        put_string(&mut private, self.comment.as_bytes());
        // Padded 1, 2, 3, ... to the cipher's block size (8 for `none`).
        let mut pad = 1u8;
        while private.len() % 8 != 0 {
            private.push(pad);
            pad += 1;
        }
        let mut body = MAGIC.to_vec();
        put_string(&mut body, b"none");
        put_string(&mut body, b"none");
        put_string(&mut body, b"");
        body.extend_from_slice(&1u32.to_be_bytes());
        put_string(&mut body, &self.public_blob());
        put_string(&mut body, &private);
        let encoded = base64(&body);
        let mut pem = format!("{PEM_BEGIN}\n");
        for line in encoded.as_bytes().chunks(PEM_WIDTH) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str(PEM_END);
        pem.push('\n');
        pem
    }

    /// Reads a key written by [`KeyPair::to_openssh_pem`] (or `ssh-keygen -t ed25519 -N ''`).
    /// `None` for anything else: another key type, an encrypted key, a damaged file.
    pub fn from_openssh_pem(text: &str) -> Option<KeyPair> {
        let body: String = text
            .trim()
            .strip_prefix(PEM_BEGIN)?
            .strip_suffix(PEM_END)?
            .split_whitespace()
            .collect();
        let bytes = unbase64(&body)?;
        let mut r = Reader(bytes.strip_prefix(MAGIC)?);
        if r.string()? != b"none" || r.string()? != b"none" {
            return None;
        }
        r.string()?; // KDF options
        if r.u32()? != 1 {
            return None;
        }
        r.string()?; // public key blob, repeated in the private section
        let mut p = Reader(r.string()?);
        if p.u32()? != p.u32()? || p.string()? != KEY_TYPE.as_bytes() {
            return None;
        }
        let public = p.string()?;
        let secret = p.string()?;
        let comment = String::from_utf8(p.string()?.to_vec()).ok()?;
        let seed: [u8; 32] = secret.get(..32)?.try_into().ok()?;
        let pair = KeyPair::from_seed(seed, &comment);
        (pair.public.as_slice() == public).then_some(pair)
    }

    /// Reads the key at `path`, or makes one and writes it there with `mode`. `Ok(None)` when the
    /// file exists but holds no key tierlab can read.
    pub fn load_or_create(
        path: &Path,
        comment: &str,
        mode: u32,
    ) -> Result<(KeyPair, bool), crate::state::StateError> {
        use std::os::unix::fs::PermissionsExt;
        let err = |action, source| crate::state::StateError {
            path: path.to_path_buf(),
            action,
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                return KeyPair::from_openssh_pem(&text)
                    .map(|k| (k, false))
                    .ok_or_else(|| {
                        err(
                            "read key (not an unencrypted ed25519 key in OpenSSH format; remove it to make a new one)",
                            std::io::Error::from(std::io::ErrorKind::InvalidData),
                        )
                    });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err("read key", e)),
        }
        if let Some(dir) = path.parent() {
            crate::state::create_private_dir(dir)?;
        }
        let pair = KeyPair::generate(comment);
        crate::state::write_private_file(path, pair.to_openssh_pem().as_bytes())?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| err("set permissions", e))?;
        Ok((pair, true))
    }
}

fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Reads the SSH wire format: big-endian u32s and length-prefixed strings.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.0.split_at_checked(4)?;
        self.0 = rest;
        Some(u32::from_be_bytes(head.try_into().ok()?))
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        let (head, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(head)
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_every_padding() {
        for text in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            let encoded = base64(text.as_bytes());
            assert_eq!(unbase64(&encoded).unwrap(), text.as_bytes(), "{encoded}");
        }
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fo"), "Zm8=");
    }

    /// RFC 8032's first test vector: the public key of the all-`9d61...` seed.
    #[test]
    fn the_public_key_is_ed25519s() {
        let seed: [u8; 32] = [
            0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec,
            0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03,
            0x1c, 0xae, 0x7f, 0x60,
        ];
        let pair = KeyPair::from_seed(seed, "t");
        assert_eq!(
            pair.public[..4],
            [0xd7, 0x5a, 0x98, 0x01],
            "RFC 8032 7.1 TEST 1"
        );
        assert!(
            pair.public_line()
                .starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI")
        );
    }

    #[test]
    fn the_pem_reads_back_and_looks_like_ssh_keygens() {
        let pair = KeyPair::generate("bastion-key");
        let pem = pair.to_openssh_pem();
        assert!(pem.starts_with(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"
        ));
        assert!(pem.lines().all(|l| l.len() <= 70));
        assert_eq!(KeyPair::from_openssh_pem(&pem), Some(pair.clone()));
        assert!(!format!("{pair:?}").contains(&base64(&pair.seed)));
        assert_eq!(KeyPair::from_openssh_pem("garbage"), None);
    }

    #[test]
    fn load_or_create_keeps_the_key_and_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bastion-key.pem");
        let (first, new) = KeyPair::load_or_create(&path, "bastion-key", 0o400).unwrap();
        assert!(new);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o400);
        let (again, new) = KeyPair::load_or_create(&path, "bastion-key", 0o400).unwrap();
        assert!(!new);
        assert_eq!(first, again);
    }
}
