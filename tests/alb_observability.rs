//! Metrics and access log lines for the load balancer's own answers (502, 503, 460), TLS
//! policies and SNI, with fake backends on 127.0.0.1.

mod support;

use std::time::Duration;

use tierlab::alb::metrics::render;
use tierlab::alb::{TargetGroupHandle, arn};
use tierlab::config::{AccessLogs, Certificate, Listener, SslPolicy};
use tokio::io::AsyncWriteExt;

use support::access_log::{FIELDS, entries};
use support::alb::Alb;
use support::config::{
    any_port, forward, http_listener, https_listener, load_balancer, target_group,
};
use support::{backend, client, client_builder, wait_until};

impl Alb {
    /// Access logs on (5-minute files), a short idle timeout.
    async fn start(listeners: Vec<Listener>, groups: &[&TargetGroupHandle]) -> Alb {
        let mut cfg = load_balancer(listeners, Duration::from_millis(500));
        cfg.access_logs = AccessLogs {
            enabled: true,
            interval: Duration::from_secs(300),
        };
        Alb::start_config(&cfg, groups).await
    }

    fn metric(&self, name: &str, group: Option<&str>) -> f64 {
        let text = render(&[self.lb.metrics()]);
        let mut labels = format!("LoadBalancer=\"{}\"", arn::load_balancer_id("test-alb"));
        if let Some(g) = group {
            labels.push_str(&format!(",TargetGroup=\"{}\"", arn::target_group_id(g)));
        }
        let prefix = format!("{name}{{{labels}}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            .parse()
            .unwrap()
    }

    /// Waits (up to 5 s) for a metric to reach `value`: counts made after the answer is on the
    /// wire (a refused handshake is counted once its alert is sent) may trail the client.
    async fn metric_reaches(&self, name: &str, value: f64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let now = self.metric(name, None);
            if now == value {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} stayed {now}, expected {value}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops everything and returns the access log lines, split into fields.
    async fn stop_and_read_logs(self) -> Vec<Vec<String>> {
        let state = self.stop().await;
        entries(&state.path().join("access-logs"))
    }
}

#[tokio::test]
async fn elb_generated_502_and_503_are_counted_and_logged() {
    let a = backend().name("a").run().await;
    let group = TargetGroupHandle::new(target_group("tg"));
    group.register("a", a.addr);
    let empty = TargetGroupHandle::new(target_group("empty"));
    let alb = Alb::start(
        vec![
            http_listener(any_port(), forward("tg")),
            http_listener(any_port(), forward("empty")),
        ],
        &[&group, &empty],
    )
    .await;
    wait_until(&group, "healthy", |g| g.healthy_count() == 1).await;
    let http = client(&alb.ca);
    let [tg_url, empty_url] = [0, 1].map(|i| alb.lb.endpoints()[i].url.clone());
    assert_eq!(
        http.get(format!("{tg_url}/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(format!("{empty_url}/"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    let addr = a.addr;
    a.shutdown().await;
    assert_eq!(
        http.get(format!("{tg_url}/gone"))
            .send()
            .await
            .unwrap()
            .status(),
        502
    );

    assert_eq!(alb.metric("RequestCount", None), 3.0);
    assert_eq!(alb.metric("HTTPCode_ELB_5XX_Count", None), 2.0);
    assert_eq!(alb.metric("HTTPCode_ELB_502_Count", None), 1.0);
    assert_eq!(alb.metric("HTTPCode_ELB_503_Count", None), 1.0);
    assert_eq!(alb.metric("HTTPCode_Target_2XX_Count", Some("tg")), 1.0);
    assert_eq!(alb.metric("TargetConnectionErrorCount", Some("tg")), 1.0);
    assert_eq!(alb.metric("RequestCount", Some("empty")), 1.0);

    let lines = alb.stop_and_read_logs().await;
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines.iter().all(|f| f.len() == FIELDS));
    let by_status = |s: &str| {
        lines
            .iter()
            .find(|f| f[8] == s)
            .unwrap_or_else(|| panic!("no {s}: {lines:#?}"))
    };
    let bad = by_status("502");
    assert_eq!(bad[4], addr.to_string(), "the target tried");
    assert_eq!(
        (bad[6].as_str(), bad[7].as_str(), bad[9].as_str()),
        ("-1", "-1", "-")
    );
    assert_eq!(
        (bad[25].as_str(), bad[26].as_str()),
        (addr.to_string().as_str(), "-")
    );
    let none = by_status("503");
    assert_eq!(
        (none[4].as_str(), none[6].as_str(), none[9].as_str()),
        ("-", "-1", "-")
    );
    assert_eq!(none[16], arn::target_group_arn("empty"));
}

#[tokio::test]
async fn client_that_leaves_before_the_answer_is_460() {
    let a = backend().name("a").hang_path("/hang").run().await;
    let group = TargetGroupHandle::new(target_group("tg"));
    group.register("a", a.addr);
    let listener = http_listener(any_port(), forward("tg"));
    let alb = Alb::start(vec![listener], &[&group]).await;
    wait_until(&group, "healthy", |g| g.healthy_count() == 1).await;
    let addr = alb.lb.endpoints()[0].addr;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /hang HTTP/1.1\r\nHost: x\r\nUser-Agent: leaver\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(stream);
    // The idle timeout (500 ms) would answer 504 if the request were still pending.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(alb.metric("HTTPCode_ELB_4XX_Count", None), 1.0);
    assert_eq!(alb.metric("HTTPCode_ELB_5XX_Count", None), 0.0);
    let lines = alb.stop_and_read_logs().await;
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let f = &lines[0];
    assert_eq!(
        (f[8].as_str(), f[9].as_str(), f[13].as_str()),
        ("460", "-", "leaver")
    );
    assert_eq!(f[12], format!("GET http://x:{}/hang HTTP/1.1", addr.port()));
}

#[tokio::test]
async fn tls13_only_policy_refuses_tls12_clients() {
    let a = backend().name("a").run().await;
    let group = TargetGroupHandle::new(target_group("tg"));
    group.register("a", a.addr);
    let mut listener = https_listener(any_port(), forward("tg"));
    listener.ssl_policy = SslPolicy::Tls13Only;
    let alb = Alb::start(vec![listener], &[&group]).await;
    wait_until(&group, "healthy", |g| g.healthy_count() == 1).await;
    let url = format!("{}/", alb.lb.https_url().unwrap());
    let tls12 = client_builder(&alb.ca)
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap();
    assert!(
        tls12.get(&url).send().await.is_err(),
        "TLS 1.2 must be refused"
    );
    alb.metric_reaches("ClientTLSNegotiationErrorCount", 1.0)
        .await;
    let resp = client(&alb.ca).get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let lines = alb.stop_and_read_logs().await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0][15], "TLSv1.3");
}

#[tokio::test]
async fn sni_picks_the_certificate_naming_the_host() {
    let a = backend().name("a").run().await;
    let group = TargetGroupHandle::new(target_group("tg"));
    group.register("a", a.addr);
    let mut listener = https_listener(any_port(), forward("tg"));
    listener.certificate = Some(Certificate::LocalCa {
        hostnames: vec!["a.test".into()],
    });
    listener.additional_certificates = vec![Certificate::LocalCa {
        hostnames: vec!["b.test".into()],
    }];
    let alb = Alb::start(vec![listener], &[&group]).await;
    wait_until(&group, "healthy", |g| g.healthy_count() == 1).await;
    let addr = alb.lb.endpoints()[0].addr;
    for host in ["a.test", "b.test", "c.test"] {
        // reqwest verifies the certificate against `host`: only a certificate naming it passes.
        let c = client_builder(&alb.ca).resolve(host, addr).build().unwrap();
        let result = c
            .get(format!("https://{host}:{}/", addr.port()))
            .send()
            .await;
        match host {
            "c.test" => assert!(result.is_err(), "the default (a.test) does not name c.test"),
            _ => assert_eq!(result.unwrap().status(), 200, "{host}"),
        }
    }
    let lines = alb.stop_and_read_logs().await;
    assert_eq!(lines.len(), 2);
    let arns: Vec<&str> = lines.iter().map(|f| f[19].as_str()).collect();
    assert!(
        arns.contains(&arn::certificate_arn("a.test").as_str()),
        "{arns:?}"
    );
    assert!(
        arns.contains(&arn::certificate_arn("b.test").as_str()),
        "{arns:?}"
    );
}

/// tierlab's retry is visible in the access log, as ALB lists every target it tried: the dead
/// target first (no status), then the one that answered; the failed connect is counted.
#[tokio::test]
async fn retried_request_lists_both_targets_in_the_access_log() {
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let (a_addr, b_addr) = (a.addr, b.addr);
    let group = TargetGroupHandle::new(target_group("tg"));
    group.register("a", a_addr);
    group.register("b", b_addr);
    let alb = Alb::start(vec![http_listener(any_port(), forward("tg"))], &[&group]).await;
    wait_until(&group, "both healthy", |g| g.healthy_count() == 2).await;
    a.shutdown().await;
    // Round robin sends one of two requests to `a` first (then ejects it): that one is retried.
    let http = client(&alb.ca);
    let url = format!("{}/", alb.lb.endpoints()[0].url);
    for _ in 0..2 {
        assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
    }
    assert_eq!(alb.metric("TargetConnectionErrorCount", Some("tg")), 1.0);
    let lines = alb.stop_and_read_logs().await;
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let retried = lines
        .iter()
        .find(|f| f[25].contains(' '))
        .unwrap_or_else(|| panic!("no retried line: {lines:#?}"));
    assert_eq!(retried[8], "200");
    assert_eq!(retried[4], b_addr.to_string(), "the target that answered");
    assert_eq!(
        (retried[25].as_str(), retried[26].as_str()),
        (format!("{a_addr} {b_addr}").as_str(), "- 200")
    );
}
