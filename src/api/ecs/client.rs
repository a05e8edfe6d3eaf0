//! A small ECS client for tierlab's own callers (`tierlab scale`, `tierlab stop-task`, tests):
//! JSON 1.1 requests to the lab's AWS API, signed with SigV4 like the AWS CLI signs them, so
//! the CLI goes through exactly the path, checks and models the AWS CLI does.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request};
use http_body_util::Full;
use serde_json::Value;

use crate::api::credentials::AwsCredentials;
use crate::api::json::CONTENT_TYPE;
use crate::api::sigv4;

/// ECS's JSON 1.1 target prefix.
const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";
/// ECS's SigV4 signing name.
const SIGNING_NAME: &str = "ecs";
/// A call that takes longer than this is reported as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The address of the lab's endpoint `http://127.0.0.1:PORT` (loopback only), shared by the
/// lab's signed clients (ECS, RDS).
pub fn loopback_endpoint(endpoint_url: &str) -> Result<SocketAddr, ClientError> {
    endpoint_url
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/'))
        .and_then(|rest| rest.parse().ok())
        .filter(|a: &SocketAddr| a.ip().is_loopback())
        .ok_or_else(|| ClientError::Endpoint(endpoint_url.to_string()))
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the endpoint URL `{0}` is not http://127.0.0.1:PORT")]
    Endpoint(String),
    #[error("calling {op} on {addr}: {message}")]
    Transport {
        op: String,
        addr: SocketAddr,
        message: String,
    },
    /// The service answered an error, printed as the AWS CLI prints it.
    #[error("An error occurred ({code}) when calling the {op} operation: {message}")]
    Aws {
        op: String,
        code: String,
        message: String,
    },
}

/// Where and as whom to call.
#[derive(Debug, Clone)]
pub struct EcsClient {
    addr: SocketAddr,
    region: String,
    credentials: AwsCredentials,
}

impl EcsClient {
    /// A client of the lab's endpoint (`http://127.0.0.1:PORT`, loopback only).
    pub fn new(
        endpoint_url: &str,
        region: &str,
        credentials: AwsCredentials,
    ) -> Result<EcsClient, ClientError> {
        let addr = loopback_endpoint(endpoint_url)?;
        Ok(EcsClient {
            addr,
            region: region.to_string(),
            credentials,
        })
    }

    /// Calls `op` with `input`; the answer's JSON, or the service's error.
    pub async fn call(&self, op: &str, input: &Value) -> Result<Value, ClientError> {
        let body = serde_json::to_vec(input).expect("JSON values serialise");
        let failed = |message: String| ClientError::Transport {
            op: op.to_string(),
            addr: self.addr,
            message,
        };
        let request = self.signed(op, body);
        let (status, body) = crate::loopback_http::exchange(self.addr, request, CALL_TIMEOUT)
            .await
            .map_err(failed)?;
        let value: Value = serde_json::from_slice(&body).map_err(|e| {
            failed(format!(
                "HTTP {status}, not JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            ))
        })?;
        if status.is_success() {
            return Ok(value);
        }
        let code = value["__type"].as_str().unwrap_or("UnknownError");
        // AWS may qualify the type (`namespace#Code`); the CLI prints the code alone.
        let code = code.rsplit('#').next().unwrap_or(code);
        Err(ClientError::Aws {
            op: op.to_string(),
            code: code.to_string(),
            message: value["message"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// The request for `op`, signed with SigV4 (header form) as of now.
    fn signed(&self, op: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
        let amz_date = sigv4::format_amz_date(SystemTime::now());
        let mut headers = HeaderMap::new();
        let value = |v: &str| HeaderValue::from_str(v).expect("ASCII header value");
        headers.insert("host", value(&self.addr.to_string()));
        headers.insert("content-type", value(CONTENT_TYPE));
        headers.insert("x-amz-date", value(&amz_date));
        headers.insert("x-amz-target", value(&format!("{TARGET_PREFIX}.{op}")));
        let to_sign = sigv4::Request {
            method: "POST",
            path: "/",
            query: None,
            headers: &headers,
            body: &body,
        };
        let authorization = sigv4::authorization(
            &to_sign,
            &self.credentials,
            (&amz_date[..8], &self.region, SIGNING_NAME),
            &amz_date,
            &["content-type", "host", "x-amz-date", "x-amz-target"],
        );
        headers.insert("authorization", value(&authorization));
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("/")
            .body(Full::new(Bytes::from(body)))
            .expect("static request parts are valid");
        *request.headers_mut() = headers;
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIAABCDEFGHIJKLMNOP".into(),
            secret_access_key: "secret".into(),
        }
    }

    #[test]
    fn only_loopback_http_endpoints() {
        assert!(EcsClient::new("http://127.0.0.1:4600", "us-east-1", credentials()).is_ok());
        assert!(EcsClient::new("http://127.0.0.1:4600/", "us-east-1", credentials()).is_ok());
        assert!(EcsClient::new("http://10.0.0.1:4600", "us-east-1", credentials()).is_err());
        assert!(EcsClient::new("https://127.0.0.1:4600", "us-east-1", credentials()).is_err());
    }

    #[test]
    fn requests_are_signed_for_ecs_in_the_region() {
        let client = EcsClient::new("http://127.0.0.1:4600", "eu-west-2", credentials()).unwrap();
        let request = client.signed("DescribeServices", b"{}".to_vec());
        let h = request.headers();
        assert_eq!(
            h["x-amz-target"],
            "AmazonEC2ContainerServiceV20141113.DescribeServices"
        );
        let auth = h["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIAABCDEFGHIJKLMNOP/"),
            "{auth}"
        );
        assert!(auth.contains("/eu-west-2/ecs/aws4_request"), "{auth}");
        assert!(auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target"));
    }

    #[test]
    fn service_errors_read_as_the_aws_cli_prints_them() {
        let e = ClientError::Aws {
            op: "UpdateService".into(),
            code: "ServiceNotFoundException".into(),
            message: "Service not found.".into(),
        };
        assert_eq!(
            e.to_string(),
            "An error occurred (ServiceNotFoundException) when calling the UpdateService operation: Service not found."
        );
    }
}
