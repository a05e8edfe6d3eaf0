//! `tierlab chaos` faults on a real lab, seen by a client through the load balancer: latency
//! and connection resets on the load balancer → task path, a task answering 5xx, a frozen task
//! that the health checks catch and ECS replaces, a killed task replaced; `list` and `clear`,
//! and a fault that ends by itself after `--for`.

mod lab_support;

use std::time::{Duration, Instant};

use lab_support::{DOCKER_LOCK, TestLab, client, docker, shut_down_clean};
use tierlab::Lab;
use tierlab::lab::{Chaos, TierPath};

const SERVICE: &str = "flask-app-service";
const WITHIN: Duration = Duration::from_secs(90);

/// The statuses and times of `n` sequential GETs of `/api/info` through the load balancer.
async fn requests(lab: &Lab, n: usize) -> Vec<(u16, Duration)> {
    let http = client(lab);
    let url = format!("{}/api/info", lab.https_url().unwrap());
    let mut seen = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let status = match http.get(&url).send().await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        };
        seen.push((status, started.elapsed()));
    }
    seen
}

fn median(times: &[(u16, Duration)]) -> Duration {
    let mut t: Vec<Duration> = times.iter().map(|(_, d)| *d).collect();
    t.sort();
    t[t.len() / 2]
}

/// The healthy tasks' ids now.
fn healthy_tasks(lab: &Lab) -> Vec<String> {
    let status = lab.service(SERVICE).unwrap().status();
    status
        .tasks
        .iter()
        .filter(|t| t.health.as_deref() == Some("healthy"))
        .map(|t| t.task_id.clone())
        .collect()
}

async fn until(what: &str, cond: impl Fn() -> bool) -> Duration {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < WITHIN, "not within {WITHIN:?}: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_reach_clients_and_end() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("chaos");
    let docker = docker().await;
    let lab = test.start().await;
    let view = lab.view();
    until("2 healthy tasks", || healthy_tasks(&lab).len() == 2).await;

    // Latency on the load balancer → task path, ending by itself.
    let before = median(&requests(&lab, 5).await);
    let said = view
        .chaos(&Chaos::Latency {
            path: TierPath::LbTask,
            delay: Duration::from_millis(300),
            jitter: Duration::from_millis(50),
            lasting: Some(Duration::from_secs(6)),
        })
        .await
        .unwrap();
    println!("latency: {said}");
    let slowed = requests(&lab, 5).await;
    assert!(
        slowed
            .iter()
            .all(|(s, d)| *s == 200 && *d >= Duration::from_millis(300)),
        "{slowed:?}"
    );
    assert_eq!(lab.status().chaos.len(), 1);
    assert_eq!(lab.status().chaos[0].kind, "latency");
    println!(
        "median /api/info: {:?} before, {:?} with +300ms (jitter 50ms)",
        before,
        median(&slowed)
    );
    until("the latency fault to end by itself", || {
        lab.status().chaos.is_empty()
    })
    .await;
    let after = median(&requests(&lab, 5).await);
    assert!(
        after < Duration::from_millis(300),
        "still slow after the fault ended: {after:?}"
    );

    // The task → database path is refused by name, and changes nothing.
    let refused = view
        .chaos(&Chaos::Reset {
            path: TierPath::TaskDb,
            rate: 1.0,
            lasting: None,
        })
        .await
        .unwrap_err();
    assert!(refused.is_request_error() && refused.to_string().contains("not supported yet"));

    // Every connection reset: clients get the load balancer's 502; `clear` ends it.
    view.chaos(&Chaos::Reset {
        path: TierPath::LbTask,
        rate: 1.0,
        lasting: None,
    })
    .await
    .unwrap();
    let reset = requests(&lab, 3).await;
    assert!(reset.iter().all(|(s, _)| *s == 502), "{reset:?}");
    let cleared = view.chaos(&Chaos::Clear).await.unwrap();
    assert_eq!(cleared, "1 fault ended");
    assert!(requests(&lab, 3).await.iter().all(|(s, _)| *s == 200));

    // One task answers 503 to all its requests: clients see them (round robin over two).
    let tasks = healthy_tasks(&lab);
    let said = view
        .chaos(&Chaos::HttpErrors {
            task: Some(tasks[0][..8].to_string()),
            rate: 1.0,
            status: 503,
            lasting: None,
        })
        .await
        .unwrap();
    println!("http-errors: {said}");
    let mixed = requests(&lab, 8).await;
    let failed = mixed.iter().filter(|(s, _)| *s == 503).count();
    assert!(failed >= 1, "no 503 from the failing task: {mixed:?}");
    println!("http-errors: {failed} of 8 requests answered 503");
    let listed = view.chaos(&Chaos::List).await.unwrap();
    assert!(
        listed.contains("http-errors") && listed.contains(&tasks[0]),
        "{listed}"
    );
    view.chaos(&Chaos::Clear).await.unwrap();
    assert!(requests(&lab, 4).await.iter().all(|(s, _)| *s == 200));

    // A frozen task: the health checks time out on it, ECS replaces it.
    let frozen = healthy_tasks(&lab)[0].clone();
    let paused_at = Instant::now();
    view.chaos(&Chaos::PauseTask {
        task: Some(frozen.clone()),
        lasting: Some(Duration::from_secs(60)),
    })
    .await
    .unwrap();
    let unhealthy = until("the frozen task's target to go unhealthy", || {
        !healthy_tasks(&lab).contains(&frozen)
    })
    .await;
    let replaced = until("a replacement healthy beside the other task", || {
        let healthy = healthy_tasks(&lab);
        healthy.len() == 2 && !healthy.contains(&frozen)
    })
    .await;
    println!(
        "pause-task: target unhealthy after {:.1}s, replacement healthy after {:.1}s",
        unhealthy.as_secs_f64(),
        (paused_at.elapsed())
            .as_secs_f64()
            .max(replaced.as_secs_f64())
    );
    view.chaos(&Chaos::Clear).await.unwrap();

    // A killed task: stopped with its exit code, replaced.
    let victim = healthy_tasks(&lab)[0].clone();
    let said = view
        .chaos(&Chaos::KillTask {
            task: Some(victim.clone()),
        })
        .await
        .unwrap();
    println!("kill-task: {said}");
    let back = until("a replacement for the killed task", || {
        let healthy = healthy_tasks(&lab);
        healthy.len() == 2 && !healthy.contains(&victim)
    })
    .await;
    println!(
        "kill-task: back to 2 healthy tasks after {:.1}s",
        back.as_secs_f64()
    );
    let status = lab.service(SERVICE).unwrap().status();
    let stopped = status
        .stopped_tasks
        .iter()
        .find(|t| t.task_id == victim)
        .expect("the killed task is kept as stopped");
    assert_eq!(stopped.exit_code, Some(137), "{stopped:?}");
    assert!(lab.status().chaos.is_empty());

    shut_down_clean(lab, &docker, &test).await;
}
