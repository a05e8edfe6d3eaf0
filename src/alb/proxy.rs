//! Forwarding one request to a target and its answer back, streaming both bodies.
//!
//! Status codes are ALB's: 503 when the target group has no target to send to, 502 when the
//! target refuses, resets or answers garbage, 504 when it does not answer within the load
//! balancer's idle timeout.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, LOCATION};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::headers;
use super::observe::{TargetError, TargetOutcome};
use super::target_group::TargetGroupHandle;
use crate::config::{ListenerProtocol, Redirect};

/// Body of every response the load balancer sends: a target's streamed body or a local page.
pub type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// How long an unused keep-alive connection to a target stays pooled.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a request came in: what the `X-Forwarded-*` headers and redirects are built from.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext {
    /// The client's address (appended to `X-Forwarded-For`).
    pub client: SocketAddr,
    /// The listener's protocol (`X-Forwarded-Proto`).
    pub protocol: ListenerProtocol,
    /// The listener's bound address (its port is `X-Forwarded-Port`).
    pub listener: SocketAddr,
}

/// The forwarding half of a load balancer: one connection pool shared by its listeners.
#[derive(Debug, Clone)]
pub struct Proxy {
    client: Client<HttpConnector, Incoming>,
    idle_timeout: Duration,
}

impl Proxy {
    /// A proxy answering 504 when a target sends no response head within `idle_timeout`.
    pub fn new(idle_timeout: Duration) -> Proxy {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Proxy {
            client,
            idle_timeout,
        }
    }

    /// Sends `req` to the next target of `group` and returns its response, or an error page.
    pub async fn forward(
        &self,
        group: &TargetGroupHandle,
        req: Request<Incoming>,
        ctx: &RequestContext,
    ) -> Response<ProxyBody> {
        // What the access log and metrics learn of this forward (observe.rs).
        let mut outcome = TargetOutcome::new(group);
        let Some(choice) = group.choose(req.headers()) else {
            // Per request, so debug: the health flips that cause it are logged once at warn.
            tracing::debug!(
                target_group = group.name(),
                "503: no registered target is healthy"
            );
            return tagged(error_page(StatusCode::SERVICE_UNAVAILABLE), outcome);
        };
        let target = Arc::clone(choice.target());
        let (id, addr) = (target.id(), target.addr());
        outcome.target = Some(addr);
        let req = match to_target(req, addr, ctx) {
            Ok(req) => req,
            Err(e) => {
                tracing::debug!(%e, "400: request URI cannot be forwarded");
                return tagged(error_page(StatusCode::BAD_REQUEST), outcome);
            }
        };
        let name = group.name();
        // ALB's idle timeout bounds the wait for the response head; once the target streams a
        // body, the body's own progress is what keeps the exchange alive.
        outcome.sent_at = Some(std::time::Instant::now());
        match tokio::time::timeout(self.idle_timeout, self.client.request(req)).await {
            Err(_) => {
                tracing::warn!(target_group = name, target = id, %addr, "target {name}/{id} {addr}: 504 (no response within the idle timeout of {:?})", self.idle_timeout);
                outcome.error = Some(TargetError::Timeout);
                tagged(error_page(StatusCode::GATEWAY_TIMEOUT), outcome)
            }
            Ok(Err(e)) => {
                let reason = error_chain(&e);
                tracing::warn!(target_group = name, target = id, %addr, "target {name}/{id} {addr}: 502 ({reason})");
                outcome.error = Some(if e.is_connect() {
                    TargetError::Connect
                } else {
                    TargetError::Failed
                });
                tagged(error_page(StatusCode::BAD_GATEWAY), outcome)
            }
            Ok(Ok(response)) => {
                outcome.answered_at = Some(std::time::Instant::now());
                outcome.status = Some(response.status().as_u16());
                let (mut parts, body) = response.into_parts();
                headers::remove_hop_by_hop(&mut parts.headers);
                let response = Response::from_parts(parts, body.boxed());
                tagged(choice.finish(response, ctx.protocol), outcome)
            }
        }
    }
}

/// `response` with `outcome` attached for the access log and metrics.
fn tagged(mut response: Response<ProxyBody>, outcome: TargetOutcome) -> Response<ProxyBody> {
    outcome.attach(&mut response);
    response
}

/// Rewrites a client request for `target`: absolute URI to the target, HTTP/1.1, the client's
/// host kept in `Host`, hop-by-hop headers dropped, `X-Forwarded-*` added.
fn to_target(
    req: Request<Incoming>,
    target: SocketAddr,
    ctx: &RequestContext,
) -> Result<Request<Incoming>, http::Error> {
    let (mut parts, body) = req.into_parts();
    let host = headers::request_host(&parts.headers, &parts.uri);
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = Uri::builder()
        .scheme("http")
        .authority(target.to_string())
        .path_and_query(path)
        .build()?;
    parts.version = Version::HTTP_11;
    headers::remove_hop_by_hop(&mut parts.headers);
    if let Some(host) = host {
        parts.headers.insert(HOST, host);
    }
    headers::merge_cookies(&mut parts.headers);
    let port = ctx.listener.port();
    headers::add_forwarded(&mut parts.headers, ctx.client.ip(), ctx.protocol, port);
    Ok(Request::from_parts(parts, body))
}

/// The response of a redirect action for `req`.
pub fn redirect<B>(
    action: &Redirect,
    req: &Request<B>,
    ctx: &RequestContext,
) -> Response<ProxyBody> {
    let host = headers::request_host(req.headers(), req.uri());
    let location = headers::redirect_location(
        action,
        ctx.protocol,
        ctx.listener.port(),
        host.as_ref().and_then(|h| h.to_str().ok()),
        &ctx.listener.ip().to_string(),
        req.uri().path_and_query().map_or("/", |p| p.as_str()),
    );
    let status = StatusCode::from_u16(action.status.code()).unwrap_or(StatusCode::FOUND);
    let mut response = error_page(status);
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// A small HTML page for `status`, like the ones ALB sends itself.
pub fn error_page(status: StatusCode) -> Response<ProxyBody> {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let html = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    );
    let body = Full::new(Bytes::from(html))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let html_type = http::HeaderValue::from_static("text/html; charset=utf-8");
    response.headers_mut().insert(CONTENT_TYPE, html_type);
    response
}

/// `client error (Connect): tcp connect error: Connection refused (os error 111)`: the legacy
/// client's own message says little without its sources.
fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
