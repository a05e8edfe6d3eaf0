//! [`ApiError`]: an AWS error as every protocol needs it (HTTP status, code, message, fault).
//!
//! One type for all services: the Query protocol renders it as XML (`xml::query_error`,
//! `xml::ec2_error`), JSON 1.1 as `{"__type","message"}` (`json::error_body`, which also gives
//! the generic validation codes each JSON service's own name).

use std::fmt;

/// Code of the Query protocol's generic validation failure (ELBv2, RDS, STS).
pub const VALIDATION_ERROR: &str = "ValidationError";
/// Code of a missing required parameter in the Query protocol.
pub const MISSING_PARAMETER: &str = "MissingParameter";
/// Code of an action a Query service does not have.
pub const INVALID_ACTION: &str = "InvalidAction";
/// Code of an operation a JSON 1.1 service does not have.
pub const UNKNOWN_OPERATION: &str = "UnknownOperationException";

/// An error answer. `sender_fault` is the Query protocol's `<Type>Sender</Type>` (vs `Receiver`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub sender_fault: bool,
}

impl ApiError {
    /// A client error: HTTP 400, `Sender`.
    pub fn new(code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            code: code.to_string(),
            message: message.into(),
            sender_fault: true,
        }
    }

    /// The same error with another HTTP status (404, 409 as the service model says). A 5xx
    /// status makes it the server's fault (`Receiver`).
    pub fn with_status(mut self, status: u16) -> ApiError {
        self.status = status;
        self.sender_fault = status < 500;
        self
    }

    /// A failure on tierlab's side (HTTP 500, `Receiver`), e.g. Docker did not answer.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new("InternalFailure", message).with_status(500)
    }

    /// A request that breaks a constraint: `ValidationError` in the Query protocol; JSON
    /// services answer their own name for it (see `json::JsonService::validation_code`).
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(VALIDATION_ERROR, message)
    }

    /// A required parameter is absent, worded as AWS words it.
    pub fn missing_parameter(name: &str) -> ApiError {
        ApiError::new(
            MISSING_PARAMETER,
            format!("The request must contain the parameter {name}"),
        )
    }

    /// A parameter whose value is malformed (not a number, not a known enum value).
    pub fn invalid_parameter_value(name: &str, value: &str, why: &str) -> ApiError {
        ApiError::validation(format!("Invalid value '{value}' for {name}: {why}"))
    }

    /// An action the Query service does not have at all (AWS's exact wording).
    pub fn invalid_action(action: &str) -> ApiError {
        ApiError::new(
            INVALID_ACTION,
            format!("The action {action} is not valid for this web service."),
        )
    }

    /// An operation the JSON 1.1 service does not have.
    pub fn unknown_operation(op: &str) -> ApiError {
        ApiError::new(
            UNKNOWN_OPERATION,
            format!("The operation {op} is not known to this service."),
        )
    }

    /// A real AWS operation that tierlab does not do yet: an error that names what is missing
    /// and when it comes, never a fake success. `comes_with` is e.g. "the RDS issue (failover,
    /// replicas, backups)".
    pub fn unsupported(service: &str, op: &str, comes_with: &str) -> ApiError {
        ApiError::new(
            INVALID_ACTION,
            format!(
                "The action {op} of {service} is not supported by tierlab yet; it comes with {comes_with}."
            ),
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_400_sender_and_server_errors_are_receiver() {
        let e = ApiError::new("TargetGroupNotFound", "One or more target groups not found");
        assert_eq!((e.status, e.sender_fault), (400, true));
        let e = e.with_status(404);
        assert_eq!((e.status, e.sender_fault), (404, true));
        let e = ApiError::internal("Docker did not answer");
        assert_eq!(
            (e.status, e.sender_fault, e.code.as_str()),
            (500, false, "InternalFailure")
        );
    }

    #[test]
    fn generic_errors_use_aws_wording() {
        assert_eq!(
            ApiError::invalid_action("Frobnicate").message,
            "The action Frobnicate is not valid for this web service."
        );
        assert_eq!(
            ApiError::missing_parameter("TargetGroupArn").message,
            "The request must contain the parameter TargetGroupArn"
        );
        let e = ApiError::unsupported("RDS", "FailoverDBCluster", "the RDS issue");
        assert_eq!(e.code, INVALID_ACTION);
        assert!(e.message.contains("FailoverDBCluster") && e.message.contains("the RDS issue"));
    }
}
