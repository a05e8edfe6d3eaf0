//! One listener: a bound socket, optional TLS, HTTP/1.1 and HTTP/2 on each connection, and the
//! listener's rules (see [`super::rules`]) applied to every request.
//!
//! Client connections are bounded as ALB bounds them: a cap on open connections (beyond it a new
//! one is closed at once and counted as `RejectedConnectionCount`), a deadline for the first
//! byte, and the idle timeout between requests (see [`super::deadlines`] and [`super::limits`]).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::AlbError;
use super::bind::BindSetting;
use super::data_plane::DataPlane;
use super::deadlines::{self, Activity, ActivityIo, Deadlines, Why};
use super::headers::ForwardedValues;
use super::http1::{self, Http1Settings, Rewind, Served};
use super::limits::{self, ConnectionLimit, ConnectionPermit};
use super::local_error::Episode;
use super::memory;
use super::metrics::{ActiveConnection, LoadBalancerMetrics};
use super::observe::{ConnectionInfo, CountingIo, ListenerObserver};
use super::proxy::{Proxy, ProxyBody, RequestContext};
use super::request_body::RequestBody;
use super::rules::Router;
use super::sni::CertificateSet;
use crate::config::ListenerProtocol;

/// A client that has not finished its TLS handshake by then is dropped.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// ALB's limit of concurrent HTTP/2 streams per client connection.
pub const MAX_CONCURRENT_STREAMS: u32 = 128;
/// HTTP/2 flow control: how much a client may send on one stream before the proxy has read it
/// (hyper's default: 1 MiB), and on the whole connection (1 MiB, hyper's default). Bounds the
/// memory an uploading client can make the load balancer hold.
const H2_STREAM_WINDOW: u32 = 256 * 1024;
const H2_CONNECTION_WINDOW: u32 = 1024 * 1024;
/// HTTP/2: response bytes buffered per stream for a client that reads slowly (hyper's default:
/// 400 KiB); beyond it the target's body waits (back-pressure).
const H2_MAX_SEND_BUFFER: usize = 128 * 1024;
/// After a deadline closes a connection gracefully (HTTP/2: `GOAWAY`), it is dropped if not
/// gone by then.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// On shutdown, in-flight requests get this long to finish before connections are dropped.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// A bound listener, ready to serve.
pub struct Listener {
    /// One socket per data-plane thread, on one port ([`super::reuseport`]).
    sockets: Vec<std::net::TcpListener>,
    addr: SocketAddr,
    protocol: ListenerProtocol,
    tls: Option<TlsAcceptor>,
    route: Router,
    proxy: Proxy,
    observer: Arc<ListenerObserver>,
    certificates: Option<Arc<CertificateSet>>,
    connections: ConnectionSettings,
}

/// How a listener bounds its client connections (see [`super::load_balancer`] for defaults).
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// The first-byte and idle deadlines.
    pub deadlines: Deadlines,
    /// The load balancer's cap (`max-connections`), shared by its listeners.
    pub cap: Arc<ConnectionLimit>,
    /// The process's budget, shared by every load balancer ([`limits::process_budget`]).
    pub process: Arc<ConnectionLimit>,
}

impl Default for ConnectionSettings {
    /// ALB's defaults: first byte and idle both 60s; the cap is the process budget.
    fn default() -> Self {
        let idle = super::pool::DEFAULT_IDLE_TIMEOUT;
        let process = limits::process_budget();
        ConnectionSettings {
            deadlines: Deadlines {
                first_byte: idle,
                idle,
            },
            cap: ConnectionLimit::new(process.max()),
            process,
        }
    }
}

/// What every connection task of a listener shares.
struct Shared {
    protocol: ListenerProtocol,
    listener: SocketAddr,
    forwarded: ForwardedValues,
    route: Router,
    proxy: Proxy,
    http2: http2::Builder<TokioExecutor>,
    observer: Arc<ListenerObserver>,
    certificates: Option<Arc<CertificateSet>>,
    connections: ConnectionSettings,
    /// Rejections (cap reached) are logged once per episode.
    rejecting: Episode,
}

/// One admitted client connection: its places under the load balancer's cap and the process's.
struct Admitted {
    _cap: ConnectionPermit,
    _process: ConnectionPermit,
}

impl Shared {
    /// Places for one more connection, or `None` (and a warning once per episode) when the
    /// load balancer's cap or the process's budget is reached.
    fn admit(&self) -> Option<Admitted> {
        let cap = &self.connections.cap;
        let process = &self.connections.process;
        let admitted = cap.try_acquire().and_then(|cap| {
            let process = process.try_acquire()?;
            Some(Admitted {
                _cap: cap,
                _process: process,
            })
        });
        match &admitted {
            Some(_) if self.rejecting.worked() => {
                tracing::info!(listener = %self.listener, "accepting client connections again");
            }
            None if self.rejecting.failed() => {
                let (which, limit) = if cap.open() >= cap.max() {
                    ("max-connections of the load balancer", cap)
                } else {
                    (
                        "client connections of all load balancers (from the descriptor limit)",
                        process,
                    )
                };
                tracing::warn!(
                    listener = %self.listener,
                    "{} of {} {which} are open: closing new connections (RejectedConnectionCount)",
                    limit.open(),
                    limit.max(),
                );
            }
            _ => {}
        }
        admitted
    }
}

impl Listener {
    /// Binds `addr` (port 0: any free port) once per data-plane thread of `plane`. TLS when
    /// `tls` is given.
    pub fn bind(
        addr: SocketAddr,
        protocol: ListenerProtocol,
        tls: Option<TlsAcceptor>,
        route: Router,
        proxy: Proxy,
        plane: &DataPlane,
    ) -> Result<Listener, AlbError> {
        let bind_err = |cause: io::Error| AlbError::Bind {
            addr,
            setting: BindSetting::Listener {
                load_balancer: None,
            },
            cause,
        };
        let sockets = super::reuseport::bind_group(addr, plane.threads()).map_err(bind_err)?;
        let addr = sockets[0].local_addr().map_err(bind_err)?;
        // Counted into metrics nobody reads until `observe` names the load balancer's.
        let detached = Arc::new(LoadBalancerMetrics::new("detached", []));
        let observer = Arc::new(ListenerObserver::new(detached, None, protocol, addr.port()));
        Ok(Listener {
            sockets,
            addr,
            protocol,
            tls,
            route,
            proxy,
            observer,
            certificates: None,
            connections: ConnectionSettings::default(),
        })
    }

    /// Bounds this listener's client connections by `settings` (default:
    /// [`ConnectionSettings::default`]).
    pub fn limit(mut self, settings: ConnectionSettings) -> Listener {
        self.connections = settings;
        self
    }

    /// Reports this listener's connections and requests to `observer`; `certificates` (HTTPS)
    /// name the certificate each connection got in the access log.
    pub fn observe(
        mut self,
        observer: ListenerObserver,
        certificates: Option<Arc<CertificateSet>>,
    ) -> Listener {
        self.observer = Arc::new(observer);
        self.certificates = certificates;
        self
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Accepts connections on every thread of `plane` (each on its own socket) until `cancel`
    /// fires; then stops accepting and lets open connections finish their in-flight requests
    /// (at most [`DRAIN_TIMEOUT`]).
    pub fn spawn(self, plane: &DataPlane, cancel: CancellationToken) {
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
            .initial_stream_window_size(H2_STREAM_WINDOW)
            .initial_connection_window_size(H2_CONNECTION_WINDOW)
            .max_send_buf_size(H2_MAX_SEND_BUFFER);
        let shared = Arc::new(Shared {
            protocol: self.protocol,
            listener: self.addr,
            forwarded: ForwardedValues::new(self.protocol, self.addr.port()),
            route: self.route,
            proxy: self.proxy,
            http2,
            observer: self.observer,
            certificates: self.certificates,
            connections: self.connections,
            rejecting: Episode::default(),
        });
        for (worker, socket) in self.sockets.into_iter().enumerate() {
            let (tls, shared, cancel) = (self.tls.clone(), shared.clone(), cancel.clone());
            let on = plane.clone();
            plane.spawn_on(worker, async move {
                // Registered with this thread's runtime: its connections are served here.
                match TcpListener::from_std(socket) {
                    Ok(tcp) => accept_loop(tcp, worker, tls, shared, on, cancel).await,
                    Err(e) => tracing::error!(
                        listener = %shared.listener,
                        "data-plane thread {worker} cannot listen: {e}"
                    ),
                }
            });
        }
    }
}

/// Accepts on `tcp`, the socket of data-plane thread `worker`, and serves each connection in a
/// task of that thread.
async fn accept_loop(
    tcp: TcpListener,
    worker: usize,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    plane: DataPlane,
    cancel: CancellationToken,
) {
    let tracker = plane.tracker().clone();
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = tcp.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => match shared.admit() {
                Some(admitted) => {
                    plane.count_accept(worker);
                    let process = shared.connections.process.clone();
                    memory::after_open(process.open());
                    let (tls, shared, cancel) = (tls.clone(), shared.clone(), cancel.clone());
                    // The connection's future is made inside the task: one awaited from a
                    // capture would be kept twice (rust-lang/rust#62958), some 7 KiB more for
                    // every open connection.
                    tracker.spawn(async move {
                        connection(stream, peer, admitted, tls, shared, cancel).await;
                        // After a storm, give the memory of its connections back.
                        memory::after_close(process.open(), move || process.open());
                    });
                }
                // Closed at once (FIN): the client sees its connection end before any answer.
                None => {
                    shared.observer.metrics().connection_rejected();
                    drop(stream);
                }
            },
            Err(e) => {
                shared.observer.metrics().connection_rejected();
                tracing::warn!(listener = %shared.listener, "accept failed: {e}");
                let pause = tokio::time::sleep(ACCEPT_ERROR_PAUSE);
                if cancel.run_until_cancelled(pause).await.is_none() {
                    break;
                }
            }
        }
    }
    tracing::debug!(listener = %shared.listener, "listener stopped accepting");
}

/// One admitted client connection: TLS handshake (HTTPS), then [`serve`]. `admitted` and the
/// connection's place in `ActiveConnectionCount` last as long as its socket, a WebSocket tunnel's
/// included.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    admitted: Admitted,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let metrics = shared.observer.metrics().clone();
    let open = (admitted, metrics.connection_opened());
    let stream = CountingIo::new(stream, metrics.clone());
    let Some(acceptor) = tls else {
        let info = Arc::new(ConnectionInfo::plain(peer));
        return serve(stream, open, peer, info, shared, cancel, false).await;
    };
    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    match cancel.run_until_cancelled(handshake).await {
        None => {}
        Some(Ok(Ok(stream))) => {
            let certs = shared.certificates.as_deref();
            let tls = stream.get_ref().1;
            let info = Arc::new(ConnectionInfo::tls(peer, tls, certs));
            let alpn_h2 = tls.alpn_protocol() == Some(b"h2");
            serve(stream, open, peer, info, shared, cancel, alpn_h2).await
        }
        Some(Ok(Err(e))) => {
            metrics.tls_negotiation_failed();
            tracing::debug!(%peer, "TLS handshake failed: {e}")
        }
        Some(Err(_)) => {
            metrics.tls_negotiation_failed();
            tracing::debug!(%peer, "TLS handshake timed out")
        }
    }
}

/// Serves HTTP on `io` until the client leaves, a deadline passes ([`deadlines::watch`]: the
/// first byte after accept or the TLS handshake, then the idle timeout), or `cancel` fires.
/// HTTP/1.1 by tierlab's own server ([`http1`]); HTTP/2 by hyper's when TLS negotiated `h2`
/// (`alpn_h2`) or a plain client sends the h2c preface first.
async fn serve<I>(
    io: I,
    open: (Admitted, ActiveConnection),
    peer: SocketAddr,
    info: Arc<ConnectionInfo>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    alpn_h2: bool,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let io = ActivityIo::new(io, activity.clone(), open);
    let d = shared.connections.deadlines;
    let handler = Arc::new(ConnHandler {
        shared,
        info,
        peer,
        activity: activity.clone(),
    });
    if alpn_h2 {
        let io = Rewind::new(Bytes::new(), io);
        return serve_http2(io, handler, &activity, &cancel).await;
    }
    let settings = Http1Settings {
        // The idle timeout also bounds a head dribbled byte by byte (bytes keep a connection
        // from being idle).
        head_timeout: d.idle,
        h2_prior_knowledge: true,
    };
    let served = {
        let mut conn = pin!(http1::serve(io, &*handler, settings, &cancel));
        tokio::select! {
            biased;
            served = conn.as_mut() => served,
            why = deadlines::watch(&activity, d) => {
                // Nothing in progress (or nothing at all yet): the connection just closes.
                match why {
                    Why::FirstByte => tracing::debug!(%peer, "no request within {:?}: closing", d.first_byte),
                    Why::Idle => tracing::debug!(%peer, "idle for {:?}: closing", d.idle),
                }
                return;
            }
            // The connection closes once the request in progress (if any) is answered.
            _ = cancel.cancelled() => match tokio::time::timeout(DRAIN_TIMEOUT, conn).await {
                Ok(served) => served,
                Err(_) => {
                    tracing::warn!(%peer, "gave up after {DRAIN_TIMEOUT:?} waiting for an in-flight request");
                    return;
                }
            },
        }
    };
    if let Served::Http2(io) = served {
        serve_http2(io, handler, &activity, &cancel).await;
    }
}

/// HTTP/2 on `io`, by hyper's server, under the same deadlines.
async fn serve_http2<I>(
    io: Rewind<I>,
    handler: Arc<ConnHandler>,
    activity: &Activity,
    cancel: &CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shared = handler.shared.clone();
    let peer = handler.peer;
    let service = service_fn(move |req: Request<Incoming>| {
        let handler = handler.clone();
        async move { Ok::<_, Infallible>(handler.answer(req.map(RequestBody::Http2)).await) }
    });
    let conn = shared.http2.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        done = conn.as_mut() => {
            if let Err(e) = done {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        }
        why = deadlines::watch(activity, shared.connections.deadlines) => {
            let d = shared.connections.deadlines;
            match why {
                Why::FirstByte => tracing::debug!(%peer, "no request within {:?}: closing", d.first_byte),
                Why::Idle => tracing::debug!(%peer, "idle for {:?}: closing", d.idle),
            }
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(CLOSE_GRACE, conn).await;
        }
        _ = cancel.cancelled() => {
            conn.as_mut().graceful_shutdown();
            if tokio::time::timeout(DRAIN_TIMEOUT, conn).await.is_err() {
                tracing::warn!(%peer, "gave up after {DRAIN_TIMEOUT:?} waiting for in-flight requests");
            }
        }
    }
}

/// What answers a connection's requests: the listener's rules, with the connection's facts.
struct ConnHandler {
    shared: Arc<Shared>,
    info: Arc<ConnectionInfo>,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl ConnHandler {
    async fn answer(&self, req: Request<RequestBody>) -> Response<ProxyBody> {
        // Not idle while a request is answered (the proxy bounds that with the idle timeout).
        let _in_progress = self.activity.request();
        let shared = &*self.shared;
        let ctx = RequestContext {
            client: self.peer,
            protocol: shared.protocol,
            listener: shared.listener,
            forwarded: &shared.forwarded,
        };
        // Metrics and the access log line; dropped unfinished (client gone) it records a 460.
        let pending = shared.observer.begin(&req, &self.info);
        let (response, handled) = shared.route.handle(&shared.proxy, req, &ctx).await;
        pending.finish(response, handled)
    }
}

impl http1::Handler for ConnHandler {
    fn handle(
        &self,
        req: Request<RequestBody>,
    ) -> impl Future<Output = Response<ProxyBody>> + Send + '_ {
        self.answer(req)
    }
}
