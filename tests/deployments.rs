//! Rolling deployments on a real Docker engine, driven by the real AWS CLI as a user drives
//! ECS: `register-task-definition` (from `describe-task-definition`'s output, edited), then
//! `update-service --task-definition`. A bounded client loop runs through the load balancer
//! the whole time and must see no failure.
//!
//! - A good revision rolls out within 100 / 200 percent: old tasks are deregistered, drained,
//!   stopped in ECS's order; prints how long the deployment of 2 tasks took.
//! - With the circuit breaker on (rollback), a revision whose container exits at start and one
//!   that never passes its health check both end FAILED and rolled back, with ECS's events,
//!   while the old tasks keep serving (never replaced).
//!
//! `flock /tmp/tierlab-docker.lock cargo test --locked --test deployments -- --nocapture`

mod lab_support;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lab_support::{DOCKER_LOCK, TestLab, client, docker, shut_down_clean};
use serde_json::{Value, json};
use support::aws::Aws;
use tierlab::Lab;
use tierlab::alb::{TargetGroupHandle, TargetState};
use tierlab::ecs::{LastStatus, ServiceHandle, ServiceStatus};

const CLUSTER: &str = "flask-app-cluster";
const SERVICE: &str = "flask-app-service";
/// Bounds of the client loop: it stops at whichever comes first.
const MAX_REQUESTS: usize = 20_000;
const MAX_LOOP_TIME: Duration = Duration::from_secs(150);
/// Longest a deployment (or a rollback) may take here.
const DEPLOY_TIMEOUT: Duration = Duration::from_secs(90);

/// A client that keeps requesting through the load balancer until told to stop (bounded).
struct Load {
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<(usize, Vec<String>)>,
}

impl Load {
    fn start(lab: &Lab) -> Load {
        let client = client(lab);
        let url = format!("{}/api/entries", lab.https_url().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = tokio::spawn(async move {
            let (mut ok, mut failures) = (0usize, Vec::new());
            let started = Instant::now();
            for _ in 0..MAX_REQUESTS {
                if started.elapsed() > MAX_LOOP_TIME || flag.load(Ordering::Relaxed) {
                    break;
                }
                match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => ok += 1,
                    Ok(r) => failures.push(format!("HTTP {}", r.status())),
                    Err(e) => failures.push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (ok, failures)
        });
        Load { stop, handle }
    }

    async fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.unwrap()
    }
}

/// Watches every status the controller publishes: the fewest healthy (RUNNING) tasks and the
/// most RUNNING + PENDING ones seen, and each task's lastStatus in the order seen.
struct Monitor {
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    min_running: u32,
    max_live: u32,
    stages: BTreeMap<String, Vec<LastStatus>>,
    /// Tasks seen being signalled (STOPPING or later) while their target still took requests.
    signalled_in_service: Vec<String>,
}

impl Monitor {
    fn start(service: &ServiceHandle, tg: &TargetGroupHandle) -> Monitor {
        let tg = tg.clone();
        let mut rx = service.watch();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = tokio::spawn(async move {
            let mut seen = Seen {
                min_running: u32::MAX,
                ..Seen::default()
            };
            while !flag.load(Ordering::Relaxed) {
                {
                    let s = rx.borrow_and_update();
                    seen.min_running = seen.min_running.min(s.running_count);
                    seen.max_live = seen.max_live.max(s.running_count + s.pending_count);
                    for t in s.all_tasks() {
                        let signalled = matches!(
                            t.last_status,
                            LastStatus::Stopping | LastStatus::Deprovisioning | LastStatus::Stopped
                        );
                        let in_service = matches!(
                            tg.state_of(&t.task_id),
                            Some(TargetState::Healthy | TargetState::Unhealthy)
                        );
                        if signalled && in_service {
                            seen.signalled_in_service.push(t.task_id.clone());
                        }
                        let stages = seen.stages.entry(t.task_id.clone()).or_default();
                        if stages.last() != Some(&t.last_status) {
                            stages.push(t.last_status);
                        }
                    }
                }
                let _ = tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
            }
            seen
        });
        Monitor { stop, handle }
    }

    async fn finish(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.unwrap()
    }
}

/// `describe-task-definition` of `name`, edited by `edit` and registered as a new revision, as
/// a user would do it; returns the new `family:revision`.
async fn register_edited(aws: &Aws, name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let described = aws
        .json(&["ecs", "describe-task-definition", "--task-definition", name])
        .await;
    let td = &described["taskDefinition"];
    let mut input = json!({
        "family": td["family"],
        "cpu": td["cpu"],
        "memory": td["memory"],
        "networkMode": td["networkMode"],
        "requiresCompatibilities": td["requiresCompatibilities"],
        "containerDefinitions": td["containerDefinitions"],
    });
    edit(&mut input["containerDefinitions"][0]);
    let registered = aws
        .json(&[
            "ecs",
            "register-task-definition",
            "--cli-input-json",
            &input.to_string(),
        ])
        .await;
    let td = &registered["taskDefinition"];
    assert_eq!(td["status"], "ACTIVE");
    format!("{}:{}", td["family"].as_str().unwrap(), td["revision"])
}

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

/// Waits until the PRIMARY deployment is `id`'s successor or `id` itself and reached `state`,
/// alone (no ACTIVE one left), with nothing being stopped.
async fn wait_settled(service: &ServiceHandle, what: &str) -> ServiceStatus {
    let mut rx = service.watch();
    let settled = |s: &ServiceStatus| {
        s.active_deployments.is_empty()
            && s.stopping_tasks.is_empty()
            && s.deployment.rollout_state.as_str() == "COMPLETED"
            && s.running_count == s.desired_count
    };
    match tokio::time::timeout(DEPLOY_TIMEOUT, rx.wait_for(settled)).await {
        Ok(Ok(s)) => s.clone(),
        _ => panic!(
            "{what}: not settled within {DEPLOY_TIMEOUT:?}: {:#?}",
            service.status().events
        ),
    }
}

fn messages(service: &Value) -> Vec<String> {
    // describe-services lists events newest first; oldest first reads as a story.
    let mut m: Vec<String> = service["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    m.reverse();
    m
}

/// The index of the first message at or after `from` that starts with `prefix`.
fn find(messages: &[String], from: usize, prefix: &str) -> usize {
    messages[from..]
        .iter()
        .position(|m| m.starts_with(prefix))
        .map(|i| i + from)
        .unwrap_or_else(|| panic!("no event `{prefix}...` after #{from}: {messages:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_deployment_replaces_tasks_without_failing_a_request() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("deploy");
    let docker = docker().await;
    let lab = test.start().await;
    let aws = Aws::for_lab(&lab);
    let service = lab.service(SERVICE).unwrap().clone();
    let tg = lab.target_group("flask-app-tg").unwrap().clone();
    let before = service.status();
    let old_tasks: Vec<String> = before.tasks.iter().map(|t| t.task_id.clone()).collect();
    let old_deployment = before.deployment.id.clone();
    assert_eq!(before.task_definition, "flask-app-task:1");

    let revision = register_edited(&aws, "flask-app-task", |c| {
        c["environment"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "name": "APP_VERSION", "value": "2" }));
    })
    .await;
    assert_eq!(revision, "flask-app-task:2");
    let listed = aws
        .json(&[
            "ecs",
            "list-task-definitions",
            "--family-prefix",
            "flask-app-task",
        ])
        .await;
    assert_eq!(listed["taskDefinitionArns"].as_array().unwrap().len(), 2);

    let load = Load::start(&lab);
    let monitor = Monitor::start(&service, &tg);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let updated = aws
        .json(&[
            "ecs",
            "update-service",
            "--cluster",
            CLUSTER,
            "--service",
            SERVICE,
            "--task-definition",
            &revision,
        ])
        .await;
    let deployments = updated["service"]["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 2, "{deployments:#?}");
    assert_eq!(deployments[0]["status"], "PRIMARY");
    assert_eq!(deployments[0]["rolloutState"], "IN_PROGRESS");
    assert!(
        deployments[0]["taskDefinition"]
            .as_str()
            .unwrap()
            .ends_with("task-definition/flask-app-task:2")
    );
    assert_eq!(deployments[1]["status"], "ACTIVE");
    assert_eq!(deployments[1]["id"], old_deployment.as_str());

    let done = wait_settled(&service, "rolling deployment").await;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seen = monitor.finish().await;
    let (ok, failures) = load.finish().await;
    eprintln!(
        "rolling deployment of 2 tasks (100/200 %): COMPLETED after {:.1} s; client requests: {ok} ok, {} failed; running never below {}, running+pending never above {}",
        took.as_secs_f64(),
        failures.len(),
        seen.min_running,
        seen.max_live
    );
    assert!(ok > 0);
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(
        seen.min_running >= 2,
        "running fell to {}",
        seen.min_running
    );
    assert!(
        seen.max_live <= 4,
        "running + pending reached {}",
        seen.max_live
    );
    assert_eq!(done.task_definition, "flask-app-task:2");
    for task in &done.tasks {
        assert_eq!(task.task_definition_revision, 2);
        assert_eq!(task.started_by, done.deployment.id);
        assert!(!old_tasks.contains(&task.task_id));
    }
    // Old tasks: out of the target group first, drained, then SIGTERM, then removed.
    for old in &old_tasks {
        assert_eq!(tg.state_of(old), None);
        // Each state change is published, but a sampler may miss a short one (DEPROVISIONING
        // lasts as long as removing a container): the ones seen must keep ECS's order.
        let order = [
            LastStatus::Running,
            LastStatus::Deactivating,
            LastStatus::Stopping,
            LastStatus::Deprovisioning,
            LastStatus::Stopped,
        ];
        let stages = &seen.stages[old];
        let positions: Vec<usize> = stages
            .iter()
            .map(|s| order.iter().position(|o| o == s).unwrap())
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "task {old}: {stages:?}"
        );
        // DEACTIVATING lasts while requests drain; with none in flight it ends at once, as
        // ELB completes a deregistration without waiting then.
        for needed in [LastStatus::Stopping, LastStatus::Stopped] {
            assert!(stages.contains(&needed), "task {old}: {stages:?}");
        }
    }
    assert!(
        seen.signalled_in_service.is_empty(),
        "SIGTERM before deregistration: {:?}",
        seen.signalled_in_service
    );
    let stopped = aws
        .json(&[
            "ecs",
            "describe-tasks",
            "--cluster",
            CLUSTER,
            "--tasks",
            &old_tasks[0],
            &old_tasks[1],
        ])
        .await;
    for t in stopped["tasks"].as_array().unwrap() {
        assert_eq!(t["lastStatus"], "STOPPED");
        assert_eq!(t["stopCode"], "ServiceSchedulerInitiated");
        assert_eq!(
            t["stoppedReason"],
            format!("Scaling activity initiated by (deployment {old_deployment})")
        );
        assert!(
            t["taskDefinitionArn"]
                .as_str()
                .unwrap()
                .ends_with("flask-app-task:1")
        );
        // Gunicorn exits cleanly on SIGTERM: no SIGKILL needed.
        assert_eq!(t["containers"][0]["exitCode"], 0, "{t:#}");
    }

    // describe-services: one deployment, COMPLETED, and ECS's events in ECS's order.
    let described = describe_service(&aws).await;
    let deployments = described["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 1, "{deployments:#?}");
    assert_eq!(deployments[0]["rolloutState"], "COMPLETED");
    let new_id = deployments[0]["id"].as_str().unwrap().to_string();
    let events = messages(&described);
    let svc = format!("(service {SERVICE})");
    // The lab's start (started 2, completed, steady), then the deployment's.
    let first_steady = find(&events, 0, &format!("{svc} has reached a steady state."));
    let begin = find(
        &events,
        first_steady,
        &format!("{svc} has started 2 tasks:"),
    );
    find(
        &events,
        begin,
        &format!("{svc} registered 2 targets in (target-group arn:aws:elasticloadbalancing:"),
    );
    let stop = find(
        &events,
        begin,
        // 1 and 1, or 2 at once when both new tasks turn healthy in the same round.
        &format!("{svc} has stopped "),
    );
    let deregistered = find(&events, stop, &format!("{svc} deregistered "));
    assert!(
        events[deregistered].contains(" targets in (target-group arn:aws:elasticloadbalancing:"),
        "{}",
        events[deregistered]
    );
    find(
        &events,
        deregistered,
        &format!(
            "(service {SERVICE}, taskSet {old_deployment}) has begun draining connections on "
        ),
    );
    let completed = find(
        &events,
        stop,
        &format!("{svc} (deployment {new_id}) deployment completed."),
    );
    find(
        &events,
        completed,
        &format!("{svc} has reached a steady state."),
    );

    // The same revision again with --force-new-deployment: new tasks, same revision.
    let forced = aws
        .json(&[
            "ecs",
            "update-service",
            "--cluster",
            CLUSTER,
            "--service",
            SERVICE,
            "--force-new-deployment",
        ])
        .await;
    let deployments = forced["service"]["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 2);
    assert_ne!(deployments[0]["id"], new_id.as_str());
    let after = wait_settled(&service, "forced deployment").await;
    assert_eq!(after.task_definition, "flask-app-task:2");
    assert!(
        after
            .tasks
            .iter()
            .all(|t| !done.tasks.iter().any(|d| d.task_id == t.task_id))
    );

    shut_down_clean(lab, &docker, &test).await;
}

/// A revision that exits at start, then one whose health check path answers 500: each trips
/// the circuit breaker (3 failures for 2 tasks), goes FAILED and is rolled back to the last
/// COMPLETED deployment, whose tasks serve throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_breaker_rolls_back_broken_revisions() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("breaker");
    let docker = docker().await;
    let lab = test.start().await;
    let aws = Aws::for_lab(&lab);
    let service = lab.service(SERVICE).unwrap().clone();
    let good = service.status();
    let good_tasks: Vec<String> = good.tasks.iter().map(|t| t.task_id.clone()).collect();

    // The breaker through update-service (CLI shorthand), and a short grace period so failed
    // health checks count within seconds.
    let configured = aws
        .json(&[
            "ecs",
            "update-service",
            "--cluster",
            CLUSTER,
            "--service",
            SERVICE,
            "--deployment-configuration",
            "deploymentCircuitBreaker={enable=true,rollback=true},maximumPercent=200,minimumHealthyPercent=100",
            "--health-check-grace-period-seconds",
            "3",
        ])
        .await;
    let dc = &configured["service"]["deploymentConfiguration"];
    assert_eq!(dc["deploymentCircuitBreaker"]["rollback"], true);
    assert_eq!(configured["service"]["healthCheckGracePeriodSeconds"], 3);
    assert_eq!(
        configured["service"]["deployments"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "a configuration change alone starts no deployment"
    );

    let exits = register_edited(&aws, "flask-app-task", |c| {
        c["command"] = json!(["sh", "-c", "echo broken revision >&2; exit 3"]);
    })
    .await;
    let http_500 = register_edited(&aws, "flask-app-task", |c| {
        let server = "import http.server as h\n\
            class H(h.BaseHTTPRequestHandler):\n    \
                def do_GET(self):\n        \
                    self.send_response(500); self.end_headers()\n\
            h.HTTPServer(('', 8000), H).serve_forever()";
        c["command"] = json!(["python3", "-c", server]);
        // PID 1 ignores SIGTERM: SIGKILL after 2 s rather than ECS's default 30 s.
        c["stopTimeout"] = json!(2);
    })
    .await;

    let load = Load::start(&lab);
    for (revision, what) in [(&exits, "exits at start"), (&http_500, "health check 500s")] {
        let before = service.status();
        let completed_id = before.deployment.id.clone();
        let started = Instant::now();
        let updated = aws
            .json(&[
                "ecs",
                "update-service",
                "--cluster",
                CLUSTER,
                "--service",
                SERVICE,
                "--task-definition",
                revision,
            ])
            .await;
        let failed_id = updated["service"]["deployments"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let after = wait_settled(&service, what).await;
        let took = started.elapsed();
        // Rolled back: a new PRIMARY deployment of revision 1, with the very tasks that served.
        assert_eq!(after.task_definition, "flask-app-task:1", "{what}");
        assert_ne!(after.deployment.id, failed_id);
        let mut ids: Vec<String> = after.tasks.iter().map(|t| t.task_id.clone()).collect();
        ids.sort();
        let mut expected = good_tasks.clone();
        expected.sort();
        assert_eq!(ids, expected, "{what}: the old tasks were replaced");
        let described = describe_service(&aws).await;
        let events = messages(&described);
        let svc = format!("(service {SERVICE})");
        let at = find(
            &events,
            0,
            &format!("{svc} (deployment {failed_id}) deployment failed: tasks failed to start."),
        );
        let at = find(
            &events,
            at,
            &format!("{svc} rolling back to deployment {completed_id}."),
        );
        find(
            &events,
            at,
            &format!(
                "{svc} (deployment {}) deployment completed.",
                after.deployment.id
            ),
        );
        // The tasks that failed (the circuit breaker's count); any other task of the failed
        // deployment was stopped by the rollback ("Scaling activity initiated by ...").
        let expected = match what {
            "exits at start" => "Essential container in task exited (exit code 3)",
            _ => "Task failed ELB health checks",
        };
        let of_failed: Vec<_> = after
            .stopped_tasks
            .iter()
            .filter(|t| t.started_by == failed_id)
            .collect();
        let failed_tasks = of_failed
            .iter()
            .filter(|t| t.stopped_reason.as_deref() == Some(expected))
            .count();
        assert!(failed_tasks >= 3, "{what}: {of_failed:#?}");
        for t in &of_failed {
            let reason = t.stopped_reason.as_deref().unwrap();
            assert!(
                reason == expected
                    || reason == format!("Scaling activity initiated by (deployment {failed_id})"),
                "{what}: {reason}"
            );
        }
        eprintln!(
            "circuit breaker ({what}): {failed_tasks} failed tasks, rolled back and COMPLETED after {:.1} s",
            took.as_secs_f64()
        );
    }
    // The failed deployment is no longer listed once drained; the rolloutStateReason of the
    // failed and the rollback deployments while they are listed is in ecs::deployment's tests.
    let (ok, failures) = load.finish().await;
    eprintln!(
        "circuit breaker: client requests {ok} ok, {} failed",
        failures.len()
    );
    assert!(ok > 0);
    assert!(failures.is_empty(), "failed requests: {failures:?}");

    shut_down_clean(lab, &docker, &test).await;
}
