//! The JSON 1.1 protocol (ECS, CloudWatch Logs, Application Auto Scaling): typed inputs,
//! errors as `{"__type": Code, "message": ...}`, timestamps as epoch seconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};

use super::error::{ApiError, MISSING_PARAMETER, VALIDATION_ERROR};

/// `Content-Type` of JSON 1.1 requests and answers.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// Code of a body that is not JSON or does not fit the operation's input shape.
pub const SERIALIZATION_EXCEPTION: &str = "SerializationException";

/// Decodes an operation's input. An empty body is `{}` (the CLI sends `{}`, some SDKs nothing
/// for an operation without required members). A missing required member is the service's
/// validation error in AWS's wording; anything else that does not fit is a
/// `SerializationException`.
pub fn input<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        match missing_field(&text) {
            Some(field) => ApiError::validation(format!(
                "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
            )),
            None => ApiError::new(SERIALIZATION_EXCEPTION, strip_position(&text)),
        }
    })
}

/// serde's "missing field `cluster` at line 1 column 2" → `cluster`.
fn missing_field(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("missing field `")?;
    rest.split_once('`').map(|(field, _)| field)
}

/// serde's " at line L column C" says nothing to a CLI user (the CLI wrote the body).
fn strip_position(text: &str) -> String {
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text.to_string(),
    }
}

/// What the dispatcher needs to know of a JSON 1.1 service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonService {
    /// The `X-Amz-Target` prefix before the dot, e.g. `AmazonEC2ContainerServiceV20141113`.
    pub target_prefix: &'static str,
    /// The service's own name for a request that breaks a constraint (ECS and Logs:
    /// `InvalidParameterException`; Application Auto Scaling: `ValidationException`).
    pub validation_code: &'static str,
}

/// The error body: the generic Query-style codes become the service's own
/// (see [`JsonService::validation_code`]).
pub fn error_body(error: &ApiError, service: Option<&JsonService>) -> serde_json::Value {
    let code = match (error.code.as_str(), service) {
        (VALIDATION_ERROR | MISSING_PARAMETER, Some(service)) => service.validation_code,
        (code, _) => code,
    };
    serde_json::json!({ "__type": code, "message": error.message })
}

/// Seconds since the epoch as a float, as JSON 1.1 writes timestamps (`1764642406.123`).
pub fn epoch(time: SystemTime) -> f64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    // Milliseconds are what AWS shows; more digits only add float noise.
    (since.as_millis() as f64) / 1000.0
}

/// A timestamp field of an output struct: serialises as epoch seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Epoch(pub SystemTime);

impl Serialize for Epoch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(epoch(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    const ECS: JsonService = JsonService {
        target_prefix: "AmazonEC2ContainerServiceV20141113",
        validation_code: "InvalidParameterException",
    };

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct DescribeServices {
        cluster: Option<String>,
        services: Vec<String>,
    }

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(rename_all = "camelCase")]
    struct ListClusters {
        max_results: Option<u32>,
    }

    #[test]
    fn typed_input_decodes_camel_case_members() {
        let input: DescribeServices =
            input(br#"{"cluster":"flask-app-cluster","services":["flask-app-service"]}"#).unwrap();
        assert_eq!(input.cluster.as_deref(), Some("flask-app-cluster"));
        assert_eq!(input.services, ["flask-app-service"]);
        let empty: ListClusters = super::input(b"").unwrap();
        assert_eq!(empty, ListClusters::default());
    }

    #[test]
    fn a_missing_required_member_is_the_services_validation_error() {
        let e = input::<DescribeServices>(br#"{"cluster":"c"}"#).unwrap_err();
        assert_eq!(e.code, VALIDATION_ERROR);
        assert_eq!(
            e.message,
            "1 validation error detected: Value null at 'services' failed to satisfy constraint: Member must not be null"
        );
        let body = error_body(&e, Some(&ECS));
        assert_eq!(body["__type"], "InvalidParameterException");
    }

    #[test]
    fn malformed_json_or_wrong_types_are_serialization_exceptions() {
        let e = input::<DescribeServices>(b"{not json").unwrap_err();
        assert_eq!(e.code, SERIALIZATION_EXCEPTION);
        let e = input::<DescribeServices>(br#"{"services":"one"}"#).unwrap_err();
        assert_eq!(e.code, SERIALIZATION_EXCEPTION);
        assert!(!e.message.contains("line"), "{}", e.message);
    }

    #[test]
    fn error_body_is_type_and_message() {
        let e = ApiError::new("ClusterNotFoundException", "Cluster not found.");
        assert_eq!(
            error_body(&e, Some(&ECS)),
            serde_json::json!({"__type": "ClusterNotFoundException", "message": "Cluster not found."})
        );
    }

    #[test]
    fn timestamps_are_epoch_seconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_440_938_160_123);
        assert_eq!(epoch(t), 1_440_938_160.123);
        assert_eq!(serde_json::to_string(&Epoch(t)).unwrap(), "1440938160.123");
    }
}
