//! Pooled keep-alive HTTP/1.1 connections to targets, with tierlab's own HTTP/1.1 client.
//!
//! - A connection has no task of its own: the request's task writes the request and reads the
//!   answer ([`exchange`]), then the response body reads the rest ([`PooledBody`]). hyper's
//!   client would hand each request to a connection task over a channel and the answer back
//!   over another, two wake-ups per request; this is the largest cost it saves.
//! - Each target (`SocketAddr`) has an [`Endpoint`]: a bounded lock-free queue of idle
//!   connections. The map of endpoints sits behind an `ArcSwap`, so a request takes no lock:
//!   one map read, one queue pop, one queue push.
//! - One such map per data-plane thread (a shard, [`PoolSettings::shards`]): a request takes
//!   and gives back connections of its own thread's shard, so their sockets stay registered
//!   with that thread's reactor.
//! - A connection goes back to its endpoint from the response body, the moment the last byte
//!   has been read, if the request was written whole and nothing unread is left; a body
//!   dropped early closes its connection.
//! - Idle connections expire after [`PoolSettings::idle_timeout`]: checked when one is taken,
//!   and by a background sweep that closes those nobody takes. One the target closed (or sent
//!   anything to) while idle is seen from its socket's readiness and never used.
//! - A pooled connection that fails before a byte of the request was written is skipped and
//!   the request goes to the next one or a fresh connection: callers only see failures of
//!   requests that were, or may have been, sent.

mod body;
mod conn;
mod endpoint;
mod error;
mod exchange;
mod upload;
mod wire;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::HOST;
use http::{HeaderValue, Request, Response, Uri};
use hyper::body::Body;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use body::{BodyError, PooledBody};
use conn::Conn;
pub use conn::UpgradedTarget;
pub use endpoint::Endpoint;
pub use error::UpstreamError;
use exchange::{Exchange, SendFailure};
pub use upload::BoxError;
use upload::Upload;
use wire::RequestFraming;

use super::limits::ConnectionLimit;

/// Idle connections kept per target by default: as many as the benchmark's 64 concurrent
/// clients can use on one target.
pub const DEFAULT_MAX_IDLE_PER_TARGET: usize = 64;
/// How long an idle connection is kept by default: ALB's default idle timeout, which it also
/// applies to its connections with targets.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Bounds of an [`UpstreamPool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Idle connections kept per target; more are closed when they come back
    /// (default [`DEFAULT_MAX_IDLE_PER_TARGET`]).
    pub max_idle_per_target: usize,
    /// An idle connection older than this is closed (default [`DEFAULT_IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
    /// Separate sets of idle connections, one per data-plane thread (default 1); a caller off
    /// those threads uses the first.
    pub shards: usize,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_idle_per_target: DEFAULT_MAX_IDLE_PER_TARGET,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            shards: 1,
        }
    }
}

/// Keep-alive HTTP/1.1 connections to any number of targets; cheap to clone (shared).
/// `B` is the request body type (the proxy's: `hyper::body::Incoming`).
pub struct UpstreamPool<B> {
    inner: Arc<Inner<B>>,
}

type Endpoints = HashMap<SocketAddr, Arc<Endpoint>>;

struct Inner<B> {
    settings: PoolSettings,
    /// Per shard, each target's idle connections.
    shards: Box<[ArcSwap<Endpoints>]>,
    /// Open connections to targets (busy or idle) may not exceed this, when set: each holds a
    /// descriptor, and HTTP/2 clients can ask for many at once over one connection of theirs.
    budget: Option<Arc<ConnectionLimit>>,
    /// The load balancer's task tree, when the pool belongs to one: the sweep runs on it and
    /// ends on its cancel.
    tasks: Option<(TaskTracker, CancellationToken)>,
    _body: std::marker::PhantomData<fn(B)>,
}

impl<B> Clone for UpstreamPool<B> {
    fn clone(&self) -> Self {
        UpstreamPool {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<B> std::fmt::Debug for UpstreamPool<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamPool")
            .field("settings", &self.inner.settings)
            .field("shards", &self.inner.shards.len())
            .finish()
    }
}

impl<B> UpstreamPool<B>
where
    B: Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<BoxError>,
{
    /// An empty pool. Inside a tokio runtime it also starts the sweep that closes expired idle
    /// connections (it ends when the last clone of the pool is dropped); outside one, expiry is
    /// only checked when a connection is taken.
    pub fn new(settings: PoolSettings) -> UpstreamPool<B> {
        Self::with_budget(settings, None)
    }

    /// [`new`](Self::new), with at most `budget`'s maximum connections open to targets at
    /// once (shared with whoever else holds that budget); a new connection beyond it fails with
    /// [`UpstreamError::Budget`] before anything is sent.
    pub fn with_budget(
        settings: PoolSettings,
        budget: Option<Arc<ConnectionLimit>>,
    ) -> UpstreamPool<B> {
        Self::build(settings, budget, None)
    }

    /// [`with_budget`](Self::with_budget), in a task tree: the sweep runs on `tracker` and
    /// ends when `cancel` fires, closing the idle connections (a lab's pool never outlives
    /// it). Busy ones belong to their requests, which the listeners drain.
    pub fn in_tree(
        settings: PoolSettings,
        budget: Option<Arc<ConnectionLimit>>,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) -> UpstreamPool<B> {
        Self::build(settings, budget, Some((tracker.clone(), cancel)))
    }

    fn build(
        settings: PoolSettings,
        budget: Option<Arc<ConnectionLimit>>,
        tasks: Option<(TaskTracker, CancellationToken)>,
    ) -> UpstreamPool<B> {
        let inner = Arc::new(Inner {
            settings,
            shards: (0..settings.shards.max(1))
                .map(|_| ArcSwap::default())
                .collect(),
            budget,
            tasks,
            _body: std::marker::PhantomData,
        });
        let sweep = sweep(Arc::downgrade(&inner));
        match &inner.tasks {
            Some((tracker, cancel)) => {
                let cancel = cancel.clone();
                let pool = Arc::downgrade(&inner);
                tracker.spawn(async move {
                    cancel.run_until_cancelled(sweep).await;
                    // Stopping: idle connections close now (their senders drop); busy ones
                    // close when their response ends, as their endpoint is gone.
                    if let Some(pool) = pool.upgrade() {
                        for shard in &pool.shards {
                            shard.store(Arc::default());
                        }
                    }
                });
            }
            None => {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(sweep);
                }
            }
        }
        UpstreamPool { inner }
    }

    /// Sends `req` to `target` on an idle pooled connection, or on a new one opened within
    /// `connect_timeout`, and returns the response head with its body streaming.
    ///
    /// The request goes out as given except for its framing (`Content-Length` from the body's
    /// exact size, else chunked) and two fixes: an absolute-form URI becomes origin-form
    /// (`/path?query`), and a missing `Host` becomes the target's address. The caller bounds
    /// the wait for the response head (ALB's idle timeout) by dropping the future, which
    /// closes that connection. After `101 Switching Protocols` the connection is the body's:
    /// [`PooledBody::into_upgraded`].
    pub async fn send(
        &self,
        target: SocketAddr,
        mut req: Request<B>,
        connect_timeout: Duration,
    ) -> Result<Response<PooledBody<B>>, UpstreamError> {
        to_origin_form(&mut req, target);
        let endpoint = self.endpoint(target);
        let (parts, mut body) = req.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let framing = RequestFraming::for_body(body.is_end_stream(), body.size_hint().exact());
        while let Some(conn) = endpoint.take() {
            let exchange = exchange(conn, &parts, path, body, framing);
            match exchange.send().await {
                Ok(answered) => return Ok(respond(answered, endpoint)),
                // Closed before a byte of it was written: as if never tried.
                Err(SendFailure::Unsent(unsent)) => body = unsent,
                Err(SendFailure::Failed(e)) => return Err(e),
            }
        }
        let conn = self.connect(target, connect_timeout).await?;
        match exchange(conn, &parts, path, body, framing).send().await {
            Ok(answered) => Ok(respond(answered, endpoint)),
            Err(SendFailure::Unsent(..)) => {
                let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
                Err(UpstreamError::Connect(aborted))
            }
            Err(SendFailure::Failed(e)) => Err(e),
        }
    }

    /// How many idle connections to `target` are pooled now.
    pub fn idle_count(&self, target: SocketAddr) -> usize {
        self.idle_per_shard(target).iter().sum()
    }

    /// How many idle connections to `target` each shard holds now.
    pub fn idle_per_shard(&self, target: SocketAddr) -> Vec<usize> {
        let idle =
            |shard: &ArcSwap<Endpoints>| shard.load().get(&target).map_or(0, |e| e.idle_count());
        self.inner.shards.iter().map(idle).collect()
    }

    /// Closes the idle connections to `target` and forgets it (for a deregistered target).
    /// Responses still streaming from it close their connections when they end.
    pub fn forget(&self, target: SocketAddr) {
        for shard in &self.inner.shards {
            shard.rcu(|map| {
                let mut map = HashMap::clone(map);
                map.remove(&target);
                map
            });
        }
    }

    /// The shard of the data-plane thread the caller runs on (the first one off those threads).
    fn shard(&self) -> &ArcSwap<Endpoints> {
        let shards = &self.inner.shards;
        let index = crate::alb::data_plane::current_worker().unwrap_or(0);
        &shards[index % shards.len()]
    }

    /// The endpoint of `target` in the caller's shard, created on its first request there.
    fn endpoint(&self, target: SocketAddr) -> Arc<Endpoint> {
        let shard = self.shard();
        if let Some(endpoint) = shard.load().get(&target) {
            return Arc::clone(endpoint);
        }
        let settings = self.inner.settings;
        let mut created = None;
        shard.rcu(|map| {
            let mut map = HashMap::clone(map);
            let endpoint = map.entry(target).or_insert_with(|| {
                Arc::new(Endpoint::new(
                    settings.max_idle_per_target,
                    settings.idle_timeout,
                ))
            });
            created = Some(Arc::clone(endpoint));
            map
        });
        created.expect("rcu runs its closure at least once")
    }

    /// Opens a connection to `target`.
    async fn connect(&self, target: SocketAddr, timeout: Duration) -> Result<Conn, UpstreamError> {
        // Held by the connection: its place is given back when it closes.
        let permit = match &self.inner.budget {
            Some(budget) => Some(
                budget
                    .try_acquire()
                    .ok_or(UpstreamError::Budget(budget.max()))?,
            ),
            None => None,
        };
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(target)).await {
            Err(_) => return Err(UpstreamError::ConnectTimeout(timeout)),
            Ok(Err(e)) => return Err(UpstreamError::Connect(e)),
            Ok(Ok(stream)) => stream,
        };
        // Request heads are small: without this, Nagle holds one back until the previous
        // response's ACK, adding a round trip.
        let _ = stream.set_nodelay(true);
        Ok(Conn::new(stream, permit))
    }
}

/// The exchange of a request (`parts` and `body`) on `conn`, its head written into the
/// connection's own buffer.
fn exchange<B>(
    mut conn: Conn,
    parts: &http::request::Parts,
    path: &str,
    body: B,
    framing: RequestFraming,
) -> Exchange<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    let (method, headers) = (&parts.method, &parts.headers);
    let head = wire::encode_request_head(method, path, headers, framing, &mut conn.head_buf);
    let upload = Upload::new(head, body, framing);
    Exchange::new(conn, upload, method.clone())
}

/// The response of an exchange, its body reading the rest off the connection and giving it
/// back to `endpoint` at the end.
fn respond<B>(
    mut answered: exchange::Answered<B>,
    endpoint: Arc<Endpoint>,
) -> Response<PooledBody<B>>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    let (status, version) = (answered.head.status, answered.head.version);
    let headers = std::mem::take(&mut answered.head.headers);
    let body = PooledBody::new(answered, endpoint);
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    response
}

/// The URI goes out as given; targets expect origin-form, and `Host` is mandatory in
/// HTTP/1.1. Costs nothing for requests that are already right.
fn to_origin_form<B>(req: &mut Request<B>, target: SocketAddr) {
    if req.uri().scheme().is_some() || req.uri().authority().is_some() {
        let authority = req.uri().authority().map(|a| a.as_str().to_owned());
        if !req.headers().contains_key(HOST)
            && let Some(host) = authority.and_then(|a| HeaderValue::from_str(&a).ok())
        {
            req.headers_mut().insert(HOST, host);
        }
        let path = req.uri().path_and_query().cloned();
        let mut parts = http::uri::Parts::default();
        parts.path_and_query = Some(path.unwrap_or_else(|| "/".parse().expect("valid path")));
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    if !req.headers().contains_key(HOST)
        && let Ok(host) = HeaderValue::from_str(&target.to_string())
    {
        req.headers_mut().insert(HOST, host);
    }
}

/// Closes expired idle connections every half idle timeout, and forgets targets with no idle
/// connection and no response in flight (their endpoint is referenced by the map alone).
async fn sweep<B>(pool: Weak<Inner<B>>) {
    let Some(period) = pool
        .upgrade()
        .map(|p| sweep_period(p.settings.idle_timeout))
    else {
        return;
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(pool) = pool.upgrade() else { return };
        let now = Instant::now();
        for shard in &pool.shards {
            sweep_shard(shard, now);
        }
    }
}

/// One shard's part of [`sweep`].
fn sweep_shard(shard: &ArcSwap<Endpoints>, now: Instant) {
    let mut unused = Vec::new();
    for (addr, endpoint) in shard.load().iter() {
        if endpoint.sweep(now) == 0 && Arc::strong_count(endpoint) == 1 {
            unused.push(*addr);
        }
    }
    if unused.is_empty() {
        return;
    }
    shard.rcu(|map| {
        let mut map = HashMap::clone(map);
        for addr in &unused {
            // A request may have picked it up since; it then just finds no idle one.
            if map.get(addr).is_some_and(|e| e.idle_count() == 0) {
                map.remove(addr);
            }
        }
        map
    });
}

/// Half the idle timeout, so no connection outlives it by more than half; never busier than
/// every 10 ms.
fn sweep_period(idle_timeout: Duration) -> Duration {
    (idle_timeout / 2).max(Duration::from_millis(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_uri_becomes_origin_form_with_host() {
        let target: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let mut req = Request::new(());
        *req.uri_mut() = "http://10.0.0.5:8080/a/b?c=d".parse().unwrap();
        to_origin_form(&mut req, target);
        assert_eq!(req.uri(), "/a/b?c=d");
        assert_eq!(req.headers()[HOST], "10.0.0.5:8080");
    }

    #[test]
    fn client_host_is_kept_and_missing_host_is_the_target() {
        let target: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let mut req = Request::new(());
        *req.uri_mut() = "http://127.0.0.1:9001".parse().unwrap();
        req.headers_mut()
            .insert(HOST, HeaderValue::from_static("app.test"));
        to_origin_form(&mut req, target);
        assert_eq!(req.uri(), "/");
        assert_eq!(req.headers()[HOST], "app.test");
        let mut bare = Request::new(());
        *bare.uri_mut() = "/x".parse().unwrap();
        to_origin_form(&mut bare, target);
        assert_eq!(bare.headers()[HOST], "127.0.0.1:9001");
    }

    #[test]
    fn sweep_runs_twice_per_idle_timeout() {
        assert_eq!(
            sweep_period(Duration::from_secs(60)),
            Duration::from_secs(30)
        );
        assert_eq!(
            sweep_period(Duration::from_millis(4)),
            Duration::from_millis(10)
        );
    }
}
