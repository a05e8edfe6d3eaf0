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
