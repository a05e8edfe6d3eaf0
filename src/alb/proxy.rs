//! Forwarding one request to a target and its answer back, streaming both bodies.
//!
//! Status codes are ALB's (see [`Failure::status`]): 503 when the target group has no target to
//! send to, 502 when the target refuses, resets or answers garbage, 504 when connecting takes
//! longer than the connect timeout or no response head arrives within the idle timeout, 400
//! when the request head breaks ALB's size limits. A client that leaves first is recorded as
//! 460.
//!
//! In the default `mode = "tierlab"`, a first attempt that certainly was not processed is
//! retried once on another healthy target ([`failover`]), and a target that cannot be reached
//! or drops connections is ejected at once (passive outlier detection), as is one answering
//! `outlier-consecutive-5xx` 5xx in a row. `mode = "aws"` does neither.
//!
//! Every request's [`RequestOutcome`](super::RequestOutcome) goes to the [`OutcomeSink`] given to
//! [`Proxy::with_sink`] (access logs, metrics).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, LOCATION};
use http::uri::PathAndQuery;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::body::{OutBody, Reclaim, TrackedBody};
use super::failover::{self, Failure};
use super::headers;
use super::outcome::{OutcomeSink, Recorder};
use super::target_group::{InFlight, Target, TargetGroupHandle};
use super::trace_id;
use super::websocket;
use crate::config::{ListenerProtocol, LoadBalancer, ProxyMode, Redirect, XffMode};

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

/// The load balancer settings forwarding depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxySettings {
    /// No response head within this: 504.
    pub idle_timeout: Duration,
    /// No connection to the target within this: 504.
    pub connect_timeout: Duration,
    /// What happens to the client's `X-Forwarded-For`.
    pub xff_mode: XffMode,
    /// tierlab's failover (retry, ejection) or AWS's behaviour.
    pub mode: ProxyMode,
}

impl ProxySettings {
    /// The settings of load balancer `lb`.
    pub fn from_config(lb: &LoadBalancer) -> ProxySettings {
        ProxySettings {
            idle_timeout: lb.idle_timeout,
            connect_timeout: lb.connect_timeout,
            xff_mode: lb.xff_header_processing_mode,
            mode: lb.mode,
        }
    }
}

/// The forwarding half of a load balancer: one connection pool shared by its listeners.
#[derive(Clone)]
pub struct Proxy {
    client: Client<HttpConnector, OutBody>,
    settings: ProxySettings,
    sink: Option<Arc<dyn OutcomeSink>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("settings", &self.settings)
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

/// The request head, kept to build each attempt's request.
struct Head {
    method: Method,
    path: PathAndQuery,
    headers: HeaderMap,
}

/// A target's answer, with the in-flight count that lasts until its body ends.
struct Answer {
    response: Response<Incoming>,
    in_flight: InFlight,
}

impl Proxy {
    /// A proxy with a keep-alive pool to targets, configured by `settings`.
    pub fn new(settings: ProxySettings) -> Proxy {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(settings.connect_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Proxy {
            client,
            settings,
            sink: None,
        }
    }

    /// Sends every request's [`RequestOutcome`](super::RequestOutcome) to `sink`.
    pub fn with_sink(mut self, sink: Arc<dyn OutcomeSink>) -> Proxy {
        self.sink = Some(sink);
        self
    }

    /// The settings this proxy was made with.
    pub fn settings(&self) -> &ProxySettings {
        &self.settings
    }

    /// Sends `req` to a target of `group` and returns its response, or an error page.
    pub async fn forward(
        &self,
        group: &TargetGroupHandle,
        mut req: Request<Incoming>,
        ctx: &RequestContext,
    ) -> Response<ProxyBody> {
        let mut rec = Recorder::new(&req, ctx, self.sink.clone());
        rec.outcome().target_group = Some(group.clone());
        if let Err(limit) = headers::check_head(req.method(), req.uri(), req.headers()) {
            tracing::debug!(client = %ctx.client, "400: request head too large ({limit:?})");
            return local_answer(rec, Failure::HeadTooLarge);
        }
        let Some(first) = group.pick() else {
            // Per request, so debug: the health flips that cause it are logged once at warn.
            tracing::debug!(
                target_group = group.name(),
                "503: no registered target is healthy"
            );
            return local_answer(rec, Failure::NoTarget);
        };
        let upgrade = headers::upgrade_protocol(req.version(), req.headers());
        let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut req));
        let (parts, body) = req.into_parts();
        let Some(head) = self.target_head(parts, ctx, upgrade) else {
            tracing::debug!("400: request URI cannot be forwarded");
            return error_page(StatusCode::BAD_REQUEST);
        };
        rec.outcome().trace_id = head.headers.get(trace_id::X_AMZN_TRACE_ID).cloned();
        let (body, reclaim) = OutBody::new(body);
        let answer = self
            .with_failover(group, first, head, body, reclaim, &mut rec)
            .await;
        match answer {
            Ok(answer) => self.respond(group, answer, client_upgrade, rec),
            Err(failure) => local_answer(rec, failure),
        }
    }

    /// The first attempt and, when [`failover::may_retry`] allows, one on another target.
    async fn with_failover(
        &self,
        group: &TargetGroupHandle,
        first: Arc<Target>,
        head: Head,
        body: OutBody,
        reclaim: Reclaim,
        rec: &mut Recorder,
    ) -> Result<Answer, Failure> {
        let tierlab = self.settings.mode == ProxyMode::Tierlab;
        // The head is needed again only if a retry is possible at all.
        let spare = tierlab.then(|| Head {
            method: head.method.clone(),
            path: head.path.clone(),
            headers: head.headers.clone(),
        });
        let failure = match self.attempt(&first, head, body, rec).await {
            Ok(answer) => return Ok(answer),
            Err(failure) => failure,
        };
        self.after_failure(group, &first, &failure);
        let Some(spare) = spare else {
            log_failure(group, &first, &failure, "");
            return Err(failure);
        };
        let body_back = reclaim.take_back();
        let retry = failover::may_retry(
            self.settings.mode,
            &spare.method,
            &failure,
            body_back.is_some(),
        );
        let second = if retry {
            group.pick_other(&first)
        } else {
            None
        };
        let (Some(second), Some((body, _))) = (second, body_back) else {
            log_failure(group, &first, &failure, "");
            return Err(failure);
        };
        tracing::debug!(
            target_group = group.name(),
            target = first.id(),
            "{} on {}, retrying on {}",
            failure.as_str(),
            first.addr(),
            second.addr()
        );
        rec.outcome().failure = Some(failure);
        let result = self.attempt(&second, spare, body, rec).await;
        if let Err(again) = &result {
            self.after_failure(group, &second, again);
            log_failure(group, &second, again, " (after a retry)");
        }
        result
    }

    /// One attempt on `target`.
    async fn attempt(
        &self,
        target: &Arc<Target>,
        head: Head,
        body: OutBody,
        rec: &mut Recorder,
    ) -> Result<Answer, Failure> {
        let in_flight = target.start_request();
        let uri = Uri::from_parts({
            let mut parts = http::uri::Parts::default();
            parts.scheme = Some(http::uri::Scheme::HTTP);
            parts.authority = Some(target.authority().clone());
            parts.path_and_query = Some(head.path);
            parts
        })
        .expect("scheme, authority and path make a URI");
        let mut req = Request::new(body);
        *req.method_mut() = head.method;
        *req.uri_mut() = uri;
        *req.version_mut() = Version::HTTP_11;
        *req.headers_mut() = head.headers;
        let o = rec.outcome();
        o.attempts += 1;
        o.target = Some(Arc::clone(target));
        let sent = Instant::now();
        o.request_time = Some(sent - o.started);
        let result = tokio::time::timeout(self.settings.idle_timeout, self.client.request(req));
        let result = match result.await {
            Err(_) => Err(Failure::ResponseTimeout),
            Ok(Err(e)) => Err(failover::classify(&e)),
            Ok(Ok(response)) => Ok(Answer {
                response,
                in_flight,
            }),
        };
        rec.outcome().target_time = Some(sent.elapsed());
        result
    }

    /// Passive outlier detection after a failed attempt (tierlab mode only).
    fn after_failure(&self, group: &TargetGroupHandle, target: &Arc<Target>, failure: &Failure) {
        if self.settings.mode != ProxyMode::Tierlab {
            return;
        }
        group.record_status(target, failure.status().as_u16());
        let Some(why) = failure.ejection() else {
            return;
        };
        if failure.nothing_sent() {
            group.eject(target, &why);
            return;
        }
        // A pooled keep-alive connection the target closed just as the request went out looks
        // the same as a target that died; only a new connection tells them apart.
        let (group, target) = (group.clone(), Arc::clone(target));
        let timeout = self.settings.connect_timeout;
        tokio::spawn(async move {
            let probe = tokio::net::TcpStream::connect(target.addr());
            match tokio::time::timeout(timeout, probe).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => group.eject(&target, &format!("{why}, then {}", e.kind())),
                Err(_) => group.eject(&target, &format!("{why}, then connection timed out")),
            }
        });
    }

    /// The client's response from a target's answer: headers cleaned, body streamed (or the
    /// connection handed to a WebSocket tunnel on `101`).
    fn respond(
        &self,
        group: &TargetGroupHandle,
        answer: Answer,
        client_upgrade: Option<hyper::upgrade::OnUpgrade>,
        mut rec: Recorder,
    ) -> Response<ProxyBody> {
        let Answer {
            mut response,
            in_flight,
        } = answer;
        let status = response.status();
        if self.settings.mode == ProxyMode::Tierlab {
            group.record_status(in_flight.target(), status.as_u16());
        }
        rec.outcome().target_status = Some(status.as_u16());
        rec.responded(status.as_u16());
        let upgrade = headers::upgrade_protocol(Version::HTTP_11, response.headers());
        if let (StatusCode::SWITCHING_PROTOCOLS, Some(client), Some(protocol)) =
            (status, client_upgrade, upgrade)
        {
            let target = hyper::upgrade::on(&mut response);
            websocket::spawn_tunnel(client, target, in_flight);
            let (mut parts, _) = response.into_parts();
            headers::remove_hop_by_hop_keep_upgrade(&mut parts.headers, protocol);
            rec.finish();
            let empty = Empty::new().map_err(|never| match never {}).boxed();
            return Response::from_parts(parts, empty);
        }
        let (mut parts, body) = response.into_parts();
        headers::remove_hop_by_hop(&mut parts.headers);
        Response::from_parts(parts, TrackedBody::new(body, in_flight, rec).boxed())
    }

    /// Rewrites a client request head for the targets: HTTP/1.1 framing, the client's host
    /// kept in `Host`, hop-by-hop headers dropped (an upgrade's kept), `X-Forwarded-*` and
    /// `X-Amzn-Trace-Id` set.
    fn target_head(
        &self,
        mut parts: http::request::Parts,
        ctx: &RequestContext,
        upgrade: Option<http::HeaderValue>,
    ) -> Option<Head> {
        let host = headers::request_host(&parts.headers, &parts.uri);
        let path = match parts.uri.path_and_query() {
            Some(p) if p.as_str().starts_with('/') => p.clone(),
            // `OPTIONS *` and absolute-form without a path.
            Some(p) if p.as_str() == "*" => p.clone(),
            Some(_) => return None,
            None => PathAndQuery::from_static("/"),
        };
        match upgrade {
            Some(protocol) => headers::remove_hop_by_hop_keep_upgrade(&mut parts.headers, protocol),
            None => headers::remove_hop_by_hop(&mut parts.headers),
        }
        if let Some(host) = host {
            parts.headers.insert(HOST, host);
        }
        headers::merge_cookies(&mut parts.headers);
        let port = ctx.listener.port();
        let (client, proto, mode) = (ctx.client.ip(), ctx.protocol, self.settings.xff_mode);
        headers::add_forwarded_with(&mut parts.headers, client, proto, port, mode);
        trace_id::apply(&mut parts.headers);
        Some(Head {
            method: parts.method,
            path,
            headers: parts.headers,
        })
    }
}

/// The page the load balancer answers itself for `failure`, recorded.
fn local_answer(mut rec: Recorder, failure: Failure) -> Response<ProxyBody> {
    let status = failure.status();
    rec.outcome().failure = Some(failure);
    rec.responded(status.as_u16());
    rec.finish();
    error_page(status)
}

/// A failure the client sees, logged once per request (debug for 503s, which flood).
fn log_failure(group: &TargetGroupHandle, target: &Target, failure: &Failure, note: &str) {
    let (name, id, addr) = (group.name(), target.id(), target.addr());
    let status = failure.status().as_u16();
    let why = match failure {
        Failure::ConnectFailed(why)
        | Failure::ClosedBeforeResponse(why)
        | Failure::BadResponse(why) => why.clone(),
        Failure::ConnectTimeout => "no connection within the connect timeout".to_string(),
        Failure::ResponseTimeout => "no response within the idle timeout".to_string(),
        other => other.as_str().to_string(),
    };
    tracing::warn!(target_group = name, target = id, %addr, "target {name}/{id} {addr}: {status} ({why}){note}");
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
