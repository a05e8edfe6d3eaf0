//! Connections that never send a request, storms past the connection cap, idle keep-alive and
//! memory after a storm (issue 6, fault 3): silent sockets are closed by the first-byte
//! deadline, connections beyond the cap are closed at once and counted as
//! `RejectedConnectionCount`, and none of it touches health checks or the requests of others.
//!
//! Everything runs on 127.0.0.1 with counts far below the descriptor limit: the cap is tested
//! with a small configured `max-connections`, or with a `tierlab up` child limited to 256
//! descriptors, never by exhausting the machine's.
//!
//! - first-byte deadline: 500 silent connections (plain and TLS) closed after 1 s;
//! - idle timeout (2 s): HTTP/1.1 and HTTP/2 keep-alive, and a head dribbled byte by byte;
//! - the cap: a storm past `max-connections`, a WebSocket tunnel holding its place, the default
//!   cap derived from `RLIMIT_NOFILE`, and the default stack on Docker;
//! - memory: RSS of a `tierlab up` child after 2,000 connections within [`RSS_BOUND_KIB`] of
//!   its start, three storms in a row.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tierlab::alb::{TargetGroupHandle, TargetState, metrics};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::lab_support::{self, DOCKER_LOCK, TestLab, docker, shut_down_clean};
use crate::support::alb::{Alb, group_of};
use crate::support::config::{
    any_port, forward, http_listener, https_listener, load_balancer, target_group,
};
use crate::support::{BackendHandle, HEALTH_PATH, backend, wait_until};

/// A load balancer with an HTTP and an HTTPS listener forwarding to two fake backends, both
/// healthy before it returns.
struct Setup {
    alb: Alb,
    group: TargetGroupHandle,
    backends: [BackendHandle; 2],
}

impl Setup {
    async fn start(idle: Duration, first_byte: Duration, max: Option<u32>) -> Setup {
        let a = backend().name("a").run().await;
        let b = backend().name("b").run().await;
        let group = group_of(target_group("tg"), &[&a, &b]);
        let listeners = vec![
            http_listener(any_port(), forward("tg")),
            https_listener(any_port(), forward("tg")),
        ];
        let mut cfg = load_balancer(listeners, idle);
        cfg.connections.first_byte_timeout = Some(first_byte);
        cfg.connections.max_connections = max.and_then(NonZeroU32::new);
        let alb = Alb::start_config(&cfg, &[&group]).await;
        wait_until(&group, "both targets healthy", all_healthy).await;
        Setup {
            alb,
            group,
            backends: [a, b],
        }
    }

    fn http(&self) -> SocketAddr {
        self.alb.lb.endpoints()[0].addr
    }

    fn https(&self) -> SocketAddr {
        self.alb.lb.endpoints()[1].addr
    }

    fn metric(&self, name: &str) -> u64 {
        metric(&metrics::render(&[self.alb.lb.metrics()]), name)
    }

    /// Waits (up to `limit`) until `ActiveConnectionCount` is `n`.
    async fn wait_active(&self, n: u64, limit: Duration) {
        self.wait_metric("ActiveConnectionCount", n, limit).await
    }

    /// Waits (up to `limit`) until the load balancer's metric `name` is `n`.
    async fn wait_metric(&self, name: &str, n: u64, limit: Duration) {
        let started = Instant::now();
        while self.metric(name) != n {
            assert!(
                started.elapsed() < limit,
                "{name} is {}, not {n}, after {limit:?}",
                self.metric(name)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn all_healthy(group: &TargetGroupHandle) -> bool {
    let targets = group.describe();
    targets.len() == 2 && targets.iter().all(|t| t.state == TargetState::Healthy)
}

/// The value of the load balancer series `name{...}` in Prometheus text.
fn metric(text: &str, name: &str) -> u64 {
    let prefix = format!("{name}{{");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn tls_connector(ca_pem: &str) -> TlsConnector {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn tls(connector: &TlsConnector, addr: SocketAddr) -> impl AsyncRead + AsyncWrite + Unpin {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

/// Reads until the peer closes (EOF, reset, or TLS's "no close_notify"), at most `limit`; any
/// byte received first is a failure (a silent client must not get an answer).
async fn closed_within(mut stream: impl AsyncRead + Unpin, limit: Duration) -> Result<(), String> {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(limit, stream.read(&mut buf)).await {
        Err(_) => Err(format!("still open after {limit:?}")),
        Ok(Ok(0)) | Ok(Err(_)) => Ok(()),
        Ok(Ok(n)) => Err(format!(
            "got {n} bytes: {:?}",
            String::from_utf8_lossy(&buf[..n])
        )),
    }
}

/// One `GET path` on an open HTTP/1.1 connection; returns the status and body.
async fn get(stream: &mut (impl AsyncRead + AsyncWrite + Unpin), path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.flush().await.unwrap(); // TLS: rustls may hold the records until flushed
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed mid-response: {:?}",
            String::from_utf8_lossy(&data)
        );
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).to_string();
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let head = text[..end].to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        if data.len() >= end + 4 + length {
            let status = head[9..12].parse().unwrap();
            return (status, text[end + 4..end + 4 + length].to_string());
        }
    }
}

/// 500 connections, half plain, half TLS (handshake done), that never send a byte: all closed
/// by the 1 s first-byte deadline, not before it and well before the idle timeout (30 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_by_the_first_byte_deadline() {
    const EACH: usize = 250;
    let first_byte = Duration::from_secs(1);
    let setup = Setup::start(Duration::from_secs(30), first_byte, None).await;
    let connector = tls_connector(setup.alb.ca.cert_pem());
    let (http, https) = (setup.http(), setup.https());

    // Open them in batches of 50 (bounded bursts); each is timed from its own start.
    let mut plain = Vec::new();
    let mut secure = Vec::new();
    for _ in 0..EACH / 50 {
        let batch = (0..50).map(|_| async {
            let s = TcpStream::connect(http).await.unwrap();
            (Instant::now(), s)
        });
        plain.extend(join_all(batch).await);
        let batch = (0..50).map(|_| async {
            let s = tls(&connector, https).await;
            (Instant::now(), s)
        });
        secure.extend(join_all(batch).await);
    }
    // All accepted (none rejected); early ones may already be closed again.
    setup
        .wait_metric(
            "NewConnectionCount",
            2 * EACH as u64,
            Duration::from_secs(5),
        )
        .await;

    let limit = first_byte + Duration::from_secs(5);
    let plain = plain
        .into_iter()
        .map(|(opened, s)| async move { closed_within(s, limit).await.map(|()| opened.elapsed()) });
    let secure = secure
        .into_iter()
        .map(|(opened, s)| async move { closed_within(s, limit).await.map(|()| opened.elapsed()) });
    let (plain, secure) = tokio::join!(join_all(plain), join_all(secure));
    let mut lifetimes = Vec::new();
    for (kind, results) in [("plain", plain), ("TLS", secure)] {
        for (i, result) in results.into_iter().enumerate() {
            let lived = result.unwrap_or_else(|e| panic!("{kind} connection {i}: {e}"));
            lifetimes.push(lived);
        }
    }
    let shortest = lifetimes.iter().min().unwrap();
    let longest = lifetimes.iter().max().unwrap();
    eprintln!(
        "first-byte deadline {first_byte:?}: {} silent connections closed after {shortest:?}..{longest:?}",
        lifetimes.len()
    );
    // Not before the deadline (100 ms of slack: each start is noted when its future is next
    // polled, possibly after the server accepted), and well before the idle timeout.
    assert!(*shortest + Duration::from_millis(100) >= first_byte);
    assert!(*longest < limit);
    setup.wait_active(0, Duration::from_secs(5)).await;
    assert_eq!(setup.metric("RejectedConnectionCount"), 0);
    setup.alb.stop().await;
}

/// A keep-alive connection (HTTP/1.1) is kept for the idle timeout (2 s here) after its last
/// response and then closed: the configured `idle-timeout`, not hyper's 30 s default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_keep_alive_lasts_the_idle_timeout() {
    let idle = Duration::from_secs(2);
    let setup = Setup::start(idle, idle, None).await;
    let mut conn = TcpStream::connect(setup.http()).await.unwrap();
    assert_eq!(get(&mut conn, "/").await.0, 200);
    // Still usable after most of the idle timeout...
    tokio::time::sleep(idle * 3 / 4).await;
    assert_eq!(get(&mut conn, "/").await.0, 200);
    let answered = Instant::now();
    // ...and closed about one idle timeout after the last response.
    closed_within(&mut conn, idle * 3).await.unwrap();
    let lived = answered.elapsed();
    eprintln!("HTTP/1.1 keep-alive with idle-timeout {idle:?}: closed after {lived:?}");
    assert!(lived + Duration::from_millis(50) >= idle, "{lived:?}");
    assert!(lived < idle + Duration::from_secs(1), "{lived:?}");
    setup.alb.stop().await;
}

/// HTTP/2 (prior knowledge on the plain listener): the same idle timeout closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_secs(2);
    let setup = Setup::start(idle, idle, None).await;
    let tcp = TcpStream::connect(setup.http()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    let driver = tokio::spawn(conn);
    let request = http::Request::get(format!("http://{}/", setup.http()))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    use http_body_util::BodyExt;
    response.into_body().collect().await.unwrap();
    let answered = Instant::now();
    let ended = tokio::time::timeout(idle * 3, driver).await;
    let lived = answered.elapsed();
    assert!(
        ended.is_ok(),
        "HTTP/2 connection still open after {lived:?}"
    );
    eprintln!("HTTP/2 with idle-timeout {idle:?}: closed after {lived:?}");
    assert!(lived + Duration::from_millis(50) >= idle, "{lived:?}");
    setup.alb.stop().await;
}

/// A head dribbled one byte every 300 ms keeps the connection busy but never completes: cut off
/// at the idle timeout (2 s) from the start of the head, hyper's header-read bound being the
/// configured idle timeout rather than its default 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dribbled_head_is_cut_off_at_the_idle_timeout() {
    let idle = Duration::from_secs(2);
    let setup = Setup::start(idle, idle, None).await;
    let mut conn = TcpStream::connect(setup.http()).await.unwrap();
    let started = Instant::now();
    let head = b"GET / HTTP/1.1\r\nhost: localhost\r\nx-slow: ";
    let mut i = 0;
    let cut_off = loop {
        assert!(
            started.elapsed() < idle * 4,
            "still reading a head after {:?}",
            started.elapsed()
        );
        let byte = head.get(i).copied().unwrap_or(b'a');
        if conn.write_all(&[byte]).await.is_err() {
            break started.elapsed();
        }
        i += 1;
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(300), conn.read(&mut buf)).await {
            Err(_) => {}
            Ok(Ok(0)) | Ok(Err(_)) => break started.elapsed(),
            Ok(Ok(n)) => {
                // hyper may answer 408 before closing; anything else is wrong.
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                assert!(text.starts_with("HTTP/1.1 408"), "{text}");
            }
        }
    };
    eprintln!("dribbled head with idle-timeout {idle:?}: cut off after {cut_off:?}");
    assert!(cut_off + Duration::from_millis(50) >= idle, "{cut_off:?}");
    assert!(cut_off < idle + Duration::from_secs(1), "{cut_off:?}");
    setup.alb.stop().await;
}

/// With `max-connections = 40`: a storm of 200 silent connections fills the cap, the other
/// ones are closed at once and counted as `RejectedConnectionCount`; both targets stay healthy
/// (health checks keep running), and a client on an established keep-alive connection is
/// served throughout. Once the storm ends, new connections are accepted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_past_the_cap_is_rejected_counted_and_harmless() {
    const CAP: u32 = 40;
    const STORM: usize = 200;
    let setup = Setup::start(Duration::from_secs(30), Duration::from_secs(30), Some(CAP)).await;
    let (http, https) = (setup.http(), setup.https());

    // A client that was here before the storm keeps requesting on its connection.
    let mut regular = TcpStream::connect(http).await.unwrap();
    assert_eq!(get(&mut regular, "/").await.0, 200);
    let checks_before = setup.backends[0].health_checks() + setup.backends[1].health_checks();

    // The storm: plain connections to both listeners (the cap is the load balancer's).
    let storm = (0..STORM).map(|i| async move {
        let addr = if i % 2 == 0 { http } else { https };
        TcpStream::connect(addr).await.unwrap()
    });
    let storm = join_all(storm).await;
    let admitted = CAP as usize - 1; // the regular client holds one place
    setup.wait_active(CAP as u64, Duration::from_secs(5)).await;

    // Exactly the excess is rejected, each closed at once.
    let rejected = (STORM - admitted) as u64;
    let started = Instant::now();
    while setup.metric("RejectedConnectionCount") < rejected {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "rejections not counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(setup.metric("RejectedConnectionCount"), rejected);
    // Each excess connection was closed at once; the admitted ones stay open (and are kept).
    let mut storm = storm;
    let probes = storm
        .iter_mut()
        .map(|s| async move { closed_within(s, Duration::from_millis(300)).await.is_ok() });
    let closed = join_all(probes).await.into_iter().filter(|c| *c).count();
    assert_eq!(
        closed,
        STORM - admitted,
        "the excess, and only it, was closed at once"
    );

    // While the storm holds the cap: requests on the regular connection are served and the
    // health checks keep passing; a newcomer is turned away.
    for _ in 0..20 {
        let (status, _) = get(&mut regular, "/").await;
        assert_eq!(status, 200);
        assert!(all_healthy(&setup.group), "{:#?}", setup.group.describe());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let newcomer = TcpStream::connect(http).await.unwrap();
    closed_within(newcomer, Duration::from_secs(1))
        .await
        .unwrap();
    let rejected = rejected + 1;
    let checks_after = setup.backends[0].health_checks() + setup.backends[1].health_checks();
    assert!(
        checks_after > checks_before,
        "health checks stopped during the storm"
    );
    eprintln!(
        "storm of {STORM} past max-connections {CAP}: {rejected} rejected, {} health checks during it, targets healthy",
        checks_after - checks_before
    );
    assert_eq!(setup.metric("ActiveConnectionCount"), CAP as u64);

    // The storm ends; new connections work again.
    drop(storm);
    setup.wait_active(1, Duration::from_secs(5)).await;
    let mut fresh = TcpStream::connect(http).await.unwrap();
    assert_eq!(get(&mut fresh, HEALTH_PATH).await.0, 200);
    assert_eq!(setup.metric("RejectedConnectionCount"), rejected);
    setup.alb.stop().await;
}

/// A WebSocket tunnel keeps its place under the cap after the upgrade (its socket is still a
/// client connection): with `max-connections = 1`, a second connection is refused while the
/// tunnel is open and accepted once it is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_tunnels_count_against_the_cap() {
    use crate::support::websocket::{TEXT, read_frame, write_frame};
    let a = backend().name("a").websocket_path("/ws").run().await;
    let group = group_of(target_group("tg"), &[&a]);
    let mut cfg = load_balancer(
        vec![http_listener(any_port(), forward("tg"))],
        Duration::from_secs(30),
    );
    cfg.connections.max_connections = NonZeroU32::new(1);
    let alb = Alb::start_config(&cfg, &[&group]).await;
    wait_until(&group, "target healthy", |g| {
        g.describe().iter().all(|t| t.state == TargetState::Healthy)
    })
    .await;
    let addr = alb.lb.endpoints()[0].addr;
    let rejected = || {
        metric(
            &metrics::render(&[alb.lb.metrics()]),
            "RejectedConnectionCount",
        )
    };

    let mut tunnel = TcpStream::connect(addr).await.unwrap();
    let request = "GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n\
                   Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                   Sec-WebSocket-Version: 13\r\n\r\n";
    tunnel.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tunnel.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    write_frame(&mut tunnel, TEXT, b"hi", Some([1, 2, 3, 4]))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut tunnel).await.unwrap().1, b"hi");

    // The tunnel holds the only place.
    let second = TcpStream::connect(addr).await.unwrap();
    closed_within(second, Duration::from_secs(1)).await.unwrap();
    assert_eq!(rejected(), 1);
    assert_eq!(
        metric(
            &metrics::render(&[alb.lb.metrics()]),
            "ActiveConnectionCount"
        ),
        1
    );

    // Closed, it gives the place back.
    drop(tunnel);
    let started = Instant::now();
    let mut conn = loop {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let request = "GET / HTTP/1.1\r\nhost: localhost\r\n\r\n";
        let mut buf = [0u8; 12];
        if conn.write_all(request.as_bytes()).await.is_ok()
            && conn.read_exact(&mut buf).await.is_ok()
        {
            assert_eq!(&buf, b"HTTP/1.1 200");
            break conn;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the tunnel's place never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = conn.shutdown().await;
    alb.stop().await;
}

// ---- the default stack on Docker

/// The default stack with `max-connections = 100`: a storm of 400 silent connections to both
/// listeners leaves both targets healthy, the same two tasks running, and a client on an
/// established HTTPS connection served throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_stack_survives_a_storm_past_the_cap() {
    const CAP: u32 = 100;
    const STORM: usize = 400;
    let _serial = DOCKER_LOCK.lock().await;
    let mut test = TestLab::new("storm");
    let at = "idle-timeout = \"60s\"\n";
    assert!(test.config_text.contains(at), "emulator.toml changed shape");
    test.config_text = test
        .config_text
        .replacen(at, &format!("{at}max-connections = {CAP}\n"), 1);
    let docker = docker().await;
    let lab = test.start().await;
    let service = lab.service("flask-app-service").unwrap().clone();
    let tg = lab.target_group("flask-app-tg").unwrap().clone();
    let tasks_before: Vec<String> = service
        .status()
        .tasks
        .into_iter()
        .map(|t| t.task_id)
        .collect();
    assert_eq!(tasks_before.len(), 2);
    let lb = lab.load_balancers()[0].clone();

    // A client with one HTTPS connection (HTTP/2 by ALPN), established before the storm.
    let client = lab_support::client(&lab);
    let url = format!("{}/api/entries", lab.https_url().unwrap());
    assert!(client.get(&url).send().await.unwrap().status().is_success());

    let endpoints = lb.endpoints();
    let storm = (0..STORM).map(|i| {
        let addr = endpoints[i % endpoints.len()].addr;
        async move { TcpStream::connect(addr).await.unwrap() }
    });
    let storm = join_all(storm).await;
    let rejected = || metric(&metrics::render(&[lb.metrics()]), "RejectedConnectionCount");

    // Requests keep being served while the storm holds the cap (bounded: 5 s, 100 requests).
    let started = Instant::now();
    let (mut ok, mut failed) = (0, 0);
    while started.elapsed() < Duration::from_secs(5) && ok + failed < 100 {
        match client.get(&url).send().await {
            Ok(r) if r.status().is_success() => ok += 1,
            _ => failed += 1,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = rejected();
    eprintln!(
        "default stack, storm of {STORM} past max-connections {CAP}: {refused} rejected; {ok} requests ok, {failed} failed"
    );
    assert!(
        refused >= (STORM - CAP as usize) as u64,
        "{refused} rejected"
    );
    assert_eq!(failed, 0, "requests failed during the storm");
    assert!(ok > 0);
    for task in &tasks_before {
        assert_eq!(tg.state_of(task), Some(TargetState::Healthy), "task {task}");
    }
    drop(storm);
    let tasks_after: Vec<String> = service
        .status()
        .tasks
        .into_iter()
        .map(|t| t.task_id)
        .collect();
    assert_eq!(tasks_after, tasks_before, "no task was stopped or replaced");
    assert!(client.get(&url).send().await.unwrap().status().is_success());

    shut_down_clean(lab, &docker, &test).await;
}

// ---- memory

/// Resident memory of process `pid` in KiB (`VmRSS` of `/proc/<pid>/status`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// `tierlab up` of a load-balancer-only lab (examples/alb-only.toml) on `ports`, its targets
/// two fake backends of this process; stopped (SIGTERM) when dropped.
struct AlbProcess {
    child: Child,
    state: tempfile::TempDir,
}

impl AlbProcess {
    /// `ports`: HTTP listener, HTTPS listener, metrics.
    fn start(ports: [u16; 3], targets: [SocketAddr; 2]) -> AlbProcess {
        Self::start_with_nofile(ports, targets, None)
    }

    /// [`start`](Self::start) with soft and hard `RLIMIT_NOFILE` set to `nofile`.
    fn start_with_nofile(
        ports: [u16; 3],
        targets: [SocketAddr; 2],
        nofile: Option<u64>,
    ) -> AlbProcess {
        let [http, https, metrics] = ports;
        let example = include_str!("../../examples/alb-only.toml");
        let text = example
            .replace("8080", &http.to_string())
            .replace("8443", &https.to_string())
            .replace("9100", &metrics.to_string())
            .replace("access-logs = { enabled = true, interval = \"5m\" }\n", "")
            .replace("path = \"/\"", &format!("path = \"{HEALTH_PATH}\""))
            .replace(
                "targets = [\"127.0.0.1:9001\", \"127.0.0.1:9002\"]",
                &format!("targets = [\"{}\", \"{}\"]", targets[0], targets[1]),
            );
        assert!(
            text.contains(&targets[0].to_string()),
            "alb-only.toml changed shape"
        );
        let state = tempfile::tempdir().unwrap();
        let file = state.path().join("alb-only.toml");
        std::fs::write(&file, text).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tierlab"));
        if let Some(n) = nofile {
            use std::os::unix::process::CommandExt;
            let limit = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            // SAFETY: only setrlimit, async-signal-safe, between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = command
            .arg("-f")
            .arg(&file)
            .arg("up")
            .env("TIERLAB_STATE_DIR", state.path())
            .env("RUST_LOG", "tierlab=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        AlbProcess { child, state }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for AlbProcess {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `tierlab up` process limited to 256 descriptors, with no `max-connections`: the default
/// cap follows from the limit (`limits::client_budget(256)` = 96 connections), so a storm of 300
/// silent connections is refused beyond it instead of exhausting descriptors; the health checks
/// keep both targets healthy, and a client on an established connection is served throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_cap_keeps_descriptors_for_health_checks() {
    const NOFILE: u64 = 256;
    const STORM: usize = 300;
    let budget = tierlab::alb::limits::client_budget(NOFILE) as u64;
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let ports = [(); 3].map(|()| lab_support::free_port());
    let _process = AlbProcess::start_with_nofile(ports, [a.addr, b.addr], Some(NOFILE));
    let [http, https, metrics] = ports.map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
    let mut regular = ready(http).await;
    let text = || async move {
        let mut conn = TcpStream::connect(metrics).await.unwrap();
        get(&mut conn, "/metrics").await.1
    };

    let storm = (0..STORM).map(|i| async move {
        TcpStream::connect(if i % 2 == 0 { http } else { https })
            .await
            .unwrap()
    });
    let storm = join_all(storm).await;
    // The excess is refused at once: `budget` open (the regular client among them).
    let started = Instant::now();
    let expected = STORM as u64 + 1 - budget;
    while metric(&text().await, "RejectedConnectionCount") < expected {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "rejections not counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let checks_before = a.health_checks() + b.health_checks();
    // Three health check intervals (1 s) with the storm held: requests served, targets healthy.
    let held = Instant::now();
    while held.elapsed() < Duration::from_secs(3) {
        assert_eq!(get(&mut regular, "/").await.0, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = text().await;
    let checks = a.health_checks() + b.health_checks() - checks_before;
    eprintln!(
        "RLIMIT_NOFILE {NOFILE}: default cap {budget}; storm of {STORM}: {} rejected, {} open, \
         {checks} health checks passed meanwhile",
        metric(&after, "RejectedConnectionCount"),
        metric(&after, "ActiveConnectionCount"),
    );
    assert_eq!(metric(&after, "RejectedConnectionCount"), expected);
    assert_eq!(metric(&after, "ActiveConnectionCount"), budget);
    assert_eq!(metric(&after, "HealthyHostCount"), 2, "{after}");
    assert_eq!(metric(&after, "UnHealthyHostCount"), 0, "{after}");
    assert!(checks >= 4, "{checks} health checks in 3 s");
    drop(storm);
}

/// Waits (bounded) until a `tierlab up` serves `GET /` twice on one connection (both targets
/// answer); returns that connection.
async fn ready(http: SocketAddr) -> TcpStream {
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "tierlab up did not start"
        );
        if let Ok(mut conn) = TcpStream::connect(http).await {
            if get(&mut conn, "/").await.0 == 200 && get(&mut conn, "/").await.0 == 200 {
                return conn;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `ActiveConnectionCount` as `GET /metrics` on `metrics` says.
async fn active_connections(metrics: SocketAddr) -> u64 {
    let mut conn = TcpStream::connect(metrics).await.unwrap();
    let (status, text) = get(&mut conn, "/metrics").await;
    assert_eq!(status, 200);
    metric(&text, "ActiveConnectionCount")
}

/// RSS of a `tierlab up` process before, during and after storms of 2,000 connections (1,000
/// plain and 1,000 TLS, each with one request, then held open): once they are closed it is back
/// within [`RSS_BOUND_KIB`] of where it started, storm after storm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rss_returns_close_to_its_start_after_a_storm() {
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let ports = [(); 3].map(|()| lab_support::free_port());
    let process = AlbProcess::start(ports, [a.addr, b.addr]);
    let [http, https, metrics] = ports.map(|p| SocketAddr::from(([127, 0, 0, 1], p)));

    let mut warm = ready(http).await;
    let ca = std::fs::read_to_string(process.state.path().join("ca/ca.pem")).unwrap();
    let connector = tls_connector(&ca);
    // Warm up both listeners, so state built on first use is not counted as growth.
    for _ in 0..BATCH {
        let mut conn = tls(&connector, https).await;
        assert_eq!(get(&mut conn, "/").await.0, 200);
        assert_eq!(get(&mut warm, "/").await.0, 200);
    }
    drop(warm);
    wait_for_active(metrics, 0).await;
    let before = rss_kib(process.pid());

    // Several storms: memory comes back after each, and does not pile up.
    let mut afters = Vec::new();
    for round in 1..=STORMS {
        let peak = storm(http, https, &connector, metrics, process.pid()).await;
        wait_for_active(metrics, 0).await;
        // Memory comes back shortly after the connections end (bounded wait).
        let closed = Instant::now();
        let mut after = rss_kib(process.pid());
        while after > before + RSS_BOUND_KIB && closed.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            after = rss_kib(process.pid());
        }
        eprintln!(
            "tierlab up RSS, storm {round} of {} connections ({EACH} plain + {EACH} TLS, one \
             request each, held): before {before} KiB, peak {peak} KiB, after {after} KiB \
             ({:.1} s after the last closed)",
            2 * EACH,
            closed.elapsed().as_secs_f64()
        );
        assert!(
            after <= before + RSS_BOUND_KIB,
            "RSS {after} KiB after storm {round}, {before} KiB before (bound +{RSS_BOUND_KIB} KiB)"
        );
        afters.push(after);
    }
    // Not a leak that grows with every storm: the last one adds little to the first.
    assert!(
        afters[STORMS - 1] <= afters[0] + RSS_CREEP_KIB,
        "RSS after each storm: {afters:?} KiB (at most +{RSS_CREEP_KIB} KiB over the first)"
    );
}

/// Opens [`EACH`] plain and [`EACH`] TLS connections in batches, one request on each, holds
/// them all, and returns the RSS of `pid` then; the connections are closed on return.
async fn storm(
    http: SocketAddr,
    https: SocketAddr,
    connector: &TlsConnector,
    metrics: SocketAddr,
    pid: u32,
) -> u64 {
    let mut plain = Vec::with_capacity(EACH);
    let mut secure = Vec::with_capacity(EACH);
    for _ in 0..EACH / BATCH {
        let batch = (0..BATCH).map(|_| async {
            let mut conn = TcpStream::connect(http).await.unwrap();
            assert_eq!(get(&mut conn, "/").await.0, 200);
            conn
        });
        plain.extend(join_all(batch).await);
        let batch = (0..BATCH).map(|_| async {
            let mut conn = tls(connector, https).await;
            assert_eq!(get(&mut conn, "/").await.0, 200);
            conn
        });
        secure.extend(join_all(batch).await);
    }
    assert_eq!(active_connections(metrics).await, 2 * EACH as u64);
    rss_kib(pid)
}

/// Connections of each kind in the RSS storm, and how many are opened at once.
const EACH: usize = 1000;
const BATCH: usize = 100;

/// How far above its start RSS may stay after a storm: 12 MiB, against ~80 MiB the storm
/// adds (measured: 6-9 MiB stay: glibc heap fragmentation and structures that keep their
/// high-water size).
const RSS_BOUND_KIB: u64 = 12 * 1024;
/// How much more than after the first storm RSS may stay after the last one (measured: ~1 MiB
/// more after each of the next storms, shrinking).
const RSS_CREEP_KIB: u64 = 4 * 1024;
/// Storms in a row.
const STORMS: usize = 3;

/// Waits (up to 10 s) until the process reports `n` active client connections (the metrics
/// connection itself is not counted: it is the metrics port's, not a listener's).
async fn wait_for_active(metrics: SocketAddr, n: u64) {
    let started = Instant::now();
    loop {
        let active = active_connections(metrics).await;
        if active == n {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{active} connections still open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
