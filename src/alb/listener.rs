//! One listener: a bound socket, optional TLS, HTTP/1.1 and HTTP/2 on each connection, and the
//! listener's rules (see [`super::rules`]) applied to every request.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::AlbError;
use super::bind::BindSetting;
use super::headers::ForwardedValues;
use super::metrics::LoadBalancerMetrics;
use super::observe::{ConnectionInfo, CountingIo, ListenerObserver};
use super::proxy::{Proxy, ProxyBody, RequestContext};
use super::rules::Router;
use super::sni::CertificateSet;
use crate::config::ListenerProtocol;

/// A client that has not finished its TLS handshake by then is dropped.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// On shutdown, in-flight requests get this long to finish before connections are dropped.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// A bound listener, ready to serve.
pub struct Listener {
    tcp: TcpListener,
    addr: SocketAddr,
    protocol: ListenerProtocol,
    tls: Option<TlsAcceptor>,
    route: Router,
    proxy: Proxy,
    observer: Arc<ListenerObserver>,
    certificates: Option<Arc<CertificateSet>>,
}

/// What every connection task of a listener shares.
struct Shared {
    protocol: ListenerProtocol,
    listener: SocketAddr,
    forwarded: ForwardedValues,
    route: Router,
    proxy: Proxy,
    http: auto::Builder<TokioExecutor>,
    observer: Arc<ListenerObserver>,
    certificates: Option<Arc<CertificateSet>>,
}

impl Listener {
    /// Binds `addr` (port 0: any free port). TLS when `tls` is given.
    pub async fn bind(
        addr: SocketAddr,
        protocol: ListenerProtocol,
        tls: Option<TlsAcceptor>,
        route: Router,
        proxy: Proxy,
    ) -> Result<Listener, AlbError> {
        let bind_err = |cause: io::Error| AlbError::Bind {
            addr,
            setting: BindSetting::Listener {
                load_balancer: None,
            },
            cause,
        };
        let tcp = TcpListener::bind(addr).await.map_err(bind_err)?;
        let addr = tcp.local_addr().map_err(bind_err)?;
        // Counted into metrics nobody reads until `observe` names the load balancer's.
        let detached = Arc::new(LoadBalancerMetrics::new("detached", []));
        let observer = Arc::new(ListenerObserver::new(detached, None, protocol, addr.port()));
        Ok(Listener {
            tcp,
            addr,
            protocol,
            tls,
            route,
            proxy,
            observer,
            certificates: None,
        })
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

    /// Accepts connections on `tracker` until `cancel` fires; then stops accepting and lets
    /// open connections finish their in-flight requests (at most [`DRAIN_TIMEOUT`]).
    pub fn spawn(self, tracker: &TaskTracker, cancel: CancellationToken) {
        let mut http = auto::Builder::new(TokioExecutor::new());
        // Timers enable hyper's header-read timeout (slow clients) and HTTP/2 keep-alive.
        http.http1().timer(TokioTimer::new());
        http.http2().timer(TokioTimer::new());
        let shared = Arc::new(Shared {
            protocol: self.protocol,
            listener: self.addr,
            forwarded: ForwardedValues::new(self.protocol, self.addr.port()),
            route: self.route,
            proxy: self.proxy,
            http,
            observer: self.observer,
            certificates: self.certificates,
        });
        let conns = tracker.clone();
        tracker.spawn(accept_loop(self.tcp, self.tls, shared, conns, cancel));
    }
}

async fn accept_loop(
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    tracker: TaskTracker,
    cancel: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = tcp.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let conn = connection(stream, peer, tls.clone(), shared.clone(), cancel.clone());
                tracker.spawn(conn);
            }
            Err(e) => {
                shared.observer.metrics().connection_rejected();
                tracing::warn!(listener = %shared.listener, "accept failed: {e}");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
    tracing::debug!(listener = %shared.listener, "listener stopped accepting");
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let metrics = shared.observer.metrics().clone();
    let _active = metrics.connection_opened();
    let stream = CountingIo::new(stream, metrics.clone());
    let Some(acceptor) = tls else {
        let info = Arc::new(ConnectionInfo::plain(peer));
        return serve(TokioIo::new(stream), peer, info, shared, cancel).await;
    };
    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    match cancel.run_until_cancelled(handshake).await {
        None => {}
        Some(Ok(Ok(stream))) => {
            let certs = shared.certificates.as_deref();
            let info = Arc::new(ConnectionInfo::tls(peer, stream.get_ref().1, certs));
            serve(TokioIo::new(stream), peer, info, shared, cancel).await
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

async fn serve<I>(
    io: I,
    peer: SocketAddr,
    info: Arc<ConnectionInfo>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let handler = shared.clone();
    let service = service_fn(move |req| {
        let shared = handler.clone();
        let info = info.clone();
        async move {
            let ctx = RequestContext {
                client: peer,
                protocol: shared.protocol,
                listener: shared.listener,
                forwarded: &shared.forwarded,
            };
            Ok::<_, Infallible>(handle(&shared, req, &ctx, &info).await)
        }
    });
    // With upgrades: WebSocket requests are handed to the proxy's tunnel after `101`.
    let conn = shared.http.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);
    tokio::select! {
        done = conn.as_mut() => {
            if let Err(e) = done {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        }
        _ = cancel.cancelled() => {
            conn.as_mut().graceful_shutdown();
            if tokio::time::timeout(DRAIN_TIMEOUT, conn).await.is_err() {
                tracing::warn!(%peer, "gave up after {DRAIN_TIMEOUT:?} waiting for in-flight requests");
            }
        }
    }
}

async fn handle(
    shared: &Shared,
    req: Request<Incoming>,
    ctx: &RequestContext<'_>,
    info: &Arc<ConnectionInfo>,
) -> Response<ProxyBody> {
    // Metrics and the access log line; dropped unfinished (client gone) it records a 460.
    let pending = shared.observer.begin(&req, info);
    let response = shared.route.handle(&shared.proxy, req, ctx).await;
    pending.finish(response)
}
