//! The hook between listeners and observability: every request feeds the metrics and (when
//! enabled) one access log record; every connection feeds the connection metrics.
//!
//! The router and the proxy report what they did with a request in a [`Handled`] beside the
//! response (not in its extensions: a map and two boxes per request); everything else is seen
//! here. A request whose future is dropped before it produced a response (the client went away
//! first) is counted and logged with ALB's 460. Client faults (a request refused before
//! routing, see [`Handled::refused`], or a malformed, abandoned or stalled upload) count as the
//! load balancer's 4XX, never as a target's, and name themselves in the access log's
//! `error_reason` (`DuplicateHostHeader`, `ClientMalformedBody`, `ClientClosedConnection`,
//! `ClientTimeout`, ...).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, LOCATION, UPGRADE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Request, Response, Version};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::access_log::{self, AccessLogRecord, AccessLogSink, RequestType, TlsFields};
use super::arn;
use super::failover::Failure;
use super::headers;
use super::metrics::LoadBalancerMetrics;
use super::pool::BoxError;
use super::proxy::ProxyBody;
use super::sni::CertificateSet;
use super::target_group::TargetGroupHandle;
use crate::config::ListenerProtocol;

/// ALB's status for a request the client abandoned before the load balancer answered.
pub const CLIENT_CLOSED: u16 = super::failover::CLIENT_CLOSED;
/// The trace header, as read from the client when the proxy does not report its own.
const TRACE_HEADER: &str = "x-amzn-trace-id";

/// How the proxy forwarded a request, for error pages (502/503/504) as well as for the target's
/// answers.
#[derive(Debug, Clone)]
pub struct TargetOutcome {
    /// The target group the request was forwarded to.
    pub target_group: TargetGroupHandle,
    /// The target that answered or failed last; `None` when none could be picked (503).
    pub target: Option<SocketAddr>,
    /// When the request was sent to `target`.
    pub sent_at: Option<Instant>,
    /// When `target`'s response head arrived.
    pub answered_at: Option<Instant>,
    /// `target`'s status; `None` when it gave no response.
    pub status: Option<u16>,
    /// Why `target` gave no response, or why none was tried (503); a client fault (400, 408,
    /// 460) is also logged as `error_reason`.
    pub error: Option<Failure>,
    /// Targets tried before `target` that failed (tierlab's retry), in order, with why.
    pub earlier: Vec<(SocketAddr, Failure)>,
    /// The `X-Amzn-Trace-Id` sent to the target.
    pub trace_id: Option<HeaderValue>,
}

impl TargetOutcome {
    /// An outcome for `group` with nothing known yet.
    pub fn new(target_group: &TargetGroupHandle) -> TargetOutcome {
        TargetOutcome {
            target_group: target_group.clone(),
            target: None,
            sent_at: None,
            answered_at: None,
            status: None,
            error: None,
            earlier: Vec::new(),
            trace_id: None,
        }
    }
}

/// What the load balancer did with a request, beside the response it produced.
#[derive(Debug, Default)]
pub struct Handled {
    /// How the proxy forwarded it, when a forward action ran.
    pub outcome: Option<TargetOutcome>,
    /// Why it was refused before any rule saw it (a 400 for its head or `Host`): logged with
    /// no action executed and this as `error_reason`.
    pub refused: Option<Failure>,
    /// The listener rule that matched (1..=50000), when it was not the default action.
    pub rule: Option<u32>,
}

impl Handled {
    /// A request forwarded as `outcome` tells.
    pub fn forwarded(outcome: TargetOutcome) -> Handled {
        Handled {
            outcome: Some(outcome),
            ..Handled::default()
        }
    }

    /// A request refused before routing for `failure`.
    pub fn refused(failure: Failure) -> Handled {
        Handled {
            refused: Some(failure),
            ..Handled::default()
        }
    }
}

/// What a connection's requests share: the client and, over TLS, what was negotiated.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The client's address.
    pub client: SocketAddr,
    /// Cipher, version, SNI and certificate; `None` for plain HTTP.
    pub tls: Option<TlsFields>,
    /// `conn_trace_id`.
    pub id: u64,
}

impl ConnectionInfo {
    /// A plain-HTTP connection from `client`.
    pub fn plain(client: SocketAddr) -> ConnectionInfo {
        ConnectionInfo {
            client,
            tls: None,
            id: rand::random(),
        }
    }

    /// A TLS connection from `client`, described from rustls' view of it.
    pub fn tls(
        client: SocketAddr,
        conn: &rustls::ServerConnection,
        certs: Option<&CertificateSet>,
    ) -> ConnectionInfo {
        let domain = conn.server_name().map(str::to_string);
        let tls = TlsFields {
            cipher: conn
                .negotiated_cipher_suite()
                .map_or("-", |s| access_log::openssl_cipher_name(s.suite())),
            protocol: conn
                .protocol_version()
                .map_or("-", access_log::protocol_name),
            cert_arn: certs.map_or_else(|| Arc::from("-"), |c| c.arn(c.pick(domain.as_deref()))),
            domain,
        };
        ConnectionInfo {
            client,
            tls: Some(tls),
            id: rand::random(),
        }
    }
}

/// One listener's view of observability.
#[derive(Debug)]
pub struct ListenerObserver {
    metrics: Arc<LoadBalancerMetrics>,
    log: Option<AccessLogSink>,
    elb: Arc<str>,
    protocol: ListenerProtocol,
    port: u16,
}

impl ListenerObserver {
    /// The observer of a listener on `port` of the load balancer `metrics` belongs to; `log`
    /// receives access log records when access logs are enabled.
    pub fn new(
        metrics: Arc<LoadBalancerMetrics>,
        log: Option<AccessLogSink>,
        protocol: ListenerProtocol,
        port: u16,
    ) -> ListenerObserver {
        ListenerObserver {
            elb: metrics.dimension().into(),
            metrics,
            log,
            protocol,
            port,
        }
    }

    /// The load balancer's metrics.
    pub fn metrics(&self) -> &Arc<LoadBalancerMetrics> {
        &self.metrics
    }

    /// Starts observing `req`. Call [`Pending::finish`] with the response; dropping the
    /// `Pending` instead records a 460.
    pub fn begin<B>(self: &Arc<Self>, req: &Request<B>, conn: &Arc<ConnectionInfo>) -> Pending {
        let fields = self.log.is_some().then(|| self.request_fields(req));
        Pending {
            observer: self.clone(),
            conn: conn.clone(),
            started: Instant::now(),
            fields,
            done: false,
        }
    }

    fn request_fields<B>(&self, req: &Request<B>) -> RequestFields {
        let headers = req.headers();
        let text =
            |v: Option<&HeaderValue>| v.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        // The host the request names (an absolute-form authority wins over `Host`).
        let host = headers::request_host(headers, req.uri());
        let host = host.as_ref().and_then(|h| h.to_str().ok()).unwrap_or("-");
        // `[::1]:8080` keeps its brackets; only a trailing `:port` goes.
        let host = match host.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') => h,
            _ => host,
        };
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let version = version_text(req.version());
        let line = format!(
            "{} {}://{host}:{}{path} {version}",
            req.method(),
            self.protocol.scheme(),
            self.port
        );
        let body = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(0);
        let received = line.len() as u64 + header_bytes(headers) + body;
        let upgrade = headers
            .get(UPGRADE)
            .is_some_and(|u| u.as_bytes().eq_ignore_ascii_case(b"websocket"));
        RequestFields {
            kind: match (self.protocol, req.version(), upgrade) {
                (ListenerProtocol::Http, _, false) => RequestType::Http,
                (ListenerProtocol::Http, _, true) => RequestType::Ws,
                (ListenerProtocol::Https, _, true) => RequestType::Wss,
                (ListenerProtocol::Https, Version::HTTP_2, false) => RequestType::H2,
                (ListenerProtocol::Https, _, false) => RequestType::Https,
            },
            created: SystemTime::now(),
            line,
            user_agent: text(headers.get(USER_AGENT)),
            trace_id: text(headers.get(TRACE_HEADER)),
            received,
        }
    }
}

/// What the access log needs from the request, captured before it is handed on.
#[derive(Debug)]
struct RequestFields {
    kind: RequestType,
    created: SystemTime,
    line: String,
    user_agent: Option<String>,
    trace_id: Option<String>,
    received: u64,
}

/// A request being answered.
#[derive(Debug)]
pub struct Pending {
    observer: Arc<ListenerObserver>,
    conn: Arc<ConnectionInfo>,
    started: Instant,
    fields: Option<RequestFields>,
    done: bool,
}

/// The status metrics and the access log record: the response's, except for a client that
/// left mid-request, recorded as ALB's 460 whatever (if anything) still reached its socket.
fn recorded_status(response: &Response<ProxyBody>, handled: &Handled) -> u16 {
    let client_left = handled
        .outcome
        .as_ref()
        .and_then(|o| o.error.as_ref())
        .is_some_and(|e| *e == Failure::ClientClosed);
    if client_left {
        CLIENT_CLOSED
    } else {
        response.status().as_u16()
    }
}

impl Pending {
    /// Records the request's metrics and hands back `response`, its body wrapped to complete
    /// the access log record once sent.
    pub fn finish(
        mut self,
        response: Response<ProxyBody>,
        handled: Handled,
    ) -> Response<ProxyBody> {
        self.done = true;
        let now = Instant::now();
        let outcome = handled.outcome.as_ref();
        let status = recorded_status(&response, &handled);
        let answered_by_target = outcome.is_some_and(|o| o.status.is_some());
        let metrics = &self.observer.metrics;
        metrics.request((!answered_by_target).then_some(status));
        if let Some(o) = outcome {
            if let Some(tg) = metrics.target_group(o.target_group.name()) {
                tg.request();
                if let (Some(code), Some(sent), Some(answered)) =
                    (o.status, o.sent_at, o.answered_at)
                {
                    tg.target_response(code, answered.saturating_duration_since(sent));
                }
                // `TargetConnectionErrorCount`: attempts that never got a connection.
                let connect_errors = o
                    .earlier
                    .iter()
                    .map(|(_, e)| e)
                    .chain(&o.error)
                    .filter(|e| e.nothing_sent())
                    .count();
                for _ in 0..connect_errors {
                    tg.connection_error();
                }
            }
        }
        let (Some(sink), Some(fields)) = (self.observer.log.clone(), self.fields.take()) else {
            return response;
        };
        let record = self.record(fields, &response, &handled, now);
        let (parts, body) = response.into_parts();
        let head = 17 + header_bytes(&parts.headers);
        let body = LoggedBody {
            inner: body,
            record: Some(record),
            sent: head,
            sink,
        };
        Response::from_parts(parts, body.boxed())
    }

    /// The ARN of target group `name`: the load balancer's metrics keep it made.
    fn target_group_arn(&self, name: &str) -> Arc<str> {
        match self.observer.metrics.target_group(name) {
            Some(tg) => tg.arn().clone(),
            None => arn::target_group_arn(name).into(),
        }
    }

    fn record(
        &self,
        fields: RequestFields,
        response: &Response<ProxyBody>,
        handled: &Handled,
        now: Instant,
    ) -> AccessLogRecord {
        let outcome = handled.outcome.as_ref();
        let refused = handled.refused.as_ref();
        let status = recorded_status(response, handled);
        let location = response.headers().get(LOCATION);
        let actions = match (outcome, location) {
            _ if refused.is_some() => "-",
            (Some(_), _) => "forward",
            (None, Some(_)) if response.status().is_redirection() => "redirect",
            (None, _) => "fixed-response",
        };
        // Why the load balancer answered itself, when the client was the cause (target
        // failures are told by the status codes, as on AWS).
        let error_reason = refused
            .or_else(|| outcome.and_then(|o| o.error.as_ref()))
            .filter(|e| e.is_client_fault())
            .map(Failure::as_str);
        let since =
            |t: Option<Instant>, from: Instant| t.map(|t| t.saturating_duration_since(from));
        let sent_at = outcome.and_then(|o| o.sent_at);
        let answered_at = outcome.and_then(|o| o.answered_at);
        let mut tried: Vec<(SocketAddr, Option<u16>)> = outcome
            .map(|o| o.earlier.iter().map(|(a, _)| (*a, None)).collect())
            .unwrap_or_default();
        if let Some(target) = outcome.and_then(|o| o.target) {
            tried.push((target, outcome.and_then(|o| o.status)));
        }
        AccessLogRecord {
            kind: fields.kind,
            time: SystemTime::now(),
            elb: self.observer.elb.clone(),
            client: self.conn.client,
            target: outcome.and_then(|o| o.target),
            request_processing: Some(
                since(sent_at, self.started).unwrap_or_else(|| now - self.started),
            ),
            target_processing: answered_at.and(since(answered_at, sent_at.unwrap_or(self.started))),
            response_processing: answered_at.map(|a| now.saturating_duration_since(a)),
            elb_status: status,
            target_status: outcome.and_then(|o| o.status),
            received_bytes: fields.received,
            sent_bytes: 0,
            request: fields.line,
            user_agent: fields.user_agent,
            tls: self.conn.tls.clone(),
            target_group_arn: outcome.map(|o| self.target_group_arn(o.target_group.name())),
            trace_id: outcome
                .and_then(|o| o.trace_id.as_ref())
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .or(fields.trace_id),
            rule_priority: refused.is_none().then_some(handled.rule.unwrap_or(0)),
            request_creation_time: fields.created,
            actions,
            redirect_url: (actions == "redirect")
                .then(|| location.map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned()))
                .flatten(),
            error_reason,
            tried,
            conn_trace_id: self.conn.id,
        }
    }
}

impl Drop for Pending {
    /// The response future was dropped before it produced a response: the client went away.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.observer.metrics.request(Some(CLIENT_CLOSED));
        let (Some(sink), Some(fields)) = (&self.observer.log, self.fields.take()) else {
            return;
        };
        sink.send(AccessLogRecord {
            kind: fields.kind,
            time: SystemTime::now(),
            elb: self.observer.elb.clone(),
            client: self.conn.client,
            target: None,
            request_processing: None,
            target_processing: None,
            response_processing: None,
            elb_status: CLIENT_CLOSED,
            target_status: None,
            received_bytes: fields.received,
            sent_bytes: 0,
            request: fields.line,
            user_agent: fields.user_agent,
            tls: self.conn.tls.clone(),
            target_group_arn: None,
            trace_id: fields.trace_id,
            rule_priority: None,
            request_creation_time: fields.created,
            actions: "-",
            redirect_url: None,
            error_reason: Some(Failure::ClientClosed.as_str()),
            tried: Vec::new(),
            conn_trace_id: self.conn.id,
        });
    }
}

/// A response body that counts what it sends and hands its access log record to the writer
/// when it ends (or is dropped: a client that stops reading still gets its line).
struct LoggedBody {
    inner: ProxyBody,
    record: Option<AccessLogRecord>,
    sent: u64,
    sink: AccessLogSink,
}

impl LoggedBody {
    fn emit(&mut self) {
        if let Some(mut record) = self.record.take() {
            record.sent_bytes = self.sent;
            self.sink.send(record);
        }
    }
}

impl Body for LoggedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                self.sent += frame.data_ref().map_or(0, |d| d.len() as u64);
            }
            Poll::Ready(_) => self.emit(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        self.emit();
    }
}

/// Bytes of the header block as HTTP/1.1 writes it (`name: value\r\n` each, then `\r\n`).
fn header_bytes(headers: &HeaderMap) -> u64 {
    let fields: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    (fields + 2) as u64
}

fn version_text(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// A client socket that counts the bytes it carries into `ProcessedBytes` (TLS records
/// included, as on the wire).
#[derive(Debug)]
pub struct CountingIo<T> {
    inner: T,
    metrics: Arc<LoadBalancerMetrics>,
}

impl<T> CountingIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, metrics: Arc<LoadBalancerMetrics>) -> CountingIo<T> {
        CountingIo { inner, metrics }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CountingIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            self.metrics.processed(read as u64);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountingIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.metrics.processed(n as u64);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            self.metrics.processed(n as u64);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line_uses_listener_scheme_and_port() {
        let metrics = Arc::new(LoadBalancerMetrics::new("lb", []));
        let obs = ListenerObserver::new(metrics, None, ListenerProtocol::Https, 8443);
        let req = Request::get("/a?b=1")
            .header("host", "www.example.com:8443")
            .header("user-agent", "curl/8")
            .header("content-length", "10")
            .body(())
            .unwrap();
        let f = obs.request_fields(&req);
        assert_eq!(f.line, "GET https://www.example.com:8443/a?b=1 HTTP/1.1");
        assert_eq!(f.kind, RequestType::Https);
        assert_eq!(f.user_agent.as_deref(), Some("curl/8"));
        assert!(f.received > 10 + f.line.len() as u64);
        let h2 = Request::get("https://[::1]:8443/")
            .version(Version::HTTP_2)
            .body(())
            .unwrap();
        let f = obs.request_fields(&h2);
        assert_eq!(f.line, "GET https://[::1]:8443/ HTTP/2.0");
        assert_eq!(f.kind, RequestType::H2);
    }

    #[test]
    fn abandoned_request_counts_as_460() {
        let metrics = Arc::new(LoadBalancerMetrics::new("lb", []));
        let obs = Arc::new(ListenerObserver::new(
            metrics.clone(),
            None,
            ListenerProtocol::Http,
            80,
        ));
        let conn = Arc::new(ConnectionInfo::plain("127.0.0.1:5000".parse().unwrap()));
        let req = Request::get("/").body(()).unwrap();
        drop(obs.begin(&req, &conn));
        let text = super::super::metrics::render(&[metrics]);
        let line = text
            .lines()
            .find(|l| l.starts_with("HTTPCode_ELB_4XX_Count{"))
            .unwrap();
        assert!(line.ends_with(" 1"), "{line}");
    }
}
