//! A Secrets Manager secret and its versions, with the staging-label rules of AWS: pure
//! functions over the model, no I/O (the store persists what they return).
//!
//! - A new version gets `AWSCURRENT` unless other labels are asked for; moving `AWSCURRENT` to it
//!   moves `AWSPREVIOUS` to the version that was current. A label is on one version at most.
//! - A version that loses its last label is deprecated: kept (AWS keeps about 100), not served
//!   by label; the oldest unlabelled ones are dropped beyond [`MAX_VERSIONS`].
//! - `ClientRequestToken` is the version id and makes a call idempotent: the same token with the
//!   same value is the same version; with another value it is refused.

use serde::{Deserialize, Serialize};

use super::Failure;

/// The label of the version served by default.
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The label the previous current version keeps.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
/// Versions kept per secret (AWS's quota is about 100, counting deprecated ones).
pub const MAX_VERSIONS: usize = 100;

/// A secret's value: a string or bytes (`SecretString` / `SecretBinary`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecretValue {
    String(String),
    Binary(Vec<u8>),
}

impl std::fmt::Debug for SecretValue {
    /// Never the value: a secret must not reach a log through a `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretValue::String(_) => f.write_str("SecretString(..)"),
            SecretValue::Binary(_) => f.write_str("SecretBinary(..)"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretVersion {
    pub id: String,
    pub value: SecretValue,
    pub stages: Vec<String>,
    /// Milliseconds since the epoch.
    pub created: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    /// Set for secrets a service manages (`rds` for a DB's master user secret).
    pub owning_service: Option<String>,
    pub tags: Vec<(String, String)>,
    pub created: u64,
    pub last_changed: u64,
    /// Oldest first.
    pub versions: Vec<SecretVersion>,
}

/// Which version a read asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionSelector {
    pub version_id: Option<String>,
    pub stage: Option<String>,
}

impl Secret {
    /// A new secret without versions (as `create-secret` without a value makes it).
    pub fn new(name: &str, arn: String, now: u64) -> Secret {
        Secret {
            name: name.to_string(),
            arn,
            description: None,
            kms_key_id: None,
            owning_service: None,
            tags: Vec::new(),
            created: now,
            last_changed: now,
            versions: Vec::new(),
        }
    }

    /// The version `selector` names: by id, by label, both (they must agree), or `AWSCURRENT`.
    pub fn version(&self, selector: &VersionSelector) -> Result<&SecretVersion, Failure> {
        let stage = selector
            .stage
            .as_deref()
            .or(selector.version_id.is_none().then_some(AWSCURRENT));
        let by_id = |id: &str| self.versions.iter().find(|v| v.id == id);
        let by_stage = |s: &str| {
            self.versions
                .iter()
                .find(|v| v.stages.iter().any(|x| x == s))
        };
        match (selector.version_id.as_deref(), stage) {
            (Some(id), None) => by_id(id).ok_or_else(|| {
                Failure::not_found(format!(
                    "Secrets Manager can't find the specified secret value for VersionId: {id}"
                ))
            }),
            (None, Some(stage)) => by_stage(stage).ok_or_else(|| {
                Failure::not_found(format!(
                    "Secrets Manager can't find the specified secret value for staging label: {stage}"
                ))
            }),
            (Some(id), Some(stage)) => by_id(id)
                .filter(|v| v.stages.iter().any(|s| s == stage))
                .ok_or_else(|| {
                    Failure::not_found(format!(
                        "Secrets Manager can't find the specified secret value for VersionId: {id} and staging label: {stage}"
                    ))
                }),
            (None, None) => unreachable!("the stage defaults to AWSCURRENT"),
        }
    }

    /// Adds a version (or finds the same one again, for a repeated token) and moves `stages`
    /// to it. Returns the version id and whether anything changed.
    pub fn put_value(
        &mut self,
        token: &str,
        value: SecretValue,
        stages: Option<Vec<String>>,
        now: u64,
    ) -> Result<(String, bool), Failure> {
        if let Some(existing) = self.versions.iter().find(|v| v.id == token) {
            if existing.value != value {
                return Err(Failure::new(
                    super::RESOURCE_EXISTS,
                    "You can't modify an existing version, you can only create a new version.",
                ));
            }
            return Ok((existing.id.clone(), false));
        }
        let stages = stages.unwrap_or_else(|| vec![AWSCURRENT.to_string()]);
        if stages.len() > 20 {
            return Err(Failure::validation(
                "1 validation error detected: Value at 'versionStages' failed to satisfy constraint: Member must have length less than or equal to 20",
            ));
        }
        let was_current = self
            .versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == AWSCURRENT))
            .map(|v| v.id.clone());
        for version in &mut self.versions {
            version.stages.retain(|s| !stages.contains(s));
        }
        let mut stages = stages;
        stages.dedup();
        self.versions.push(SecretVersion {
            id: token.to_string(),
            value,
            stages: stages.clone(),
            created: now,
        });
        if let Some(old) = was_current.filter(|_| stages.iter().any(|s| s == AWSCURRENT)) {
            for version in &mut self.versions {
                version.stages.retain(|s| s != AWSPREVIOUS);
                if version.id == old {
                    version.stages.push(AWSPREVIOUS.to_string());
                }
            }
        }
        self.drop_deprecated();
        self.last_changed = now;
        Ok((token.to_string(), true))
    }

    /// Drops the oldest versions without labels beyond [`MAX_VERSIONS`].
    fn drop_deprecated(&mut self) {
        while self.versions.len() > MAX_VERSIONS {
            match self.versions.iter().position(|v| v.stages.is_empty()) {
                Some(i) => {
                    self.versions.remove(i);
                }
                None => break,
            }
        }
    }

    /// Version id → labels, for the versions that have labels (`VersionIdsToStages`).
    pub fn versions_to_stages(&self) -> Vec<(&str, &[String])> {
        self.versions
            .iter()
            .filter(|v| !v.stages.is_empty())
            .map(|v| (v.id.as_str(), v.stages.as_slice()))
            .collect()
    }
}

/// Secrets Manager's name alphabet and length (1..=512 of `A-Za-z0-9/_+=.@-`).
pub fn check_name(name: &str) -> Result<(), Failure> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Failure::new(
            super::INVALID_PARAMETER,
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
        ))
    }
}

/// A version id (`ClientRequestToken`): 32 to 64 characters.
pub fn check_token(token: &str) -> Result<(), Failure> {
    if (32..=64).contains(&token.len()) {
        Ok(())
    } else {
        Err(Failure::validation(format!(
            "1 validation error detected: Value '{token}' at 'clientRequestToken' failed to satisfy constraint: Member must have length {}",
            if token.len() < 32 {
                "greater than or equal to 32"
            } else {
                "less than or equal to 64"
            }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "00000000-0000-4000-8000-000000000001";
    const T2: &str = "00000000-0000-4000-8000-000000000002";
    const T3: &str = "00000000-0000-4000-8000-000000000003";

    fn s(text: &str) -> SecretValue {
        SecretValue::String(text.into())
    }

    fn stages(secret: &Secret, id: &str) -> Vec<String> {
        secret
            .versions
            .iter()
            .find(|v| v.id == id)
            .unwrap()
            .stages
            .clone()
    }

    #[test]
    fn a_new_value_becomes_current_and_the_old_one_previous() {
        let mut secret = Secret::new("db", "arn".into(), 1);
        secret.put_value(T1, s("one"), None, 2).unwrap();
        assert_eq!(stages(&secret, T1), [AWSCURRENT]);
        secret.put_value(T2, s("two"), None, 3).unwrap();
        secret.put_value(T3, s("three"), None, 4).unwrap();
        assert_eq!(stages(&secret, T3), [AWSCURRENT]);
        assert_eq!(stages(&secret, T2), [AWSPREVIOUS]);
        assert!(stages(&secret, T1).is_empty(), "deprecated");
        assert_eq!(secret.last_changed, 4);
        let current = secret.version(&VersionSelector::default()).unwrap();
        assert_eq!(current.value, s("three"));
        let previous = secret
            .version(&VersionSelector {
                stage: Some(AWSPREVIOUS.into()),
                version_id: None,
            })
            .unwrap();
        assert_eq!(previous.value, s("two"));
        let by_id = secret
            .version(&VersionSelector {
                version_id: Some(T1.into()),
                stage: None,
            })
            .unwrap();
        assert_eq!(by_id.value, s("one"));
        assert_eq!(secret.versions_to_stages().len(), 2);
    }

    #[test]
    fn custom_labels_move_without_touching_current() {
        let mut secret = Secret::new("db", "arn".into(), 1);
        secret.put_value(T1, s("one"), None, 2).unwrap();
        secret
            .put_value(T2, s("two"), Some(vec!["AWSPENDING".into()]), 3)
            .unwrap();
        assert_eq!(stages(&secret, T1), [AWSCURRENT]);
        assert_eq!(stages(&secret, T2), ["AWSPENDING"]);
        secret
            .put_value(T3, s("three"), Some(vec!["AWSPENDING".into()]), 4)
            .unwrap();
        assert!(stages(&secret, T2).is_empty());
        assert_eq!(stages(&secret, T3), ["AWSPENDING"]);
    }

    #[test]
    fn the_same_token_is_idempotent_and_cannot_change_a_version() {
        let mut secret = Secret::new("db", "arn".into(), 1);
        assert_eq!(
            secret.put_value(T1, s("one"), None, 2).unwrap(),
            (T1.into(), true)
        );
        assert_eq!(
            secret.put_value(T1, s("one"), None, 3).unwrap(),
            (T1.into(), false)
        );
        let e = secret.put_value(T1, s("other"), None, 4).unwrap_err();
        assert_eq!(e.code, "ResourceExistsException");
        assert_eq!(secret.versions.len(), 1);
    }

    #[test]
    fn missing_versions_are_named_as_aws_names_them() {
        let secret = Secret::new("db", "arn".into(), 1);
        let e = secret.version(&VersionSelector::default()).unwrap_err();
        assert_eq!(e.code, "ResourceNotFoundException");
        assert_eq!(
            e.message,
            "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT"
        );
        let e = secret
            .version(&VersionSelector {
                version_id: Some("nope".into()),
                stage: None,
            })
            .unwrap_err();
        assert!(e.message.ends_with("for VersionId: nope"), "{}", e.message);
    }

    #[test]
    fn deprecated_versions_are_bounded() {
        let mut secret = Secret::new("db", "arn".into(), 1);
        for i in 0..(MAX_VERSIONS + 5) {
            let token = format!("{i:032}");
            secret
                .put_value(&token, s(&i.to_string()), None, 2)
                .unwrap();
        }
        assert_eq!(secret.versions.len(), MAX_VERSIONS);
        assert_eq!(
            secret.version(&VersionSelector::default()).unwrap().value,
            s(&(MAX_VERSIONS + 4).to_string())
        );
    }

    #[test]
    fn names_and_tokens_are_checked() {
        assert!(check_name("prod/db-password_1+=.@").is_ok());
        assert_eq!(
            check_name("bad name").unwrap_err().code,
            "InvalidParameterException"
        );
        assert!(check_name("").is_err());
        assert!(check_token(T1).is_ok());
        assert_eq!(
            check_token("short").unwrap_err().code,
            "ValidationException"
        );
    }

    #[test]
    fn debug_never_shows_a_value() {
        let text = format!("{:?}", s("hunter2"));
        assert!(!text.contains("hunter2"), "{text}");
    }
}
