//! Failover that clients don't see: what a failed attempt means, which status ALB would send
//! for it, and whether tierlab may try another target. Pure decisions; [`super::proxy`] acts.
//!
//! A second attempt is safe only when the first cannot have been processed by the application:
//!
//! - the connection to the target could not be made (nothing was sent): any method;
//! - the connection was reset or closed before any response: only for GET, HEAD, OPTIONS and
//!   TRACE (RFC 9110's safe methods; PUT and DELETE are idempotent too, but an application may
//!   not treat them so, and tierlab stays conservative).
//!
//! Either way the body must still be whole: requests without a body, or whose body the first
//! attempt never started to read (see [`super::body`]). Bodies are never buffered for replay.
//! At most one retry, and never to the same target.
//!
//! Whose fault it is comes first ([`blame`]): a client whose body is malformed (400), who left
//! mid-upload (460) or who stopped sending it (408) caused the failure, whatever the target
//! connection reported. Such client faults ([`Failure::is_client_fault`]) are never retried and
//! never count against the target: not toward its consecutive 5xx, not for ejection, not in the
//! target's metrics. Only [`Failure::is_target_fault`] failures do.

use std::error::Error as StdError;
use std::io;

use http::{Method, StatusCode};

use super::body::ClientBody;
use super::headers::{BadRequest, HostProblem};
use super::pool::UpstreamError;
use crate::config::ProxyMode;

/// ALB's status for a request whose client closed the connection before it was answered.
pub const CLIENT_CLOSED: u16 = 460;

/// Why a request got no answer from a target (or was refused before one was picked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No target may get traffic (none registered, or all still `initial`).
    NoTarget,
    /// The request head breaks ALB's size limits.
    HeadTooLarge,
    /// Connecting took longer than the load balancer's connect timeout.
    ConnectTimeout,
    /// Connecting failed (refused, unreachable).
    ConnectFailed(String),
    /// The connection was reset or closed before a response arrived.
    ClosedBeforeResponse(String),
    /// The target answered something that is not HTTP.
    BadResponse(String),
    /// No response head within the idle timeout.
    ResponseTimeout,
    /// `Host` is missing (HTTP/1.1), repeated or invalid (RFC 9112 §3.2): the client's fault.
    BadHost(HostProblem),
    /// The client's body is malformed (e.g. an invalid chunk size): the client's fault.
    MalformedBody,
    /// The client closed or reset its connection before its body's end: the client's fault,
    /// recorded as ALB's 460.
    ClientClosed,
    /// The client sent none of its body for the idle timeout: the client's fault (408).
    ClientTimeout,
    /// tierlab itself could not open a connection (out of descriptors, buffers or local ports,
    /// see [`super::local_error`]): nobody's fault but the load balancer's, answered 503 as
    /// an overloaded ALB does, never held against the target.
    LocalShortage(String),
}

impl From<BadRequest> for Failure {
    fn from(bad: BadRequest) -> Failure {
        match bad {
            BadRequest::TooLarge(_) => Failure::HeadTooLarge,
            BadRequest::Host(problem) => Failure::BadHost(problem),
        }
    }
}

impl Failure {
    /// The status ALB answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Failure::NoTarget | Failure::LocalShortage(_) => StatusCode::SERVICE_UNAVAILABLE,
            Failure::HeadTooLarge | Failure::BadHost(_) | Failure::MalformedBody => {
                StatusCode::BAD_REQUEST
            }
            Failure::ClientTimeout => StatusCode::REQUEST_TIMEOUT,
            Failure::ClientClosed => {
                StatusCode::from_u16(CLIENT_CLOSED).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Failure::ConnectTimeout | Failure::ResponseTimeout => StatusCode::GATEWAY_TIMEOUT,
            Failure::ConnectFailed(_)
            | Failure::ClosedBeforeResponse(_)
            | Failure::BadResponse(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// A short, stable name for logs and metrics (`error_reason`-style).
    pub fn as_str(&self) -> &'static str {
        match self {
            Failure::NoTarget => "NoTarget",
            Failure::HeadTooLarge => "HeaderTooLarge",
            Failure::ConnectTimeout => "TargetConnectTimeout",
            Failure::ConnectFailed(_) => "TargetConnectionError",
            Failure::ClosedBeforeResponse(_) => "TargetClosedConnection",
            Failure::BadResponse(_) => "TargetResponseError",
            Failure::ResponseTimeout => "TargetTimeout",
            Failure::BadHost(HostProblem::Missing) => "MissingHostHeader",
            Failure::BadHost(HostProblem::Duplicate) => "DuplicateHostHeader",
            Failure::BadHost(HostProblem::Invalid) => "InvalidHostHeader",
            Failure::MalformedBody => "ClientMalformedBody",
            Failure::ClientClosed => "ClientClosedConnection",
            Failure::ClientTimeout => "ClientTimeout",
            Failure::LocalShortage(_) => "ElbLocalResourceShortage",
        }
    }

    /// Whether the client caused this (a bad request, a broken or abandoned upload): answered
    /// 4XX, never retried, never held against a target.
    pub fn is_client_fault(&self) -> bool {
        match self {
            Failure::HeadTooLarge
            | Failure::BadHost(_)
            | Failure::MalformedBody
            | Failure::ClientClosed
            | Failure::ClientTimeout => true,
            Failure::NoTarget
            | Failure::LocalShortage(_)
            | Failure::ConnectTimeout
            | Failure::ConnectFailed(_)
            | Failure::ClosedBeforeResponse(_)
            | Failure::BadResponse(_)
            | Failure::ResponseTimeout => false,
        }
    }

    /// Whether the target's own behaviour caused this (refused or dropped connections, garbage,
    /// no answer in time): what passive outlier detection counts.
    pub fn is_target_fault(&self) -> bool {
        match self {
            Failure::ConnectTimeout
            | Failure::ConnectFailed(_)
            | Failure::ClosedBeforeResponse(_)
            | Failure::BadResponse(_)
            | Failure::ResponseTimeout => true,
            Failure::NoTarget
            | Failure::LocalShortage(_)
            | Failure::HeadTooLarge
            | Failure::BadHost(_)
            | Failure::MalformedBody
            | Failure::ClientClosed
            | Failure::ClientTimeout => false,
        }
    }

    /// Whether nothing of the request reached the target.
    pub fn nothing_sent(&self) -> bool {
        matches!(self, Failure::ConnectTimeout | Failure::ConnectFailed(_))
    }

    /// What an ejection says about this failure (`ejected: <this>`), when it is one that
    /// ejects: the target could not be reached or dropped the connection.
    pub fn ejection(&self) -> Option<String> {
        if !self.is_target_fault() {
            return None;
        }
        match self {
            Failure::ConnectTimeout => Some("connection timed out".to_string()),
            Failure::ConnectFailed(why) => Some(why.clone()),
            Failure::ClosedBeforeResponse(why) => Some(why.clone()),
            _ => None,
        }
    }
}

/// Whether `method` may be sent again after the connection broke before a response.
pub fn is_retry_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether a failed first attempt may be retried on another target.
pub fn may_retry(mode: ProxyMode, method: &Method, failure: &Failure, body_whole: bool) -> bool {
    if mode == ProxyMode::Aws || !body_whole || failure.is_client_fault() {
        return false;
    }
    match failure {
        f if f.nothing_sent() => true,
        Failure::ClosedBeforeResponse(_) => is_retry_safe(method),
        _ => false,
    }
}

/// Whose fault a failed attempt is, given how the client's body went: a malformed body is a
/// 400, a client that left mid-body a 460, whatever the target connection reported (the pool
/// reports the client body's failure as the request's, or the connection as closed). No
/// answer within the idle timeout while waiting on the client's body is the client's 408; so
/// is a target closing the connection on a client that stalled its body (a server's own
/// body-read timeout, shorter than the load balancer's, must not make stalling clients eject
/// it). Everything else stays the target's.
pub fn blame(failure: Failure, body: ClientBody) -> Failure {
    match (body, &failure) {
        // Nothing was sent: the body was never read, whatever happened to the client since.
        (_, f) if f.nothing_sent() => failure,
        (ClientBody::Malformed, _) => Failure::MalformedBody,
        (ClientBody::Gone, _) => Failure::ClientClosed,
        (ClientBody::Awaited | ClientBody::Stalled, Failure::ResponseTimeout) => {
            Failure::ClientTimeout
        }
        (ClientBody::Stalled, Failure::ClosedBeforeResponse(_)) => Failure::ClientTimeout,
        _ => failure,
    }
}

/// Whether `failure` is a target closing the connection on a client that had stalled its body:
/// [`blame`] makes it the client's 408, and the proxy still checks the target is alive.
pub fn closed_on_stalled_client(failure: &Failure, body: ClientBody) -> bool {
    matches!(
        (body, failure),
        (ClientBody::Stalled, Failure::ClosedBeforeResponse(_))
    )
}

/// Sorts a failed [`UpstreamPool::send`](super::pool::UpstreamPool::send) into a [`Failure`].
///
/// The pool already tells unsent requests from sent ones; this keeps its verdict and only finds
/// the words for it: a connect failure (nothing sent, any method may retry, the target is
/// ejected), a connect timeout (504), a connection lost before the response (idempotent
/// methods only), garbage (502).
pub fn classify(err: &UpstreamError) -> Failure {
    match err {
        UpstreamError::ConnectTimeout(_) => Failure::ConnectTimeout,
        UpstreamError::Budget(_) => Failure::LocalShortage(err.to_string()),
        UpstreamError::Connect(io) if io.kind() == io::ErrorKind::TimedOut => {
            Failure::ConnectTimeout
        }
        UpstreamError::Connect(io) if super::local_error::is_local_shortage(io) => {
            Failure::LocalShortage(io_reason(io))
        }
        UpstreamError::Connect(io) => Failure::ConnectFailed(io_reason(io)),
        UpstreamError::BeforeResponse(io) if closed_kind(io.kind()) => {
            Failure::ClosedBeforeResponse(io_reason(io))
        }
        UpstreamError::BeforeResponse(_) => {
            Failure::ClosedBeforeResponse("connection closed before any response".to_string())
        }
        UpstreamError::InvalidResponse(why) => Failure::BadResponse(why.clone()),
        // Our side. A client body that failed is told apart by `blame`, from the body's own
        // record (the error hyper's server gave it may not say so); anything else is sorted by
        // its cause.
        UpstreamError::Request(e) => classify_sent(&**e),
    }
}

/// [`classify`] for errors after the connection was made.
fn classify_sent(err: &(dyn StdError + 'static)) -> Failure {
    let hyper_err = sources(err).find_map(|e| e.downcast_ref::<hyper::Error>());
    if let Some(h) = hyper_err
        && (h.is_parse() || h.is_parse_status() || h.is_parse_too_large())
    {
        return Failure::BadResponse(chain(err));
    }
    if let Some(io) = find_io(err)
        && closed_kind(io.kind())
    {
        return Failure::ClosedBeforeResponse(io_reason(io));
    }
    match hyper_err {
        Some(h) if h.is_incomplete_message() || h.is_canceled() || h.is_closed() => {
            Failure::ClosedBeforeResponse("connection closed before any response".to_string())
        }
        _ => Failure::BadResponse(chain(err)),
    }
}

/// io error kinds that mean the peer went away.
fn closed_kind(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
    )
}

/// `connection refused`, `connection reset`: the kind in plain words, without `(os error N)`.
fn io_reason(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::ConnectionReset => "connection reset".to_string(),
        io::ErrorKind::ConnectionAborted => "connection aborted".to_string(),
        io::ErrorKind::BrokenPipe => "connection closed (broken pipe)".to_string(),
        io::ErrorKind::TimedOut => "connection timed out".to_string(),
        _ => err.to_string(),
    }
}

fn sources<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |e: &&'a (dyn StdError + 'static)| (*e).source())
}

fn find_io<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a io::Error> {
    sources(err).find_map(|e| e.downcast_ref::<io::Error>())
}

/// `client error (Connect): tcp connect error: Connection refused (os error 111)`: the pool's
/// own message says little without its sources.
fn chain(e: &(dyn StdError + 'static)) -> String {
    crate::error::chain(e).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tierlabs_own_shortage_is_never_the_targets() {
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        let failure = classify(&UpstreamError::Connect(emfile));
        assert!(matches!(failure, Failure::LocalShortage(_)), "{failure:?}");
        assert_eq!(failure.status(), 503);
        assert!(!failure.is_target_fault() && !failure.is_client_fault());
        assert_eq!(failure.ejection(), None);
        assert!(!may_retry(ProxyMode::Tierlab, &Method::GET, &failure, true));
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert!(classify(&UpstreamError::Connect(refused)).is_target_fault());
        let budget = classify(&UpstreamError::Budget(96));
        assert!(matches!(budget, Failure::LocalShortage(_)), "{budget:?}");
        assert!(!may_retry(ProxyMode::Tierlab, &Method::GET, &budget, true));
    }
    use crate::alb::headers::HeadTooLarge;

    fn refused() -> Failure {
        Failure::ConnectFailed("connection refused".into())
    }

    fn reset() -> Failure {
        Failure::ClosedBeforeResponse("connection reset".into())
    }

    #[test]
    fn statuses_are_albs() {
        assert_eq!(Failure::NoTarget.status(), 503);
        assert_eq!(Failure::ConnectTimeout.status(), 504);
        assert_eq!(Failure::ResponseTimeout.status(), 504);
        assert_eq!(refused().status(), 502);
        assert_eq!(reset().status(), 502);
        assert_eq!(Failure::BadResponse("x".into()).status(), 502);
        assert_eq!(Failure::HeadTooLarge.status(), 400);
    }

    #[test]
    fn connect_failures_retry_any_method_with_a_whole_body() {
        for m in [Method::GET, Method::POST, Method::PATCH, Method::DELETE] {
            assert!(may_retry(ProxyMode::Tierlab, &m, &refused(), true), "{m}");
            assert!(may_retry(
                ProxyMode::Tierlab,
                &m,
                &Failure::ConnectTimeout,
                true
            ));
            assert!(
                !may_retry(ProxyMode::Tierlab, &m, &refused(), false),
                "body gone"
            );
        }
    }

    #[test]
    fn resets_retry_only_safe_methods() {
        for m in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
            assert!(may_retry(ProxyMode::Tierlab, &m, &reset(), true), "{m}");
        }
        for m in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            assert!(!may_retry(ProxyMode::Tierlab, &m, &reset(), true), "{m}");
        }
    }

    #[test]
    fn answers_and_timeouts_are_never_retried() {
        let get = Method::GET;
        for f in [
            Failure::BadResponse("garbage".into()),
            Failure::ResponseTimeout,
            Failure::NoTarget,
        ] {
            assert!(!may_retry(ProxyMode::Tierlab, &get, &f, true), "{f:?}");
        }
    }

    #[test]
    fn aws_mode_never_retries() {
        assert!(!may_retry(ProxyMode::Aws, &Method::GET, &refused(), true));
        assert!(!may_retry(ProxyMode::Aws, &Method::GET, &reset(), true));
    }

    #[test]
    fn only_unreachable_or_dropping_targets_are_ejected() {
        assert_eq!(refused().ejection().as_deref(), Some("connection refused"));
        assert_eq!(
            Failure::ConnectTimeout.ejection().as_deref(),
            Some("connection timed out")
        );
        assert_eq!(reset().ejection().as_deref(), Some("connection reset"));
        assert_eq!(Failure::ResponseTimeout.ejection(), None);
        assert_eq!(Failure::BadResponse("x".into()).ejection(), None);
    }

    fn client_faults() -> [Failure; 5] {
        [
            Failure::MalformedBody,
            Failure::ClientClosed,
            Failure::ClientTimeout,
            Failure::HeadTooLarge,
            Failure::BadHost(HostProblem::Missing),
        ]
    }

    #[test]
    fn client_faults_are_4xx_as_alb_answers_them() {
        assert_eq!(Failure::MalformedBody.status(), 400);
        assert_eq!(Failure::ClientTimeout.status(), 408);
        assert_eq!(Failure::ClientClosed.status(), 460);
        for p in [
            HostProblem::Missing,
            HostProblem::Duplicate,
            HostProblem::Invalid,
        ] {
            assert_eq!(Failure::BadHost(p).status(), 400);
        }
        for f in client_faults() {
            assert!(f.status().is_client_error(), "{f:?}");
        }
    }

    #[test]
    fn client_faults_never_eject_retry_or_count_against_a_target() {
        for f in client_faults() {
            assert!(f.is_client_fault() && !f.is_target_fault(), "{f:?}");
            assert_eq!(f.ejection(), None, "{f:?}");
            assert!(!f.nothing_sent(), "{f:?}");
            for mode in [ProxyMode::Tierlab, ProxyMode::Aws] {
                assert!(!may_retry(mode, &Method::GET, &f, true), "{f:?}");
            }
        }
        for f in [
            refused(),
            reset(),
            Failure::ConnectTimeout,
            Failure::BadResponse("x".into()),
            Failure::ResponseTimeout,
        ] {
            assert!(f.is_target_fault() && !f.is_client_fault(), "{f:?}");
        }
        let none = Failure::NoTarget;
        assert!(!none.is_target_fault() && !none.is_client_fault());
    }

    #[test]
    fn a_failed_client_body_is_the_clients_fault_whatever_the_connection_said() {
        // The pool may report our body's failure as a user error, as a closed connection (the
        // race where the connection task stopped first), or as garbage.
        for reported in [
            reset(),
            Failure::ClosedBeforeResponse("connection closed before any response".into()),
            Failure::BadResponse("x".into()),
            Failure::ResponseTimeout,
        ] {
            assert_eq!(
                blame(reported.clone(), ClientBody::Malformed),
                Failure::MalformedBody
            );
            assert_eq!(blame(reported, ClientBody::Gone), Failure::ClientClosed);
        }
    }

    #[test]
    fn a_timeout_waiting_on_the_clients_body_is_the_clients() {
        let timeout = Failure::ResponseTimeout;
        for body in [ClientBody::Awaited, ClientBody::Stalled] {
            assert_eq!(blame(timeout.clone(), body), Failure::ClientTimeout);
        }
        // The target not taking the body, or not answering a whole one: the target's.
        for body in [ClientBody::Flowing, ClientBody::Whole] {
            assert_eq!(blame(timeout.clone(), body), timeout);
        }
    }

    #[test]
    fn a_target_giving_up_on_a_stalled_client_is_not_at_fault() {
        assert_eq!(blame(reset(), ClientBody::Stalled), Failure::ClientTimeout);
        assert!(closed_on_stalled_client(&reset(), ClientBody::Stalled));
        assert!(!closed_on_stalled_client(&reset(), ClientBody::Flowing));
        assert!(!closed_on_stalled_client(
            &Failure::ResponseTimeout,
            ClientBody::Stalled
        ));
        // A moment's wait on an active client: a reset then is the target's.
        assert_eq!(blame(reset(), ClientBody::Awaited), reset());
        // Garbage is the target's whatever the client did.
        let garbage = Failure::BadResponse("x".into());
        assert_eq!(blame(garbage.clone(), ClientBody::Stalled), garbage);
    }

    #[test]
    fn target_faults_stay_the_targets_while_the_body_is_fine() {
        for body in [ClientBody::Whole, ClientBody::Flowing, ClientBody::Awaited] {
            for f in [reset(), Failure::BadResponse("x".into())] {
                assert_eq!(blame(f.clone(), body), f, "{body:?}");
            }
        }
        // Nothing sent: the client's body was never read, so it cannot be to blame.
        for body in [ClientBody::Gone, ClientBody::Malformed] {
            assert_eq!(blame(refused(), body), refused());
            assert_eq!(
                blame(Failure::ConnectTimeout, body),
                Failure::ConnectTimeout
            );
        }
    }

    #[test]
    fn refused_requests_become_their_failures() {
        let host = BadRequest::Host(HostProblem::Duplicate);
        assert_eq!(
            Failure::from(host),
            Failure::BadHost(HostProblem::Duplicate)
        );
        let big = BadRequest::TooLarge(HeadTooLarge::Headers);
        assert_eq!(Failure::from(big), Failure::HeadTooLarge);
        assert_eq!(Failure::from(host).as_str(), "DuplicateHostHeader");
    }

    #[test]
    fn io_errors_after_connect_are_sorted() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(
            classify_sent(&reset),
            Failure::ClosedBeforeResponse("connection reset".into())
        );
        let other = io::Error::other("weird");
        assert!(matches!(classify_sent(&other), Failure::BadResponse(_)));
    }
}
