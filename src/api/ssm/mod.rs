//! AWS Systems Manager Parameter Store (`AmazonSSM.*`) over JSON 1.1, from the lab's secret
//! store ([`crate::secrets`]): `PutParameter`, `GetParameter`, `GetParameters`,
//! `GetParametersByPath`. A SecureString's value is its ciphertext unless `WithDecryption` is
//! set, as SSM answers. Other operations answer an error that names them.

mod wire;

use serde::de::DeserializeOwned;

use crate::api::secretsmanager::api_error;
use crate::api::{ApiContext, ApiError, json};
use crate::secrets::{Failure, SecretStore};

/// Parameter Store operations tierlab does not do (the rest of SSM is not served at all).
const NOT_SERVED: [&str; 9] = [
    "DeleteParameter",
    "DeleteParameters",
    "DescribeParameters",
    "GetParameterHistory",
    "LabelParameterVersion",
    "UnlabelParameterVersion",
    "AddTagsToResource",
    "RemoveTagsFromResource",
    "ListTagsForResource",
];

/// Answers operation `op` with its output, or the service's error.
pub async fn call(ctx: &ApiContext, op: &str, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let store = ctx.lab.secrets().clone();
    match op {
        "PutParameter" => run(store, body, wire::put_parameter).await,
        "GetParameter" => run(store, body, wire::get_parameter).await,
        "GetParameters" => run(store, body, wire::get_parameters).await,
        "GetParametersByPath" => run(store, body, wire::get_parameters_by_path).await,
        op if NOT_SERVED.contains(&op) => Err(ApiError::unsupported(
            "SSM",
            op,
            "a later issue (tierlab serves PutParameter, GetParameter, GetParameters and GetParametersByPath)",
        )),
        _ => Err(ApiError::unsupported(
            "SSM",
            op,
            "no planned issue: tierlab's SSM is the Parameter Store only",
        )),
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
        .map_err(|e| ApiError::internal(format!("the parameter store failed: {e}")))?
        .map_err(api_error)?;
    serde_json::to_value(output)
        .map_err(|e| ApiError::internal(format!("cannot render the answer: {e}")))
}
