//! [`SecretStore`]: the lab's secrets and parameters behind one lock, persisted whole after every
//! change (sealed with the lab key, written atomically), so a crash never loses an acknowledged
//! write nor leaves half a store.
//!
//! The lock is a `std::sync::Mutex`: every operation is a short edit of an in-memory document
//! plus one small file write; callers on the async runtime run them with `spawn_blocking`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};

use super::crypto::{CryptoError, LabKey};
use super::parameter::{self, Parameter, PutRequest, Shown};
use super::reference::{self, Reference};
use super::secret::{self, Secret, SecretValue, SecretVersion, VersionSelector};
use super::{Failure, file, now_millis};
use crate::state::StateDir;

/// Bound into every sealed store, so a sealed value of another kind never opens as a store.
const STORE_CONTEXT: &[u8] = b"tierlab secret store v1";
/// Bound into a SecureString's ciphertext.
const PARAMETER_CONTEXT: &[u8] = b"tierlab ssm SecureString v1";
/// First bytes of the store file (the format, in the clear).
const MAGIC: &[u8] = b"TLSTORE1";

/// What can go wrong opening or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("secret store {path}: {action}")]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("secret store {path}")]
    Crypto {
        path: PathBuf,
        #[source]
        source: CryptoError,
    },
    #[error("secret store {path}: not a tierlab secret store, or damaged ({detail})")]
    Format { path: PathBuf, detail: String },
}

/// Everything the store holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Document {
    secrets: BTreeMap<String, Secret>,
    parameters: BTreeMap<String, Parameter>,
}

/// A handle on one lab's store; cheap to clone.
#[derive(Clone)]
pub struct SecretStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    key: LabKey,
    region: String,
    account: String,
    doc: Mutex<Document>,
}

/// A secret's value with the secret and version it came from (`get-secret-value`).
#[derive(Debug, Clone)]
pub struct SecretRead {
    pub secret: Secret,
    pub version: SecretVersion,
}

/// What `create-secret` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateSecret {
    pub name: String,
    pub token: Option<String>,
    pub value: Option<SecretValue>,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    pub tags: Vec<(String, String)>,
    pub owning_service: Option<String>,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretStore({})", self.inner.path.display())
    }
}

impl SecretStore {
    /// Path of the store of `lab`.
    pub fn path(state: &StateDir, lab: &str) -> PathBuf {
        state.lab_dir(lab).join("secret-store.bin")
    }

    /// Path of the lab key of `lab`.
    pub fn key_path(state: &StateDir, lab: &str) -> PathBuf {
        state.secret_path(lab, "lab.key")
    }

    /// Opens `lab`'s store (empty when there is none yet), creating the lab key on first use.
    pub fn open(
        state: &StateDir,
        lab: &str,
        region: &str,
        account: &str,
    ) -> Result<SecretStore, StoreError> {
        let path = SecretStore::path(state, lab);
        let key = LabKey::load_or_create(&SecretStore::key_path(state, lab)).map_err(|source| {
            StoreError::Crypto {
                path: path.clone(),
                source,
            }
        })?;
        let doc = read(&path, &key)?;
        Ok(SecretStore {
            inner: Arc::new(Inner {
                path,
                key,
                region: region.to_string(),
                account: account.to_string(),
                doc: Mutex::new(doc),
            }),
        })
    }

    pub fn region(&self) -> &str {
        &self.inner.region
    }

    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// Applies `edit` to a copy of the document, writes the copy, and only then makes it the
    /// store's: a failed write changes nothing.
    fn change<T>(
        &self,
        edit: impl FnOnce(&mut Document) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let mut doc = self.inner.doc.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = doc.clone();
        let out = edit(&mut next)?;
        write(&self.inner.path, &self.inner.key, &next).map_err(|e| {
            Failure::new(
                "InternalServiceError",
                format!("cannot write the secret store: {}", crate::error::chain(&e)),
            )
        })?;
        *doc = next;
        Ok(out)
    }

    fn read<T>(&self, look: impl FnOnce(&Document) -> T) -> T {
        let doc = self.inner.doc.lock().unwrap_or_else(|e| e.into_inner());
        look(&doc)
    }

    // --- Secrets Manager ------------------------------------------------------------------

    /// `create-secret`: a new secret, with a first version when a value is given.
    pub fn create_secret(
        &self,
        request: CreateSecret,
    ) -> Result<(Secret, Option<String>), Failure> {
        // `rds!...` names are reserved for the secrets a service manages.
        if request.owning_service.is_none() {
            secret::check_name(&request.name)?;
        }
        if let Some(token) = &request.token {
            secret::check_token(token)?;
        }
        let arn = format!(
            "arn:aws:secretsmanager:{}:{}:secret:{}-{}",
            self.inner.region,
            self.inner.account,
            request.name,
            arn_suffix()
        );
        self.change(|doc| {
            if let Some(existing) = doc.secrets.get(&request.name) {
                // A retried call (same token, same value) is the same creation.
                let same = match (&request.token, &request.value) {
                    (Some(token), Some(value)) => existing
                        .versions
                        .iter()
                        .any(|v| &v.id == token && &v.value == value),
                    _ => false,
                };
                if same {
                    return Ok((existing.clone(), request.token.clone()));
                }
                return Err(Failure::new(
                    super::RESOURCE_EXISTS,
                    format!(
                        "The operation failed because the secret {} already exists.",
                        request.name
                    ),
                ));
            }
            let now = now_millis();
            let mut created = Secret::new(&request.name, arn, now);
            created.description = request.description.clone();
            created.kms_key_id = request.kms_key_id.clone();
            created.tags = request.tags.clone();
            created.owning_service = request.owning_service.clone();
            let version = match request.value.clone() {
                Some(value) => {
                    let token = request.token.clone().unwrap_or_else(new_version_id);
                    Some(created.put_value(&token, value, None, now)?.0)
                }
                None => None,
            };
            doc.secrets.insert(request.name.clone(), created.clone());
            Ok((created, version))
        })
    }

    /// `put-secret-value`: a new version of secret `id` (name or ARN).
    pub fn put_secret_value(
        &self,
        id: &str,
        token: Option<String>,
        value: SecretValue,
        stages: Option<Vec<String>>,
    ) -> Result<(Secret, String), Failure> {
        if let Some(token) = &token {
            secret::check_token(token)?;
        }
        let token = token.unwrap_or_else(new_version_id);
        self.change(|doc| {
            let name = find(doc, id)?.name.clone();
            let secret = doc.secrets.get_mut(&name).expect("found above");
            let (version, _) = secret.put_value(&token, value, stages, now_millis())?;
            Ok((secret.clone(), version))
        })
    }

    /// `get-secret-value`.
    pub fn get_secret_value(
        &self,
        id: &str,
        selector: &VersionSelector,
    ) -> Result<SecretRead, Failure> {
        self.read(|doc| {
            let secret = find(doc, id)?;
            let version = secret.version(selector)?.clone();
            Ok(SecretRead {
                secret: secret.clone(),
                version,
            })
        })
    }

    /// `describe-secret`.
    pub fn describe_secret(&self, id: &str) -> Result<Secret, Failure> {
        self.read(|doc| find(doc, id).cloned())
    }

    /// Every secret (`list-secrets` filters and pages them).
    pub fn secrets(&self) -> Vec<Secret> {
        self.read(|doc| doc.secrets.values().cloned().collect())
    }

    // --- Parameter Store ------------------------------------------------------------------

    /// `put-parameter`; returns the new version.
    pub fn put_parameter(&self, request: &PutRequest) -> Result<u64, Failure> {
        let key = &self.inner.key;
        self.change(|doc| {
            let sealed = |value: &str| {
                key.seal(PARAMETER_CONTEXT, value.as_bytes())
                    .map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes))
                    .map_err(|e| Failure::new("InternalServerError", e.to_string()))
            };
            let updated = parameter::put(
                doc.parameters.get(&request.name),
                request,
                sealed,
                now_millis(),
            )?;
            let version = updated.current().version;
            doc.parameters.insert(request.name.clone(), updated);
            Ok(version)
        })
    }

    /// One parameter by name, ARN or `NAME:VERSION`.
    pub fn get_parameter(&self, reference: &str, with_decryption: bool) -> Result<Shown, Failure> {
        let (name, selector) = parameter::split_selector(reference);
        let name = self.parameter_name_of(name);
        self.read(|doc| {
            let found = doc
                .parameters
                .get(&name)
                .ok_or_else(|| Failure::new(super::PARAMETER_NOT_FOUND, ""))?;
            parameter::show(found, selector, with_decryption)
        })
    }

    /// The parameters under `path`, sorted by name.
    pub fn parameters_by_path(
        &self,
        path: &str,
        recursive: bool,
        with_decryption: bool,
    ) -> Vec<Shown> {
        self.read(|doc| {
            doc.parameters
                .values()
                .filter(|p| parameter::under_path(&p.name, path, recursive))
                .filter_map(|p| parameter::show(p, None, with_decryption).ok())
                .collect()
        })
    }

    /// A parameter's ARN (`parameter/NAME`, without the leading slash of a path).
    pub fn parameter_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:ssm:{}:{}:parameter/{}",
            self.inner.region,
            self.inner.account,
            name.trim_start_matches('/')
        )
    }

    /// A name given as an ARN → the name (`/a/b`, or `a` when only that exists).
    fn parameter_name_of(&self, reference: &str) -> String {
        let prefix = format!(
            "arn:aws:ssm:{}:{}:parameter/",
            self.inner.region, self.inner.account
        );
        match reference.strip_prefix(&prefix) {
            Some(rest) => {
                let slashed = format!("/{rest}");
                let exists = self.read(|doc| doc.parameters.contains_key(&slashed));
                if exists || rest.contains('/') {
                    slashed
                } else {
                    rest.to_string()
                }
            }
            None => reference.to_string(),
        }
    }

    // --- Task secrets ---------------------------------------------------------------------

    /// The value a task definition's `valueFrom` names now (tasks resolve it at launch). The
    /// error is worded as the ECS agent reports it.
    pub fn resolve(&self, reference: &Reference) -> Result<String, String> {
        match reference {
            Reference::Secret {
                id,
                json_key,
                version_stage,
                version_id,
            } => {
                let selector = VersionSelector {
                    version_id: version_id.clone(),
                    stage: version_stage.clone(),
                };
                let read = self
                    .get_secret_value(id, &selector)
                    .map_err(|e| format!("retrieving secret from asm: {e}"))?;
                let SecretValue::String(value) = read.version.value else {
                    return Err(format!(
                        "retrieving secret from asm: secret {id} is binary; only a SecretString can be an environment variable"
                    ));
                };
                match json_key {
                    Some(key) => reference::json_field(&value, key)
                        .map_err(|e| format!("retrieving secret from asm: {id}: {e}")),
                    None => Ok(value),
                }
            }
            Reference::Parameter { names } => names
                .iter()
                .find_map(|name| self.get_parameter(name, true).ok())
                .map(|shown| shown.value)
                .ok_or_else(|| {
                    format!(
                        "retrieving secrets from ssm: invalid parameters: {}",
                        names[0]
                    )
                }),
        }
    }

    /// Whether `reference` names something that exists now (config checks at start).
    pub fn exists(&self, reference: &Reference) -> bool {
        match reference {
            Reference::Secret { id, .. } => self.describe_secret(id).is_ok(),
            Reference::Parameter { names } => {
                names.iter().any(|n| self.get_parameter(n, false).is_ok())
            }
        }
    }
}

/// The secret `id` names: a name, a full ARN, or a partial ARN (without the random suffix).
fn find<'a>(doc: &'a Document, id: &str) -> Result<&'a Secret, Failure> {
    let by_name = doc.secrets.get(id);
    let by_arn = || {
        let (_, name_part) = id.split_once(":secret:")?;
        doc.secrets
            .values()
            .find(|s| s.arn == id)
            .or_else(|| doc.secrets.get(name_part).filter(|s| s.arn.starts_with(id)))
    };
    by_name.or_else(by_arn).ok_or_else(Failure::no_such_secret)
}

/// The six random characters AWS appends to a secret's name in its ARN.
fn arn_suffix() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(6)
        .map(char::from)
        .collect()
}

/// A version id when the caller gave no `ClientRequestToken` (the CLI always gives one).
fn new_version_id() -> String {
    crate::ecs::lifecycle::new_uuid_v4()
}

fn read(path: &Path, key: &LabKey) -> Result<Document, StoreError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Document::default()),
        Err(source) => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                action: "read",
                source,
            });
        }
    };
    let sealed = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| StoreError::Format {
            path: path.to_path_buf(),
            detail: "unknown header".into(),
        })?;
    let plain = key
        .open(STORE_CONTEXT, sealed)
        .map_err(|source| StoreError::Crypto {
            path: path.to_path_buf(),
            source,
        })?;
    serde_json::from_slice(&plain).map_err(|e| StoreError::Format {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

fn write(path: &Path, key: &LabKey, doc: &Document) -> Result<(), StoreError> {
    let plain = serde_json::to_vec(doc).map_err(|e| StoreError::Format {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    let sealed = key
        .seal(STORE_CONTEXT, &plain)
        .map_err(|source| StoreError::Crypto {
            path: path.to_path_buf(),
            source,
        })?;
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&sealed);
    file::write_atomic(path, &bytes).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        action: "write",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::parameter::ParameterType;
    use std::os::unix::fs::PermissionsExt;

    fn open(state: &StateDir) -> SecretStore {
        SecretStore::open(state, "lab", "us-east-1", "000000000000").unwrap()
    }

    fn create(store: &SecretStore, name: &str, value: &str) -> Secret {
        store
            .create_secret(CreateSecret {
                name: name.into(),
                value: Some(SecretValue::String(value.into())),
                ..CreateSecret::default()
            })
            .unwrap()
            .0
    }

    #[test]
    fn secrets_survive_a_reopen_encrypted_in_a_0600_file() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::at(tmp.path());
        let store = open(&state);
        let secret = create(&store, "app/db", "plaintext-hunter2");
        let suffix = secret.arn.rsplit('-').next().unwrap();
        assert_eq!(suffix.len(), 6);
        assert!(
            secret
                .arn
                .starts_with("arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-")
        );
        store
            .put_parameter(&PutRequest {
                name: "/app/pw".into(),
                value: "parameter-hunter3".into(),
                kind: Some(ParameterType::SecureString),
                overwrite: false,
                description: None,
                key_id: None,
                data_type: None,
            })
            .unwrap();
        drop(store);
        let path = SecretStore::path(&state, "lab");
        let bytes = std::fs::read(&path).unwrap();
        for plain in [&b"hunter2"[..], b"hunter3", b"app/db"] {
            assert!(!bytes.windows(plain.len()).any(|w| w == plain));
        }
        for file in [&path, &SecretStore::key_path(&state, "lab")] {
            let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
        let again = open(&state);
        let read = again
            .get_secret_value(&secret.arn, &VersionSelector::default())
            .unwrap();
        assert_eq!(
            read.version.value,
            SecretValue::String("plaintext-hunter2".into())
        );
        assert_eq!(
            again.get_parameter("/app/pw", true).unwrap().value,
            "parameter-hunter3"
        );
        let hidden = again.get_parameter("/app/pw", false).unwrap().value;
        assert_ne!(hidden, "parameter-hunter3");
    }

    #[test]
    fn another_key_cannot_read_the_store() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::at(tmp.path());
        create(&open(&state), "s", "v");
        std::fs::write(SecretStore::key_path(&state, "lab"), [9u8; 32]).unwrap();
        let err = SecretStore::open(&state, "lab", "us-east-1", "000000000000").unwrap_err();
        assert!(matches!(err, StoreError::Crypto { .. }), "{err:?}");
    }

    #[test]
    fn secrets_are_found_by_name_arn_and_partial_arn() {
        let tmp = tempfile::tempdir().unwrap();
        let store = open(&StateDir::at(tmp.path()));
        let secret = create(&store, "app/db", "v");
        let partial = "arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db";
        for id in ["app/db", secret.arn.as_str(), partial] {
            assert_eq!(store.describe_secret(id).unwrap().name, "app/db", "{id}");
        }
        let e = store.describe_secret("app/other").unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                "ResourceNotFoundException",
                "Secrets Manager can't find the specified secret."
            )
        );
        let e = store
            .create_secret(CreateSecret {
                name: "app/db".into(),
                ..CreateSecret::default()
            })
            .unwrap_err();
        assert_eq!(
            e.message,
            "The operation failed because the secret app/db already exists."
        );
    }

    #[test]
    fn references_resolve_at_the_time_of_asking() {
        let tmp = tempfile::tempdir().unwrap();
        let store = open(&StateDir::at(tmp.path()));
        let secret = create(&store, "db", r#"{"username":"admin","password":"one"}"#);
        let r = reference::parse(
            &format!("{}:password::", secret.arn),
            "us-east-1",
            "000000000000",
        )
        .unwrap();
        assert_eq!(store.resolve(&r).unwrap(), "one");
        store
            .put_secret_value(
                "db",
                None,
                SecretValue::String(r#"{"username":"admin","password":"two"}"#.into()),
                None,
            )
            .unwrap();
        assert_eq!(store.resolve(&r).unwrap(), "two");
        let previous = reference::parse(
            &format!("{}:password:AWSPREVIOUS:", secret.arn),
            "us-east-1",
            "000000000000",
        )
        .unwrap();
        assert_eq!(store.resolve(&previous).unwrap(), "one");
        let missing = reference::parse("/nope", "us-east-1", "000000000000").unwrap();
        assert!(!store.exists(&missing));
        assert_eq!(
            store.resolve(&missing).unwrap_err(),
            "retrieving secrets from ssm: invalid parameters: /nope"
        );
    }

    #[test]
    fn a_write_that_fails_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::at(tmp.path());
        let store = open(&state);
        create(&store, "kept", "v");
        // Make the store path a non-empty directory: the rename of the new store fails.
        let path = SecretStore::path(&state, "lab");
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("x"), b"").unwrap();
        let e = store
            .create_secret(CreateSecret {
                name: "lost".into(),
                ..CreateSecret::default()
            })
            .unwrap_err();
        assert_eq!(e.code, "InternalServiceError");
        assert!(
            store.describe_secret("lost").is_err(),
            "not kept in memory either"
        );
        assert!(store.describe_secret("kept").is_ok());
    }
}
