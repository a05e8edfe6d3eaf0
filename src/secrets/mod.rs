//! The lab's Secrets Manager and Parameter Store: one store per lab, encrypted at rest with the
//! lab key, written atomically, kept across `down`/`up`.
//!
//! Map:
//! - [`secret`]: a secret, its versions and staging labels (pure).
//! - [`parameter`]: a parameter and its history, paths and selectors (pure).
//! - [`reference`]: what a task definition's `valueFrom` names (pure).
//! - [`rds`]: a DB instance's master user secret (`rds!db-...`, RDS's managed password).
//! - [`store`]: [`SecretStore`], the handle the AWS API, ECS and RDS share (applies the pure
//!   operations, persists them whole).
//! - [`crypto`] (the lab key, AES-256-GCM), [`file`] (atomic private writes).
//!
//! Layout under the state directory:
//! ```text
//! labs/<lab>/secrets/lab.key        32 random bytes, mode 0600
//! labs/<lab>/secret-store.bin       the store, sealed with the lab key, mode 0600
//! ```

pub mod crypto;
pub mod file;
pub mod parameter;
pub mod rds;
pub mod reference;
pub mod secret;
pub mod store;

pub use store::{SecretStore, StoreError};

/// Secrets Manager: the secret (or version) does not exist.
pub const RESOURCE_NOT_FOUND: &str = "ResourceNotFoundException";
/// Secrets Manager: the secret (or version) exists already.
pub const RESOURCE_EXISTS: &str = "ResourceExistsException";
/// Secrets Manager: a parameter value is not valid.
pub const INVALID_PARAMETER: &str = "InvalidParameterException";
/// Secrets Manager: the request cannot be done in the resource's state.
pub const INVALID_REQUEST: &str = "InvalidRequestException";
/// Both services: a request that breaks the model's constraints.
pub const VALIDATION: &str = "ValidationException";
/// SSM: the parameter does not exist.
pub const PARAMETER_NOT_FOUND: &str = "ParameterNotFound";
/// SSM: the parameter exists and `--overwrite` was not given.
pub const PARAMETER_ALREADY_EXISTS: &str = "ParameterAlreadyExists";
/// SSM: `NAME:VERSION` names a version that does not exist.
pub const PARAMETER_VERSION_NOT_FOUND: &str = "ParameterVersionNotFound";

/// A refused operation, as the service answers it (its error code and message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
}

impl Failure {
    pub fn new(code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Failure {
        Failure::new(VALIDATION, message)
    }

    /// `MaxResults` as Secrets Manager and SSM check it: 1 to `most`, `most` when not given.
    pub fn max_results(given: Option<i64>, most: usize) -> Result<usize, Failure> {
        match given {
            None => Ok(most),
            Some(n) if (1..=most as i64).contains(&n) => Ok(n as usize),
            Some(n) => Err(Failure::validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value {}",
                if n < 1 {
                    "greater than or equal to 1".to_string()
                } else {
                    format!("less than or equal to {most}")
                }
            ))),
        }
    }

    /// Secrets Manager's "not found".
    pub fn not_found(message: impl Into<String>) -> Failure {
        Failure::new(RESOURCE_NOT_FOUND, message)
    }

    /// Secrets Manager's answer for a secret id that names no secret.
    pub fn no_such_secret() -> Failure {
        Failure::not_found("Secrets Manager can't find the specified secret.")
    }
}

/// Milliseconds since the epoch, as the store keeps times.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
