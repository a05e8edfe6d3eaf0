//! The load balancer when things go wrong: ALB's status codes, headers, draining, WebSockets,
//! and tierlab's failover that clients don't see. Real sockets on 127.0.0.1, fake backends.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::StatusCode;
use tierlab::alb::{ReasonCode, TargetGroupHandle, TargetState};
use tierlab::config::{LoadBalancer, ProxyMode, TargetGroup, XffMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use support::alb::{Alb, group_of};
use support::config::{any_port, fast_checks, forward, http_listener, load_balancer, target_group};
use support::{backend, client, wait_until};

const IDLE: Duration = Duration::from_secs(30);

impl Alb {
    /// One HTTP listener forwarding to `group`; `tune` adjusts the load balancer config (mode,
    /// timeouts, header modes).
    async fn start(group: &TargetGroupHandle, tune: impl FnOnce(&mut LoadBalancer)) -> Alb {
        let mut cfg = load_balancer(vec![http_listener(any_port(), forward(group.name()))], IDLE);
        tune(&mut cfg);
        Alb::start_config(&cfg, &[group]).await
    }
}

fn aws_mode(cfg: &mut LoadBalancer) {
    cfg.mode = ProxyMode::Aws;
}

/// Health checked once at registration, then only every minute: a target stays healthy
/// unless the proxy itself ejects it.
fn rarely_checked(name: &str) -> TargetGroup {
    let mut cfg = target_group(name);
    cfg.health_check.interval = Duration::from_secs(60);
    cfg
}

async fn healthy(group: &TargetGroupHandle, n: usize) {
    wait_until(group, &format!("{n} healthy"), |g| g.healthy_count() == n).await;
}

async fn status_of(resp: reqwest::Result<reqwest::Response>) -> u16 {
    match resp {
        Ok(r) => {
            let s = r.status().as_u16();
            // Read the body: a request only succeeds if its whole response arrived.
            match r.bytes().await {
                Ok(_) => s,
                Err(_) => 0,
            }
        }
        Err(_) => 0,
    }
}

// ---- status codes

#[tokio::test]
async fn deregistering_the_last_target_gives_503() {
    let a = backend().name("a").run().await;
    let group = group_of(target_group("tg"), &[&a]);
    let alb = Alb::start(&group, |_| {}).await;
    healthy(&group, 1).await;
    group.deregister("a");
    let resp = client(&alb.ca).get(alb.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    alb.stop().await;
}

#[tokio::test]
async fn reset_is_502_in_aws_mode() {
    let r = backend().name("r").resets_requests().run().await;
    let group = group_of(rarely_checked("tg"), &[&r]);
    let alb = Alb::start(&group, aws_mode).await;
    healthy(&group, 1).await;
    let resp = client(&alb.ca).get(alb.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(r.hits(), 1);
    assert_eq!(
        group.state_of("r"),
        Some(TargetState::Healthy),
        "aws mode ejects nothing"
    );
    alb.stop().await;
}

/// A listener whose accept queue is full and never drained: on Linux, further SYNs are dropped,
/// so connecting hangs, on loopback only.
async fn black_hole() -> (
    tokio::net::TcpListener,
    Vec<TcpStream>,
    std::net::SocketAddr,
) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => fillers.push(s),
            _ => return (listener, fillers, addr),
        }
    }
    panic!("the accept queue of {addr} never filled");
}

#[tokio::test]
async fn connect_timeout_is_504() {
    let (_listener, _fillers, addr) = black_hole().await;
    let group = TargetGroupHandle::new(fast_checks(target_group("tg")));
    group.register("hole", addr);
    let connect = Duration::from_millis(300);
    let alb = Alb::start(&group, |cfg| cfg.connect_timeout = connect).await;
    // Health checks time out too; once unhealthy, fail-open sends the request there anyway.
    wait_until(&group, "unhealthy", |g| {
        g.state_of("hole") == Some(TargetState::Unhealthy)
    })
    .await;
    let started = Instant::now();
    let resp = client(&alb.ca).get(alb.url("/")).send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(took >= connect && took < IDLE, "took {took:?}");
    alb.stop().await;
}

#[tokio::test]
async fn idle_timeout_is_504_and_not_retried() {
    let a = backend().name("a").hang_path("/hang").run().await;
    let b = backend().name("b").hang_path("/hang").run().await;
    let group = group_of(rarely_checked("tg"), &[&a, &b]);
    let idle = Duration::from_millis(300);
    let alb = Alb::start(&group, |cfg| cfg.idle_timeout = idle).await;
    healthy(&group, 2).await;
    let resp = client(&alb.ca).get(alb.url("/hang")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        a.hits() + b.hits(),
        1,
        "a slow target may be working: no retry"
    );
    assert_eq!(group.healthy_count(), 2, "slowness ejects nothing");
    alb.stop().await;
}

#[tokio::test]
async fn oversized_header_is_400() {
    let a = backend().name("a").run().await;
    let group = group_of(target_group("tg"), &[&a]);
    let alb = Alb::start(&group, |_| {}).await;
    healthy(&group, 1).await;
    let big = "x".repeat(17 * 1024);
    let resp = client(&alb.ca)
        .get(alb.url("/"))
        .header("x-big", big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(a.hits(), 0);
    alb.stop().await;
}

// ---- failover in tierlab mode

#[tokio::test]
async fn reset_get_is_retried_elsewhere_but_post_never() {
    let r = backend().name("r").resets_requests().run().await;
    let b = backend().name("b").run().await;
    let group = group_of(rarely_checked("tg"), &[&r, &b]);
    let alb = Alb::start(&group, |_| {}).await;
    healthy(&group, 2).await;
    let client = client(&alb.ca);

    // Round robin: of two requests one goes to `r` first, and is retried on `b`. (A reset on a
    // target that still accepts connections does not eject it: it may be a keep-alive race.)
    for _ in 0..2 {
        let resp = client.get(alb.url("/")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.text().await.unwrap(), "b");
    }
    assert!(r.hits() >= 1, "a GET reached r");
    let (r_before, b_before) = (r.hits(), b.hits());

    let mut statuses = Vec::new();
    for _ in 0..2 {
        let resp = client
            .post(alb.url("/"))
            .body("hello")
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 502],
        "the POST that reached r is not retried"
    );
    assert_eq!((r.hits(), b.hits()), (r_before + 1, b_before + 1));
    alb.stop().await;
}

#[tokio::test]
async fn connect_failure_retries_even_a_post_with_its_body_and_ejects_the_target() {
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let group = group_of(rarely_checked("tg"), &[&a, &b]);
    let alb = Alb::start(&group, |_| {}).await;
    healthy(&group, 2).await;
    a.shutdown().await;
    let client = client(&alb.ca);
    for _ in 0..2 {
        let resp = client
            .post(alb.url("/upload"))
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.text().await.unwrap(), "b:5", "body sent whole to b");
    }
    let row = group.describe_target("a");
    assert_eq!(row.state, TargetState::Unhealthy);
    assert_eq!(row.reason, Some(ReasonCode::FailedHealthChecks));
    assert_eq!(
        row.description.as_deref(),
        Some("ejected: connection refused")
    );
    alb.stop().await;
}

#[tokio::test]
async fn consecutive_5xx_eject_a_target() {
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let mut cfg = rarely_checked("tg");
    cfg.outlier_consecutive_5xx = 3;
    let group = group_of(cfg, &[&a, &b]);
    let alb = Alb::start(&group, |_| {}).await;
    healthy(&group, 2).await;
    // The backends answer 500 on their health path; send real requests there.
    a.set_health_status(500);
    b.set_health_status(500);
    let client = client(&alb.ca);
    let health = alb.url(support::HEALTH_PATH);
    for _ in 0..5 {
        let resp = client.get(&health).send().await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "5xx passed on, not retried"
        );
    }
    // 5 answers alternate a, b, a, b, a: a has 3 in a row, b 2.
    let row = group.describe_target("a");
    assert_eq!(row.state, TargetState::Unhealthy);
    assert_eq!(
        row.description.as_deref(),
        Some("ejected: 3 consecutive 5xx responses")
    );
    assert_eq!(group.state_of("b"), Some(TargetState::Healthy));
    alb.stop().await;
}

/// The key test: clients keep sending while a backend dies abruptly.
async fn run_loop_killing_a(mode: ProxyMode) -> (Vec<(u16, bool)>, TargetGroupHandle) {
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let group = group_of(fast_checks(target_group("tg")), &[&a, &b]);
    let alb = Alb::start(&group, |cfg| cfg.mode = mode).await;
    healthy(&group, 2).await;
    let client = client(&alb.ca);
    let sent = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (client, url, sent, group) =
            (client.clone(), alb.url("/"), sent.clone(), group.clone());
        workers.push(tokio::spawn(async move {
            let mut results = Vec::new();
            while sent.fetch_add(1, Ordering::SeqCst) < 500 {
                let a_down = group.state_of("a") != Some(TargetState::Healthy);
                results.push((status_of(client.get(&url).send().await).await, a_down));
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            results
        }));
    }
    while sent.load(Ordering::SeqCst) < 100 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    a.shutdown().await;
    let mut results = Vec::new();
    for w in workers {
        results.extend(w.await.unwrap());
    }
    alb.stop().await;
    (results, group)
}

#[tokio::test]
async fn killed_backend_is_invisible_to_clients_by_default() {
    let (results, group) = run_loop_killing_a(ProxyMode::Tierlab).await;
    assert_eq!(results.len(), 500);
    let failed: Vec<u16> = results.iter().map(|r| r.0).filter(|s| *s != 200).collect();
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    assert_eq!(group.state_of("a"), Some(TargetState::Unhealthy));
}

#[tokio::test]
async fn killed_backend_shows_502s_in_aws_mode_until_unhealthy() {
    let (results, _) = run_loop_killing_a(ProxyMode::Aws).await;
    assert_eq!(results.len(), 500);
    let failed: Vec<&(u16, bool)> = results.iter().filter(|r| r.0 != 200).collect();
    assert!(!failed.is_empty(), "aws mode hides nothing");
    assert!(failed.iter().all(|r| r.0 == 502), "only 502s: {failed:?}");
    assert!(
        failed.iter().all(|r| !r.1),
        "no 502 for requests sent after a was marked unhealthy"
    );
}

// ---- headers

#[tokio::test]
async fn xff_preserve_and_remove_modes() {
    let a = backend().name("a").run().await;
    for (mode, expected) in [
        (XffMode::Preserve, Some("203.0.113.7")),
        (XffMode::Remove, None),
    ] {
        let group = group_of(target_group("tg"), &[&a]);
        let alb = Alb::start(&group, |cfg| cfg.xff_header_processing_mode = mode).await;
        healthy(&group, 1).await;
        let resp = client(&alb.ca)
            .get(alb.url("/"))
            .header("x-forwarded-for", "203.0.113.7")
            .send()
            .await
            .unwrap();
        let h = resp.headers();
        let xff = h.get("echo-x-forwarded-for").map(|v| v.to_str().unwrap());
        assert_eq!(xff, expected, "{mode:?}");
        assert_eq!(h["echo-x-forwarded-proto"], "http", "{mode:?}");
        alb.stop().await;
    }
}

#[tokio::test]
async fn trace_id_is_created_or_kept_and_extended() {
    let a = backend().name("a").run().await;
    let group = group_of(target_group("tg"), &[&a]);
    let alb = Alb::start(&group, |_| {}).await;
    healthy(&group, 1).await;
    let client = client(&alb.ca);

    let resp = client.get(alb.url("/")).send().await.unwrap();
    let made = resp.headers()["echo-x-amzn-trace-id"]
        .to_str()
        .unwrap()
        .to_string();
    let id = made.strip_prefix("Root=1-").expect(&made);
    let (epoch, random) = id.split_once('-').unwrap();
    assert_eq!((epoch.len(), random.len()), (8, 24), "{made}");
    assert!(
        id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
        "{made}"
    );

    let sent = "Root=1-67891233-abcdef012345678912345678;CalledFrom=app";
    let resp = client
        .get(alb.url("/"))
        .header("x-amzn-trace-id", sent)
        .send()
        .await
        .unwrap();
    let got = resp.headers()["echo-x-amzn-trace-id"].to_str().unwrap();
    assert!(got.starts_with("Self=1-"), "{got}");
    assert!(
        got.ends_with(&format!(";{sent}")),
        "root and custom fields kept: {got}"
    );
    alb.stop().await;
}

// ---- draining

#[tokio::test]
async fn draining_target_finishes_in_flight_request_while_new_ones_go_elsewhere() {
    let slow = Duration::from_millis(1500);
    let a = backend().name("a").slow_path("/slow", slow).run().await;
    let b = backend().name("b").slow_path("/slow", slow).run().await;
    let mut cfg = target_group("tg");
    cfg.deregistration_delay = Duration::from_secs(20);
    let group = group_of(cfg, &[&a, &b]);
    let alb = Alb::start(&group, |_| {}).await;
    healthy(&group, 2).await;
    let client = client(&alb.ca);

    let in_flight = tokio::spawn({
        let (client, url) = (client.clone(), alb.url("/slow"));
        async move { client.get(url).send().await.unwrap() }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while a.hits() + b.hits() == 0 {
        assert!(Instant::now() < deadline, "the slow request never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (busy, other) = if a.hits() == 1 {
        ("a", "b")
    } else {
        ("b", "a")
    };
    assert!(group.deregister(busy));
    let row = group.describe_target(busy);
    assert_eq!(
        (row.state, row.reason),
        (
            TargetState::Draining,
            Some(ReasonCode::DeregistrationInProgress)
        )
    );
    for _ in 0..4 {
        let resp = client.get(alb.url("/")).send().await.unwrap();
        assert_eq!(
            resp.text().await.unwrap(),
            other,
            "no new requests to {busy}"
        );
    }
    let resp = in_flight.await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.text().await.unwrap(),
        busy,
        "in-flight request finished on {busy}"
    );
    let started = Instant::now();
    wait_until(&group, "drained target gone", |g| {
        g.state_of(busy).is_none()
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "gone when idle, not after the delay"
    );
    assert_eq!(group.describe_target(busy).state, TargetState::Unused);
    alb.stop().await;
}

#[tokio::test]
async fn deregistration_delay_bounds_draining() {
    let a = backend().name("a").hang_path("/hang").run().await;
    let mut cfg = target_group("tg");
    cfg.deregistration_delay = Duration::from_millis(300);
    let group = group_of(cfg, &[&a]);
    let alb = Alb::start(&group, |_| {}).await;
    healthy(&group, 1).await;
    let client = client(&alb.ca);
    let _hung = tokio::spawn({
        let url = alb.url("/hang");
        async move { client.get(url).send().await }
    });
    while a.hits() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    group.deregister("a");
    assert_eq!(group.state_of("a"), Some(TargetState::Draining));
    wait_until(&group, "gone after the delay", |g| {
        g.state_of("a").is_none()
    })
    .await;
    alb.stop().await;
}

// ---- WebSocket

#[tokio::test]
async fn websocket_echo_through_the_proxy() {
    use support::websocket::{TEXT, accept_key, read_frame, write_frame};
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        "RFC 6455's example"
    );
    let a = backend().name("a").websocket_path("/ws").run().await;
    let group = group_of(target_group("tg"), &[&a]);
    let alb = Alb::start(&group, |_| {}).await;
    healthy(&group, 1).await;

    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let (mut conn, head) = websocket_handshake(&alb, key).await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    let accept = format!("sec-websocket-accept: {}", accept_key(key)).to_ascii_lowercase();
    assert!(head.contains(&accept), "{head}");

    for text in ["hello", "through the load balancer"] {
        write_frame(&mut conn, TEXT, text.as_bytes(), Some([1, 2, 3, 4]))
            .await
            .unwrap();
        let (opcode, payload) = read_frame(&mut conn).await.unwrap();
        assert_eq!((opcode, payload.as_slice()), (TEXT, text.as_bytes()));
    }
    drop(conn);
    alb.stop().await;
}

/// Sends a WebSocket upgrade for the backend's `/ws` through `alb`; the connection and the
/// response head, lower-cased.
async fn websocket_handshake(alb: &Alb, key: &str) -> (TcpStream, String) {
    let mut conn = TcpStream::connect(alb.lb.endpoints()[0].addr)
        .await
        .unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        conn.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    (conn, String::from_utf8(head).unwrap().to_ascii_lowercase())
}

/// Opens a WebSocket through `alb` to the backend's `/ws` and checks one echo.
async fn open_websocket(alb: &Alb) -> TcpStream {
    use support::websocket::{TEXT, read_frame, write_frame};
    let (mut conn, head) = websocket_handshake(alb, "dGhlIHNhbXBsZSBub25jZQ==").await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    write_frame(&mut conn, TEXT, b"hi", Some([1, 2, 3, 4]))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut conn).await.unwrap().1, b"hi");
    conn
}

/// Reads until the load balancer closes the connection; how long that took.
async fn closed_within(conn: &mut TcpStream, bound: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout(bound, conn.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("the tunnel was still open after {bound:?}"),
        }
    }
}

#[tokio::test]
async fn an_idle_websocket_is_closed_after_the_idle_timeout() {
    let a = backend().name("a").websocket_path("/ws").run().await;
    let group = group_of(target_group("tg"), &[&a]);
    let idle = Duration::from_secs(1);
    let alb = Alb::start(&group, |lb| lb.idle_timeout = idle).await;
    healthy(&group, 1).await;
    let mut conn = open_websocket(&alb).await;
    let took = closed_within(&mut conn, Duration::from_secs(10)).await;
    assert!(
        took >= idle - Duration::from_millis(100) && took < idle * 3,
        "closed after {took:?} with an idle timeout of {idle:?}"
    );
    alb.stop().await;
}

#[tokio::test]
async fn stopping_the_load_balancer_closes_its_websockets() {
    let a = backend().name("a").websocket_path("/ws").run().await;
    let group = group_of(target_group("tg"), &[&a]);
    let alb = Alb::start(&group, |_| {}).await;
    healthy(&group, 1).await;
    let mut conn = open_websocket(&alb).await;
    let stopping = tokio::spawn(alb.stop());
    // The tunnel is on the load balancer's task tree: it ends with it, not at IDLE (30 s).
    closed_within(&mut conn, Duration::from_secs(10)).await;
    tokio::time::timeout(Duration::from_secs(15), stopping)
        .await
        .expect("stop waited on the tunnel")
        .unwrap();
}
