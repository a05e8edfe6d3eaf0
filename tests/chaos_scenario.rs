//! `tierlab chaos run` on a Multi-AZ lab: a scenario kills a task, puts latency on the task →
//! database path, and fails the database over while that latency is on (the path's proxy
//! follows the new primary, then gives the endpoint to it). A client loop of the test's own
//! runs beside the scenario's clients on the same path; the report adds up and agrees with
//! what that loop saw, and the lab ends with the endpoint on the new primary and no proxy.
//!
//! `flock /tmp/tierlab-docker.lock cargo test --locked --test chaos_scenario -- --nocapture`

mod lab_support;

use std::time::{Duration, Instant};

use lab_support::{DOCKER_LOCK, TestLab, client, docker, shut_down_clean};
use serde_json::Value;
use tierlab::Lab;
use tierlab::lab::{LabStatus, StandbyState};
use tokio_util::sync::CancellationToken;

const BIN: &str = env!("CARGO_BIN_EXE_tierlab");
const DB: &str = "flask-crud-db";
const WITHIN: Duration = Duration::from_secs(180);
/// The scenario: how long, and when each fault comes (the failover inside the latency's 12 s).
const SCENARIO: &str = r#"
duration = "26s"
clients = 2
path = "/api/info"

[[fault]]
at = "2s"
chaos = { kind = "kill-task" }

[[fault]]
at = "8s"
chaos = { kind = "latency", path = "task-db", delay = "100ms", for = "12s" }

[[fault]]
at = "12s"
chaos = { kind = "db-failover" }
"#;
const DURATION: Duration = Duration::from_secs(26);
const LATENCY_WINDOW: (f64, f64) = (8.0, 20.0);

fn standby_in_sync(status: &LabStatus) -> bool {
    status.databases.iter().any(|d| {
        d.identifier == DB
            && d.status.as_str() == "available"
            && d.standby
                .as_ref()
                .is_some_and(|s| s.state == StandbyState::InSync)
    })
}

async fn until(lab: &Lab, what: &str, cond: impl Fn(&LabStatus) -> bool) {
    let started = Instant::now();
    while !cond(&lab.status()) {
        assert!(started.elapsed() < WITHIN, "not within {WITHIN:?}: {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One request of the test's own loop: when it started (from the scenario's start), whether
/// it succeeded, how long it took.
struct Seen {
    at: f64,
    ok: bool,
    took: Duration,
}

/// Requests `/api/info` one after another until `DURATION` has passed since `started`.
async fn client_loop(lab: &Lab, started: Instant) -> Vec<Seen> {
    let http = client(lab);
    let url = format!("{}/api/info", lab.https_url().unwrap());
    let mut seen = Vec::new();
    while started.elapsed() < DURATION {
        let sent = Instant::now();
        let ok = match http.get(&url).send().await {
            Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
            Err(_) => false,
        };
        seen.push(Seen {
            at: (sent - started).as_secs_f64(),
            ok,
            took: sent.elapsed(),
        });
    }
    seen
}

fn p99(times: &mut [Duration]) -> Duration {
    times.sort();
    times[(times.len() * 99 / 100).min(times.len() - 1)]
}

/// The database's server id as the app reports it (`/api/info`).
async fn server_id(lab: &Lab) -> u64 {
    let info: Value = client(lab)
        .get(format!("{}/api/info", lab.https_url().unwrap()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    info["database"]["server_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no database.server_id in /api/info: {info}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scenario_report_agrees_with_a_client_loop() {
    let _serial = DOCKER_LOCK.lock().await;
    let mut test = TestLab::new("scenario");
    test.config_text = test
        .config_text
        .replacen("multi-az = false", "multi-az = true", 1);
    let docker = docker().await;
    let lab = test.start().await;
    until(&lab, "the standby in sync", standby_in_sync).await;
    let first_server = server_id(&lab).await;

    // The control endpoint, as `tierlab up` serves it: the CLI finds the lab through it.
    let (tracker, cancel) = lab.tasks().group("control endpoint");
    let control_file = lab.view().state_dir().control_file(&test.name);
    let _control = tierlab::control::serve(
        lab.view(),
        &control_file,
        CancellationToken::new(),
        &tracker,
        cancel,
    )
    .await
    .unwrap();
    let config = test.write_config_file();
    let scenario = test.state_path().join("scenario.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();

    let started = Instant::now();
    let run = tokio::process::Command::new(BIN)
        .arg("-f")
        .arg(&config)
        .args(["chaos", "run", scenario.to_str().unwrap(), "--json"])
        .env("TIERLAB_STATE_DIR", test.state_path())
        .output();
    let (run, seen) = tokio::join!(run, client_loop(&lab, started));
    let run = run.unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    println!("report: {report}");

    // The report adds up: every request is ok or counted under one kind of failure, and the
    // faults' windows share out the failures.
    let requests = report["requests"].as_u64().unwrap();
    let ok = report["ok"].as_u64().unwrap();
    let failures: u64 = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f[1].as_u64().unwrap())
        .sum();
    assert_eq!(requests, ok + failures, "{report}");
    let faults = report["faults"].as_array().unwrap();
    let kinds: Vec<&str> = faults.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["kill-task", "latency", "db-failover"], "{report}");
    let in_windows: u64 = faults.iter().map(|f| f["failures"].as_u64().unwrap()).sum();
    assert!(in_windows <= failures, "{report}");

    // The test's loop saw what the report says: the same share of failures (within 10 points
    // of the requests), and the latency's window slow for both.
    let loop_failed = seen.iter().filter(|s| !s.ok).count();
    let loop_share = loop_failed as f64 / seen.len() as f64;
    let report_share = failures as f64 / requests as f64;
    println!(
        "client loop: {} requests, {loop_failed} failed ({:.1}%); report: {requests} requests, {failures} failed ({:.1}%)",
        seen.len(),
        loop_share * 100.0,
        report_share * 100.0
    );
    assert!(
        (loop_share - report_share).abs() <= 0.10,
        "the loop saw {:.1}% failed, the report {:.1}%",
        loop_share * 100.0,
        report_share * 100.0
    );
    let mut slow: Vec<Duration> = seen
        .iter()
        .filter(|s| s.ok && s.at > LATENCY_WINDOW.0 + 1.0 && s.at < LATENCY_WINDOW.1 - 1.0)
        .map(|s| s.took)
        .collect();
    assert!(
        !slow.is_empty(),
        "no successful request in the latency's window"
    );
    let loop_p99 = p99(&mut slow);
    let latency_p99_ms = faults[1]["p99_ms"].as_f64().unwrap();
    println!(
        "latency window p99: loop {:.0} ms, report {latency_p99_ms:.0} ms",
        loop_p99.as_secs_f64() * 1000.0
    );
    assert!(loop_p99 >= Duration::from_millis(200), "{loop_p99:?}");
    assert!(latency_p99_ms >= 200.0, "{report}");

    // Afterwards: the database runs on the other node, which holds the endpoint itself again,
    // and the path's proxy is gone.
    until(&lab, "the standby rebuilt in sync", standby_in_sync).await;
    let db = lab
        .databases()
        .into_iter()
        .find(|d| d.identifier == DB)
        .unwrap();
    assert!(db.detour().proxy_name().is_none());
    let proxies = docker
        .list_containers(tierlab::docker::labels::filter(
            &test.name,
            Some(tierlab::docker::labels::Role::DatabaseProxy),
            None,
        ))
        .await
        .unwrap();
    assert!(proxies.is_empty(), "{proxies:?}");
    let now_server = server_id(&lab).await;
    assert_ne!(
        now_server, first_server,
        "the app still reaches the old primary"
    );
    for f in faults {
        println!(
            "{:<12} at {:>4.1}s: {} requests, {} failed, recovered after {:.1}s, p99 {:.0} ms",
            f["kind"].as_str().unwrap(),
            f["at_s"].as_f64().unwrap(),
            f["requests"],
            f["failures"],
            f["recovered_after_s"].as_f64().unwrap(),
            f["p99_ms"].as_f64().unwrap()
        );
    }

    shut_down_clean(lab, &docker, &test).await;
}
