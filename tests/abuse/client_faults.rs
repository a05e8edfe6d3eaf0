//! Whose fault it is: clients that send malformed bodies, abandon uploads or stall them are
//! answered 400 / 460 / 408 and counted as the load balancer's 4XX, and never count against a
//! healthy target (no consecutive-5xx run, no ejection, no Target 5XX, no task stopped). Plus
//! RFC 9112's `Host` rules, absolute-form requests, and head limits on every listener.
//!
//! Everything talks raw HTTP/1.1 over sockets to 127.0.0.1, as a hostile client would.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tierlab::alb::metrics::{LoadBalancerMetrics, render};
use tierlab::alb::{TargetGroupHandle, TargetState};
use tierlab::config::{
    AccessLogs, Action, Condition, FixedResponse, Listener, ListenerRule, TargetGroup,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::lab_support::{DOCKER_LOCK, TestLab, docker, shut_down_clean};
use crate::support::access_log::{FIELDS, entries};
use crate::support::alb::{Alb, group_of};
use crate::support::config::{
    any_port, forward, http_listener, https_listener, load_balancer, redirect_to_https,
    target_group,
};
use crate::support::{BackendHandle, backend, wait_until};

/// Request bodies of the HTTP/2 client.
type H2Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// Each kind of client fault is sent this many times (the issue's numbers).
const TIMES: usize = 50;
/// How long any single wait of these tests may take before it fails.
const DEADLINE: Duration = Duration::from_secs(20);

// ---- raw clients

/// A client socket, plain or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Where raw requests go: a plain listener, or an HTTPS one trusted through a CA.
#[derive(Clone)]
enum Dial {
    Plain(SocketAddr),
    Tls(SocketAddr, TlsConnector),
}

impl Dial {
    /// An HTTPS listener at `addr` whose certificate `ca_pem` signed (for `localhost`),
    /// spoken to in HTTP/1.1.
    fn tls(addr: SocketAddr, ca_pem: &str) -> Dial {
        Dial::tls_alpn(addr, ca_pem, b"http/1.1")
    }

    /// [`Dial::tls`] offering only `alpn` (`h2` for HTTP/2).
    fn tls_alpn(addr: SocketAddr, ca_pem: &str, alpn: &[u8]) -> Dial {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
            .unwrap();
        let mut config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.to_vec()];
        Dial::Tls(addr, TlsConnector::from(Arc::new(config)))
    }

    /// A new connection; `reset` makes its close an RST instead of a FIN.
    async fn open(&self, reset: bool) -> Box<dyn Io> {
        let addr = match self {
            Dial::Plain(addr) | Dial::Tls(addr, _) => *addr,
        };
        let tcp = TcpStream::connect(addr).await.unwrap();
        if reset {
            tcp.set_zero_linger().unwrap();
        }
        match self {
            Dial::Plain(_) => Box::new(tcp),
            Dial::Tls(_, connector) => {
                let name = ServerName::try_from("localhost").unwrap();
                Box::new(connector.connect(name, tcp).await.unwrap())
            }
        }
    }
}

/// The status line and headers of the first response on `io` (lower-case names); `None` when
/// the connection closed without one.
async fn read_head(io: &mut Box<dyn Io>) -> Option<(u16, Vec<(String, String)>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = tokio::time::timeout(DEADLINE, async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match io.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    });
    read.await.expect("no response head within the deadline");
    let text = String::from_utf8_lossy(&buf);
    let (head, _) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((status, headers))
}

/// Sends `raw` on a new connection and returns the response's status and headers.
async fn exchange(dial: &Dial, raw: &[u8]) -> (u16, Vec<(String, String)>) {
    let mut io = dial.open(false).await;
    io.write_all(raw).await.unwrap();
    read_head(&mut io)
        .await
        .expect("connection closed without a response")
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A chunked POST whose second chunk size is not hexadecimal; returns the status answered.
async fn invalid_chunk(dial: &Dial, path: &str) -> u16 {
    let mut io = dial.open(false).await;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    io.write_all(head.as_bytes()).await.unwrap();
    io.write_all(b"9\r\n{\"text\":\"\r\nzz\r\nabc\r\n0\r\n\r\n")
        .await
        .unwrap();
    read_head(&mut io)
        .await
        .expect("no answer to a bad chunk")
        .0
}

/// The head of a 100000-byte upload and 1000 bytes of it, then the client leaves: FIN, or RST
/// when `reset`.
///
/// The head asks `Expect: 100-continue`, and the body follows the load balancer's `100
/// Continue`, which it sends once it forwards the body to a target: the client leaves in the
/// middle of an upload the load balancer is forwarding, every time. (A client resetting before
/// the load balancer read its request sent no request at all.)
async fn aborted_upload(dial: &Dial, path: &str, reset: bool) {
    let mut io = dial.open(reset).await;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: 100000\r\nExpect: 100-continue\r\n\r\n"
    );
    io.write_all(head.as_bytes()).await.unwrap();
    let (status, _) = read_head(&mut io).await.expect("no 100 Continue");
    assert_eq!(status, 100, "the upload is forwarded");
    io.write_all(&[b' '; 1000]).await.unwrap();
    io.flush().await.unwrap();
    drop(io);
}

/// Sends the head and the start of a 1,000-byte upload, then nothing: the status the load
/// balancer answers, and how long after the last byte sent.
async fn stalled_upload(dial: &Dial) -> (u16, Duration) {
    let mut io = dial.open(false).await;
    let head = "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n";
    io.write_all(head.as_bytes()).await.unwrap();
    io.write_all(b"only the start").await.unwrap();
    let started = Instant::now();
    let (status, _) = read_head(&mut io).await.expect("no answer to a stall");
    (status, started.elapsed())
}

// ---- observations

/// The sum of every series of metric `name` (all target groups).
fn metric(metrics: &Arc<LoadBalancerMetrics>, name: &str) -> f64 {
    let text = render(std::slice::from_ref(metrics));
    let prefix = format!("{name}{{");
    text.lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// Waits (polling, up to [`DEADLINE`]) until metric `name` reaches `want`.
async fn wait_metric(metrics: &Arc<LoadBalancerMetrics>, name: &str, want: f64) {
    let started = Instant::now();
    while metric(metrics, name) < want {
        assert!(
            started.elapsed() < DEADLINE,
            "{name} stayed at {} (want {want})",
            metric(metrics, name)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A target group whose health is checked once a minute: any change within a test is passive
/// (an ejection), not a health check.
fn rarely_checked(name: &str) -> TargetGroup {
    let mut cfg = target_group(name);
    cfg.health_check.interval = Duration::from_secs(60);
    cfg
}

/// Both targets healthy, and the group's state unchanged since `changes` (no flip at all).
fn assert_untouched(group: &TargetGroupHandle, changes: u64, what: &str) {
    assert_eq!(
        group.healthy_count(),
        2,
        "{what}: a target lost health: {:#?}",
        group.describe()
    );
    assert_eq!(
        *group.changes().borrow(),
        changes,
        "{what}: a target flipped: {:#?}",
        group.describe()
    );
}

/// A normal request still works.
async fn assert_serving(dial: &Dial) {
    let (status, headers) = exchange(dial, b"GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert_eq!(status, 200, "{headers:?}");
}

/// Two fake backends behind a load balancer with access logs on and `idle` as idle timeout.
async fn two_targets(idle: Duration) -> (Alb, TargetGroupHandle, [BackendHandle; 2]) {
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let group = group_of(rarely_checked("tg"), &[&a, &b]);
    let mut cfg = load_balancer(vec![http_listener(any_port(), forward("tg"))], idle);
    cfg.access_logs = AccessLogs {
        enabled: true,
        interval: Duration::from_secs(300),
    };
    let alb = Alb::start_config(&cfg, &[&group]).await;
    wait_until(&group, "2 healthy", |g| g.healthy_count() == 2).await;
    (alb, group, [a, b])
}

// ---- fake backends

#[tokio::test]
async fn malformed_and_abandoned_uploads_never_count_against_targets() {
    let (alb, group, [a, b]) = two_targets(Duration::from_secs(60)).await;
    let dial = Dial::Plain(alb.lb.endpoints()[0].addr);
    let metrics = alb.lb.metrics();
    let changes = *group.changes().borrow();

    // 50 invalid chunk sizes in a row (10 used to eject both targets): each a 400.
    for i in 0..TIMES {
        assert_eq!(invalid_chunk(&dial, "/upload").await, 400, "bad chunk {i}");
    }
    assert_untouched(&group, changes, "after invalid chunk sizes");
    assert_serving(&dial).await;

    // 50 uploads abandoned mid-body in a row, half closed (FIN), half reset (RST): each a 460.
    for i in 0..TIMES {
        aborted_upload(&dial, "/upload", i % 2 == 1).await;
    }
    wait_metric(&metrics, "HTTPCode_ELB_4XX_Count", (2 * TIMES) as f64).await;
    assert_untouched(&group, changes, "after aborted uploads");
    assert_serving(&dial).await;
    assert_serving(&dial).await;

    let requests = 2 * TIMES + 3;
    assert_eq!(
        metric(&metrics, "HTTPCode_ELB_4XX_Count"),
        (2 * TIMES) as f64
    );
    assert_eq!(metric(&metrics, "HTTPCode_ELB_5XX_Count"), 0.0);
    assert_eq!(metric(&metrics, "HTTPCode_Target_5XX_Count"), 0.0);
    assert_eq!(metric(&metrics, "HTTPCode_Target_2XX_Count"), 3.0);
    assert_eq!(metric(&metrics, "TargetConnectionErrorCount"), 0.0);
    assert!(a.hits() + b.hits() >= 3);

    // The access log names the client's fault; no target status, since no target answered.
    let lines = entries(&alb.stop().await.path().join("access-logs"));
    assert_eq!(lines.len(), requests, "{lines:#?}");
    assert!(lines.iter().all(|f| f.len() == FIELDS));
    let faults: Vec<_> = lines.iter().filter(|f| f[8] != "200").collect();
    assert_eq!(faults.len(), 2 * TIMES);
    let count = |status: &str, reason: &str| {
        faults
            .iter()
            .filter(|f| f[8] == status && f[9] == "-" && f[24] == reason)
            .count()
    };
    assert_eq!(count("400", "ClientMalformedBody"), TIMES, "{faults:#?}");
    assert_eq!(count("460", "ClientClosedConnection"), TIMES, "{faults:#?}");
}

#[tokio::test]
async fn a_client_that_half_closes_mid_upload_reads_a_real_status_and_is_logged_460() {
    let (alb, group, _backends) = two_targets(Duration::from_secs(60)).await;
    let dial = Dial::Plain(alb.lb.endpoints()[0].addr);
    let metrics = alb.lb.metrics();
    let changes = *group.changes().borrow();
    let mut io = dial.open(false).await;
    let head = "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\
                Expect: 100-continue\r\n\r\n";
    io.write_all(head.as_bytes()).await.unwrap();
    assert_eq!(read_head(&mut io).await.expect("no 100 Continue").0, 100);
    io.write_all(&[b' '; 1000]).await.unwrap();
    // FIN mid-body, still reading: ALB's 460 is a log record, never a status on the wire.
    io.shutdown().await.unwrap();
    let status = read_head(&mut io).await.map(|(status, _)| status);
    assert!(
        matches!(status, None | Some(400)),
        "the client read {status:?}"
    );
    wait_metric(&metrics, "HTTPCode_ELB_4XX_Count", 1.0).await;
    assert_untouched(&group, changes, "after a half-closed upload");
    let state = alb.stop().await;
    let lines = entries(&state.path().join("access-logs"));
    assert!(
        lines
            .iter()
            .any(|f| f[8] == "460" && f[24] == "ClientClosedConnection"),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn a_client_that_stalls_its_body_gets_408_and_the_target_keeps_its_health() {
    let idle = Duration::from_millis(500);
    let (alb, group, _backends) = two_targets(idle).await;
    let dial = Dial::Plain(alb.lb.endpoints()[0].addr);
    let metrics = alb.lb.metrics();
    let changes = *group.changes().borrow();

    // More stalls than `outlier-consecutive-5xx` (5), all at once: each waits out the idle
    // timeout with the target waiting for the rest of the body.
    let stalls = (0..8).map(|_| {
        let dial = dial.clone();
        tokio::spawn(async move { stalled_upload(&dial).await })
    });
    for stall in stalls.collect::<Vec<_>>() {
        let (status, waited) = stall.await.unwrap();
        assert_eq!(status, 408, "a stalled body is the client's timeout");
        assert!(waited >= idle - Duration::from_millis(50), "{waited:?}");
    }
    // A slow upload that keeps sending is not cut by the idle timeout: data flows.
    let mut io = dial.open(false).await;
    let head = "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 8\r\n\r\n";
    io.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..4 {
        io.write_all(b"xx").await.unwrap();
        tokio::time::sleep(idle / 2).await;
    }
    let (status, headers) = read_head(&mut io)
        .await
        .expect("no answer to a slow upload");
    assert_eq!(
        (status, header(&headers, "content-length")),
        (200, Some("3"))
    );

    assert_untouched(&group, changes, "after stalled bodies");
    assert_serving(&dial).await;
    assert_eq!(metric(&metrics, "HTTPCode_ELB_4XX_Count"), 8.0);
    assert_eq!(metric(&metrics, "HTTPCode_ELB_5XX_Count"), 0.0);
    assert_eq!(metric(&metrics, "HTTPCode_Target_5XX_Count"), 0.0);
    let lines = entries(&alb.stop().await.path().join("access-logs"));
    let timeouts = lines.iter().filter(|f| f[8] == "408").count();
    assert_eq!(timeouts, 8, "{lines:#?}");
    assert!(
        lines
            .iter()
            .filter(|f| f[8] == "408")
            .all(|f| f[9] == "-" && f[24] == "ClientTimeout")
    );
}

/// A target with its own body-read timeout, shorter than the load balancer's idle timeout: it
/// answers health checks, and resets any connection whose sender has been silent for 1.5 s
/// (gunicorn's sync workers, nginx's `client_body_timeout` and the like give up similarly).
async fn impatient_target() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    target_giving_up_on_silence(false).await
}

/// A target that crashes (its listener closes, its connections reset) once a client has been
/// silent for 1.5 s in the middle of an upload; it answers health checks until then.
async fn target_crashing_on_a_stall() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    target_giving_up_on_silence(true).await
}

/// Answers `GET /health`; resets a connection whose sender is silent for 1.5 s, and with
/// `crash` also closes its listener first, as a process that dies.
async fn target_giving_up_on_silence(crash: bool) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let crashed = Arc::new(tokio::sync::Notify::new());
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = crashed.notified() => break,
            };
            let Ok((mut socket, _)) = accepted else { break };
            let crashed = crashed.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let read =
                        tokio::time::timeout(Duration::from_millis(1500), socket.read(&mut buf));
                    match read.await {
                        Ok(Ok(0) | Err(_)) => return,
                        Ok(Ok(n)) if buf[..n].starts_with(b"GET /health ") => {
                            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                            let _ = socket.write_all(ok).await;
                        }
                        Ok(Ok(_)) => {}
                        Err(_silent) => {
                            if crash {
                                // The process dies: the listener goes first, then the socket.
                                crashed.notify_one();
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                            let _ = socket.set_zero_linger();
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, task)
}

#[tokio::test]
async fn a_target_that_dies_while_a_client_stalls_is_still_ejected() {
    let (a, a_task) = target_crashing_on_a_stall().await;
    let group = TargetGroupHandle::new(rarely_checked("tg"));
    group.register("a", a);
    let cfg = load_balancer(
        vec![http_listener(any_port(), forward("tg"))],
        Duration::from_secs(60),
    );
    let alb = Alb::start_config(&cfg, &[&group]).await;
    wait_until(&group, "healthy", |g| g.healthy_count() == 1).await;
    let dial = Dial::Plain(alb.lb.endpoints()[0].addr);
    let (status, _) = stalled_upload(&dial).await;
    assert_eq!(status, 408, "the client stalled");
    // The client's 408, but the dead target is found out by a new connection and ejected.
    wait_until(&group, "the dead target ejected", |g| {
        g.state_of("a") == Some(TargetState::Unhealthy)
    })
    .await;
    let reason = format!("{:?}", group.describe_target("a"));
    assert!(reason.contains("stalled"), "{reason}");
    alb.stop().await;
    a_task.abort();
}

#[tokio::test]
async fn a_target_giving_up_on_stalled_clients_is_not_ejected() {
    let (a, a_task) = impatient_target().await;
    let (b, b_task) = impatient_target().await;
    let group = TargetGroupHandle::new(rarely_checked("tg"));
    group.register("a", a);
    group.register("b", b);
    let cfg = load_balancer(
        vec![http_listener(any_port(), forward("tg"))],
        Duration::from_secs(60),
    );
    let alb = Alb::start_config(&cfg, &[&group]).await;
    wait_until(&group, "2 healthy", |g| g.healthy_count() == 2).await;
    let dial = Dial::Plain(alb.lb.endpoints()[0].addr);
    let metrics = alb.lb.metrics();
    let changes = *group.changes().borrow();

    // Six stalls per target (its `outlier-consecutive-5xx` is 5), all at once: each target
    // resets the connection after 1.5 s of silence, long before the 60 s idle timeout.
    let stalls: Vec<_> = (0..12)
        .map(|_| {
            let dial = dial.clone();
            tokio::spawn(async move { stalled_upload(&dial).await.0 })
        })
        .collect();
    for stall in stalls {
        assert_eq!(
            stall.await.unwrap(),
            408,
            "the client stalled, not the target"
        );
    }
    assert_untouched(&group, changes, "after targets gave up on stalled clients");
    assert_eq!(metric(&metrics, "HTTPCode_ELB_4XX_Count"), 12.0);
    assert_eq!(metric(&metrics, "HTTPCode_ELB_5XX_Count"), 0.0);
    alb.stop().await;
    a_task.abort();
    b_task.abort();
}

#[tokio::test]
async fn http2_uploads_the_client_cancels_never_count_against_targets() {
    let a = Arc::new(backend().name("a").run().await);
    let b = Arc::new(backend().name("b").run().await);
    let group = group_of(rarely_checked("tg"), &[&a, &b]);
    let cfg = load_balancer(
        vec![https_listener(any_port(), forward("tg"))],
        Duration::from_secs(60),
    );
    let alb = Alb::start_config(&cfg, &[&group]).await;
    wait_until(&group, "2 healthy", |g| g.healthy_count() == 2).await;
    let metrics = alb.lb.metrics();
    let changes = *group.changes().borrow();
    let dial = Dial::tls_alpn(alb.lb.endpoints()[0].addr, alb.ca.cert_pem(), b"h2");
    let (mut h2, conn) = hyper::client::conn::http2::handshake::<_, _, H2Body>(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(dial.open(false).await),
    )
    .await
    .unwrap();
    tokio::spawn(conn);

    const CANCELLED: usize = 10;
    for i in 0..CANCELLED {
        // The upload's first part, then (once a target got the request: the load balancer is
        // forwarding it) the client's body fails, and its HTTP/2 stream is reset.
        let hits = a.hits() + b.hits();
        let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
        let first = stream::once(async { Ok(Frame::data(Bytes::from_static(b"{\"a\":"))) });
        let fail = stream::once(async move {
            let started = Instant::now();
            while a2.hits() + b2.hits() == hits && started.elapsed() < DEADLINE {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(std::io::Error::other("the client gave up"))
        });
        let body = BodyExt::boxed_unsync(StreamBody::new(first.chain(fail).boxed()));
        let req = http::Request::post("https://localhost/upload")
            .body(body)
            .unwrap();
        h2.ready().await.unwrap();
        let sent = tokio::time::timeout(DEADLINE, h2.send_request(req)).await;
        assert!(sent.unwrap().is_err(), "upload {i} went through");
    }
    wait_metric(&metrics, "HTTPCode_ELB_4XX_Count", CANCELLED as f64).await;
    assert_untouched(&group, changes, "after cancelled HTTP/2 uploads");
    let empty = http_body_util::Empty::new().map_err(|never| match never {});
    let ok = http::Request::get("https://localhost/ok")
        .body(BodyExt::boxed_unsync(empty))
        .unwrap();
    h2.ready().await.unwrap();
    assert_eq!(h2.send_request(ok).await.unwrap().status(), 200);
    assert_eq!(metric(&metrics, "HTTPCode_ELB_5XX_Count"), 0.0);
    assert_eq!(metric(&metrics, "HTTPCode_Target_5XX_Count"), 0.0);
    alb.stop().await;
}

#[tokio::test]
async fn a_target_that_fails_on_its_own_is_still_ejected() {
    // The other side of the line: a target resetting uploads is the target's fault.
    let r = backend().name("r").resets_requests().run().await;
    let b = backend().name("b").run().await;
    let group = group_of(rarely_checked("tg"), &[&r, &b]);
    let cfg = load_balancer(
        vec![http_listener(any_port(), forward("tg"))],
        Duration::from_secs(60),
    );
    let alb = Alb::start_config(&cfg, &[&group]).await;
    wait_until(&group, "2 healthy", |g| g.healthy_count() == 2).await;
    let dial = Dial::Plain(alb.lb.endpoints()[0].addr);
    let post = b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello";
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(exchange(&dial, post).await.0);
        if group.state_of("r") == Some(TargetState::Unhealthy) {
            break;
        }
    }
    assert!(statuses.contains(&502), "{statuses:?}");
    assert_eq!(
        group.state_of("r"),
        Some(TargetState::Unhealthy),
        "5 consecutive 5xx of its own eject it: {statuses:?}"
    );
    assert_eq!(group.state_of("b"), Some(TargetState::Healthy));
    alb.stop().await;
}

// ---- conformance

fn rule(priority: u32, condition: Condition, action: Action) -> ListenerRule {
    ListenerRule {
        priority,
        conditions: vec![condition],
        action,
    }
}

fn fixed(status: u16, body: &str) -> Action {
    Action::FixedResponse(FixedResponse {
        status,
        content_type: Some("text/plain".into()),
        body: body.into(),
    })
}

#[tokio::test]
async fn host_rules_absolute_form_and_head_limits_hold_on_every_listener() {
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let ga = group_of(target_group("ga"), &[&a]);
    let gb = group_of(target_group("gb"), &[&b]);
    let mut routed = http_listener(any_port(), forward("ga"));
    routed.rules = vec![rule(
        10,
        Condition::HostHeader(vec!["b.example".into()]),
        forward("gb"),
    )];
    let redirect = http_listener(any_port(), redirect_to_https(9443));
    let mut fixed_only: Listener = http_listener(any_port(), fixed(200, "fixed"));
    fixed_only.rules = vec![rule(
        5,
        Condition::HostHeader(vec!["b.example".into()]),
        fixed(202, "b"),
    )];
    let cfg = load_balancer(vec![routed, redirect, fixed_only], Duration::from_secs(5));
    let alb = Alb::start_config(&cfg, &[&ga, &gb]).await;
    wait_until(&ga, "a healthy", |g| g.healthy_count() == 1).await;
    wait_until(&gb, "b healthy", |g| g.healthy_count() == 1).await;
    let [routed, redirect, fixed_only] = [0, 1, 2].map(|i| Dial::Plain(alb.lb.endpoints()[i].addr));

    for dial in [&routed, &redirect, &fixed_only] {
        // RFC 9112 §3.2: no Host, or two, on HTTP/1.1 is a 400, whatever the action.
        let (status, _) = exchange(dial, b"GET / HTTP/1.1\r\n\r\n").await;
        assert_eq!(status, 400, "no Host");
        let two = b"GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n";
        assert_eq!(exchange(dial, two).await.0, 400, "two Hosts");
        let bad = b"GET / HTTP/1.1\r\nHost: a.example:http\r\n\r\n";
        assert_eq!(exchange(dial, bad).await.0, 400, "invalid Host");
        // ALB's head limits on every listener, not only forwarding ones.
        let big = format!(
            "GET / HTTP/1.1\r\nHost: a.example\r\nX-Big: {}\r\n\r\n",
            "x".repeat(17 * 1024)
        );
        assert_eq!(
            exchange(dial, big.as_bytes()).await.0,
            400,
            "oversized head"
        );
    }
    assert_eq!(a.hits() + b.hits(), 0, "nothing refused reached a target");
    // HTTP/1.0 may omit Host.
    for dial in [&routed, &redirect, &fixed_only] {
        let old = exchange(dial, b"GET / HTTP/1.0\r\n\r\n").await.0;
        assert!([200, 301].contains(&old), "HTTP/1.0 without Host: {old}");
    }

    // Absolute-form: the request target's authority wins over Host (RFC 9112 §3.2.2), for
    // rules and for the Host the target gets.
    let absolute = b"GET http://b.example/x?y=1 HTTP/1.1\r\nHost: a.example\r\n\r\n";
    let (status, headers) = exchange(&routed, absolute).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-backend"), Some("b"));
    assert_eq!(header(&headers, "echo-host"), Some("b.example"));
    let (status, headers) = exchange(&redirect, absolute).await;
    assert_eq!(status, 301);
    assert_eq!(
        header(&headers, "location"),
        Some("https://b.example:9443/x?y=1")
    );
    assert_eq!(exchange(&fixed_only, absolute).await.0, 202);
    // Origin-form keeps using Host.
    let origin = b"GET /x HTTP/1.1\r\nHost: b.example\r\n\r\n";
    assert_eq!(
        header(&exchange(&routed, origin).await.1, "x-backend"),
        Some("b")
    );
    let other = b"GET /x HTTP/1.1\r\nHost: a.example\r\n\r\n";
    assert_eq!(
        header(&exchange(&routed, other).await.1, "x-backend"),
        Some("a")
    );
    alb.stop().await;
}

// ---- the default stack on Docker

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_faults_on_the_default_stack_stop_no_task() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("faults");
    let docker = docker().await;
    let lab = test.start().await;
    let service = lab.service("flask-app-service").unwrap().clone();
    let tg = lab.target_group("flask-app-tg").unwrap().clone();
    let metrics = lab.load_balancers()[0].metrics();
    let https: SocketAddr = format!("127.0.0.1:{}", test.https_port).parse().unwrap();
    let dial = Dial::tls(https, lab.ca_cert_pem());

    let before = service.status();
    assert_eq!(before.running_count, 2, "{before:#?}");
    let mut task_ids: Vec<String> = before.tasks.iter().map(|t| t.task_id.clone()).collect();
    task_ids.sort();
    for id in &task_ids {
        assert_eq!(tg.state_of(id), Some(TargetState::Healthy), "task {id}");
    }
    let changes = *tg.changes().borrow();

    let started = Instant::now();
    for i in 0..TIMES {
        assert_eq!(
            invalid_chunk(&dial, "/api/entries").await,
            400,
            "bad chunk {i}"
        );
    }
    for i in 0..TIMES {
        aborted_upload(&dial, "/api/entries", i % 2 == 1).await;
    }
    wait_metric(&metrics, "HTTPCode_ELB_4XX_Count", (2 * TIMES) as f64).await;
    eprintln!(
        "client faults: {} sent in {:.1} s",
        2 * TIMES,
        started.elapsed().as_secs_f64()
    );

    // The app still answers, through both targets.
    let get = b"GET /api/entries HTTP/1.1\r\nHost: localhost\r\n\r\n";
    for _ in 0..4 {
        assert_eq!(exchange(&dial, get).await.0, 200);
    }

    // Nothing was held against the targets: no flip, same tasks, no stop event.
    assert_eq!(*tg.changes().borrow(), changes, "{:#?}", tg.describe());
    for id in &task_ids {
        assert_eq!(tg.state_of(id), Some(TargetState::Healthy), "task {id}");
    }
    let after = service.status();
    let mut after_ids: Vec<String> = after.tasks.iter().map(|t| t.task_id.clone()).collect();
    after_ids.sort();
    assert_eq!(after_ids, task_ids, "tasks were replaced: {after:#?}");
    assert_eq!(after.running_count, 2);
    let stops: Vec<_> = after
        .events
        .iter()
        .filter(|e| e.message.contains("has stopped"))
        .collect();
    assert!(stops.is_empty(), "{stops:#?}");
    assert_eq!(
        metric(&metrics, "HTTPCode_ELB_4XX_Count"),
        (2 * TIMES) as f64
    );
    assert_eq!(metric(&metrics, "HTTPCode_ELB_5XX_Count"), 0.0);
    assert_eq!(metric(&metrics, "HTTPCode_Target_5XX_Count"), 0.0);

    shut_down_clean(lab, &docker, &test).await;
}
