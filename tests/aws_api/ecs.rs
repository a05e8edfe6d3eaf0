//! ECS through the real AWS CLI against a real lab: `describe-services` shows the live counts;
//! `update-service --desired-count 3`, then `aws ecs wait services-stable`, gives 3 healthy
//! targets (the time to the third is printed); `stop-task` stops the task as "Task stopped by
//! user" and the service replaces it; `list-tasks --desired-status STOPPED` lists it; ECS's
//! errors. Also measures `describe-services` latency (p50/p99 of a bounded loop, SigV4-signed
//! by tierlab's own client, the one `tierlab scale` uses).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tierlab::alb::TargetState;
use tierlab::api::ecs::client::{ClientError, EcsClient};

use crate::lab_support::{DOCKER_LOCK, TestLab, docker, shut_down_clean};
use crate::support::aws::{Aws, SERVICE_ERROR_EXIT};

const CLUSTER: &str = "flask-app-cluster";
const SERVICE: &str = "flask-app-service";
/// Calls in the latency loop.
const LATENCY_CALLS: usize = 200;

async fn describe_service(aws: &Aws) -> Value {
    let v = aws
        .json(&[
            "ecs",
            "describe-services",
            "--cluster",
            CLUSTER,
            "--services",
            SERVICE,
        ])
        .await;
    v["services"][0].clone()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecs_commands_through_the_aws_cli() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("awsecs");
    let docker = docker().await;
    let lab = test.start().await;
    let aws = Aws::for_lab(&lab);
    let tg = lab.target_group("flask-app-tg").unwrap().clone();
    let service = lab.service(SERVICE).unwrap().clone();
    let healthy = {
        let tg = tg.clone();
        move || {
            tg.describe()
                .iter()
                .filter(|t| t.state == TargetState::Healthy)
                .count()
        }
    };

    // The reference's troubleshooting command shows the live service.
    let s = describe_service(&aws).await;
    assert_eq!(
        (s["desiredCount"].as_u64(), s["runningCount"].as_u64()),
        (Some(2), Some(2)),
        "{s:#}"
    );
    assert_eq!(s["status"], "ACTIVE");
    assert_eq!(s["deployments"].as_array().unwrap().len(), 1);
    assert_eq!(s["deployments"][0]["status"], "PRIMARY");
    assert_eq!(s["deployments"][0]["rolloutState"], "COMPLETED");
    assert!(
        s["loadBalancers"][0]["targetGroupArn"]
            .as_str()
            .unwrap()
            .contains(":targetgroup/flask-app-tg/")
    );
    assert_eq!(
        s["events"][0]["message"],
        format!("(service {SERVICE}) has reached a steady state.")
    );
    let clusters = aws.json(&["ecs", "list-clusters"]).await;
    assert!(
        clusters["clusterArns"][0]
            .as_str()
            .unwrap()
            .ends_with(":cluster/flask-app-cluster")
    );

    // update-service --desired-count 3, timed to the third healthy target.
    let started = Instant::now();
    let updated = aws
        .json(&[
            "ecs",
            "update-service",
            "--cluster",
            CLUSTER,
            "--service",
            SERVICE,
            "--desired-count",
            "3",
        ])
        .await;
    assert_eq!(updated["service"]["desiredCount"], 3);
    let third = {
        let healthy = healthy.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(90);
            while healthy() < 3 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            started.elapsed()
        })
    };
    // The waiter prints nothing and exits 0 once stable.
    let waiter = aws
        .run(&[
            "ecs",
            "wait",
            "services-stable",
            "--cluster",
            CLUSTER,
            "--services",
            SERVICE,
        ])
        .await;
    assert_eq!(waiter.exit, 0, "{}", waiter.stderr);
    let waited = started.elapsed();
    let third = third.await.unwrap();
    assert_eq!(healthy(), 3, "{:#?}", tg.describe());
    let s = describe_service(&aws).await;
    assert_eq!(
        (s["desiredCount"].as_u64(), s["runningCount"].as_u64()),
        (Some(3), Some(3))
    );
    assert!(
        s["events"].as_array().unwrap().iter().any(|e| e["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("(service {SERVICE}) has started 1 tasks: (task "))),
        "{:#}",
        s["events"]
    );
    // Applied live, not written back.
    assert_eq!(lab.config().services[SERVICE].desired_count, 2);

    // A running task as describe-tasks shows it.
    let listed = aws
        .json(&[
            "ecs",
            "list-tasks",
            "--cluster",
            CLUSTER,
            "--service-name",
            SERVICE,
        ])
        .await;
    let arns: Vec<String> = listed["taskArns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(arns.len(), 3, "{listed:#}");
    let victim = arns[0].clone();
    let described = aws
        .json(&[
            "ecs",
            "describe-tasks",
            "--cluster",
            CLUSTER,
            "--tasks",
            &victim,
        ])
        .await;
    let t = &described["tasks"][0];
    assert_eq!(
        (t["lastStatus"].as_str(), t["desiredStatus"].as_str()),
        (Some("RUNNING"), Some("RUNNING"))
    );
    assert_eq!(t["group"], format!("service:{SERVICE}"));
    assert_eq!(t["attachments"][0]["type"], "ElasticNetworkInterface");
    let ip = t["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]
        .as_str()
        .unwrap()
        .to_string();
    let subnet_ids: Vec<String> = lab.config().services[SERVICE].subnets.clone();
    let task_subnet = subnet_ids
        .iter()
        .find(|s| {
            lab.config().vpc.subnets[*s]
                .cidr
                .contains_addr(ip.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("{ip} is in none of the service's subnets"));
    eprintln!(
        "aws ecs: task {} has {ip} in {task_subnet}, {}",
        &victim[victim.len() - 32..],
        t["availabilityZone"]
    );

    // stop-task: drained, stopped as by a user, replaced.
    let stopped = aws
        .json(&["ecs", "stop-task", "--cluster", CLUSTER, "--task", &victim])
        .await;
    assert_eq!(stopped["task"]["desiredStatus"], "STOPPED");
    assert_eq!(stopped["task"]["stoppedReason"], "Task stopped by user");
    let deadline = Instant::now() + Duration::from_secs(60);
    let t = loop {
        let d = aws
            .json(&[
                "ecs",
                "describe-tasks",
                "--cluster",
                CLUSTER,
                "--tasks",
                &victim,
            ])
            .await;
        let t = d["tasks"][0].clone();
        if t["lastStatus"] == "STOPPED" || Instant::now() > deadline {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(t["lastStatus"], "STOPPED", "{t:#}");
    assert_eq!(t["stopCode"], "UserInitiated");
    assert_eq!(t["stoppedReason"], "Task stopped by user");
    assert!(t["containers"][0]["exitCode"].is_i64(), "{t:#}");
    assert!(t["stoppedAt"].is_f64() || t["stoppedAt"].is_u64());
    let stopped_list = aws
        .json(&[
            "ecs",
            "list-tasks",
            "--cluster",
            CLUSTER,
            "--desired-status",
            "STOPPED",
        ])
        .await;
    assert!(
        stopped_list["taskArns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == victim.as_str()),
        "{stopped_list:#}"
    );
    let mut status = service.watch();
    tokio::time::timeout(
        Duration::from_secs(60),
        status.wait_for(|s| s.running_count == 3 && s.stopping_tasks.is_empty()),
    )
    .await
    .expect("the stopped task is replaced")
    .unwrap();
    let s = describe_service(&aws).await;
    let id = &victim[victim.len() - 32..];
    let stop_event = format!("(service {SERVICE}) has stopped 1 running tasks: (task {id}).");
    assert!(
        s["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"] == stop_event.as_str()),
        "{:#}",
        s["events"]
    );

    // ECS's errors, as the CLI prints them.
    let e = aws
        .fails(&[
            "ecs",
            "describe-services",
            "--cluster",
            "nope",
            "--services",
            SERVICE,
        ])
        .await;
    assert_eq!(e.exit, SERVICE_ERROR_EXIT);
    assert_eq!(
        (e.code.as_str(), e.operation.as_str(), e.message.as_str()),
        (
            "ClusterNotFoundException",
            "DescribeServices",
            "Cluster not found."
        ),
        "{}",
        e.stderr
    );
    let e = aws
        .fails(&[
            "ecs",
            "update-service",
            "--cluster",
            CLUSTER,
            "--service",
            "nope",
            "--desired-count",
            "1",
        ])
        .await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("ServiceNotFoundException", "Service not found.")
    );
    let e = aws
        .fails(&[
            "ecs",
            "update-service",
            "--cluster",
            CLUSTER,
            "--service",
            SERVICE,
            "--task-definition",
            "flask-app-task:2",
        ])
        .await;
    // No such revision yet (tests/deployments.rs registers and rolls out new ones).
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("ClientException", "TaskDefinition not found.")
    );
    let e = aws
        .fails(&["ecs", "stop-task", "--cluster", CLUSTER, "--task", "0000"])
        .await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "InvalidParameterException",
            "The referenced task was not found."
        )
    );
    let missing = aws
        .json(&[
            "ecs",
            "describe-services",
            "--cluster",
            CLUSTER,
            "--services",
            "nope",
        ])
        .await;
    assert_eq!(missing["failures"][0]["reason"], "MISSING");
    let td = aws
        .json(&[
            "ecs",
            "describe-task-definition",
            "--task-definition",
            "flask-app-task",
        ])
        .await;
    assert_eq!(td["taskDefinition"]["revision"], 1);
    let secret = tierlab::state::StateDir::resolve(Some(test.state_path()))
        .secret(&test.name, "flask-app-secret-key")
        .unwrap();
    assert!(
        !td.to_string().contains(&secret),
        "a secret value in describe-task-definition"
    );

    // tierlab's own signed client (what `tierlab scale` sends): scale back to 2, and time
    // describe-services in a bounded loop.
    let client = EcsClient::new(
        &lab.aws_endpoint(),
        &lab.config().lab.region,
        lab.aws_credentials(),
    )
    .unwrap();
    let answer = client
        .call(
            "UpdateService",
            &json!({ "cluster": CLUSTER, "service": SERVICE, "desiredCount": 2 }),
        )
        .await
        .unwrap();
    assert_eq!(answer["service"]["desiredCount"], 2);
    let wrong = EcsClient::new(
        &lab.aws_endpoint(),
        &lab.config().lab.region,
        tierlab::api::credentials::AwsCredentials::generate(),
    )
    .unwrap();
    let refused = wrong
        .call(
            "UpdateService",
            &json!({ "cluster": CLUSTER, "service": SERVICE, "desiredCount": 5 }),
        )
        .await;
    assert!(
        matches!(refused, Err(ClientError::Aws { .. })),
        "{refused:?}"
    );
    assert_eq!(
        service.desired_count(),
        2,
        "a call with other credentials changed the count"
    );
    let input = json!({ "cluster": CLUSTER, "services": [SERVICE] });
    let mut times = Vec::with_capacity(LATENCY_CALLS);
    for _ in 0..LATENCY_CALLS {
        let t0 = Instant::now();
        let v = client.call("DescribeServices", &input).await.unwrap();
        times.push(t0.elapsed());
        assert_eq!(v["services"][0]["serviceName"], SERVICE);
    }
    times.sort();
    eprintln!(
        "aws ecs: update-service --desired-count 3 -> third target healthy in {:.2} s (wait services-stable returned after {:.1} s); describe-services over {LATENCY_CALLS} signed calls: p50 {:.2} ms, p99 {:.2} ms",
        third.as_secs_f64(),
        waited.as_secs_f64(),
        percentile(&times, 0.50).as_secs_f64() * 1000.0,
        percentile(&times, 0.99).as_secs_f64() * 1000.0,
    );
    tokio::time::timeout(
        Duration::from_secs(60),
        status.wait_for(|s| s.tasks.len() == 2 && s.stopping_tasks.is_empty()),
    )
    .await
    .expect("scaled back in")
    .unwrap();

    shut_down_clean(lab, &docker, &test).await;
}
