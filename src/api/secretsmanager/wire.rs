//! Inputs and outputs of the single-secret operations, and their mapping onto the store.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::epoch;
use crate::api::json::Epoch;
use crate::secrets::secret::{SecretValue, VersionSelector};
use crate::secrets::store::CreateSecret;
use crate::secrets::{Failure, INVALID_PARAMETER, INVALID_REQUEST, SecretStore};

/// Largest `SecretString` / `SecretBinary` (65,536 bytes).
const MAX_VALUE: usize = 65_536;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSecretInput {
    name: String,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_string: Option<String>,
    secret_binary: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    add_replica_regions: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSecretOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
}

/// `SecretString` xor `SecretBinary` (base64 on the wire), within the size limit; `None` when
/// neither is given.
pub fn decode_value(
    string: Option<String>,
    binary: Option<String>,
) -> Result<Option<SecretValue>, Failure> {
    let value = match (string, binary) {
        (Some(_), Some(_)) => {
            return Err(Failure::new(
                INVALID_PARAMETER,
                "You can't specify both a binary secret value and a string secret value in the same secret.",
            ));
        }
        (Some(s), None) => SecretValue::String(s),
        (None, Some(b)) => SecretValue::Binary(
            base64::engine::general_purpose::STANDARD
                .decode(b.as_bytes())
                .map_err(|_| {
                    Failure::new("SerializationException", "SecretBinary is not valid base64")
                })?,
        ),
        (None, None) => return Ok(None),
    };
    let len = match &value {
        SecretValue::String(s) => s.len(),
        SecretValue::Binary(b) => b.len(),
    };
    if len > MAX_VALUE {
        return Err(Failure::validation(format!(
            "1 validation error detected: Value at 'secret{}' failed to satisfy constraint: Member must have length less than or equal to {MAX_VALUE}",
            if matches!(value, SecretValue::String(_)) {
                "String"
            } else {
                "Binary"
            }
        )));
    }
    Ok(Some(value))
}

pub fn create_secret(
    store: &SecretStore,
    input: CreateSecretInput,
) -> Result<CreateSecretOutput, Failure> {
    if input.add_replica_regions.is_some() {
        return Err(Failure::new(
            INVALID_REQUEST,
            "tierlab runs one region: secrets cannot be replicated (AddReplicaRegions).",
        ));
    }
    let value = decode_value(input.secret_string, input.secret_binary)?;
    let (secret, version_id) = store.create_secret(CreateSecret {
        name: input.name,
        token: input.client_request_token,
        value,
        description: input.description,
        kms_key_id: input.kms_key_id,
        tags: input.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        owning_service: None,
    })?;
    Ok(CreateSecretOutput {
        arn: secret.arn,
        name: secret.name,
        version_id,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSecretValueInput {
    secret_id: String,
    version_id: Option<String>,
    version_stage: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSecretValueOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    version_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_binary: Option<String>,
    version_stages: Vec<String>,
    created_date: Epoch,
}

pub fn get_secret_value(
    store: &SecretStore,
    input: GetSecretValueInput,
) -> Result<GetSecretValueOutput, Failure> {
    let selector = VersionSelector {
        version_id: input.version_id,
        stage: input.version_stage,
    };
    let read = store.get_secret_value(&input.secret_id, &selector)?;
    let (secret_string, secret_binary) = match read.version.value {
        SecretValue::String(s) => (Some(s), None),
        SecretValue::Binary(b) => (
            None,
            Some(base64::engine::general_purpose::STANDARD.encode(b)),
        ),
    };
    Ok(GetSecretValueOutput {
        arn: read.secret.arn,
        name: read.secret.name,
        version_id: read.version.id,
        secret_string,
        secret_binary,
        version_stages: read.version.stages,
        created_date: epoch(read.version.created),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutSecretValueInput {
    secret_id: String,
    client_request_token: Option<String>,
    secret_string: Option<String>,
    secret_binary: Option<String>,
    version_stages: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutSecretValueOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    version_id: String,
    version_stages: Vec<String>,
}

pub fn put_secret_value(
    store: &SecretStore,
    input: PutSecretValueInput,
) -> Result<PutSecretValueOutput, Failure> {
    let value = decode_value(input.secret_string, input.secret_binary)?.ok_or_else(|| {
        Failure::new(
            INVALID_REQUEST,
            "You must provide either SecretString or SecretBinary.",
        )
    })?;
    let (secret, version_id) = store.put_secret_value(
        &input.secret_id,
        input.client_request_token,
        value,
        input.version_stages,
    )?;
    let version_stages = secret
        .versions
        .iter()
        .find(|v| v.id == version_id)
        .map(|v| v.stages.clone())
        .unwrap_or_default();
    Ok(PutSecretValueOutput {
        arn: secret.arn,
        name: secret.name,
        version_id,
        version_stages,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSecretInput {
    secret_id: String,
}

/// A secret as `DescribeSecret` shows it (and, with another name for the map of versions,
/// each entry of `ListSecrets`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretDescription {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    pub last_changed_date: Epoch,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_ids_to_stages: Option<BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_versions_to_stages: Option<BTreeMap<String, Vec<String>>>,
    pub created_date: Epoch,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owning_service: Option<String>,
}

impl SecretDescription {
    /// `describe`: `VersionIdsToStages` (DescribeSecret), else `SecretVersionsToStages`
    /// (ListSecrets).
    pub fn of(secret: &crate::secrets::secret::Secret, describe: bool) -> SecretDescription {
        let stages: BTreeMap<String, Vec<String>> = secret
            .versions_to_stages()
            .into_iter()
            .map(|(id, stages)| (id.to_string(), stages.to_vec()))
            .collect();
        let stages = (!stages.is_empty()).then_some(stages);
        let (version_ids_to_stages, secret_versions_to_stages) = if describe {
            (stages, None)
        } else {
            (None, stages)
        };
        SecretDescription {
            arn: secret.arn.clone(),
            name: secret.name.clone(),
            description: secret.description.clone(),
            kms_key_id: secret.kms_key_id.clone(),
            last_changed_date: epoch(secret.last_changed),
            tags: secret
                .tags
                .iter()
                .map(|(key, value)| Tag {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
            version_ids_to_stages,
            secret_versions_to_stages,
            created_date: epoch(secret.created),
            owning_service: secret.owning_service.clone(),
        }
    }
}

pub fn describe_secret(
    store: &SecretStore,
    input: DescribeSecretInput,
) -> Result<SecretDescription, Failure> {
    Ok(SecretDescription::of(
        &store.describe_secret(&input.secret_id)?,
        true,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_decode_pascal_case_members() {
        let input: CreateSecretInput = crate::api::json::input(
            br#"{"Name":"app/db","SecretString":"v","ClientRequestToken":"00000000-0000-4000-8000-000000000001","Tags":[{"Key":"k","Value":"v"}]}"#,
        )
        .unwrap();
        assert_eq!(input.name, "app/db");
        assert_eq!(
            input.tags,
            [Tag {
                key: "k".into(),
                value: "v".into()
            }]
        );
        let e = crate::api::json::input::<GetSecretValueInput>(b"{}").unwrap_err();
        assert!(e.message.contains("'SecretId'"), "{}", e.message);
    }

    #[test]
    fn values_are_a_string_or_base64_bytes_never_both() {
        assert_eq!(
            decode_value(Some("s".into()), None).unwrap(),
            Some(SecretValue::String("s".into()))
        );
        assert_eq!(
            decode_value(None, Some("AAEC".into())).unwrap(),
            Some(SecretValue::Binary(vec![0, 1, 2]))
        );
        assert_eq!(decode_value(None, None).unwrap(), None);
        let e = decode_value(Some("s".into()), Some("AA==".into())).unwrap_err();
        assert_eq!(e.code, "InvalidParameterException");
        let e = decode_value(Some("x".repeat(MAX_VALUE + 1)), None).unwrap_err();
        assert_eq!(e.code, "ValidationException");
    }

    #[test]
    fn outputs_use_aws_member_names() {
        let out = serde_json::to_value(CreateSecretOutput {
            arn: "a".into(),
            name: "n".into(),
            version_id: None,
        })
        .unwrap();
        assert_eq!(out, serde_json::json!({"ARN": "a", "Name": "n"}));
    }
}
