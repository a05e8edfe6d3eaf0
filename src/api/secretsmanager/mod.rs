//! AWS Secrets Manager (`secretsmanager.*`) over JSON 1.1, from the lab's secret store
//! ([`crate::secrets`]): `CreateSecret`, `GetSecretValue`, `PutSecretValue`, `DescribeSecret`,
//! `ListSecrets`. Members are PascalCase, timestamps epoch seconds, `SecretBinary` base64.
//! Other operations of the service answer an error that names them, never a fake success.

mod list;
mod wire;

use serde::de::DeserializeOwned;

use crate::api::{ApiContext, ApiError, json};
use crate::secrets::{Failure, SecretStore};

pub use wire::decode_value;

/// Operations of Secrets Manager that tierlab does not do (an error names them).
const NOT_SERVED: [&str; 18] = [
    "DeleteSecret",
    "RestoreSecret",
    "UpdateSecret",
    "UpdateSecretVersionStage",
    "ListSecretVersionIds",
    "RotateSecret",
    "CancelRotateSecret",
    "TagResource",
    "UntagResource",
    "GetRandomPassword",
    "BatchGetSecretValue",
    "GetResourcePolicy",
    "PutResourcePolicy",
    "DeleteResourcePolicy",
    "ValidateResourcePolicy",
    "ReplicateSecretToRegions",
    "RemoveRegionsFromReplication",
    "StopReplicationToReplica",
];

/// Answers operation `op` with its output, or the service's error.
pub async fn call(ctx: &ApiContext, op: &str, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let store = ctx.lab.secrets().clone();
    match op {
        "CreateSecret" => run(store, body, wire::create_secret).await,
        "GetSecretValue" => run(store, body, wire::get_secret_value).await,
        "PutSecretValue" => run(store, body, wire::put_secret_value).await,
        "DescribeSecret" => run(store, body, wire::describe_secret).await,
        "ListSecrets" => run(store, body, list::list_secrets).await,
        op if NOT_SERVED.contains(&op) => Err(ApiError::unsupported(
            "Secrets Manager",
            op,
            "a later issue (tierlab serves CreateSecret, GetSecretValue, PutSecretValue, DescribeSecret and ListSecrets)",
        )),
        _ => Err(ApiError::unknown_operation(op)),
    }
}

/// Decodes the input and runs the operation off the async workers (a change writes the store).
async fn run<I, O>(
    store: SecretStore,
    body: &[u8],
    op: fn(&SecretStore, I) -> Result<O, Failure>,
) -> Result<serde_json::Value, ApiError>
where
    I: DeserializeOwned + Send + 'static,
    O: serde::Serialize + Send + 'static,
{
    let input: I = json::input(body)?;
    let output = tokio::task::spawn_blocking(move || op(&store, input))
        .await
        .map_err(|e| ApiError::internal(format!("the secret store failed: {e}")))?
        .map_err(api_error)?;
    serde_json::to_value(output)
        .map_err(|e| ApiError::internal(format!("cannot render the answer: {e}")))
}

/// A store refusal as the service answers it (a failed write is the service's fault).
pub fn api_error(failure: Failure) -> ApiError {
    let error = ApiError::new(failure.code, failure.message);
    if failure.code.starts_with("Internal") {
        error.with_status(500)
    } else {
        error
    }
}

/// Milliseconds of the store → the wire's epoch seconds.
fn epoch(millis: u64) -> json::Epoch {
    json::Epoch(std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis))
}
