//! A Parameter Store parameter and its history, with SSM's rules: pure functions over the model
//! (the store seals SecureString values and persists what these return).
//!
//! - `put` creates version 1, or with `overwrite` the next version (history kept, up to
//!   [`MAX_HISTORY`]); a new parameter needs a type; the type of an existing one stays unless
//!   given.
//! - Reads take a name, an ARN, or `name:VERSION`. A SecureString's value is its ciphertext
//!   unless decryption is asked for, as SSM answers without `WithDecryption`.
//! - Paths: `get_parameters_by_path("/a")` is the parameters one level under `/a`, or every
//!   level with `recursive`.

use serde::{Deserialize, Serialize};

use super::Failure;

/// Versions kept per parameter (SSM keeps the last 100).
pub const MAX_HISTORY: usize = 100;
/// Largest value of a Standard-tier parameter.
const MAX_VALUE_LEN: usize = 4096;
/// Most path levels in a name.
const MAX_DEPTH: usize = 15;

/// SSM's `ParameterType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParameterType {
    String,
    StringList,
    SecureString,
}

impl ParameterType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterType::String => "String",
            ParameterType::StringList => "StringList",
            ParameterType::SecureString => "SecureString",
        }
    }

    /// The wire name, or SSM's enum validation error.
    pub fn parse(text: &str) -> Result<ParameterType, Failure> {
        match text {
            "String" => Ok(ParameterType::String),
            "StringList" => Ok(ParameterType::StringList),
            "SecureString" => Ok(ParameterType::SecureString),
            other => Err(Failure::validation(format!(
                "1 validation error detected: Value '{other}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]"
            ))),
        }
    }
}

/// One version of a parameter.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterVersion {
    pub version: u64,
    pub kind: ParameterType,
    /// The plaintext value (the whole store is encrypted at rest).
    pub value: String,
    /// For a SecureString: the value sealed with the lab key, base64 (what is shown without
    /// decryption, as SSM shows the KMS ciphertext).
    pub ciphertext: Option<String>,
    pub key_id: Option<String>,
    pub description: Option<String>,
    pub data_type: String,
    /// Milliseconds since the epoch.
    pub last_modified: u64,
}

impl std::fmt::Debug for ParameterVersion {
    /// Never the value (a SecureString must not reach a log through `{:?}`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParameterVersion")
            .field("version", &self.version)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameter {
    pub name: String,
    /// Oldest first; the last is the current version.
    pub history: Vec<ParameterVersion>,
}

/// What `put-parameter` asks for.
#[derive(Debug, Clone)]
pub struct PutRequest {
    pub name: String,
    pub value: String,
    pub kind: Option<ParameterType>,
    pub overwrite: bool,
    pub description: Option<String>,
    pub key_id: Option<String>,
    pub data_type: Option<String>,
}

/// A parameter as a read returns it: one version, with the value to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub name: String,
    pub version: ParameterVersion,
    /// `name:VERSION` when the read named a version.
    pub selector: Option<String>,
    /// The value to answer: plaintext, or a SecureString's ciphertext without decryption.
    pub value: String,
}

impl Parameter {
    pub fn current(&self) -> &ParameterVersion {
        self.history.last().expect("a parameter has a version")
    }
}

/// Checks `name` as SSM does.
pub fn check_name(name: &str) -> Result<(), Failure> {
    const RULES: &str = "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_";
    if name.contains('/') && !name.starts_with('/') {
        return Err(Failure::validation(
            "Parameter name must be a fully qualified name.",
        ));
    }
    let first = name.trim_start_matches('/').to_ascii_lowercase();
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c));
    let parts_ok = name
        .trim_start_matches('/')
        .split('/')
        .all(|p| !p.is_empty());
    if name.is_empty()
        || name.len() > 1011
        || !chars_ok
        || !parts_ok
        || first.starts_with("aws")
        || first.starts_with("ssm")
    {
        return Err(Failure::validation(RULES));
    }
    if name.matches('/').count() > MAX_DEPTH {
        return Err(Failure::new(
            "HierarchyLevelLimitExceededException",
            format!(
                "Parameter path can't have more than {MAX_DEPTH} levels. Edit the parameter name and try again."
            ),
        ));
    }
    Ok(())
}

/// Applies `put-parameter` to `existing` (absent for a new name); returns the parameter as it
/// becomes. `ciphertext` is the sealed value when the resulting type is SecureString.
pub fn put(
    existing: Option<&Parameter>,
    request: &PutRequest,
    ciphertext: impl FnOnce(&str) -> Result<String, Failure>,
    now: u64,
) -> Result<Parameter, Failure> {
    check_name(&request.name)?;
    if request.value.is_empty() {
        return Err(Failure::validation(
            "1 validation error detected: Value '' at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    if request.value.chars().count() > MAX_VALUE_LEN {
        return Err(Failure::validation(format!(
            "Standard tier parameters support a maximum parameter value of {MAX_VALUE_LEN} characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameters tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
        )));
    }
    let data_type = request.data_type.clone().unwrap_or_else(|| "text".into());
    if data_type != "text" {
        return Err(Failure::validation(format!(
            "The following data type is not supported: {data_type} (Data type names are all lowercase.)"
        )));
    }
    let (kind, mut history) = match (existing, request.kind) {
        (Some(_), _) if !request.overwrite => {
            return Err(Failure::new(
                super::PARAMETER_ALREADY_EXISTS,
                "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
            ));
        }
        (Some(old), kind) => (kind.unwrap_or(old.current().kind), old.history.clone()),
        (None, Some(kind)) => (kind, Vec::new()),
        (None, None) => {
            return Err(Failure::validation(
                "A parameter type is required when you create a parameter.",
            ));
        }
    };
    if request.key_id.is_some() && kind != ParameterType::SecureString {
        return Err(Failure::validation(
            "KeyId is required for SecureString type parameter only.",
        ));
    }
    let previous = history.last();
    let (ciphertext, key_id) = match kind {
        ParameterType::SecureString => (
            Some(ciphertext(&request.value)?),
            Some(
                request
                    .key_id
                    .clone()
                    .or_else(|| previous.and_then(|p| p.key_id.clone()))
                    .unwrap_or_else(|| "alias/aws/ssm".into()),
            ),
        ),
        _ => (None, None),
    };
    let version = ParameterVersion {
        version: previous.map_or(1, |p| p.version + 1),
        kind,
        value: request.value.clone(),
        ciphertext,
        key_id,
        description: request
            .description
            .clone()
            .or_else(|| previous.and_then(|p| p.description.clone())),
        data_type,
        last_modified: now,
    };
    history.push(version);
    if history.len() > MAX_HISTORY {
        history.remove(0);
    }
    Ok(Parameter {
        name: request.name.clone(),
        history,
    })
}

/// `NAME` or `NAME:VERSION` (a name has no `:`); the version must be a number.
pub fn split_selector(reference: &str) -> (&str, Option<&str>) {
    match reference.rsplit_once(':') {
        Some((name, selector)) => (name, Some(selector)),
        None => (reference, None),
    }
}

/// The version `selector` names in `parameter` (the current one without a selector), shown with
/// or without decryption.
pub fn show(
    parameter: &Parameter,
    selector: Option<&str>,
    with_decryption: bool,
) -> Result<Shown, Failure> {
    let version = match selector {
        None => parameter.current(),
        Some(selector) => {
            let not_found = || {
                Failure::new(
                    super::PARAMETER_VERSION_NOT_FOUND,
                    format!(
                        "Systems Manager could not find version {selector} of {}. Verify the version and try again.",
                        parameter.name
                    ),
                )
            };
            let number: u64 = selector.parse().map_err(|_| not_found())?;
            parameter
                .history
                .iter()
                .find(|v| v.version == number)
                .ok_or_else(not_found)?
        }
    };
    let value = match (&version.ciphertext, with_decryption) {
        (Some(ciphertext), false) => ciphertext.clone(),
        _ => version.value.clone(),
    };
    Ok(Shown {
        name: parameter.name.clone(),
        version: version.clone(),
        selector: selector.map(|s| format!(":{s}")),
        value,
    })
}

/// Whether `name` is under `path`: one level below it, or any level with `recursive`.
pub fn under_path(name: &str, path: &str, recursive: bool) -> bool {
    let prefix = if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    };
    match name.strip_prefix(&prefix) {
        Some(rest) if !rest.is_empty() => recursive || !rest.contains('/'),
        _ => false,
    }
}

/// Checks a `Path` of `get-parameters-by-path`.
pub fn check_path(path: &str) -> Result<(), Failure> {
    if !path.starts_with('/') {
        return Err(Failure::validation(
            "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\". It can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: /get/parameters2-/by1./path0_.",
        ));
    }
    if path == "/" {
        return Ok(());
    }
    check_name(path.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, value: &str, kind: Option<ParameterType>) -> PutRequest {
        PutRequest {
            name: name.into(),
            value: value.into(),
            kind,
            overwrite: false,
            description: None,
            key_id: None,
            data_type: None,
        }
    }

    fn seal(v: &str) -> Result<String, Failure> {
        Ok(format!("sealed({})", v.len()))
    }

    #[test]
    fn put_creates_then_overwrite_adds_versions() {
        let first = put(
            None,
            &request("/app/db", "one", Some(ParameterType::String)),
            seal,
            1,
        )
        .unwrap();
        assert_eq!(first.current().version, 1);
        let again = put(Some(&first), &request("/app/db", "two", None), seal, 2).unwrap_err();
        assert_eq!(again.code, "ParameterAlreadyExists");
        let mut over = request("/app/db", "two", None);
        over.overwrite = true;
        let second = put(Some(&first), &over, seal, 3).unwrap();
        assert_eq!(
            (second.current().version, second.current().kind),
            (2, ParameterType::String)
        );
        let old = show(&second, Some("1"), false).unwrap();
        assert_eq!(
            (old.value.as_str(), old.selector.as_deref()),
            ("one", Some(":1"))
        );
        let e = show(&second, Some("9"), false).unwrap_err();
        assert_eq!(e.code, "ParameterVersionNotFound");
    }

    #[test]
    fn a_new_parameter_needs_a_type() {
        let e = put(None, &request("/a", "v", None), seal, 1).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                "ValidationException",
                "A parameter type is required when you create a parameter."
            )
        );
        let e = ParameterType::parse("Integer").unwrap_err();
        assert!(e.message.contains("[SecureString, StringList, String]"));
    }

    #[test]
    fn secure_strings_show_their_ciphertext_without_decryption() {
        let p = put(
            None,
            &request("/app/pw", "hunter2", Some(ParameterType::SecureString)),
            seal,
            1,
        )
        .unwrap();
        assert_eq!(p.current().key_id.as_deref(), Some("alias/aws/ssm"));
        assert_eq!(show(&p, None, false).unwrap().value, "sealed(7)");
        assert_eq!(show(&p, None, true).unwrap().value, "hunter2");
        let plain = put(
            None,
            &request("/app/x", "plain", Some(ParameterType::StringList)),
            seal,
            1,
        )
        .unwrap();
        assert_eq!(show(&plain, None, false).unwrap().value, "plain");
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn names_are_checked_as_ssm_checks_them() {
        for good in ["/app/db/url", "plain-name_1.x", "/a"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        assert_eq!(
            check_name("app/db").unwrap_err().message,
            "Parameter name must be a fully qualified name."
        );
        for bad in ["/aws/x", "ssm-x", "/a b", "/a//b", ""] {
            assert_eq!(
                check_name(bad).unwrap_err().code,
                "ValidationException",
                "{bad}"
            );
        }
        let deep = "/a".repeat(16);
        assert_eq!(
            check_name(&deep).unwrap_err().code,
            "HierarchyLevelLimitExceededException"
        );
    }

    #[test]
    fn paths_select_one_level_or_all() {
        assert!(under_path("/app/db", "/app", false));
        assert!(under_path("/app/db", "/app/", false));
        assert!(!under_path("/app/db/url", "/app", false));
        assert!(under_path("/app/db/url", "/app", true));
        assert!(!under_path("/application/x", "/app", true));
        assert!(!under_path("/app", "/app", true));
        assert!(under_path("/top", "/", false));
        assert!(check_path("app").is_err());
        assert!(check_path("/").is_ok());
    }

    #[test]
    fn selectors_split_at_the_last_colon() {
        assert_eq!(split_selector("/a/b:3"), ("/a/b", Some("3")));
        assert_eq!(split_selector("/a/b"), ("/a/b", None));
    }
}
