//! Forwarding one request to a target and its answer back, streaming both bodies.
//!
//! Status codes are ALB's (see [`Failure::status`]): 503 when the target group has no target to
//! send to, 502 when the target refuses, resets or answers garbage, 504 when connecting takes
//! longer than the connect timeout or nothing moves (no response head, no more of the client's
//! body) within the idle timeout. A client that leaves first is recorded as 460.
//!
//! A failed attempt is blamed on whoever caused it ([`failover::blame`], from the request body's
//! [`BodyWatch`]): a malformed body is answered 400, a body the client stopped sending 408, a
//! client that left mid-upload 460; those never count against the target. (Requests with a bad
//! head or `Host` are refused before routing, by [`super::rules::Router::handle`].)
//!
//! In the default `mode = "tierlab"`, a first attempt that certainly was not processed is
//! retried once on another healthy target ([`failover`]), and a target that cannot be reached
//! or drops connections is ejected at once (passive outlier detection), as is one answering
//! `outlier-consecutive-5xx` 5xx in a row. `mode = "aws"` does neither.
//!
//! Targets are chosen through the group's routing ([`TargetGroupHandle::choose`]: algorithm,
//! slow start, stickiness); a retry asks the same routing for another healthy target
//! ([`TargetGroupHandle::pick_other`]). The chosen target counts the request as in flight until
//! the response body has been sent.
//!
//! Every forward's [`TargetOutcome`] (target, timings, status, failures, earlier attempts) is
//! returned beside its response, for the listener's observer (metrics, access logs).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::uri::PathAndQuery;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::body::{BodyWatch, OutBody, Reclaim};
use super::failover::{self, Failure};
use super::headers::{self, ForwardedValues};
use super::http1::ClientUpgrade;
use super::observe::TargetOutcome;
use super::pool::{BoxError, PoolSettings, PooledBody, UpstreamPool};
use super::request_body::RequestBody;
use super::routing::Choice;
use super::target_group::{Target, TargetGroupHandle};
use super::trace_id;
use super::websocket;
use crate::config::{ListenerProtocol, LoadBalancer, ProxyMode, XffMode};

/// Body of every response the load balancer sends: a target's streamed body or a local page.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// How long an unused keep-alive connection to a target stays pooled.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A target's response as the pool hands it over: its body gives the connection back at its end.
type TargetResponse = Response<PooledBody<OutBody>>;

/// What the client gets for a forward (a target's answer or the load balancer's own page), and
/// how the forward went.
pub type Forwarded = (Response<ProxyBody>, TargetOutcome);

/// Where a request came in: what the `X-Forwarded-*` headers and redirects are built from.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The client's address (appended to `X-Forwarded-For`).
    pub client: SocketAddr,
    /// The listener's protocol (`X-Forwarded-Proto`).
    pub protocol: ListenerProtocol,
    /// The listener's bound address (its port is `X-Forwarded-Port`).
    pub listener: SocketAddr,
    /// The listener's `X-Forwarded-Proto` and `X-Forwarded-Port`, built once per listener.
    pub forwarded: &'a ForwardedValues,
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
#[derive(Debug, Clone)]
pub struct Proxy {
    pool: UpstreamPool<OutBody>,
    settings: ProxySettings,
    /// Where WebSocket tunnels run: the load balancer's task tree, so stopping it closes them.
    tunnels: websocket::Tunnels,
    /// The load balancer's task tree (short probes run on it), when the proxy belongs to one.
    tasks: Option<(TaskTracker, CancellationToken)>,
}

/// The request head, kept to build each attempt's request.
struct Head {
    method: Method,
    path: PathAndQuery,
    headers: HeaderMap,
}

/// A target's answer, with the choice of that target (its in-flight count lasts until the
/// body ends; its stickiness cookie goes on the response).
struct Answer {
    response: TargetResponse,
    choice: Choice,
}

/// Connections to targets share the process's budget, as client connections do (an HTTP/2
/// client can ask for many at once over one connection of its own); idle ones close after
/// [`POOL_IDLE_TIMEOUT`]. One shard of idle connections per data-plane thread.
fn pool_settings(threads: usize) -> PoolSettings {
    PoolSettings {
        idle_timeout: POOL_IDLE_TIMEOUT,
        shards: threads.max(1),
        ..PoolSettings::default()
    }
}

impl Proxy {
    /// A proxy with a keep-alive pool to targets, configured by `settings`.
    /// Its tasks (pool sweep, connections to targets, WebSocket tunnels, probes) run on their
    /// own until they end; a load balancer's proxy is made with [`Proxy::in_tree`].
    pub fn new(settings: ProxySettings) -> Proxy {
        Proxy {
            pool: UpstreamPool::with_budget(
                pool_settings(1),
                Some(super::limits::upstream_budget()),
            ),
            settings,
            tunnels: websocket::Tunnels::default(),
            tasks: None,
        }
    }

    /// [`new`](Self::new), with every task of the proxy on `tracker`, ended when `cancel`
    /// fires (a load balancer's task tree), and a pool shard for each of `threads` data-plane
    /// threads.
    pub fn in_tree(
        settings: ProxySettings,
        tracker: &TaskTracker,
        cancel: CancellationToken,
        threads: usize,
    ) -> Proxy {
        let budget = Some(super::limits::upstream_budget());
        let pool = pool_settings(threads);
        Proxy {
            pool: UpstreamPool::in_tree(pool, budget, tracker, cancel.clone()),
            settings,
            tunnels: websocket::Tunnels::new(tracker.clone(), cancel.clone()),
            tasks: Some((tracker.clone(), cancel)),
        }
    }

    /// Idle connections to `target` in each data-plane thread's pool shard.
    pub fn idle_per_thread(&self, target: SocketAddr) -> Vec<usize> {
        self.pool.idle_per_shard(target)
    }

    /// The settings this proxy was made with.
    pub fn settings(&self) -> &ProxySettings {
        &self.settings
    }

    /// Sends `req` to a target of `group` and returns its response, or an error page; either
    /// way with the forward's [`TargetOutcome`].
    pub async fn forward(
        &self,
        group: &TargetGroupHandle,
        mut req: Request<RequestBody>,
        ctx: &RequestContext<'_>,
    ) -> Forwarded {
        // What the access log and metrics learn of this forward (observe.rs).
        // (Head limits and `Host` were checked before routing: see `Router::handle`.)
        let mut outcome = TargetOutcome::new(group);
        let Some(first) = group.choose(req.headers()) else {
            // Per request, so debug: the health flips that cause it are logged once at warn.
            tracing::debug!(
                target_group = group.name(),
                "503: no registered target is healthy"
            );
            return local_answer(outcome, Failure::NoTarget);
        };
        // A target made to fail (`tierlab chaos http-errors`) answers at once, as a crashing
        // handler would: its status is the target's, not the load balancer's.
        if let Some(status) = group
            .toxics()
            .and_then(|t| t.injected_status(first.target().addr(), rand::random()))
        {
            return injected_answer(group, first, status, outcome, self.settings.mode);
        }
        let upgrade = headers::upgrade_protocol(req.version(), req.headers());
        let client_upgrade = upgrade
            .is_some()
            .then(|| req.extensions_mut().remove::<ClientUpgrade>())
            .flatten();
        let (parts, body) = req.into_parts();
        let Some(head) = self.target_head(parts, ctx, upgrade) else {
            tracing::debug!("400: request URI cannot be forwarded");
            return (error_page(StatusCode::BAD_REQUEST), outcome);
        };
        outcome.trace_id = head.headers.get(trace_id::X_AMZN_TRACE_ID).cloned();
        let (body, reclaim) = OutBody::new(body);
        let answer = self
            .with_failover(group, first, head, body, reclaim, &mut outcome)
            .await;
        match answer {
            Ok(answer) => self.respond(group, answer, client_upgrade, outcome, ctx),
            Err(failure) => local_answer(outcome, failure),
        }
    }

    /// The first attempt and, when [`failover::may_retry`] allows, one on another target. A
    /// failed first attempt goes to `outcome.earlier`; the result's failure (if any) is the last
    /// attempt's.
    async fn with_failover(
        &self,
        group: &TargetGroupHandle,
        first: Choice,
        head: Head,
        body: OutBody,
        reclaim: Reclaim,
        outcome: &mut TargetOutcome,
    ) -> Result<Answer, Failure> {
        let tierlab = self.settings.mode == ProxyMode::Tierlab;
        // The head is needed again only if a retry is possible at all.
        let spare = tierlab.then(|| Head {
            method: head.method.clone(),
            path: head.path.clone(),
            headers: head.headers.clone(),
        });
        let failure = match self
            .attempt(group, first.target(), head, body, outcome)
            .await
        {
            Ok(response) => {
                let choice = first;
                return Ok(Answer { response, choice });
            }
            Err(failure) => failure,
        };
        // The failed attempt is over: it no longer counts as in flight on its target.
        let first = Arc::clone(first.target());
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
        // The routing decides again (stickiness moves off the failed target).
        let second = if retry {
            group.pick_other(&spare.headers, &first)
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
            second.target().addr()
        );
        outcome.earlier.push((first.addr(), failure));
        match self
            .attempt(group, second.target(), spare, body, outcome)
            .await
        {
            Ok(response) => Ok(Answer {
                response,
                choice: second,
            }),
            Err(again) => {
                let target = Arc::clone(second.target());
                drop(second);
                self.after_failure(group, &target, &again);
                log_failure(group, &target, &again, " (after a retry)");
                Err(again)
            }
        }
    }

    /// One attempt on `target` (already counted in flight by its [`Choice`]); records the
    /// target and timings in `outcome`.
    async fn attempt(
        &self,
        group: &TargetGroupHandle,
        target: &Arc<Target>,
        head: Head,
        body: OutBody,
        outcome: &mut TargetOutcome,
    ) -> Result<TargetResponse, Failure> {
        // Origin-form, as targets expect; `Host` is the client's (or, if it sent none, the
        // pool puts the target's address there).
        let uri = Uri::from(head.path);
        // How the client's side of the body goes, for whose fault a failure is.
        let watch = body.watch();
        let mut req = Request::new(body);
        *req.method_mut() = head.method;
        *req.uri_mut() = uri;
        *req.version_mut() = Version::HTTP_11;
        *req.headers_mut() = head.headers;
        outcome.target = Some(target.addr());
        outcome.sent_at = Some(Instant::now());
        outcome.answered_at = None;
        // Latency and resets on the way (`tierlab chaos latency|reset lb-task`).
        if let Some(toxics) = group.toxics() {
            let way = toxics.on_the_way(rand::random(), rand::random());
            tokio::time::sleep(way.delay).await;
            if way.reset {
                let why = "connection reset by peer (tierlab chaos)".to_string();
                return Err(Failure::ClosedBeforeResponse(why));
            }
        }
        // ALB's idle timeout bounds the wait for the response head (an upload in progress keeps
        // the exchange alive); once the target streams a body, the body's own progress does.
        let sent = self
            .pool
            .send(target.addr(), req, self.settings.connect_timeout);
        tokio::pin!(sent);
        let result = until_idle(sent, self.settings.idle_timeout, &watch).await;
        match result {
            None => Err(failover::blame(Failure::ResponseTimeout, watch.state())),
            Some(Err(e)) => {
                let state = watch.state();
                let failure = failover::classify(&e);
                // The client's 408, but a target that crashed during the client's pause must
                // not hide behind it: a new connection tells (tierlab mode, as ejection is).
                if failover::closed_on_stalled_client(&failure, state)
                    && self.settings.mode == ProxyMode::Tierlab
                {
                    let why = "connection closed while the client was stalled".to_string();
                    self.probe_then_eject(group, target, why);
                }
                Err(failover::blame(failure, state))
            }
            Some(Ok(response)) => {
                outcome.answered_at = Some(Instant::now());
                Ok(response)
            }
        }
    }

    /// Passive outlier detection after a failed attempt (tierlab mode only).
    /// Only the target's own faults count: a client fault never reaches `record_status`, an
    /// ejection or the probe below.
    fn after_failure(&self, group: &TargetGroupHandle, target: &Arc<Target>, failure: &Failure) {
        if self.settings.mode != ProxyMode::Tierlab || !failure.is_target_fault() {
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
        self.probe_then_eject(group, target, why);
    }

    /// Ejects `target` if a new connection to it fails (it died), saying `why` and then how
    /// the probe failed; a target that accepts stays.
    fn probe_then_eject(&self, group: &TargetGroupHandle, target: &Arc<Target>, why: String) {
        let (group, target) = (group.clone(), Arc::clone(target));
        let timeout = self.settings.connect_timeout;
        let probe = async move {
            let probe = tokio::net::TcpStream::connect(target.addr());
            match tokio::time::timeout(timeout, probe).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => group.eject(&target, &format!("{why}, then {}", e.kind())),
                Err(_) => group.eject(&target, &format!("{why}, then connection timed out")),
            }
        };
        match &self.tasks {
            Some((tracker, cancel)) => {
                let cancel = cancel.clone();
                tracker.spawn(async move { cancel.run_until_cancelled(probe).await });
            }
            None => {
                tokio::spawn(probe);
            }
        }
    }

    /// The client's response from a target's answer: headers cleaned, stickiness cookies
    /// added, body streamed (or the connection handed to a WebSocket tunnel on `101`).
    fn respond(
        &self,
        group: &TargetGroupHandle,
        answer: Answer,
        client_upgrade: Option<ClientUpgrade>,
        mut outcome: TargetOutcome,
        ctx: &RequestContext<'_>,
    ) -> Forwarded {
        let Answer { response, choice } = answer;
        let status = response.status();
        if self.settings.mode == ProxyMode::Tierlab {
            group.record_status(choice.target(), status.as_u16());
        }
        outcome.status = Some(status.as_u16());
        let upgrade = headers::upgrade_protocol(Version::HTTP_11, response.headers());
        if let (StatusCode::SWITCHING_PROTOCOLS, Some(client), Some(protocol)) =
            (status, client_upgrade, upgrade)
        {
            let (mut parts, body) = response.into_parts();
            let Some(target) = body.into_upgraded() else {
                return local_answer(
                    outcome,
                    Failure::BadResponse("101 without a connection".into()),
                );
            };
            headers::remove_hop_by_hop_keep_upgrade(&mut parts.headers, protocol);
            let in_flight = choice.finish_head(&mut parts.headers, ctx.protocol);
            let idle = self.settings.idle_timeout;
            self.tunnels.spawn(client, target, in_flight, idle);
            let empty = Empty::new().map_err(|never| match never {}).boxed();
            return (Response::from_parts(parts, empty), outcome);
        }
        let (mut parts, body) = response.into_parts();
        headers::remove_hop_by_hop(&mut parts.headers);
        // A bandwidth limit on the path (`tierlab chaos bandwidth lb-task`). Without one the
        // target's body is boxed once, with the in-flight count around it.
        let response = match group.toxics().and_then(|t| t.bytes_per_second) {
            Some(rate) => {
                let throttled = super::throttle::Throttled::boxed_at(body.boxed(), rate);
                choice.finish(Response::from_parts(parts, throttled), ctx.protocol)
            }
            None => choice.finish(Response::from_parts(parts, body), ctx.protocol),
        };
        (response, outcome)
    }

    /// Rewrites a client request head for the targets: HTTP/1.1 framing, the client's host
    /// kept in `Host`, hop-by-hop headers dropped (an upgrade's kept), `X-Forwarded-*` and
    /// `X-Amzn-Trace-Id` set.
    fn target_head(
        &self,
        mut parts: http::request::Parts,
        ctx: &RequestContext<'_>,
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
        let (client, mode) = (ctx.client.ip(), self.settings.xff_mode);
        headers::add_forwarded_values(&mut parts.headers, client, ctx.forwarded, mode);
        trace_id::apply(&mut parts.headers);
        Some(Head {
            method: parts.method,
            path,
            headers: parts.headers,
        })
    }
}

/// `status` as `choice`'s target's own answer (a fault injected by `tierlab chaos`): counted
/// as the target's (`HTTPCode_Target_5XX_Count`, its status in the access log).
fn injected_answer(
    group: &TargetGroupHandle,
    choice: Choice,
    status: u16,
    mut outcome: TargetOutcome,
    mode: ProxyMode,
) -> Forwarded {
    let now = Instant::now();
    let target = choice.target();
    outcome.target = Some(target.addr());
    outcome.sent_at = Some(now);
    outcome.answered_at = Some(now);
    outcome.status = Some(status);
    if mode == ProxyMode::Tierlab {
        group.record_status(target, status);
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (error_page(status), outcome)
}

/// The page the load balancer answers itself for `failure`, with `outcome`.
fn local_answer(mut outcome: TargetOutcome, failure: Failure) -> Forwarded {
    // 460 is only ALB's record of a client that left (observe.rs logs it); should any of the
    // connection still be listening (a half-close), it gets a real status (hyper closes the
    // connection after it, since the request's body never ended).
    let response = match failure {
        Failure::ClientClosed => error_page(StatusCode::BAD_REQUEST),
        _ => error_page(failure.status()),
    };
    outcome.error = Some(failure);
    (response, outcome)
}

/// The 400 for a request refused before routing (bad head or `Host`) for `failure`; an HTTP/1
/// connection is closed after it, as what follows cannot be trusted.
pub fn refused(failure: &Failure, version: Version) -> Response<ProxyBody> {
    let mut response = error_page(failure.status());
    if version < Version::HTTP_2 {
        let close = http::HeaderValue::from_static("close");
        response
            .headers_mut()
            .insert(http::header::CONNECTION, close);
    }
    response
}

/// `sent`'s output, or `None` once nothing moved for `idle`: no response head and (for an
/// upload) no part of the client's body either, as ALB's idle timeout counts any data.
///
/// `sent` comes pinned by the caller: an `async fn` keeps a future given by value both as its
/// argument and as the local it is pinned in (rust-lang/rust#62958), and this one is part of
/// every request's state, which hyper keeps for the whole connection.
async fn until_idle<F: Future>(
    mut sent: Pin<&mut F>,
    idle: Duration,
    watch: &BodyWatch,
) -> Option<F::Output> {
    let start = tokio::time::Instant::now();
    loop {
        let deadline = idle_deadline(start, watch.last_progress(), idle);
        match tokio::time::timeout_at(deadline, sent.as_mut()).await {
            Ok(output) => return Some(output),
            // The client sent more meanwhile: the wait goes on from then.
            Err(_) if idle_deadline(start, watch.last_progress(), idle) > deadline => {}
            Err(_) => return None,
        }
    }
}

/// When waiting for a response head gives up: `idle` after the request was sent or, if later,
/// after the client last sent part of its body.
fn idle_deadline(
    sent: tokio::time::Instant,
    progress: Option<tokio::time::Instant>,
    idle: Duration,
) -> tokio::time::Instant {
    progress.map_or(sent, |p| p.max(sent)) + idle
}

/// A failure the client sees, logged once per request (debug for 503s, which flood). A client
/// fault is logged as the client's, at debug: it says nothing about the target.
fn log_failure(group: &TargetGroupHandle, target: &Target, failure: &Failure, note: &str) {
    let (name, id, addr) = (group.name(), target.id(), target.addr());
    let status = failure.status().as_u16();
    if failure.is_client_fault() {
        let why = failure.as_str();
        tracing::debug!("client fault on the way to {name}/{id} {addr}: {status} ({why}){note}");
        return;
    }
    let why = match failure {
        Failure::ConnectFailed(why)
        | Failure::ClosedBeforeResponse(why)
        | Failure::BadResponse(why) => why.clone(),
        Failure::ConnectTimeout => "no connection within the connect timeout".to_string(),
        Failure::ResponseTimeout => "no response within the idle timeout".to_string(),
        other => other.as_str().to_string(),
    };
    tracing::warn!("target {name}/{id} {addr}: {status} ({why}){note}");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alb::health::{CheckOutcome, TargetState};
    use crate::alb::target_group::tests::config;
    use crate::config::XffMode;

    fn proxy() -> Proxy {
        Proxy::new(ProxySettings {
            idle_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(1),
            xff_mode: XffMode::Append,
            mode: ProxyMode::Tierlab,
        })
    }

    #[tokio::test]
    async fn client_faults_never_reach_outlier_detection() {
        let group = TargetGroupHandle::new(config());
        // A second healthy target: a 5xx run ejects a target only while half the group stays.
        group.register("other", "127.0.0.1:10".parse().unwrap());
        for t in group.targets().iter() {
            t.record(&CheckOutcome::Ok(200));
        }
        let target = Arc::clone(&group.targets()[0]);
        assert_eq!(target.state(), TargetState::Healthy);
        let proxy = proxy();
        for failure in [
            Failure::MalformedBody,
            Failure::ClientClosed,
            Failure::ClientTimeout,
        ] {
            for _ in 0..20 {
                proxy.after_failure(&group, &target, &failure);
            }
        }
        assert_eq!(
            target.state(),
            TargetState::Healthy,
            "no client fault counts"
        );
        // Four of the target's own 502s then a client fault: the run is not broken by it, and
        // the fifth 5xx of the target's ejects it.
        let garbage = Failure::BadResponse("not HTTP".into());
        for _ in 0..4 {
            proxy.after_failure(&group, &target, &garbage);
        }
        proxy.after_failure(&group, &target, &Failure::ClientClosed);
        assert_eq!(target.state(), TargetState::Healthy);
        proxy.after_failure(&group, &target, &garbage);
        assert_eq!(
            target.state(),
            TargetState::Unhealthy,
            "5 of its own eject it"
        );
    }

    #[test]
    fn the_idle_timeout_runs_from_the_last_data() {
        let sent = tokio::time::Instant::now();
        let idle = Duration::from_secs(60);
        assert_eq!(idle_deadline(sent, None, idle), sent + idle);
        let later = sent + Duration::from_secs(45);
        assert_eq!(idle_deadline(sent, Some(later), idle), later + idle);
        // Body sent before this attempt (a retry's): the attempt's own start counts.
        let earlier = sent - Duration::from_secs(5);
        assert_eq!(idle_deadline(sent, Some(earlier), idle), sent + idle);
    }
}
