//! Inputs and outputs of the Parameter Store operations, and their mapping onto the store.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::api::json::Epoch;
use crate::secrets::parameter::{self, ParameterType, PutRequest, Shown};
use crate::secrets::{Failure, SecretStore};

/// Most names of one `GetParameters`, and most results of one `GetParametersByPath` page.
const MAX_NAMES: usize = 10;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutParameterInput {
    name: String,
    description: Option<String>,
    value: String,
    #[serde(rename = "Type")]
    kind: Option<String>,
    key_id: Option<String>,
    #[serde(default)]
    overwrite: bool,
    allowed_pattern: Option<String>,
    tags: Option<serde_json::Value>,
    tier: Option<String>,
    policies: Option<String>,
    data_type: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutParameterOutput {
    version: u64,
    tier: &'static str,
}

pub fn put_parameter(
    store: &SecretStore,
    input: PutParameterInput,
) -> Result<PutParameterOutput, Failure> {
    if input.tags.is_some() && input.overwrite {
        return Err(Failure::validation(
            "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.",
        ));
    }
    match input.tier.as_deref() {
        None | Some("Standard") => {}
        Some(tier) => {
            return Err(Failure::validation(format!(
                "tierlab keeps Standard-tier parameters only; Tier {tier} is not supported."
            )));
        }
    }
    if input.allowed_pattern.is_some() || input.policies.is_some() {
        return Err(Failure::validation(
            "tierlab does not support AllowedPattern or Policies on parameters.",
        ));
    }
    let kind = input
        .kind
        .as_deref()
        .map(ParameterType::parse)
        .transpose()?;
    let version = store.put_parameter(&PutRequest {
        name: input.name,
        value: input.value,
        kind,
        overwrite: input.overwrite,
        description: input.description,
        key_id: input.key_id,
        data_type: input.data_type,
    })?;
    Ok(PutParameterOutput {
        version,
        tier: "Standard",
    })
}

/// A parameter as the reads show it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterOut {
    name: String,
    #[serde(rename = "Type")]
    kind: &'static str,
    value: String,
    version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    selector: Option<String>,
    last_modified_date: Epoch,
    #[serde(rename = "ARN")]
    arn: String,
    data_type: String,
}

fn out(store: &SecretStore, shown: Shown) -> ParameterOut {
    ParameterOut {
        arn: store.parameter_arn(&shown.name),
        name: shown.name,
        kind: shown.version.kind.as_str(),
        value: shown.value,
        version: shown.version.version,
        selector: shown.selector,
        last_modified_date: Epoch(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(shown.version.last_modified),
        ),
        data_type: shown.version.data_type,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterInput {
    name: String,
    #[serde(default)]
    with_decryption: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterOutput {
    parameter: ParameterOut,
}

pub fn get_parameter(
    store: &SecretStore,
    input: GetParameterInput,
) -> Result<GetParameterOutput, Failure> {
    let shown = store.get_parameter(&input.name, input.with_decryption)?;
    Ok(GetParameterOutput {
        parameter: out(store, shown),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersInput {
    names: Vec<String>,
    #[serde(default)]
    with_decryption: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersOutput {
    parameters: Vec<ParameterOut>,
    invalid_parameters: Vec<String>,
}

pub fn get_parameters(
    store: &SecretStore,
    input: GetParametersInput,
) -> Result<GetParametersOutput, Failure> {
    if input.names.is_empty() || input.names.len() > MAX_NAMES {
        return Err(Failure::validation(format!(
            "1 validation error detected: Value '[{}]' at 'names' failed to satisfy constraint: Member must have length {}",
            input.names.join(", "),
            if input.names.is_empty() {
                "greater than or equal to 1".to_string()
            } else {
                format!("less than or equal to {MAX_NAMES}")
            }
        )));
    }
    let mut parameters = Vec::new();
    let mut invalid_parameters = Vec::new();
    for name in input.names {
        match store.get_parameter(&name, input.with_decryption) {
            Ok(shown) => parameters.push(out(store, shown)),
            Err(_) => invalid_parameters.push(name),
        }
    }
    Ok(GetParametersOutput {
        parameters,
        invalid_parameters,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersByPathInput {
    path: String,
    #[serde(default)]
    recursive: bool,
    parameter_filters: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    with_decryption: bool,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersByPathOutput {
    parameters: Vec<ParameterOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub fn get_parameters_by_path(
    store: &SecretStore,
    input: GetParametersByPathInput,
) -> Result<GetParametersByPathOutput, Failure> {
    parameter::check_path(&input.path)?;
    if input.parameter_filters.is_some_and(|f| !f.is_empty()) {
        return Err(Failure::validation(
            "tierlab does not support ParameterFilters on GetParametersByPath.",
        ));
    }
    let max = Failure::max_results(input.max_results, MAX_NAMES)?;
    let all = store.parameters_by_path(&input.path, input.recursive, input.with_decryption);
    let start = match &input.next_token {
        None => 0,
        Some(token) => decode_token(token)?,
    };
    let page: Vec<ParameterOut> = all
        .into_iter()
        .skip(start)
        .take(max + 1)
        .map(|shown| out(store, shown))
        .collect();
    let more = page.len() > max;
    let parameters: Vec<ParameterOut> = page.into_iter().take(max).collect();
    let next = start + parameters.len();
    Ok(GetParametersByPathOutput {
        parameters,
        next_token: more.then(|| encode_token(next)),
    })
}

fn encode_token(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("tierlab:{offset}"))
}

fn decode_token(token: &str) -> Result<usize, Failure> {
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("tierlab:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| Failure::validation("The specified token is not valid."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::json;

    #[test]
    fn inputs_decode_the_clis_members() {
        let input: PutParameterInput = json::input(
            br#"{"Name":"/app/db","Value":"v","Type":"SecureString","Overwrite":true}"#,
        )
        .unwrap();
        assert_eq!(
            (input.name.as_str(), input.kind.as_deref(), input.overwrite),
            ("/app/db", Some("SecureString"), true)
        );
        let input: GetParametersByPathInput =
            json::input(br#"{"Path":"/app","Recursive":true,"WithDecryption":true}"#).unwrap();
        assert!(input.recursive && input.with_decryption);
        let e = json::input::<GetParameterInput>(b"{}").unwrap_err();
        assert!(e.message.contains("'Name'"), "{}", e.message);
    }

    #[test]
    fn pages_round_trip() {
        assert_eq!(decode_token(&encode_token(10)).unwrap(), 10);
        assert!(decode_token("x").is_err());
    }
}
