//! A load balancer's own Prometheus endpoint (`metrics-port`): `GET /metrics` on 127.0.0.1.
//! The lab's control endpoint serves every load balancer's metrics too; this one lets a
//! Prometheus scrape one load balancer at a fixed port.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::AlbError;
use super::bind::BindSetting;
use super::metrics::{self, LoadBalancerMetrics};

/// Prometheus' text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves `load_balancers`' metrics on 127.0.0.1:`port` (0: any free port) until `cancel`;
/// `load_balancer` names whose `metrics-port` it is, for a bind error.
/// Returns the bound address.
pub async fn serve(
    load_balancer: &str,
    port: u16,
    load_balancers: Vec<Arc<LoadBalancerMetrics>>,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) -> Result<SocketAddr, AlbError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let bind_err = |cause: std::io::Error| AlbError::Bind {
        addr,
        setting: BindSetting::MetricsPort {
            load_balancer: load_balancer.to_string(),
        },
        cause,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
    let bound = listener.local_addr().map_err(bind_err)?;
    let lbs: Arc<[Arc<LoadBalancerMetrics>]> = load_balancers.into();
    crate::loopback_http::serve(listener, tracker, cancel, move |req| {
        let answer = answer(&req, &lbs);
        async move { answer }
    });
    Ok(bound)
}

/// `GET /metrics` → the text format; anything else → 404.
pub fn answer<B>(req: &Request<B>, lbs: &[Arc<LoadBalancerMetrics>]) -> Response<Full<Bytes>> {
    let (status, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => (StatusCode::OK, metrics::render(lbs)),
        _ => (
            StatusCode::NOT_FOUND,
            "not found; try GET /metrics\n".to_string(),
        ),
    };
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, CONTENT_TYPE)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}
