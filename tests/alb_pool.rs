//! The upstream connection pool against real local servers on 127.0.0.1:0 that count the
//! connections they accept and how many are still open.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tierlab::alb::pool::{PoolSettings, UpstreamError, UpstreamPool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, io::Error>;

const CONNECT: Duration = Duration::from_secs(2);
const BIG: usize = 4 * 1024 * 1024;

/// A keep-alive HTTP/1.1 server: `/slow` answers after 100 ms, `/echo` streams the request
/// body back, `/big` sends [`BIG`] bytes in 64 KiB chunks, `/empty` answers 204, anything
/// else `hello`.
struct Server {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
}

impl Server {
    async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let (acc, op) = (accepted.clone(), open.clone());
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                acc.fetch_add(1, Ordering::SeqCst);
                op.fetch_add(1, Ordering::SeqCst);
                let op = op.clone();
                tokio::spawn(async move {
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service_fn(respond));
                    let _ = conn.await;
                    op.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Server {
            addr,
            accepted,
            open,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

async fn respond(
    req: Request<Incoming>,
) -> Result<Response<BoxBody<Bytes, hyper::Error>>, Infallible> {
    let full = |b: &'static [u8]| Full::new(Bytes::from_static(b)).map_err(|n| match n {});
    let response = match req.uri().path() {
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Response::new(full(b"slow").boxed())
        }
        "/echo" => Response::new(req.into_body().boxed()),
        "/big" => {
            let chunks =
                (0..BIG / 65536).map(|i| Ok(Frame::data(Bytes::from(vec![i as u8; 65536]))));
            Response::new(StreamBody::new(stream::iter(chunks)).boxed())
        }
        "/empty" => {
            let mut r = Response::new(full(b"").boxed());
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        _ => Response::new(full(b"hello").boxed()),
    };
    Ok(response)
}

fn get(path: &str) -> Request<Body> {
    let body = Empty::new().map_err(|n| match n {}).boxed();
    Request::get(path).body(body).unwrap()
}

fn pool(idle_timeout: Duration) -> UpstreamPool<Body> {
    UpstreamPool::new(PoolSettings {
        max_idle_per_target: 16,
        idle_timeout,
        shards: 1,
    })
}

async fn text(pool: &UpstreamPool<Body>, addr: SocketAddr, req: Request<Body>) -> String {
    let response = pool.send(addr, req, CONNECT).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

/// Polls `cond` every 10 ms for up to 5 s.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_reuse_one_connection() {
    let server = Server::start().await;
    let pool = pool(Duration::from_secs(60));
    for _ in 0..50 {
        assert_eq!(text(&pool, server.addr, get("/")).await, "hello");
    }
    assert_eq!(server.accepted(), 1);
    assert_eq!(pool.idle_count(server.addr), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_responses_give_the_connection_back() {
    let server = Server::start().await;
    let pool = pool(Duration::from_secs(60));
    for _ in 0..5 {
        let response = pool
            .send(server.addr, get("/empty"), CONNECT)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        drop(response); // never polled: the body was empty from the start
        let head = Request::builder().method(Method::HEAD).uri("/");
        let head = head
            .body(Empty::new().map_err(|n| match n {}).boxed())
            .unwrap();
        let response = pool.send(server.addr, head, CONNECT).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(server.accepted(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_open_several_then_reuse_them() {
    let server = Server::start().await;
    let pool = pool(Duration::from_secs(60));
    let round = || {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move { text(&pool, server.addr, get("/slow")).await })
            })
            .collect();
        async move {
            for task in tasks {
                assert_eq!(task.await.unwrap(), "slow");
            }
        }
    };
    round().await;
    assert_eq!(server.accepted(), 8);
    assert_eq!(pool.idle_count(server.addr), 8);
    round().await;
    assert_eq!(
        server.accepted(),
        8,
        "second round reuses the idle connections"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_dropped_before_its_end_closes_the_connection() {
    let server = Server::start().await;
    let pool = pool(Duration::from_secs(60));
    let response = pool.send(server.addr, get("/big"), CONNECT).await.unwrap();
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert!(first.is_data());
    drop(body);
    eventually("the server to see the close", || server.open() == 0).await;
    assert_eq!(pool.idle_count(server.addr), 0);
    assert_eq!(text(&pool, server.addr, get("/")).await, "hello");
    assert_eq!(server.accepted(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_upload_and_download_pass_through_and_reuse() {
    let server = Server::start().await;
    let pool = pool(Duration::from_secs(60));
    let chunks = (0..BIG / 65536).map(|i| Ok(Frame::data(Bytes::from(vec![i as u8; 65536]))));
    let upload = StreamBody::new(stream::iter(chunks)).boxed();
    let req = Request::post("/echo").body(upload).unwrap();
    let response = pool.send(server.addr, req, CONNECT).await.unwrap();
    let echoed = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(echoed.len(), BIG);
    assert!(
        echoed
            .chunks(65536)
            .enumerate()
            .all(|(i, c)| c.iter().all(|&b| b == i as u8))
    );
    let download = pool.send(server.addr, get("/big"), CONNECT).await.unwrap();
    let mut body = download.into_body();
    let (mut frames, mut bytes) = (0, 0);
    while let Some(frame) = body.frame().await {
        bytes += frame.unwrap().into_data().unwrap().len();
        frames += 1;
    }
    assert_eq!(bytes, BIG);
    assert!(frames > 1, "the body arrives in pieces, not buffered whole");
    assert_eq!(server.accepted(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_expire() {
    let server = Server::start().await;
    let pool = pool(Duration::from_millis(200));
    assert_eq!(text(&pool, server.addr, get("/")).await, "hello");
    assert_eq!(pool.idle_count(server.addr), 1);
    assert_eq!(server.open(), 1);
    // The sweep (every 100 ms here) closes it without any further request.
    eventually("the idle connection to be closed", || server.open() == 0).await;
    assert_eq!(pool.idle_count(server.addr), 0);
    assert_eq!(text(&pool, server.addr, get("/")).await, "hello");
    assert_eq!(server.accepted(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_closes_a_targets_idle_connections() {
    let server = Server::start().await;
    let pool = pool(Duration::from_secs(60));
    assert_eq!(text(&pool, server.addr, get("/")).await, "hello");
    pool.forget(server.addr);
    eventually("the idle connection to be closed", || server.open() == 0).await;
    assert_eq!(pool.idle_count(server.addr), 0);
}

/// A raw server: answers each connection's first request with `answer`, then waits `linger`
/// and closes the connection without having said `Connection: close`.
async fn raw_server(answer: &'static [u8], linger: Duration) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                if answer.is_empty() {
                    // RST instead of FIN: the request was read, no answer at all.
                    let _ = stream.set_zero_linger();
                    return;
                }
                let _ = stream.write_all(answer).await;
                tokio::time::sleep(linger).await;
            });
        }
    });
    (addr, accepted)
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_closing_idle_connections_is_invisible() {
    let (addr, accepted) = raw_server(OK, Duration::from_millis(20)).await;
    let pool = pool(Duration::from_secs(60));
    for i in 1..=3 {
        assert_eq!(text(&pool, addr, get("/")).await, "ok");
        // The target closes its side after 20 ms; the pooled connection must not be used.
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(accepted.load(Ordering::SeqCst), i);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_refused_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = pool(Duration::from_secs(60))
        .send(addr, get("/"), CONNECT)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, UpstreamError::Connect(e) if e.kind() == io::ErrorKind::ConnectionRefused),
        "{err:?}"
    );
    assert!(err.nothing_sent());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_before_response_and_garbage_are_told_apart() {
    let (reset, _) = raw_server(b"", Duration::ZERO).await;
    let pool = pool(Duration::from_secs(60));
    let err = pool.send(reset, get("/"), CONNECT).await.unwrap_err();
    assert!(matches!(err, UpstreamError::BeforeResponse(_)), "{err:?}");
    assert!(!err.nothing_sent());
    let (garbage, _) = raw_server(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", Duration::ZERO).await;
    let err = pool.send(garbage, get("/"), CONNECT).await.unwrap_err();
    assert!(matches!(err, UpstreamError::InvalidResponse(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_bounds_the_connections_to_targets() {
    let (a, b) = (Server::start().await, Server::start().await);
    let budget = tierlab::alb::limits::ConnectionLimit::new(1);
    let pool: UpstreamPool<Body> = UpstreamPool::with_budget(
        PoolSettings {
            max_idle_per_target: 16,
            idle_timeout: Duration::from_secs(60),
            shards: 1,
        },
        Some(budget.clone()),
    );
    // One slow request holds the only connection allowed...
    let slow = {
        let pool = pool.clone();
        tokio::spawn(async move { text(&pool, a.addr, get("/slow")).await })
    };
    eventually("the first connection open", || budget.open() == 1).await;
    // ...so a second target gets none, and nothing is sent to it.
    match pool.send(b.addr, get("/"), CONNECT).await {
        Err(e @ UpstreamError::Budget(1)) => assert!(e.nothing_sent()),
        other => panic!(
            "expected the budget to refuse: {:?}",
            other.map(|r| r.status())
        ),
    }
    assert_eq!(b.accepted(), 0);
    assert_eq!(slow.await.unwrap(), "slow");
    // The idle connection keeps its place and is reused; once it is gone, the place is free.
    assert_eq!(text(&pool, a.addr, get("/")).await, "hello");
    assert_eq!(a.accepted(), 1);
    pool.forget(a.addr);
    eventually("the place given back", || budget.open() == 0).await;
    assert_eq!(text(&pool, b.addr, get("/")).await, "hello");
}

/// A raw server answering `answer` to every read of a request (each request here arrives in
/// one read), keeping the connection open.
async fn scripted_server(answer: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 || stream.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_trailers_and_informational_answers_pass_through() {
    const ANSWER: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Checksum: 42\r\n\r\n";
    let addr = scripted_server(ANSWER).await;
    let pool = pool(Duration::from_secs(60));
    for _ in 0..2 {
        let response = pool.send(addr, get("/"), CONNECT).await.unwrap();
        assert_eq!(response.status(), 200, "100 Continue is not the answer");
        let collected = response.into_body().collect().await.unwrap();
        assert_eq!(collected.trailers().unwrap()["x-checksum"], "42");
        assert_eq!(&collected.to_bytes()[..], b"abcde");
        assert_eq!(pool.idle_count(addr), 1, "reused after its trailers");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_have_no_body_whatever_their_length() {
    let addr = scripted_server(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n").await;
    let pool = pool(Duration::from_secs(60));
    for _ in 0..3 {
        let head = Request::head("/").body(get("/").into_body()).unwrap();
        let response = pool.send(addr, head, CONNECT).await.unwrap();
        assert_eq!(response.headers()["content-length"], "5");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(body.is_empty());
        assert_eq!(pool.idle_count(addr), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_read_to_the_close_ends_there_and_is_not_reused() {
    let (addr, accepted) =
        raw_server(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", Duration::ZERO).await;
    let pool = pool(Duration::from_secs(60));
    for i in 1..=2 {
        assert_eq!(text(&pool, addr, get("/")).await, "until the end");
        assert_eq!(pool.idle_count(addr), 0);
        assert_eq!(accepted.load(Ordering::SeqCst), i);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_short_is_an_error_and_the_connection_goes() {
    let (addr, _) = raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        Duration::ZERO,
    )
    .await;
    let pool = pool(Duration::from_secs(60));
    let response = pool.send(addr, get("/"), CONNECT).await.unwrap();
    assert!(response.into_body().collect().await.is_err());
    assert_eq!(pool.idle_count(addr), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_before_the_upload_ends_reaches_the_caller() {
    // The target reads the head only and refuses; the upload is far larger than the sockets'
    // buffers, so writing it whole first would wait forever.
    let (addr, _) = raw_server(
        b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n\r\nnope",
        Duration::from_secs(2),
    )
    .await;
    let pool = pool(Duration::from_secs(60));
    let chunks = (0..BIG / 65536).map(|_| Ok(Frame::data(Bytes::from(vec![0u8; 65536]))));
    let upload = StreamBody::new(stream::iter(chunks)).boxed();
    let req = Request::post("/upload").body(upload).unwrap();
    let sent = tokio::time::timeout(Duration::from_secs(5), pool.send(addr, req, CONNECT));
    let response = sent.await.expect("answered while uploading").unwrap();
    assert_eq!(response.status(), 413);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"nope");
    assert_eq!(
        pool.idle_count(addr),
        0,
        "half an upload on it: never reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_on_a_pooled_connection_the_target_just_reset_goes_whole_to_a_new_one() {
    // Each connection answers one request, then is reset at once: the next request finds its
    // pooled connection reset, usually before the runtime has seen it.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = bodies.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                // The head and its 4-byte body may come in separate writes.
                while !got.ends_with(b"ping") {
                    let n = stream.read(&mut buf).await.unwrap();
                    assert!(
                        n > 0,
                        "request cut short: {:?}",
                        String::from_utf8_lossy(&got)
                    );
                    got.extend_from_slice(&buf[..n]);
                }
                seen.lock().unwrap().push(got);
                stream.write_all(OK).await.unwrap();
                let _ = stream.set_zero_linger();
            });
        }
    });
    let pool = pool(Duration::from_secs(60));
    for _ in 0..20 {
        let body = Full::new(Bytes::from_static(b"ping"))
            .map_err(|n| match n {})
            .boxed();
        let req = Request::post("/").body(body).unwrap();
        assert_eq!(text(&pool, addr, req).await, "ok");
    }
    assert_eq!(
        bodies.lock().unwrap().len(),
        20,
        "each POST arrived whole, once"
    );
}
