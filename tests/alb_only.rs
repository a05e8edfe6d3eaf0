//! A lab with only a load balancer and static targets (examples/alb-only.toml): it runs without
//! Docker, balances round robin over two fake backends, serves CloudWatch-named metrics and
//! writes ALB access log files.

mod support;

use std::path::Path;

use http::Method;
use tierlab::alb::arn;
use tierlab::lab::{Lab, StartOptions};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use support::access_log::{FIELDS, entries, files};
use support::{backend, client_builder, wait_until};

const EXAMPLE: &str = include_str!("../examples/alb-only.toml");

/// The example with its fixed ports made free ones and its targets pointed at `targets`.
fn example_with(targets: [std::net::SocketAddr; 2]) -> String {
    let text = EXAMPLE
        .replace("port = 8080\n", "port = 0\n")
        .replace("port = 8443\n", "port = 0\n")
        .replace("metrics-port = 9100", "metrics-port = 0")
        .replace(
            "path = \"/\"",
            &format!("path = \"{}\"", support::HEALTH_PATH),
        )
        .replace(
            "targets = [\"127.0.0.1:9001\", \"127.0.0.1:9002\"]",
            &format!("targets = [\"{}\", \"{}\"]", targets[0], targets[1]),
        );
    assert_ne!(text, EXAMPLE);
    text
}

/// The value of the series `name{...labels...}` in Prometheus text.
fn series(text: &str, name: &str, labels: &str) -> f64 {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn example_is_valid_as_shipped() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/alb-only.toml");
    let config = tierlab::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(config.services.is_empty() && config.databases.is_empty());
    let lb = &config.load_balancers["alb-only"];
    assert!(lb.access_logs.enabled);
    assert_eq!(lb.listeners[1].additional_certificates.len(), 1);
    assert_eq!(
        config.target_groups["backends"].static_targets,
        vec![
            "127.0.0.1:9001".parse().unwrap(),
            "127.0.0.1:9002".parse().unwrap()
        ]
    );
}

#[tokio::test]
async fn load_balancer_only_lab_balances_counts_and_logs() {
    support::init_tracing();
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let state = tempfile::tempdir().unwrap();
    let base = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = tierlab::config::parse(
        &example_with([a.addr, b.addr]),
        &base.join("alb-only.toml"),
        base,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let options = StartOptions {
        state_dir: Some(state.path().to_path_buf()),
        ..StartOptions::default()
    };
    let lab = Lab::start(config, options, CancellationToken::new())
        .await
        .unwrap();
    assert!(
        lab.docker().is_none(),
        "no Docker for a load-balancer-only lab"
    );
    let group = lab.target_group("backends").unwrap().clone();
    wait_until(&group, "2 healthy targets", |g| g.healthy_count() == 2).await;

    // Round robin over HTTP.
    let ca = tierlab::alb::LocalCa::load_or_create(&lab.state_dir().ca_dir()).unwrap();
    let http = support::client(&ca);
    let url = lab.http_url().unwrap();
    let mut seen = Vec::new();
    for _ in 0..6 {
        let resp = http
            .get(format!("{url}/hello"))
            .header("user-agent", "alb-only-test")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        seen.push(resp.text().await.unwrap());
    }
    for pair in seen.windows(2) {
        assert_ne!(pair[0], pair[1], "round robin must alternate: {seen:?}");
    }
    assert_eq!((a.hits(), b.hits()), (3, 3));

    // HTTPS with SNI naming the second certificate.
    let https_addr = lab.load_balancers()[0].endpoints()[1].addr;
    let sni = client_builder(&ca)
        .resolve("api.localhost", https_addr)
        .build()
        .unwrap();
    let resp = sni
        .get(format!("https://api.localhost:{}/tls", https_addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Metrics on the control endpoint, as `tierlab up` serves them, and on metrics-port.
    let tracker = TaskTracker::new();
    let cancel = CancellationToken::new();
    let control_file = state.path().join("control.json");
    let control = tierlab::control::serve(
        lab.view(),
        &control_file,
        CancellationToken::new(),
        &tracker,
        cancel.clone(),
    )
    .await
    .unwrap();
    let body = tierlab::control::request(control.control_file(), Method::GET, "/metrics")
        .await
        .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let lb = format!("LoadBalancer=\"{}\"", arn::load_balancer_id("alb-only"));
    let both = format!("{lb},TargetGroup=\"{}\"", arn::target_group_id("backends"));
    assert_eq!(series(&text, "RequestCount", &both), 7.0);
    assert_eq!(series(&text, "RequestCount", &lb), 7.0);
    assert_eq!(series(&text, "HTTPCode_Target_2XX_Count", &both), 7.0);
    assert_eq!(series(&text, "HTTPCode_ELB_5XX_Count", &lb), 0.0);
    assert_eq!(series(&text, "HealthyHostCount", &both), 2.0);
    assert_eq!(series(&text, "UnHealthyHostCount", &both), 0.0);
    assert_eq!(series(&text, "TargetResponseTime_count", &both), 7.0);
    assert!(series(&text, "NewConnectionCount", &lb) >= 2.0);
    assert!(series(&text, "ProcessedBytes", &lb) > 0.0);
    let metrics_addr = lab.load_balancers()[0].metrics_addr().unwrap();
    let own = http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let own = own.text().await.unwrap();
    assert_eq!(series(&own, "RequestCount", &both), 7.0);

    // Access logs: written while running, complete after shutdown.
    let dir = lab.access_log_dir();
    cancel.cancel();
    drop(control);
    lab.shutdown().await.unwrap();
    let logs = files(&dir);
    assert!(
        !logs.is_empty(),
        "no access log file under {}",
        dir.display()
    );
    let name = logs[0].file_name().unwrap().to_str().unwrap().to_string();
    let prefix = format!(
        "000000000000_elasticloadbalancing_us-east-1_app.alb-only.{}_",
        arn::resource_id("loadbalancer", "alb-only")
    );
    assert!(
        name.starts_with(&prefix) && name.ends_with(".log"),
        "{name}"
    );
    assert!(
        logs[0]
            .to_str()
            .unwrap()
            .contains("AWSLogs/000000000000/elasticloadbalancing/us-east-1/")
    );
    let lines = entries(&dir);
    assert_eq!(lines.len(), 7, "{lines:#?}");
    let tg_arn = arn::target_group_arn("backends");
    for f in &lines {
        assert_eq!(f.len(), FIELDS, "{f:?}");
        assert!(f[1].ends_with('Z') && f[1].len() == 27, "time {}", f[1]);
        assert_eq!(f[2], arn::load_balancer_id("alb-only"));
        assert!(f[3].starts_with("127.0.0.1:"));
        assert!(
            [a.addr.to_string(), b.addr.to_string()].contains(&f[4]),
            "target {}",
            f[4]
        );
        for t in &f[5..8] {
            assert!(t.parse::<f64>().unwrap() >= 0.0, "{f:?}");
        }
        assert_eq!((f[8].as_str(), f[9].as_str()), ("200", "200"));
        assert!(f[10].parse::<u64>().unwrap() > 0 && f[11].parse::<u64>().unwrap() > 0);
        assert_eq!(f[16], tg_arn);
        assert_eq!(f[20], "0", "default action");
        assert_eq!(f[22], "forward");
        assert_eq!(f[25], f[4], "target:port_list");
        assert!(f[29].starts_with("TID_"));
    }
    let http_lines: Vec<_> = lines.iter().filter(|f| f[0] == "http").collect();
    assert_eq!(http_lines.len(), 6);
    assert!(
        http_lines[0][12].starts_with("GET http://127.0.0.1:")
            && http_lines[0][12].ends_with("/hello HTTP/1.1")
    );
    assert_eq!(http_lines[0][13], "alb-only-test");
    assert_eq!(
        (http_lines[0][14].as_str(), http_lines[0][18].as_str()),
        ("-", "-")
    );
    let tls = lines.iter().find(|f| f[0] != "http").unwrap();
    assert!(tls[0] == "h2" || tls[0] == "https", "{tls:?}");
    assert_eq!(tls[15], "TLSv1.3");
    assert!(tls[14].starts_with("TLS_"), "{tls:?}");
    assert_eq!(tls[18], "api.localhost");
    assert_eq!(
        tls[19],
        arn::certificate_arn("api.localhost"),
        "SNI chose the second certificate"
    );
    a.shutdown().await;
    b.shutdown().await;
}
