//! ECS-style self-healing on a real Docker engine: `docker kill` one task while a client keeps
//! requesting; the target leaves the target group at once, a replacement registers healthy and
//! the service is back at its desired count, and no client request fails. Prints the replacement
//! time.

mod lab_support;

use std::time::{Duration, Instant};

use lab_support::{DOCKER_LOCK, TestLab, client, docker, shut_down_clean};
use tierlab::alb::TargetState;

/// Bounds of the client loop: it stops at whichever comes first.
const MAX_REQUESTS: usize = 2_000;
const MAX_LOOP_TIME: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_task_is_deregistered_and_replaced() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("heal");
    let docker = docker().await;
    let lab = test.start().await;
    let https = lab.https_url().unwrap();
    let client = client(&lab);
    let service = lab.service("flask-app-service").unwrap().clone();
    let tg = lab.target_group("flask-app-tg").unwrap().clone();
    let before = service.status();
    assert_eq!(before.running_count, 2);
    let victim = before.tasks[0].clone();

    // A client that keeps requesting through the load balancer, bounded in count and time.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_load = stop.clone();
    let loop_client = client.clone();
    let url = format!("{https}/api/entries");
    let load = tokio::spawn(async move {
        let (mut ok, mut failed) = (0usize, 0usize);
        let started = Instant::now();
        for _ in 0..MAX_REQUESTS {
            if started.elapsed() > MAX_LOOP_TIME
                || stop_load.load(std::sync::atomic::Ordering::Relaxed)
            {
                break;
            }
            match loop_client.get(&url).send().await {
                Ok(r) if r.status().is_success() => ok += 1,
                _ => failed += 1,
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (ok, failed)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Kill the container the way a user would, through the Docker API.
    let killed_at = Instant::now();
    docker.kill_container(&victim.container_id).await.unwrap();

    // The killed target is dropped from the target group at once (not after health checks).
    let mut rx = tg.changes();
    let dropped = tokio::time::timeout(Duration::from_secs(2), async {
        while tg.state_of(&victim.task_id).is_some() {
            rx.changed().await.unwrap();
        }
    })
    .await;
    assert!(dropped.is_ok(), "killed target still registered after 2 s");
    let deregistered_after = killed_at.elapsed();

    // A replacement registers and becomes healthy; the service is back to 2 running tasks.
    let mut status = service.watch();
    let steady = tokio::time::timeout(
        Duration::from_secs(30),
        // Drop the borrow at once: holding a watch `Ref` would block the controller's updates.
        async {
            status
                .wait_for(|s| {
                    s.running_count == 2 && s.tasks.iter().all(|t| t.task_id != victim.task_id)
                })
                .await
                .map(|_| ())
        },
    )
    .await;
    assert!(
        steady.is_ok(),
        "service did not recover: {:?}",
        service.status()
    );
    let replaced_after = killed_at.elapsed();
    let after = service.status();
    assert_eq!(after.tasks.len(), 2);
    for task in &after.tasks {
        assert_eq!(
            tg.state_of(&task.task_id),
            Some(TargetState::Healthy),
            "task {} not healthy",
            task.task_id
        );
    }

    // Keep requesting a little after recovery, then stop the client.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = load.await.unwrap();
    eprintln!(
        "self-healing: target deregistered after {:.0} ms, replacement healthy after {:.2} s; client requests: {ok} ok, {failed} failed",
        deregistered_after.as_secs_f64() * 1000.0,
        replaced_after.as_secs_f64()
    );
    assert!(ok > 0);
    // The load balancer retries an idempotent request that hit the dying task on the other one
    // (mode = "tierlab", the default), so clients never see the kill.
    assert_eq!(failed, 0, "client requests failed while a task was killed");

    shut_down_clean(lab, &docker, &test).await;
}

/// Commands on the running service: `Lab::scale` to 3 gives 3 healthy targets (the status says
/// desired 3, the config still 2) with ECS's events; `Lab::stop_task` by id prefix drains and
/// stops the task as "Task stopped by user" / UserInitiated while a replacement starts; a
/// scale back to 2 stops one task as a scale-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_and_stop_task_change_the_running_service() {
    use tierlab::ecs::{DesiredStatus, LastStatus, StopCode};
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("commands");
    let docker = docker().await;
    let lab = test.start().await;
    let service = lab.service("flask-app-service").unwrap().clone();
    let tg = lab.target_group("flask-app-tg").unwrap().clone();
    let healthy = || {
        tg.describe()
            .iter()
            .filter(|t| t.state == TargetState::Healthy)
            .count()
    };
    let first = service.status();
    assert_eq!(first.deployment.rollout_state.as_str(), "COMPLETED");
    assert!(first.deployment.id.starts_with("ecs-svc/"));
    for task in &first.tasks {
        assert_eq!(task.task_definition_revision, 1);
        assert_eq!(task.desired_status, DesiredStatus::Running);
        assert_eq!(task.last_status, LastStatus::Running);
        let ip = task.private_ipv4_address.as_deref().expect("a private IP");
        let cidr = lab.config().vpc.subnets[&task.subnet].cidr;
        assert!(
            cidr.contains_addr(ip.parse().unwrap()),
            "{ip} not in {cidr:?}"
        );
        assert!(!task.availability_zone.is_empty());
    }

    // Scale out: the third target turns healthy; timed.
    let scaled_at = Instant::now();
    assert_eq!(lab.scale("flask-app-service", 3).unwrap(), 2);
    let mut status = service.watch();
    tokio::time::timeout(
        Duration::from_secs(60),
        status.wait_for(|s| s.desired_count == 3 && s.running_count == 3),
    )
    .await
    .expect("3 running tasks")
    .unwrap();
    let third_healthy = scaled_at.elapsed();
    assert_eq!(healthy(), 3, "{:#?}", tg.describe());
    let s = service.status();
    assert_eq!((s.desired_count, s.configured_desired_count), (3, 2));
    let messages: Vec<&str> = s.events.iter().map(|e| e.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("(service flask-app-service) has started 1 tasks: (task ")),
        "{messages:#?}"
    );

    // Stop one task by a prefix of its id.
    let victim = s.tasks[0].task_id.clone();
    let stopping = lab.stop_task(&victim[..8]).await.unwrap();
    assert_eq!(stopping.task_id, victim);
    assert_eq!(stopping.desired_status, DesiredStatus::Stopped);
    assert_eq!(
        stopping.stopped_reason.as_deref(),
        Some("Task stopped by user")
    );
    assert_eq!(tg.state_of(&victim), None, "still registered");
    tokio::time::timeout(
        Duration::from_secs(60),
        status.wait_for(|s| {
            s.running_count == 3
                && s.stopped_tasks.iter().any(|t| t.task_id == victim)
                && s.tasks.iter().all(|t| t.task_id != victim)
        }),
    )
    .await
    .expect("stopped and replaced")
    .unwrap();
    let s = service.status();
    let stopped = s
        .stopped_tasks
        .iter()
        .find(|t| t.task_id == victim)
        .unwrap();
    assert_eq!(stopped.last_status, LastStatus::Stopped);
    assert_eq!(stopped.stop_code, Some(StopCode::UserInitiated));
    assert!(stopped.stopping_at.is_some() && stopped.stopped_at.is_some());
    assert!(stopped.exit_code.is_some(), "{stopped:#?}");
    let stop_event =
        format!("(service flask-app-service) has stopped 1 running tasks: (task {victim}).");
    assert!(
        s.events.iter().any(|e| e.message == stop_event),
        "{:#?}",
        s.events
    );
    // Stopping it again answers it as it is; an unknown id is a typed error.
    assert_eq!(
        service.stop_task(&victim, None).await.unwrap().last_status,
        LastStatus::Stopped
    );
    assert!(matches!(
        service.stop_task("nope", None).await,
        Err(tierlab::ecs::StopTaskError::NoSuchTask { .. })
    ));

    // Scale in: one task is stopped as a scale-in, two stay healthy.
    lab.scale("flask-app-service", 2).unwrap();
    tokio::time::timeout(
        Duration::from_secs(60),
        status.wait_for(|s| {
            s.tasks.len() == 2 && s.stopping_tasks.is_empty() && s.running_count == 2
        }),
    )
    .await
    .expect("scaled in")
    .unwrap();
    let s = service.status();
    assert!(
        s.stopped_tasks[0]
            .stopped_reason
            .as_deref()
            .unwrap()
            .starts_with("Scaling activity initiated by (deployment ecs-svc/"),
        "{:#?}",
        s.stopped_tasks[0]
    );
    eprintln!(
        "commands: scale 2 -> 3, third target healthy after {:.2} s",
        third_healthy.as_secs_f64()
    );
    shut_down_clean(lab, &docker, &test).await;
}
