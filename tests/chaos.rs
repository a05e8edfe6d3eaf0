//! `tierlab chaos` faults on a real lab, seen by a client through the load balancer: latency
//! and connection resets on the load balancer → task path, latency and resets on the task →
//! database path (its proxy holding the endpoint, then giving it back), a bandwidth limit, a
//! task answering 5xx, a frozen task
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

/// Container `id`'s full inspect output.
async fn inspect(
    docker: &tierlab::docker::DockerClient,
    id: &str,
) -> bollard::models::ContainerInspectResponse {
    docker
        .bollard()
        .inspect_container(
            id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .unwrap()
}

/// The endpoint's names container `id` answers to: its network aliases but its own short id
/// and host name, which Docker adds.
async fn aliases_of(docker: &tierlab::docker::DockerClient, id: &str) -> Vec<String> {
    let info = inspect(docker, id).await;
    let own = [
        info.id.clone().unwrap_or_default(),
        info.config
            .as_ref()
            .and_then(|c| c.hostname.clone())
            .unwrap_or_default(),
    ];
    let networks = info
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default();
    let mut aliases: Vec<String> = networks
        .values()
        .flat_map(|n| n.aliases.clone().unwrap_or_default())
        .filter(|a| !own.iter().any(|o| o.starts_with(a.as_str())))
        .collect();
    aliases.sort();
    aliases.dedup();
    aliases
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
            database: None,
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

    // Latency on the task → database path: a proxy takes the endpoint's names, the app's next
    // connections go through it (a connection and a query per request: several answers of the
    // database each wait), and the primary no longer answers to the names.
    let db = lab.databases()[0].clone();
    let said = view
        .chaos(&Chaos::Latency {
            path: TierPath::TaskDb,
            delay: Duration::from_millis(100),
            jitter: Duration::ZERO,
            database: None,
            lasting: None,
        })
        .await
        .unwrap();
    println!("latency task-db: {said}");
    let proxy_name = db
        .detour()
        .proxy_name()
        .expect("a proxy holds the endpoint");
    let proxy = inspect(&docker, &proxy_name).await;
    let proxy_labels = proxy.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(
        proxy_labels.get("tierlab.role").map(String::as_str),
        Some("database-proxy")
    );
    assert_eq!(
        aliases_of(&docker, &proxy_name).await,
        db.endpoint_aliases,
        "the proxy answers to the endpoint"
    );
    let primary = db.container_id();
    assert!(
        aliases_of(&docker, &primary).await.is_empty(),
        "the primary no longer answers to the endpoint"
    );
    let slowed = requests(&lab, 5).await;
    assert!(slowed.iter().all(|(s, _)| *s == 200), "{slowed:?}");
    assert!(
        median(&slowed) >= before + Duration::from_millis(200),
        "{slowed:?} (before: {before:?})"
    );
    println!(
        "median /api/info: {:?} with +100ms on the task → database path",
        median(&slowed)
    );

    // Resets on that path too: the app cannot reach its database and says so (503).
    view.chaos(&Chaos::Reset {
        path: TierPath::TaskDb,
        rate: 1.0,
        database: Some(db.identifier.clone()),
        lasting: None,
    })
    .await
    .unwrap();
    let refused = requests(&lab, 3).await;
    assert!(refused.iter().all(|(s, _)| *s == 503), "{refused:?}");
    // `clear` gives the endpoint back to the primary and removes the proxy.
    assert_eq!(view.chaos(&Chaos::Clear).await.unwrap(), "2 faults ended");
    assert!(
        docker
            .inspect_container(&proxy_name)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(aliases_of(&docker, &primary).await, db.endpoint_aliases);
    assert!(db.detour().proxy_name().is_none());
    assert!(requests(&lab, 3).await.iter().all(|(s, _)| *s == 200));
    // A path names an instance only on `task-db`, and only one the lab has.
    let wrong = view
        .chaos(&Chaos::Latency {
            path: TierPath::TaskDb,
            delay: Duration::from_millis(100),
            jitter: Duration::ZERO,
            database: Some("no-such-db".into()),
            lasting: None,
        })
        .await
        .unwrap_err();
    assert!(wrong.is_request_error() && wrong.to_string().contains("DBInstanceNotFound"));
    assert!(lab.status().chaos.is_empty());

    // A bandwidth limit on the targets' answers: /api/info's answer trickles in.
    view.chaos(&Chaos::Bandwidth {
        path: TierPath::LbTask,
        rate: 100,
        database: None,
        lasting: Some(Duration::from_secs(20)),
    })
    .await
    .unwrap();
    let http = client(&lab);
    let started = Instant::now();
    let answer = http
        .get(format!("{}/api/info", lab.https_url().unwrap()))
        .send()
        .await
        .unwrap();
    let body = answer.bytes().await.unwrap();
    let took = started.elapsed();
    // Slices of 10 bytes, each costing 0.1 s: all but the last one's wait.
    let least = Duration::from_secs_f64((body.len().saturating_sub(10)) as f64 / 100.0);
    assert!(
        took >= least.mul_f64(0.9),
        "{} bytes in {took:?} at 100B/s",
        body.len()
    );
    println!(
        "bandwidth lb-task 100B/s: {} bytes in {:.1}s",
        body.len(),
        took.as_secs_f64()
    );
    view.chaos(&Chaos::Clear).await.unwrap();

    // Every connection reset: clients get the load balancer's 502; `clear` ends it.
    view.chaos(&Chaos::Reset {
        path: TierPath::LbTask,
        rate: 1.0,
        database: None,
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
