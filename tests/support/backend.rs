//! Fake backends (targets) on 127.0.0.1:0 for load balancer tests.
//!
//! ```ignore
//! let a = support::backend().name("a").run().await;
//! // GET /anything -> 200 "a", with the X-Forwarded-* and Host it received echoed as headers.
//! ```
//!
//! Modes: normal (above); `.hang_path(p)` never answers requests to `p`; `.slow_path(p, d)`
//! answers `p` after `d`; `.trickle_path(p, d)` sends the head and `first` at once, `second` after
//! `d`; `.never_answers()` never
//! answers anything (health checks included); `.resets()` resets every connection after reading
//! the request; `.garbage()` answers bytes that are not HTTP; `.resets_requests()` answers
//! health checks but resets every other request (counting it as a hit); `.websocket_path(p)`
//! accepts WebSocket upgrades on `p` and echoes every text frame. The health path
//! ([`HEALTH_PATH`]) answers [`BackendHandle::set_health_status`]'s status (200 at first).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The path fake backends answer health checks on.
pub const HEALTH_PATH: &str = "/health";

/// Starts building a fake backend.
pub fn backend() -> BackendBuilder {
    BackendBuilder {
        name: "backend".into(),
        mode: Mode::Normal,
        hang_path: None,
        slow: None,
        trickle: None,
        websocket_path: None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    NeverAnswers,
    Resets,
    Garbage,
    ResetsRequests,
}

pub struct BackendBuilder {
    name: String,
    mode: Mode,
    hang_path: Option<String>,
    slow: Option<(String, Duration)>,
    trickle: Option<(String, Duration)>,
    websocket_path: Option<String>,
}

impl BackendBuilder {
    /// Health checks pass; every other request is read, counted as a hit, then reset (RST).
    pub fn resets_requests(mut self) -> Self {
        self.mode = Mode::ResetsRequests;
        self
    }

    /// WebSocket upgrades on `path` are accepted; each text frame is echoed back.
    pub fn websocket_path(mut self, path: &str) -> Self {
        self.websocket_path = Some(path.to_string());
        self
    }

    /// The name the backend answers with (body of `GET`, header `x-backend`).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Requests to `path` are read but never answered.
    pub fn hang_path(mut self, path: &str) -> Self {
        self.hang_path = Some(path.to_string());
        self
    }

    /// Requests to `path` are answered after `delay`.
    pub fn slow_path(mut self, path: &str, delay: Duration) -> Self {
        self.slow = Some((path.to_string(), delay));
        self
    }

    /// Requests to `path` get a streamed body: `first` at once, `second` after `delay`.
    pub fn trickle_path(mut self, path: &str, delay: Duration) -> Self {
        self.trickle = Some((path.to_string(), delay));
        self
    }

    /// No request is ever answered (the connection stays open).
    pub fn never_answers(mut self) -> Self {
        self.mode = Mode::NeverAnswers;
        self
    }

    /// Every connection is reset (RST) once the request has been read.
    pub fn resets(mut self) -> Self {
        self.mode = Mode::Resets;
        self
    }

    /// Every connection gets a non-HTTP answer, then is closed.
    pub fn garbage(mut self) -> Self {
        self.mode = Mode::Garbage;
        self
    }

    pub async fn run(self) -> BackendHandle {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            name: self.name,
            hang_path: self.hang_path,
            slow: self.slow,
            trickle: self.trickle,
            websocket_path: self.websocket_path,
            hits: AtomicUsize::new(0),
            health_checks: AtomicUsize::new(0),
            health_status: AtomicU16::new(200),
        });
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        tracker.spawn(accept(
            listener,
            self.mode,
            state.clone(),
            tracker.clone(),
            cancel.clone(),
        ));
        BackendHandle {
            addr,
            state,
            cancel,
            tracker,
        }
    }
}

struct State {
    name: String,
    hang_path: Option<String>,
    slow: Option<(String, Duration)>,
    trickle: Option<(String, Duration)>,
    websocket_path: Option<String>,
    hits: AtomicUsize,
    health_checks: AtomicUsize,
    health_status: AtomicU16,
}

/// A running fake backend. Dropping it stops it too (less gracefully than `shutdown`).
pub struct BackendHandle {
    pub addr: SocketAddr,
    state: Arc<State>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl BackendHandle {
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// Requests received other than health checks.
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// Health checks received.
    pub fn health_checks(&self) -> usize {
        self.state.health_checks.load(Ordering::SeqCst)
    }

    /// Status the health path answers from now on.
    pub fn set_health_status(&self, status: u16) {
        self.state.health_status.store(status, Ordering::SeqCst);
    }

    /// Stops accepting and closes every connection; returns once the port is closed.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

impl Drop for BackendHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn accept(
    listener: TcpListener,
    mode: Mode,
    state: Arc<State>,
    tracker: TaskTracker,
    cancel: CancellationToken,
) {
    loop {
        let (stream, _) = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
        };
        let state = state.clone();
        let cancel = cancel.clone();
        tracker.spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = connection(stream, mode, state) => {}
            }
        });
    }
}

async fn connection(mut stream: TcpStream, mode: Mode, state: Arc<State>) {
    match mode {
        Mode::Normal | Mode::NeverAnswers => {
            let service = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(respond(req, mode, &state).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let _ = conn.await;
        }
        Mode::ResetsRequests => {
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if buf[..n].starts_with(format!("GET {HEALTH_PATH} ").as_bytes()) {
                state.health_checks.fetch_add(1, Ordering::SeqCst);
                let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                let _ = stream.write_all(ok).await;
                let _ = stream.shutdown().await;
                return;
            }
            if n > 0 {
                state.hits.fetch_add(1, Ordering::SeqCst);
            }
            let _ = stream.set_zero_linger();
            drop(stream);
        }
        Mode::Resets => {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let _ = stream.set_zero_linger();
            drop(stream);
        }
        Mode::Garbage => {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(b"this is not HTTP at all\r\n\r\n").await;
            let _ = stream.shutdown().await;
        }
    }
}

type Body = BoxBody<Bytes, Infallible>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

async fn respond(mut req: Request<Incoming>, mode: Mode, state: &State) -> Response<Body> {
    if state.websocket_path.as_deref() == Some(req.uri().path()) {
        return websocket_upgrade(&mut req, state);
    }
    let is_health = req.uri().path() == HEALTH_PATH;
    if is_health {
        state.health_checks.fetch_add(1, Ordering::SeqCst);
    } else {
        state.hits.fetch_add(1, Ordering::SeqCst);
    }
    let hangs = state.hang_path.as_deref() == Some(req.uri().path());
    if mode == Mode::NeverAnswers || hangs {
        std::future::pending::<()>().await;
    }
    if let Some((_, delay)) = state.slow.as_ref().filter(|(p, _)| p == req.uri().path()) {
        tokio::time::sleep(*delay).await;
    }
    if is_health {
        let status = StatusCode::from_u16(state.health_status.load(Ordering::SeqCst)).unwrap();
        let mut response = Response::new(full("health"));
        *response.status_mut() = status;
        return response;
    }
    if let Some((_, delay)) = state
        .trickle
        .as_ref()
        .filter(|(p, _)| p == req.uri().path())
    {
        let delay = *delay;
        let first = stream::once(async { Ok(Frame::data(Bytes::from_static(b"first"))) });
        let second = stream::once(async move {
            tokio::time::sleep(delay).await;
            Ok(Frame::data(Bytes::from_static(b"second")))
        });
        return Response::new(BodyExt::boxed(StreamBody::new(first.chain(second))));
    }
    let echoed = echo_headers(&req);
    // Count the body as it streams in: what arrived proves the upload went through.
    let mut body = req.into_body();
    let mut received = 0usize;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => received += frame.data_ref().map_or(0, Bytes::len),
            Err(_) => break,
        }
    }
    let text = if received > 0 {
        format!("{}:{received}", state.name)
    } else {
        state.name.clone()
    };
    let mut response = Response::new(full(text));
    let headers = response.headers_mut();
    headers.insert("x-backend", state.name.parse().unwrap());
    for (name, value) in echoed {
        headers.insert(name, value);
    }
    response
}

/// `101 Switching Protocols` with the accept key, then a task echoing text frames.
fn websocket_upgrade(req: &mut Request<Incoming>, state: &State) -> Response<Body> {
    state.hits.fetch_add(1, Ordering::SeqCst);
    let key = req
        .headers()
        .get("sec-websocket-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut io = TokioIo::new(upgraded);
        while let Ok((opcode, payload)) = super::websocket::read_frame(&mut io).await {
            if opcode == super::websocket::CLOSE {
                let _ = super::websocket::write_frame(&mut io, opcode, &payload, None).await;
                break;
            }
            if super::websocket::write_frame(&mut io, opcode, &payload, None)
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert("upgrade", "websocket".parse().unwrap());
    h.insert("connection", "Upgrade".parse().unwrap());
    let accept = super::websocket::accept_key(&key);
    h.insert("sec-websocket-accept", accept.parse().unwrap());
    response
}

/// `echo-<header>` for each header the load balancer is expected to set.
fn echo_headers(req: &Request<Incoming>) -> Vec<(http::HeaderName, http::HeaderValue)> {
    [
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-port",
        "host",
        "connection",
        "cookie",
        "x-amzn-trace-id",
    ]
    .iter()
    .filter_map(|name| {
        let value = req.headers().get(*name)?.clone();
        Some((format!("echo-{name}").parse().unwrap(), value))
    })
    .chain(std::iter::once((
        "echo-version".parse().unwrap(),
        format!("{:?}", req.version()).parse().unwrap(),
    )))
    .collect()
}
