//! CloudWatch Logs and RDS through the real AWS CLI against a real lab: the task's Gunicorn lines
//! as `aws logs` shows them (newest stream, paging tokens, a filter that finds a request sent
//! through the ALB), the DB instance as `aws rds` describes it, and a reboot that really restarts
//! the database while the CLI's own waiter waits for `available` and the app serves DB-backed
//! requests again. Operations of the next issue answer an error, never a fake success.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::lab_support::{DOCKER_LOCK, TestLab, client, docker, shut_down_clean};
use crate::support::aws::{Aws, Failure, SERVICE_ERROR_EXIT};

const GROUP: &str = "/ecs/flask-app";
const DB: &str = "flask-crud-db";

/// `aws rds ARGS`, with `--endpoint-url` given explicitly: AWS CLI v1 replaces
/// `AWS_ENDPOINT_URL` for `rds` in us-east-1 with `https://rds.amazonaws.com`
/// (awscli/customizations/overridesslcommonname.py), so `eval "$(tierlab env)"` is not enough
/// for `aws rds` with CLI v1 there.
fn rds<'a>(aws: &'a Aws, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--endpoint-url", aws.endpoint.as_str(), "rds"];
    all.extend_from_slice(args);
    all
}

/// A service error with `code`, as the CLI reports it.
fn assert_error(failure: &Failure, code: &str) {
    assert_eq!(failure.exit, SERVICE_ERROR_EXIT, "{}", failure.stderr);
    assert_eq!(failure.code, code, "{}", failure.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_rds_answer_the_aws_cli_from_the_live_lab() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("logsrds");
    let docker = docker().await;
    let lab = test.start().await;
    let aws = Aws::for_lab(&lab);
    let https = lab.https_url().unwrap();
    let http = client(&lab);

    // --- CloudWatch Logs ---------------------------------------------------------------------
    let streams = aws
        .json(&[
            "logs",
            "describe-log-streams",
            "--log-group-name",
            GROUP,
            "--order-by",
            "LastEventTime",
            "--descending",
        ])
        .await;
    let streams = streams["logStreams"].as_array().unwrap().clone();
    assert_eq!(streams.len(), 2, "one stream per task: {streams:?}");
    let last = |s: &Value| s["lastEventTimestamp"].as_i64().unwrap();
    assert!(last(&streams[0]) >= last(&streams[1]), "newest first");
    let newest = streams[0]["logStreamName"].as_str().unwrap().to_string();
    assert!(newest.starts_with("ecs/flask-app/"), "{newest}");

    let events = aws
        .json(&[
            "logs",
            "get-log-events",
            "--log-group-name",
            GROUP,
            "--log-stream-name",
            &newest,
            "--limit",
            "50",
        ])
        .await;
    let messages: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(!messages.is_empty() && messages.len() <= 50);
    let head = aws
        .json(&[
            "logs",
            "get-log-events",
            "--log-group-name",
            GROUP,
            "--log-stream-name",
            &newest,
            "--start-from-head",
            "--limit",
            "3",
        ])
        .await;
    let first: Vec<&str> = head["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        first.iter().any(|m| m.contains("Starting gunicorn")),
        "the task's own Gunicorn lines: {first:?}"
    );
    assert_eq!(head["nextForwardToken"], "f/3");
    assert_eq!(head["nextBackwardToken"], "b/0");
    // The forward token moves on; the backward token at the head comes back unchanged.
    let next = aws
        .json(&[
            "logs",
            "get-log-events",
            "--log-group-name",
            GROUP,
            "--log-stream-name",
            &newest,
            "--limit",
            "3",
            "--next-token",
            "f/3",
        ])
        .await;
    assert_eq!(next["nextForwardToken"], "f/6");
    assert_ne!(next["events"][0]["message"], head["events"][0]["message"]);
    let before_head = aws
        .json(&[
            "logs",
            "get-log-events",
            "--log-group-name",
            GROUP,
            "--log-stream-name",
            &newest,
            "--next-token",
            "b/0",
        ])
        .await;
    assert_eq!(before_head["events"].as_array().unwrap().len(), 0);
    assert_eq!(before_head["nextBackwardToken"], "b/0");

    // A request through the ALB shows up in the group's logs.
    let probe = format!("probe-{}", std::process::id());
    let response = http
        .get(format!("{https}/api/entries?{probe}=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let pattern = format!("\"{probe}\"");
    let found = wait_for(Duration::from_secs(10), || async {
        let found = aws
            .json(&[
                "logs",
                "filter-log-events",
                "--log-group-name",
                GROUP,
                "--filter-pattern",
                &pattern,
            ])
            .await;
        (!found["events"].as_array().unwrap().is_empty()).then_some(found)
    })
    .await
    .expect("the request's access log line within 10 s");
    let event = &found["events"][0];
    assert!(
        event["message"]
            .as_str()
            .unwrap()
            .contains(&format!("GET /api/entries?{probe}=1"))
    );
    assert!(
        event["logStreamName"]
            .as_str()
            .unwrap()
            .starts_with("ecs/flask-app/")
    );
    assert_eq!(event["eventId"].as_str().unwrap().len(), 56);
    assert_eq!(found["searchedLogStreams"].as_array().unwrap().len(), 2);
    let json_pattern = aws
        .fails(&[
            "logs",
            "filter-log-events",
            "--log-group-name",
            GROUP,
            "--filter-pattern",
            "{ $.level = \"error\" }",
        ])
        .await;
    assert_error(&json_pattern, "InvalidParameterException");
    assert!(
        json_pattern
            .message
            .contains("does not support JSON filter patterns"),
        "{}",
        json_pattern.message
    );
    let missing = aws
        .fails(&[
            "logs",
            "get-log-events",
            "--log-group-name",
            "/ecs/nope",
            "--log-stream-name",
            "x",
        ])
        .await;
    assert_error(&missing, "ResourceNotFoundException");
    assert_eq!(missing.message, "The specified log group does not exist.");

    // --- RDS -------------------------------------------------------------------------------
    let described = aws
        .json(&rds(
            &aws,
            &["describe-db-instances", "--db-instance-identifier", DB],
        ))
        .await;
    let instance = &described["DBInstances"][0];
    assert_eq!(instance["DBInstanceStatus"], "available");
    assert_eq!(instance["Endpoint"]["Port"], 3306);
    let address = instance["Endpoint"]["Address"].as_str().unwrap();
    assert!(
        address.starts_with("flask-crud-db.") && address.ends_with(".us-east-1.rds.localhost"),
        "{address}"
    );
    assert_eq!(
        instance["DBSubnetGroup"]["Subnets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let not_found = aws
        .fails(&rds(
            &aws,
            &["describe-db-instances", "--db-instance-identifier", "nope"],
        ))
        .await;
    assert_error(&not_found, "DBInstanceNotFound");
    assert_eq!(not_found.message, "DBInstance nope not found.");

    let rebooted = aws
        .json(&rds(
            &aws,
            &["reboot-db-instance", "--db-instance-identifier", DB],
        ))
        .await;
    assert_eq!(rebooted["DBInstance"]["DBInstanceStatus"], "rebooting");
    // How long the reboot takes, as `describe-db-instances` shows it (each CLI call costs ~1 s of
    // Python start-up, which bounds the resolution), then the CLI's own waiter agrees.
    let rebooting = Instant::now();
    let available = wait_for(Duration::from_secs(90), || async {
        let d = aws
            .json(&rds(
                &aws,
                &["describe-db-instances", "--db-instance-identifier", DB],
            ))
            .await;
        (d["DBInstances"][0]["DBInstanceStatus"] == "available").then_some(())
    })
    .await;
    assert!(
        available.is_some(),
        "available again within 90 s of the reboot"
    );
    println!(
        "reboot: available again {:.1}s after reboot-db-instance",
        rebooting.elapsed().as_secs_f64()
    );
    let out = aws
        .run(&rds(
            &aws,
            &[
                "wait",
                "db-instance-available",
                "--db-instance-identifier",
                DB,
            ],
        ))
        .await;
    assert_eq!(out.exit, 0, "the waiter: {}", out.stderr);
    // The app reconnects: a write and a read that go to the database.
    let served = wait_for(Duration::from_secs(30), || async {
        let created = http
            .post(format!("{https}/api/entries"))
            .json(&serde_json::json!({"text": "after reboot"}))
            .send()
            .await
            .ok()?;
        created.status().is_success().then_some(())
    })
    .await;
    assert!(
        served.is_some(),
        "the app serves DB-backed requests after the reboot"
    );
    let events = aws
        .json(&rds(
            &aws,
            &[
                "describe-events",
                "--source-type",
                "db-instance",
                "--source-identifier",
                DB,
            ],
        ))
        .await;
    let messages: Vec<&str> = events["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Message"].as_str().unwrap())
        .collect();
    let shutdown = messages.iter().position(|m| *m == "DB instance shutdown.");
    let restarted = messages.iter().position(|m| *m == "DB instance restarted.");
    assert!(shutdown.is_some() && restarted > shutdown, "{messages:?}");
    assert!(
        !messages.iter().any(|m| m.starts_with("Recovery")),
        "a requested reboot is not a recovery: {messages:?}"
    );

    // Failover comes with Multi-AZ: an error, never a fake success.
    let failover = aws
        .fails(&rds(
            &aws,
            &[
                "reboot-db-instance",
                "--db-instance-identifier",
                DB,
                "--force-failover",
            ],
        ))
        .await;
    assert_error(&failover, "InvalidParameterCombination");
    // Read replicas are tests/rds_replica.rs's; here only RDS's error for an unknown source.
    let replica = aws
        .fails(&rds(
            &aws,
            &[
                "create-db-instance-read-replica",
                "--db-instance-identifier",
                "flask-crud-db-replica",
                "--source-db-instance-identifier",
                "no-such-db",
            ],
        ))
        .await;
    assert_error(&replica, "DBInstanceNotFound");
    assert_eq!(replica.message, "DBInstance no-such-db not found.");

    shut_down_clean(lab, &docker, &test).await;
}

/// Polls `check` until it gives `Some` or `deadline` passes.
async fn wait_for<T, F, Fut>(deadline: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() > until {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
