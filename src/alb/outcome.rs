//! What happened to one request: the record access logs and metrics are made from.
//!
//! The proxy fills a [`RequestOutcome`] as the exchange goes and hands it to the load
//! balancer's [`OutcomeSink`] (if any) once, when the response has ended: after the last body
//! byte, when an error page is sent, or when the client went away first (status 460, which is
//! logged and never sent, as on AWS).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderValue, Method, Uri, Version};

use super::failover::Failure;
use super::proxy::RequestContext;
use super::target_group::{Target, TargetGroupHandle};

/// The status recorded when the client closed its connection before the response: ALB's 460.
pub const CLIENT_CLOSED: u16 = 460;

/// One request as the load balancer saw it.
#[derive(Debug, Clone)]
pub struct RequestOutcome {
    /// Wall-clock time the request arrived (access log timestamp).
    pub received_at: SystemTime,
    /// Monotonic time it arrived (durations are measured from it).
    pub started: Instant,
    /// The client's address.
    pub client: SocketAddr,
    /// The listener's address, protocol and so on.
    pub listener: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The request method.
    pub method: Method,
    /// The request URI as the client sent it.
    pub uri: Uri,
    /// The client's HTTP version.
    pub version: Version,
    /// `User-Agent`, if sent.
    pub user_agent: Option<HeaderValue>,
    /// `X-Amzn-Trace-Id` as forwarded to the target.
    pub trace_id: Option<HeaderValue>,
    /// The group the request was forwarded to.
    pub target_group: Option<TargetGroupHandle>,
    /// The target that answered (or failed last).
    pub target: Option<Arc<Target>>,
    /// Attempts made (2 when tierlab retried on another target).
    pub attempts: u8,
    /// The status the client got ([`CLIENT_CLOSED`] when it left first).
    pub elb_status: u16,
    /// The target's status, when it answered.
    pub target_status: Option<u16>,
    /// Why the load balancer answered itself (or why the first attempt failed, when retried).
    pub failure: Option<Failure>,
    /// From arrival until the request was sent to the (last) target.
    pub request_time: Option<Duration>,
    /// From sending to the target until its response head arrived.
    pub target_time: Option<Duration>,
    /// From arrival until the response ended (or the client left).
    pub total_time: Duration,
    /// Response body bytes sent to the client.
    pub sent_bytes: u64,
    /// The client closed the connection before the whole response was sent.
    pub client_closed: bool,
}

/// Receives every [`RequestOutcome`] of a load balancer (access logs, metrics). Called on the
/// request path: implementations must be quick and must not block (send to a channel).
pub trait OutcomeSink: Send + Sync + 'static {
    /// One finished request.
    fn record(&self, outcome: RequestOutcome);
}

/// Fills one outcome and delivers it exactly once, even when the exchange is dropped midway.
pub(crate) struct Recorder {
    outcome: Option<RequestOutcome>,
    sink: Option<Arc<dyn OutcomeSink>>,
    responded: bool,
}

impl Recorder {
    pub(crate) fn new<B>(
        req: &http::Request<B>,
        ctx: &RequestContext,
        sink: Option<Arc<dyn OutcomeSink>>,
    ) -> Recorder {
        let outcome = RequestOutcome {
            received_at: SystemTime::now(),
            started: Instant::now(),
            client: ctx.client,
            listener: ctx.listener,
            scheme: ctx.protocol.scheme(),
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            user_agent: req.headers().get(http::header::USER_AGENT).cloned(),
            trace_id: None,
            target_group: None,
            target: None,
            attempts: 0,
            elb_status: 0,
            target_status: None,
            failure: None,
            request_time: None,
            target_time: None,
            total_time: Duration::ZERO,
            sent_bytes: 0,
            client_closed: false,
        };
        Recorder {
            outcome: Some(outcome),
            sink,
            responded: false,
        }
    }

    /// The outcome being filled.
    pub(crate) fn outcome(&mut self) -> &mut RequestOutcome {
        self.outcome.as_mut().expect("outcome taken only on finish")
    }

    /// The response head is on its way to the client with `status`.
    pub(crate) fn responded(&mut self, status: u16) {
        self.responded = true;
        self.outcome().elb_status = status;
    }

    /// Counts response body bytes sent.
    pub(crate) fn sent(&mut self, bytes: usize) {
        if let Some(o) = self.outcome.as_mut() {
            o.sent_bytes += bytes as u64;
        }
    }

    /// The response ended: deliver.
    pub(crate) fn finish(&mut self) {
        self.deliver(false);
    }

    fn deliver(&mut self, dropped: bool) {
        let Some(mut o) = self.outcome.take() else {
            return;
        };
        o.total_time = o.started.elapsed();
        if dropped {
            o.client_closed = true;
            if !self.responded {
                o.elb_status = CLIENT_CLOSED;
                tracing::debug!(client = %o.client, uri = %o.uri, "460: the client closed the connection before the response");
            }
        }
        if let Some(sink) = &self.sink {
            sink.record(o);
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.deliver(true);
    }
}
