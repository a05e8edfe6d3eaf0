//! The load balancer end to end: real sockets on 127.0.0.1, real TLS with the local CA, real
//! HTTP clients, fake backends as targets.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use http::{StatusCode, Version};
use tierlab::alb::{LoadBalancerHandle, LocalCa, ReasonCode, TargetGroupHandle, TargetState};
use tierlab::config::Listener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use support::alb::Alb;
use support::config::{
    any_port, fast_checks, forward, http_listener, https_listener, load_balancer,
    redirect_to_https, target_group,
};
use support::{BackendHandle, backend, client, client_builder, wait_until};

const IDLE: Duration = Duration::from_secs(30);

impl Alb {
    /// Starts a load balancer with `listeners`; `groups` get their health checkers started.
    async fn start(listeners: Vec<Listener>, idle: Duration, groups: &[&TargetGroupHandle]) -> Alb {
        Alb::start_config(&load_balancer(listeners, idle), groups).await
    }
}

/// A target group with `backends` registered under their names (healthy once checked).
fn healthy_group(name: &str, backends: &[&BackendHandle]) -> TargetGroupHandle {
    let group = TargetGroupHandle::new(target_group(name));
    for b in backends {
        group.register(b.name(), b.addr);
    }
    group
}

async fn wait_all_healthy(group: &TargetGroupHandle, n: usize) {
    wait_until(group, &format!("{n} healthy targets"), |g| {
        g.healthy_count() == n
    })
    .await;
}

async fn get_body(client: &reqwest::Client, url: &str) -> String {
    let resp = client.get(url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "GET {url}");
    resp.text().await.unwrap()
}

#[tokio::test]
async fn https_alternates_between_two_backends_with_forwarded_headers() {
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let group = healthy_group("tg", &[&a, &b]);
    let alb = Alb::start(
        vec![https_listener(any_port(), forward("tg"))],
        IDLE,
        &[&group],
    )
    .await;
    wait_all_healthy(&group, 2).await;
    let client = client(&alb.ca);

    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(get_body(&client, &alb.https("/")).await);
    }
    for pair in seen.windows(2) {
        assert_ne!(pair[0], pair[1], "round robin must alternate: {seen:?}");
    }
    assert_eq!(a.hits(), 3);
    assert_eq!(b.hits(), 3);

    let resp = client
        .get(alb.https("/x?y=1"))
        .header("cookie", "k=v")
        .send()
        .await
        .unwrap();
    let port = alb.lb.endpoints()[0].addr.port();
    let h = resp.headers();
    assert_eq!(h["echo-x-forwarded-proto"], "https");
    assert_eq!(h["echo-x-forwarded-port"], port.to_string().as_str());
    assert_eq!(h["echo-x-forwarded-for"], "127.0.0.1");
    assert_eq!(
        h["echo-host"],
        format!("127.0.0.1:{port}").as_str(),
        "client's Host kept"
    );
    assert_eq!(
        h["echo-version"], "HTTP/1.1",
        "targets are spoken to in HTTP/1.1"
    );
    assert_eq!(h["echo-cookie"], "k=v");
    alb.stop().await;
}

#[tokio::test]
async fn forwarded_for_appends_to_the_clients_chain() {
    let a = backend().name("a").run().await;
    let group = healthy_group("tg", &[&a]);
    let alb = Alb::start(
        vec![http_listener(any_port(), forward("tg"))],
        IDLE,
        &[&group],
    )
    .await;
    wait_all_healthy(&group, 1).await;
    let resp = client(&alb.ca)
        .get(alb.http("/"))
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let h = resp.headers();
    assert_eq!(h["echo-x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(
        h["echo-x-forwarded-proto"], "http",
        "the listener's scheme, not the client's claim"
    );
    alb.stop().await;
}

#[tokio::test]
async fn http_listener_redirects_to_https_keeping_path_and_query() {
    // No target group at all: a redirect listener needs none.
    let alb = Alb::start(
        vec![http_listener(any_port(), redirect_to_https(8443))],
        IDLE,
        &[],
    )
    .await;
    let resp = client(&alb.ca)
        .get(alb.http("/items/7?sort=asc&q=a%20b"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        resp.headers()["location"],
        "https://127.0.0.1:8443/items/7?sort=asc&q=a%20b"
    );
    alb.stop().await;
}

#[tokio::test]
async fn no_targets_is_503() {
    let group = TargetGroupHandle::new(target_group("empty"));
    let alb = Alb::start(
        vec![http_listener(any_port(), forward("empty"))],
        IDLE,
        &[&group],
    )
    .await;
    let resp = client(&alb.ca).get(alb.http("/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("503 Service Unavailable")
    );
    alb.stop().await;
}

#[tokio::test]
async fn closed_backend_is_502() {
    let a = backend().name("a").run().await;
    let group = healthy_group("tg", &[&a]);
    let alb = Alb::start(
        vec![http_listener(any_port(), forward("tg"))],
        IDLE,
        &[&group],
    )
    .await;
    wait_all_healthy(&group, 1).await;
    a.shutdown().await;
    // Healthy or already unhealthy (fail-open), the request goes to the closed port.
    let resp = client(&alb.ca).get(alb.http("/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    alb.stop().await;
}

#[tokio::test]
async fn resetting_and_garbage_backends_are_502() {
    for bad in [
        backend().name("r").resets().run().await,
        backend().name("g").garbage().run().await,
    ] {
        let group = healthy_group("tg", &[&bad]);
        let alb = Alb::start(
            vec![http_listener(any_port(), forward("tg"))],
            IDLE,
            &[&group],
        )
        .await;
        // Its health checks fail too: once unhealthy, fail-open routes to it anyway.
        wait_until(&group, "unhealthy", |g| {
            g.state_of(bad.name()) == Some(TargetState::Unhealthy)
        })
        .await;
        assert_eq!(
            group.describe_target(bad.name()).reason,
            Some(ReasonCode::FailedHealthChecks)
        );
        let resp = client(&alb.ca).get(alb.http("/")).send().await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::BAD_GATEWAY,
            "backend {}",
            bad.name()
        );
        alb.stop().await;
    }
}

#[tokio::test]
async fn never_answering_backend_is_504_after_idle_timeout() {
    let a = backend().name("a").hang_path("/slow").run().await;
    let group = healthy_group("tg", &[&a]);
    let idle = Duration::from_millis(300);
    let alb = Alb::start(
        vec![http_listener(any_port(), forward("tg"))],
        idle,
        &[&group],
    )
    .await;
    wait_all_healthy(&group, 1).await;
    let started = Instant::now();
    let resp = client(&alb.ca).get(alb.http("/slow")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    let took = started.elapsed();
    assert!(
        took >= idle && took < Duration::from_secs(5),
        "took {took:?}"
    );
    alb.stop().await;
}

#[tokio::test]
async fn failing_health_checks_take_a_target_out_of_rotation_and_back() {
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let group = TargetGroupHandle::new(fast_checks(target_group("tg")));
    group.register("a", a.addr);
    group.register("b", b.addr);
    let alb = Alb::start(
        vec![http_listener(any_port(), forward("tg"))],
        IDLE,
        &[&group],
    )
    .await;
    wait_all_healthy(&group, 2).await;
    let client = client(&alb.ca);

    b.set_health_status(500);
    let checks_before = b.health_checks();
    wait_until(&group, "b unhealthy", |g| {
        g.state_of("b") == Some(TargetState::Unhealthy)
    })
    .await;
    assert!(
        b.health_checks() - checks_before >= 2,
        "flips after unhealthy_threshold (2) checks"
    );
    let row = group.describe_target("b");
    assert_eq!(row.reason, Some(ReasonCode::ResponseCodeMismatch));
    assert_eq!(
        row.description.as_deref(),
        Some("Health checks failed with these codes: [500]")
    );

    let b_hits = b.hits();
    for _ in 0..6 {
        assert_eq!(get_body(&client, &alb.http("/")).await, "a");
    }
    assert_eq!(
        b.hits(),
        b_hits,
        "an unhealthy target gets no traffic while another is healthy"
    );

    b.set_health_status(200);
    wait_until(&group, "b healthy again", |g| {
        g.state_of("b") == Some(TargetState::Healthy)
    })
    .await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(get_body(&client, &alb.http("/")).await);
    }
    assert!(
        seen.contains(&"b".to_string()),
        "b back in rotation: {seen:?}"
    );
    alb.stop().await;
}

#[tokio::test]
async fn new_target_is_checked_at_once_not_after_an_interval() {
    let mut cfg = target_group("slow-interval");
    cfg.health_check.interval = Duration::from_secs(60);
    cfg.health_check.timeout = Duration::from_secs(1);
    let group = TargetGroupHandle::new(cfg);
    let alb = Alb::start(
        vec![http_listener(any_port(), forward("slow-interval"))],
        IDLE,
        &[&group],
    )
    .await;
    // Registered after the checker's first (immediate) round.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let a = backend().name("a").run().await;
    group.register("a", a.addr);
    wait_all_healthy(&group, 1).await;
    assert_eq!(get_body(&client(&alb.ca), &alb.http("/")).await, "a");
    alb.stop().await;
}

#[tokio::test]
async fn deregistered_target_gets_no_more_requests() {
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let group = healthy_group("tg", &[&a, &b]);
    let alb = Alb::start(
        vec![http_listener(any_port(), forward("tg"))],
        IDLE,
        &[&group],
    )
    .await;
    wait_all_healthy(&group, 2).await;
    assert!(group.deregister("a"));
    let client = client(&alb.ca);
    let hits = a.hits();
    for _ in 0..4 {
        assert_eq!(get_body(&client, &alb.http("/")).await, "b");
    }
    assert_eq!(a.hits(), hits);
    alb.stop().await;
}

#[tokio::test]
async fn https_negotiates_http2_via_alpn_and_http1_when_asked() {
    let a = backend().name("a").run().await;
    let group = healthy_group("tg", &[&a]);
    let alb = Alb::start(
        vec![https_listener(any_port(), forward("tg"))],
        IDLE,
        &[&group],
    )
    .await;
    wait_all_healthy(&group, 1).await;

    let resp = client(&alb.ca).get(alb.https("/")).send().await.unwrap();
    assert_eq!(resp.version(), Version::HTTP_2);
    let h = resp.headers().clone();
    assert_eq!(resp.text().await.unwrap(), "a");
    let port = alb.lb.endpoints()[0].addr.port();
    assert_eq!(
        h["echo-host"],
        format!("127.0.0.1:{port}").as_str(),
        ":authority becomes Host"
    );

    let h1 = client_builder(&alb.ca).http1_only().build().unwrap();
    let resp = h1.get(alb.https("/")).send().await.unwrap();
    assert_eq!(resp.version(), Version::HTTP_11);
    alb.stop().await;
}

#[tokio::test]
async fn five_megabyte_upload_streams_through() {
    let a = backend().name("a").run().await;
    let group = healthy_group("tg", &[&a]);
    let alb = Alb::start(
        vec![
            https_listener(any_port(), forward("tg")),
            http_listener(any_port(), forward("tg")),
        ],
        IDLE,
        &[&group],
    )
    .await;
    wait_all_healthy(&group, 1).await;
    let body: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let client = client(&alb.ca);
    for url in [alb.https("/upload"), alb.http("/upload")] {
        let resp = client.post(&url).body(body.clone()).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        assert_eq!(
            resp.text().await.unwrap(),
            format!("a:{}", body.len()),
            "{url}"
        );
    }
    alb.stop().await;
}

#[tokio::test]
async fn response_body_streams_without_waiting_for_its_end() {
    let hold = Duration::from_secs(3);
    let a = backend()
        .name("a")
        .trickle_path("/stream", hold)
        .run()
        .await;
    let group = healthy_group("tg", &[&a]);
    let alb = Alb::start(
        vec![https_listener(any_port(), forward("tg"))],
        IDLE,
        &[&group],
    )
    .await;
    wait_all_healthy(&group, 1).await;
    let started = Instant::now();
    let mut resp = client(&alb.ca)
        .get(alb.https("/stream"))
        .send()
        .await
        .unwrap();
    let first = resp.chunk().await.unwrap().unwrap();
    assert_eq!(&first[..], b"first");
    assert!(
        started.elapsed() < hold,
        "first chunk waited for the whole body"
    );
    assert_eq!(&resp.chunk().await.unwrap().unwrap()[..], b"second");
    alb.stop().await;
}

#[tokio::test]
async fn port_in_use_names_the_port_and_the_fix() {
    support::init_tracing();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let state = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(&state.path().join("ca")).unwrap();
    let cfg = load_balancer(vec![http_listener(addr, redirect_to_https(443))], IDLE);
    let err = LoadBalancerHandle::start(
        &cfg,
        &HashMap::new(),
        &ca,
        &TaskTracker::new(),
        CancellationToken::new(),
    )
    .await
    .expect_err("bind must fail");
    let msg = err.to_string();
    assert!(msg.contains(&addr.to_string()), "{msg}");
    assert!(
        msg.contains(&format!("port {} is in use", addr.port())),
        "{msg}"
    );
    assert!(msg.contains("emulator.toml"), "{msg}");
}

#[tokio::test]
async fn unknown_target_group_is_an_error() {
    let state = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(&state.path().join("ca")).unwrap();
    let cfg = load_balancer(vec![http_listener(any_port(), forward("nope"))], IDLE);
    let tracker = TaskTracker::new();
    let err = LoadBalancerHandle::start(
        &cfg,
        &HashMap::new(),
        &ca,
        &tracker,
        CancellationToken::new(),
    )
    .await
    .expect_err("must fail");
    assert!(err.to_string().contains("`nope`"), "{err}");
}

#[tokio::test]
async fn stop_closes_listeners_and_lets_in_flight_requests_finish() {
    let a = backend()
        .name("a")
        .slow_path("/slow", Duration::from_millis(500))
        .run()
        .await;
    let group = healthy_group("tg", &[&a]);
    let alb = Alb::start(
        vec![http_listener(any_port(), forward("tg"))],
        IDLE,
        &[&group],
    )
    .await;
    wait_all_healthy(&group, 1).await;
    let addr = alb.lb.endpoints()[0].addr;
    let client = client(&alb.ca);
    let in_flight = tokio::spawn({
        let (client, url) = (client.clone(), alb.http("/slow"));
        async move { client.get(url).send().await.unwrap() }
    });
    // Let the request reach the backend, then stop while it is being answered.
    wait_for_hits(&a, 1).await;
    alb.stop().await;
    let resp = in_flight.await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "a");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener still accepting"
    );
}

/// The backend exposes no change notification; a short poll is the honest way to wait here.
async fn wait_for_hits(backend: &BackendHandle, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while backend.hits() < n {
        assert!(Instant::now() < deadline, "backend never got {n} requests");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
