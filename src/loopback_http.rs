//! The small HTTP/1.1 servers tierlab runs on 127.0.0.1 for itself (the control endpoint, a load
//! balancer's `metrics-port`): one accept loop, each connection tracked and ended on cancel.

use std::convert::Infallible;
use std::future::Future;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Serves `listener` with `handler` until `cancel`; the accept loop and every connection are
/// spawned on `tracker`.
pub fn serve<F, Fut>(
    listener: TcpListener,
    tracker: &TaskTracker,
    cancel: CancellationToken,
    handler: F,
) where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let conns = tracker.clone();
    tracker.spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = cancel.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
            };
            let (handler, cancel) = (handler.clone(), cancel.clone());
            conns.spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let answer = handler(req);
                    async move { Ok::<_, Infallible>(answer.await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let _ = cancel.run_until_cancelled(conn).await;
            });
        }
    });
}
