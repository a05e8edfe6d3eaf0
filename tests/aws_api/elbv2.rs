//! Elastic Load Balancing v2 of a running lab, driven by the real AWS CLI as the reference's
//! troubleshooting commands drive AWS: target health with the tasks' private IPs, the load
//! balancer's DNS name reached with curl, health check and attribute changes applied live,
//! deregistration that drains, and ELBv2's errors.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tierlab::Lab;
use tokio::io::AsyncWriteExt;

use crate::lab_support::{DOCKER_LOCK, TestLab, docker, shut_down_clean};
use crate::support::aws::{Aws, SERVICE_ERROR_EXIT};

const TG: &str = "flask-app-tg";
const LB: &str = "flask-app-alb";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_references_elbv2_commands_show_and_change_the_live_lab() {
    let _guard = DOCKER_LOCK.lock().await;
    let test = TestLab::new("elbv2");
    let lab = test.start().await;
    let aws = Aws::for_lab(&lab);

    let arn = target_group_arn_as_the_reference_builds_it(&aws).await;
    live_targets_are_the_tasks_private_ips(&aws, &lab, &arn).await;
    the_dns_name_reaches_the_load_balancer_with_curl(&aws, &test).await;
    a_new_interval_changes_the_check_rate(&aws, &arn).await;
    deregistration_drains_and_registration_brings_back(&aws, &lab, &test, &arn).await;
    errors_are_elbv2s(&aws, &arn).await;
    measure_describe_target_health(&lab, &arn).await;

    shut_down_clean(lab, &docker().await, &test).await;
}

/// `arn:aws:elasticloadbalancing:us-east-1:$(aws sts get-caller-identity ...):targetgroup/
/// flask-app-tg/<id>`, the id taken from `describe-target-groups`.
async fn target_group_arn_as_the_reference_builds_it(aws: &Aws) -> String {
    let account = aws
        .text(&["sts", "get-caller-identity", "--query", "Account"])
        .await;
    let described = aws
        .text(&[
            "elbv2",
            "describe-target-groups",
            "--names",
            TG,
            "--query",
            "TargetGroups[0].TargetGroupArn",
        ])
        .await;
    let id = described.rsplit('/').next().unwrap();
    let arn = format!("arn:aws:elasticloadbalancing:us-east-1:{account}:targetgroup/{TG}/{id}");
    assert_eq!(arn, described);
    arn
}

async fn live_targets_are_the_tasks_private_ips(aws: &Aws, lab: &Lab, arn: &str) {
    ok(
        aws,
        &[
            "elbv2",
            "wait",
            "target-in-service",
            "--target-group-arn",
            arn,
        ],
    )
    .await;
    let health = aws
        .json(&["elbv2", "describe-target-health", "--target-group-arn", arn])
        .await;
    let rows = health["TargetHealthDescriptions"].as_array().unwrap();
    let mut ids: Vec<String> = rows
        .iter()
        .map(|r| {
            assert_eq!(r["TargetHealth"]["State"], "healthy", "{r}");
            assert_eq!(r["Target"]["Port"], 8000, "{r}");
            assert_eq!(r["HealthCheckPort"], "8000", "{r}");
            assert!(r["Target"]["AvailabilityZone"].is_string(), "{r}");
            r["Target"]["Id"].as_str().unwrap().to_string()
        })
        .collect();
    let mut private_ips: Vec<String> = lab
        .status()
        .services
        .iter()
        .flat_map(|s| s.tasks.iter())
        .filter_map(|t| t.private_ipv4_address.clone())
        .collect();
    ids.sort();
    private_ips.sort();
    assert_eq!(ids.len(), 2, "{health}");
    assert_eq!(
        ids, private_ips,
        "targets are named by the tasks' private IPs"
    );
    let group = aws
        .json(&[
            "elbv2",
            "describe-target-groups",
            "--target-group-arns",
            arn,
        ])
        .await;
    let tg = &group["TargetGroups"][0];
    assert_eq!(tg["TargetType"], "ip");
    assert_eq!(tg["HealthCheckPath"], "/");
    assert_eq!(tg["Matcher"]["HttpCode"], "200");
    assert!(tg["VpcId"].as_str().unwrap().starts_with("vpc-"));
}

async fn the_dns_name_reaches_the_load_balancer_with_curl(aws: &Aws, test: &TestLab) {
    let dns = aws
        .text(&[
            "elbv2",
            "describe-load-balancers",
            "--names",
            LB,
            "--query",
            "LoadBalancers[0].DNSName",
        ])
        .await;
    assert!(dns.ends_with(".us-east-1.elb.localhost"), "{dns}");
    // The HTTP listener redirects to HTTPS, as the reference's does; -k: the certificate names
    // localhost, not the DNS name.
    let http = curl(
        &[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
        ],
        &format!("http://{dns}:{}/", test.http_port),
    )
    .await;
    assert_eq!(http, format!("301 https://{dns}:{}/", test.https_port));
    let https = curl(
        &["-sk", "-o", "/dev/null", "-w", "%{http_code}"],
        &format!("https://{dns}:{}/", test.https_port),
    )
    .await;
    assert_eq!(https, "200", "through the ALB to a task");
    let listeners = aws
        .json(&[
            "elbv2",
            "describe-listeners",
            "--load-balancer-arn",
            &lb_arn(aws).await,
        ])
        .await;
    let ports: Vec<i64> = listeners["Listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["Port"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ports,
        [i64::from(test.http_port), i64::from(test.https_port)]
    );
}

/// `aws ARGS` that must succeed (for commands that print nothing, or a waiter).
async fn ok(aws: &Aws, args: &[&str]) {
    let out = aws.run(args).await;
    assert_eq!(
        out.exit,
        0,
        "`aws {}` failed:\n{}",
        args.join(" "),
        out.stderr
    );
}

async fn lb_arn(aws: &Aws) -> String {
    aws.text(&[
        "elbv2",
        "describe-load-balancers",
        "--names",
        LB,
        "--query",
        "LoadBalancers[0].LoadBalancerArn",
    ])
    .await
}

/// `curl ARGS URL` (curl resolves `*.localhost` to the loopback address itself); its output.
async fn curl(args: &[&str], url: &str) -> String {
    let out = tokio::process::Command::new("curl")
        .args(args)
        .args(["--max-time", "10", url])
        .output()
        .await
        .expect("curl runs");
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A loopback target of the test's own registered by `register-targets`: it times the health
/// checks it gets, before and after `modify-target-group --health-check-interval-seconds 5`.
async fn a_new_interval_changes_the_check_rate(aws: &Aws, arn: &str) {
    let (addr, checks) = check_counter().await;
    let port = addr.port().to_string();
    let target = format!("Id=127.0.0.1,Port={port}");
    ok(
        aws,
        &[
            "elbv2",
            "register-targets",
            "--target-group-arn",
            arn,
            "--targets",
            &target,
        ],
    )
    .await;
    // emulator.toml checks every 2 s: four checks come within ~6 s.
    let before = gaps_of(&checks, 4, Duration::from_secs(15)).await;
    let changed = aws
        .json(&[
            "elbv2",
            "modify-target-group",
            "--target-group-arn",
            arn,
            "--health-check-interval-seconds",
            "5",
            "--health-check-timeout-seconds",
            "2",
        ])
        .await;
    assert_eq!(changed["TargetGroups"][0]["HealthCheckIntervalSeconds"], 5);
    let shown = aws
        .text(&[
            "elbv2",
            "describe-target-groups",
            "--target-group-arns",
            arn,
            "--query",
            "TargetGroups[0].[HealthCheckIntervalSeconds,HealthCheckTimeoutSeconds]",
        ])
        .await;
    assert_eq!(shown.split_whitespace().collect::<Vec<_>>(), ["5", "2"]);
    checks.lock().unwrap().clear();
    let after = gaps_of(&checks, 3, Duration::from_secs(20)).await;
    eprintln!("health check gaps before: {before:?}, after: {after:?}");
    assert!(
        before.iter().all(|g| *g < Duration::from_millis(3000)),
        "{before:?}"
    );
    assert!(
        after
            .iter()
            .all(|g| *g > Duration::from_millis(4500) && *g < Duration::from_millis(6000)),
        "{after:?}"
    );
    ok(
        aws,
        &[
            "elbv2",
            "deregister-targets",
            "--target-group-arn",
            arn,
            "--targets",
            &target,
        ],
    )
    .await;
}

/// The gaps between the first `n` checks recorded from now, waiting at most `within`.
async fn gaps_of(checks: &Arc<Mutex<Vec<Instant>>>, n: usize, within: Duration) -> Vec<Duration> {
    let deadline = Instant::now() + within;
    loop {
        let times = checks.lock().unwrap().clone();
        if times.len() >= n {
            return times[..n].windows(2).map(|w| w[1] - w[0]).collect();
        }
        assert!(
            Instant::now() < deadline,
            "only {} health checks in {within:?}",
            times.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An HTTP server on a free loopback port answering 200 and recording when each health check
/// (`ELB-HealthChecker/2.0`) came.
async fn check_counter() -> (SocketAddr, Arc<Mutex<Vec<Instant>>>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let checks = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&checks);
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                if String::from_utf8_lossy(&buf[..n]).contains("ELB-HealthChecker/2.0") {
                    seen.lock().unwrap().push(Instant::now());
                }
                let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                let _ = conn.write_all(ok).await;
            });
        }
    });
    (addr, checks)
}

/// With a request in flight to each task, `deregister-targets` of one task's IP shows it
/// `draining`; `register-targets` brings it back and `wait target-in-service` sees it healthy.
async fn deregistration_drains_and_registration_brings_back(
    aws: &Aws,
    lab: &Lab,
    test: &TestLab,
    arn: &str,
) {
    let attrs = aws
        .json(&[
            "elbv2",
            "modify-target-group-attributes",
            "--target-group-arn",
            arn,
            "--attributes",
            "Key=deregistration_delay.timeout_seconds,Value=30",
        ])
        .await;
    assert!(
        attrs["Attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["Key"] == "deregistration_delay.timeout_seconds" && a["Value"] == "30"),
        "{attrs}"
    );
    let shown = aws
        .text(&[
            "elbv2",
            "describe-target-group-attributes",
            "--target-group-arn",
            arn,
            "--query",
            "Attributes[?Key=='deregistration_delay.timeout_seconds'].Value",
        ])
        .await;
    assert_eq!(shown, "30");
    // Two uploads that never end (a first byte of 100, then nothing): round robin sends one to
    // each task.
    let mut uploads = Vec::new();
    for _ in 0..2 {
        uploads.push(stalled_upload(lab, test.https_port).await);
    }
    wait_for_requests_in_flight(lab, 2).await;
    let ip = lab.status().services[0].tasks[0]
        .private_ipv4_address
        .clone()
        .unwrap();
    let target = format!("Id={ip}");
    ok(
        aws,
        &[
            "elbv2",
            "deregister-targets",
            "--target-group-arn",
            arn,
            "--targets",
            &target,
        ],
    )
    .await;
    let state = target_state(aws, arn, &ip).await;
    assert_eq!(state.0, "draining", "{state:?}");
    assert_eq!(state.1, "Target.DeregistrationInProgress");
    drop(uploads);
    // ECS leaves a task that someone took out of the load balancer running: it is not
    // replaced, not shown PENDING, and the service stays steady (services-stable returns).
    stays_running_out_of_the_load_balancer(lab, &ip).await;
    ok(
        aws,
        &[
            "elbv2",
            "register-targets",
            "--target-group-arn",
            arn,
            "--targets",
            &target,
        ],
    )
    .await;
    ok(
        aws,
        &[
            "elbv2",
            "wait",
            "target-in-service",
            "--target-group-arn",
            arn,
            "--targets",
            &target,
        ],
    )
    .await;
    assert_eq!(target_state(aws, arn, &ip).await.0, "healthy");
}

/// For a few seconds after its target was deregistered (draining, then gone), the task with
/// `ip` stays RUNNING and the service steady with no task launched in its place.
async fn stays_running_out_of_the_load_balancer(lab: &Lab, ip: &str) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(4);
    while tokio::time::Instant::now() < deadline {
        let service = &lab.status().services[0];
        let task = service
            .tasks
            .iter()
            .find(|t| t.private_ipv4_address.as_deref() == Some(ip))
            .unwrap_or_else(|| panic!("the task of {ip} is gone: {service:?}"));
        assert_eq!(task.last_status.as_str(), "RUNNING", "{task:?}");
        assert!(service.is_steady(), "{service:?}");
        assert_eq!(
            service.tasks.len() as u32,
            service.desired_count,
            "{service:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// A POST over TLS to the HTTPS listener that announces 100 bytes and sends one: the request
/// stays in flight until the returned stream is dropped. (`/api/entries` reads its body; a
/// path without a POST route would be answered 405 at once.)
async fn stalled_upload(
    lab: &Lab,
    port: u16,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut lab.ca_cert_pem().as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let head = "POST /api/entries HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{";
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    tls
}

/// Waits (at most 10 s) until the load balancer counts `n` requests in flight.
async fn wait_for_requests_in_flight(lab: &Lab, n: usize) {
    let group = lab.target_group(TG).unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while group.in_flight() < n {
        assert!(
            Instant::now() < deadline,
            "the uploads never reached the tasks"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `(State, Reason)` of the target `ip` in `describe-target-health --targets Id=ip`.
async fn target_state(aws: &Aws, arn: &str, ip: &str) -> (String, String) {
    let target = format!("Id={ip}");
    let health: Value = aws
        .json(&[
            "elbv2",
            "describe-target-health",
            "--target-group-arn",
            arn,
            "--targets",
            &target,
        ])
        .await;
    let h = &health["TargetHealthDescriptions"][0]["TargetHealth"];
    (
        h["State"].as_str().unwrap_or_default().to_string(),
        h["Reason"].as_str().unwrap_or_default().to_string(),
    )
}

async fn errors_are_elbv2s(aws: &Aws, arn: &str) {
    let bad = format!("{}0", &arn[..arn.len() - 1]);
    let e = aws
        .fails(&[
            "elbv2",
            "describe-target-health",
            "--target-group-arn",
            &bad,
        ])
        .await;
    assert_eq!(e.exit, SERVICE_ERROR_EXIT, "{}", e.stderr);
    assert!(
        e.stderr.contains("An error occurred (TargetGroupNotFound) when calling the DescribeTargetHealth operation"),
        "{}",
        e.stderr
    );
    let e = aws
        .fails(&[
            "elbv2",
            "register-targets",
            "--target-group-arn",
            arn,
            "--targets",
            "Id=10.99.0.1",
        ])
        .await;
    assert_eq!(e.code, "InvalidTarget");
    assert!(
        e.message.contains("only reach the lab's running tasks"),
        "{}",
        e.message
    );
    let e = aws
        .fails(&[
            "elbv2",
            "modify-target-group",
            "--target-group-arn",
            arn,
            "--health-check-interval-seconds",
            "5",
            "--health-check-timeout-seconds",
            "6",
        ])
        .await;
    assert_eq!(e.code, "ValidationError");
    assert_eq!(
        e.message,
        "Health check interval must be greater than the timeout."
    );
    let e = aws
        .fails(&["elbv2", "describe-load-balancers", "--names", "no-such-alb"])
        .await;
    assert_eq!(e.code, "LoadBalancerNotFound");
}

/// p50/p99 of `DescribeTargetHealth` over a bounded loop, signed as the CLI signs, timed at the
/// HTTP client (the CLI's own start-up, ~0.5 s of Python, would hide the API's time).
async fn measure_describe_target_health(lab: &Lab, arn: &str) {
    const CALLS: usize = 200;
    let http = reqwest::Client::new();
    let credentials = lab.aws_credentials();
    let endpoint = lab.aws_endpoint();
    let host = endpoint.trim_start_matches("http://").to_string();
    let body = format!(
        "Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn={}",
        arn.replace(':', "%3A").replace('/', "%2F")
    );
    let mut times = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let now = SystemTime::now();
        let amz_date = tierlab::api::sigv4::format_amz_date(now);
        let mut headers = http::HeaderMap::new();
        headers.insert("host", host.parse().unwrap());
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .unwrap(),
        );
        headers.insert("x-amz-date", amz_date.parse().unwrap());
        let request = tierlab::api::sigv4::Request {
            method: "POST",
            path: "/",
            query: None,
            headers: &headers,
            body: body.as_bytes(),
        };
        let authorization = tierlab::api::sigv4::authorization(
            &request,
            &credentials,
            (&amz_date[..8], "us-east-1", "elasticloadbalancing"),
            &amz_date,
            &["content-type", "host", "x-amz-date"],
        );
        let started = Instant::now();
        let response = http
            .post(&endpoint)
            .headers(headers.clone())
            .header("authorization", authorization)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        times.push(started.elapsed());
        assert!(
            status.is_success() && text.contains("<State>healthy</State>"),
            "{status} {text}"
        );
    }
    times.sort();
    let p = |q: f64| times[((times.len() as f64 * q).ceil() as usize).min(times.len()) - 1];
    eprintln!(
        "DescribeTargetHealth over {CALLS} calls: p50 {:.2} ms, p99 {:.2} ms",
        p(0.50).as_secs_f64() * 1000.0,
        p(0.99).as_secs_f64() * 1000.0
    );
}
