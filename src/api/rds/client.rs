//! A small RDS client for tierlab's own callers (`tierlab db failover`): Query requests
//! (`Action=...&Version=2014-10-31`) to the lab's AWS API, signed with SigV4 as the AWS CLI signs
//! them, so the command goes through the same path and checks as `aws rds ...`.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request};
use http_body_util::Full;

use crate::api::credentials::AwsCredentials;
use crate::api::ecs::client::{ClientError, loopback_endpoint};
use crate::api::sigv4;

const VERSION: &str = "2014-10-31";
const SIGNING_NAME: &str = "rds";
const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and as whom to call.
#[derive(Debug, Clone)]
pub struct RdsClient {
    addr: SocketAddr,
    region: String,
    credentials: AwsCredentials,
}

impl RdsClient {
    /// A client of the lab's endpoint (`http://127.0.0.1:PORT`, loopback only).
    pub fn new(
        endpoint_url: &str,
        region: &str,
        credentials: AwsCredentials,
    ) -> Result<RdsClient, ClientError> {
        let addr = loopback_endpoint(endpoint_url)?;
        Ok(RdsClient {
            addr,
            region: region.to_string(),
            credentials,
        })
    }

    /// Calls `action` with `params`; the answer's XML, or the service's error.
    pub async fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<String, ClientError> {
        let mut body = format!("Action={action}&Version={VERSION}");
        for (key, value) in params {
            body.push_str(&format!("&{}={}", encode(key), encode(value)));
        }
        let request = self.signed(body.into_bytes());
        let (status, answer) = crate::loopback_http::exchange(self.addr, request, CALL_TIMEOUT)
            .await
            .map_err(|message| ClientError::Transport {
                op: action.to_string(),
                addr: self.addr,
                message,
            })?;
        let text = String::from_utf8_lossy(&answer).into_owned();
        if status.is_success() {
            return Ok(text);
        }
        Err(ClientError::Aws {
            op: action.to_string(),
            code: element(&text, "Code").unwrap_or("UnknownError").to_string(),
            message: element(&text, "Message").unwrap_or_default().to_string(),
        })
    }

    fn signed(&self, body: Vec<u8>) -> Request<Full<Bytes>> {
        let amz_date = sigv4::format_amz_date(SystemTime::now());
        let mut headers = HeaderMap::new();
        let value = |v: &str| HeaderValue::from_str(v).expect("ASCII header value");
        headers.insert("host", value(&self.addr.to_string()));
        headers.insert("content-type", value(CONTENT_TYPE));
        headers.insert("x-amz-date", value(&amz_date));
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
            &["content-type", "host", "x-amz-date"],
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

/// Form encoding of a key or value (unreserved characters as they are).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The text of the first `<name>` element.
pub fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_form_encoded() {
        assert_eq!(encode("flask-crud-db"), "flask-crud-db");
        assert_eq!(encode("a b&c"), "a%20b%26c");
    }

    #[test]
    fn elements_are_read_from_the_answer() {
        let xml = "<ErrorResponse><Error><Code>InvalidDBInstanceState</Code><Message>no</Message></Error></ErrorResponse>";
        assert_eq!(element(xml, "Code"), Some("InvalidDBInstanceState"));
        assert_eq!(element(xml, "Message"), Some("no"));
        assert_eq!(element(xml, "Other"), None);
    }
}
