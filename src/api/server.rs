//! The AWS API's HTTP server: 127.0.0.1:`[lab] api-port`, one request → verify the signature
//! (unless `api-auth = "none"`) → [`dispatch::handle`] → the answer with `x-amzn-RequestId`.
//!
//! Runs on [`crate::loopback_http`] (head timeout, connection cap, accept errors pause) under
//! the lab's tracker and cancel token. Each call is logged once at debug level: method,
//! operation, status, error code and time; never a header, key or body.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming as Body;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::context::ApiContext;
use super::credentials::AwsCredentials;
use super::dispatch::{self, Incoming, Reply};
use super::error::ApiError;
use super::sigv4::{self, Family};

/// Largest request body: CloudWatch Logs' `PutLogEvents` takes up to 1 MiB; room for encoding.
pub const MAX_BODY: usize = 2 * 1024 * 1024;
/// How long a request body may take to arrive (an AWS CLI call's body is a few KiB).
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Who may call.
#[derive(Clone)]
pub enum Auth {
    /// SigV4 with the lab's credentials, scoped to the lab's region.
    SigV4 {
        credentials: AwsCredentials,
        region: String,
    },
    /// Any credentials (and none); the scope still picks the Query service.
    None,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiServerError {
    #[error(
        "cannot bind the AWS API on 127.0.0.1:{port} (set another `api-port` in [lab], or 0 for any free port)"
    )]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
}

/// Binds 127.0.0.1:`port` (0: any free port). Separate from [`serve`] so the lab knows its
/// address before it builds the context the server answers from.
pub async fn bind(port: u16) -> Result<TcpListener, ApiServerError> {
    TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| ApiServerError::Bind { port, source })
}

/// Serves `listener` until `cancel`; tasks are spawned on `tracker`.
pub fn serve(
    listener: TcpListener,
    ctx: Arc<ApiContext>,
    auth: Auth,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) -> Result<SocketAddr, ApiServerError> {
    let address = listener
        .local_addr()
        .map_err(|source| ApiServerError::Bind { port: 0, source })?;
    let auth = Arc::new(auth);
    crate::loopback_http::serve(listener, tracker, cancel, move |req| {
        answer(req, ctx.clone(), auth.clone(), address.port())
    });
    Ok(address)
}

async fn answer(
    req: Request<Body>,
    ctx: Arc<ApiContext>,
    auth: Arc<Auth>,
    port: u16,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    // Bounded in time too: the body is read before the signature can be checked, so a stranger
    // that announces a body and stalls must not hold one of the endpoint's few connections.
    let Ok(body) = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await
    else {
        return Response::builder()
            .status(StatusCode::REQUEST_TIMEOUT)
            .header("connection", "close")
            .body(Full::new(Bytes::from_static(
                b"RequestTimeout: the request body did not arrive in time\n",
            )))
            .expect("static response parts are valid");
    };
    let body = body.map(|b| b.to_bytes());
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok());
    let signed = sigv4::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
        body: body.as_deref().unwrap_or_default(),
    };
    let mut incoming = Incoming {
        target,
        query: parts.uri.query(),
        body: signed.body,
        scope_service: None,
    };
    let reply = match decide(&signed, &parts.headers, &auth, port, body.is_err()) {
        Ok(scope) => {
            incoming.scope_service = scope.as_ref().map(|s| s.service.as_str());
            dispatch::handle(&ctx, &incoming).await
        }
        Err((scope, refusal)) => {
            incoming.scope_service = scope.as_ref().map(|s| s.service.as_str());
            dispatch::refuse(&incoming, refusal)
        }
    };
    tracing::debug!(
        method = %parts.method,
        operation = %reply.operation,
        status = reply.status,
        error = reply.error_code.as_deref().unwrap_or("-"),
        ms = started.elapsed().as_millis() as u64,
        "aws api call"
    );
    respond(reply)
}

type Refusal = Box<dyn Fn(Family) -> ApiError + Send>;

/// The request's scope if it may proceed; else the scope (to pick the protocol) and the
/// refusal.
#[allow(clippy::type_complexity)]
fn decide(
    req: &sigv4::Request<'_>,
    headers: &HeaderMap,
    auth: &Auth,
    port: u16,
    too_large: bool,
) -> Result<Option<sigv4::Scope>, (Option<sigv4::Scope>, Refusal)> {
    let lenient = sigv4::scope(req);
    if too_large {
        return Err((
            lenient,
            Box::new(|_| {
                ApiError::new(
                    "RequestEntityTooLarge",
                    format!("Request body exceeds the limit of {MAX_BODY} bytes"),
                )
                .with_status(413)
            }),
        ));
    }
    if let Some(why) = browser_refusal(headers, port) {
        return Err((
            lenient,
            Box::new(move |_| ApiError::new("AccessDenied", why).with_status(403)),
        ));
    }
    match auth {
        Auth::None => Ok(lenient),
        Auth::SigV4 {
            credentials,
            region,
        } => match sigv4::verify(req, credentials, region, SystemTime::now()) {
            Ok(scope) => Ok(Some(scope)),
            Err(failure) => Err((lenient, Box::new(move |family| failure.error(family)))),
        },
    }
}

/// Refuses what a web page could send: a `Host` other than loopback (DNS rebinding) and
/// cross-origin browser requests. The CLI and SDKs send neither.
fn browser_refusal(headers: &HeaderMap, port: u16) -> Option<&'static str> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok());
    if !host.is_some_and(|h| is_loopback_authority(h, port)) {
        return Some("The Host header must name this endpoint as 127.0.0.1, [::1] or localhost.");
    }
    let cross_site = matches!(
        headers.get("sec-fetch-site").map(|v| v.as_bytes()),
        Some(b"cross-site" | b"same-site")
    );
    if headers.contains_key(http::header::ORIGIN) || cross_site {
        return Some("Requests from web pages are refused by tierlab's AWS API.");
    }
    None
}

/// `127.0.0.1`, `localhost`, `[::1]` or a `*.localhost` name, with this endpoint's port (an
/// SDK may leave out the port only for 80).
fn is_loopback_authority(authority: &str, port: u16) -> bool {
    let (host, p) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.contains(']') => (h, p.parse::<u16>().ok()),
        _ => (authority, Some(80)),
    };
    let host = host.to_ascii_lowercase();
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]")
        || host.ends_with(".localhost");
    loopback && p == Some(port)
}

fn respond(reply: Reply) -> Response<Full<Bytes>> {
    Response::builder()
        .status(reply.status)
        .header("content-type", reply.content_type)
        .header("x-amzn-requestid", &reply.request_id)
        .body(Full::new(Bytes::from(reply.body)))
        .unwrap_or_else(|_| {
            let mut fallback = Response::new(Full::new(Bytes::new()));
            *fallback.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            fallback
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    http::HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn only_loopback_hosts_with_this_port_pass() {
        for ok in [
            "127.0.0.1:4600",
            "localhost:4600",
            "[::1]:4600",
            "tierlab.localhost:4600",
        ] {
            assert!(is_loopback_authority(ok, 4600), "{ok}");
        }
        for bad in [
            "127.0.0.1:4601",
            "evil.example:4600",
            "127.0.0.1",
            "[::1]",
            "localhost.evil:4600",
        ] {
            assert!(!is_loopback_authority(bad, 4600), "{bad}");
        }
        assert!(is_loopback_authority("localhost", 80));
    }

    #[test]
    fn web_pages_are_refused_and_the_cli_is_not() {
        let cli = headers(&[("host", "127.0.0.1:4600")]);
        assert_eq!(browser_refusal(&cli, 4600), None);
        let page = headers(&[
            ("host", "127.0.0.1:4600"),
            ("origin", "https://evil.example"),
        ]);
        assert!(browser_refusal(&page, 4600).is_some());
        let rebound = headers(&[("host", "evil.example:4600")]);
        assert!(browser_refusal(&rebound, 4600).unwrap().contains("Host"));
    }
}
