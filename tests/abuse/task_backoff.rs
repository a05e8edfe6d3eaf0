//! A task that cannot start, and objects nobody owns (issue 6).
//!
//! - A task definition whose container exits at once: over a bounded window the launches back
//!   off (the gaps between them grow), the stopped tasks and their log files stay bounded, and
//!   "(service X) is unable to consistently start tasks successfully." is recorded once.
//! - Orphans made by hand with the lab's labels (a task container no controller claims, a stray
//!   database container, a network of no subnet in use) are listed by `status`, removed by the
//!   sweep's next pass, and a removal that fails (a network something is still attached to) is
//!   retried until it succeeds; the lab's own tasks, database and networks are left alone.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use bollard::models::NetworkCreateRequest;
use tierlab::docker::{ContainerSpec, DockerClient, NetworkAttachment, labels};
use tierlab::ecs::history::{STOPPED_LOG_FILES_KEPT, STOPPED_TASKS_KEPT};
use tierlab::lab::{Lab, LabStatus, StartOptions};

use crate::lab_support::{DOCKER_LOCK, TestLab, chain, docker, leftovers};

const SERVICE: &str = "flask-app-service";
/// How long the crash loop is watched.
const WINDOW: Duration = Duration::from_secs(45);
/// Without back-off a task that exits at once is relaunched about every second: 2 × 45 here.
const MAX_LAUNCHES: usize = 12;
const THROTTLE_EVENT: &str = "is unable to consistently start tasks successfully.";

/// The default topology without its database (the crash-looping app needs none), with a
/// container command that exits at once, as an app whose dependency is dead does.
fn crash_looping_config(test: &TestLab) -> String {
    let text = &test.config_text;
    let text = &text[..text
        .find("[databases.flask-crud-db]")
        .expect("emulator.toml has the database")];
    // Without the database, nothing may refer to it: the DATABASE_URL secret goes too.
    let text = text
        .replace(
            "  { name = \"DATABASE_URL\", value-from = \"arn:aws:secretsmanager:us-east-1:000000000000:secret:flask-app/database-url\" },\n",
            "",
        )
        .replace("value = \"${rds.flask-crud-db.url}\"", "value = \"unused\"");
    text.replace(
        "log-stream-prefix = \"ecs\"\n",
        "log-stream-prefix = \"ecs\"\ncommand = [\"sh\", \"-c\", \"echo cannot reach the database >&2; exit 3\"]\n",
    )
}

async fn start(test: &TestLab, wait_for_steady_services: bool) -> Lab {
    let options = StartOptions {
        state_dir: Some(test.state_path().to_path_buf()),
        wait_for_steady_services,
        reaper: crate::lab_support::reaper(),
        ..Default::default()
    };
    Lab::start(test.config(), options, CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("lab {} failed to start: {}", test.name, chain(&e)))
}

fn log_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                log_files(&path)
            } else {
                usize::from(path.extension().is_some_and(|x| x == "log"))
            }
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_exits_at_once_is_launched_less_and_less_often() {
    let _serial = DOCKER_LOCK.lock().await;
    let docker = docker().await;
    let mut test = TestLab::new("backoff");
    test.config_text = crash_looping_config(&test);
    let lab = start(&test, false).await;
    let service = lab.service(SERVICE).unwrap().clone();

    // Note when each task id first shows up (running or stopped), for WINDOW.
    let mut launched_at: HashMap<String, Instant> = HashMap::new();
    let mut status = service.watch();
    let started = Instant::now();
    while started.elapsed() < WINDOW {
        {
            let now = Instant::now();
            let s = status.borrow_and_update();
            for task in s.tasks.iter().chain(&s.stopped_tasks) {
                launched_at.entry(task.task_id.clone()).or_insert(now);
            }
        }
        let left = WINDOW.saturating_sub(started.elapsed());
        let _ = tokio::time::timeout(left, status.changed()).await;
    }
    let mut times: Vec<Instant> = launched_at.values().copied().collect();
    times.sort();
    let gaps: Vec<f64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    let shown: Vec<String> = gaps.iter().map(|g| format!("{g:.1}")).collect();
    eprintln!(
        "crash loop over {WINDOW:?}: {} launches, gaps between launches (s): [{}]",
        times.len(),
        shown.join(", ")
    );

    let s = service.status();
    assert!(
        times.len() >= 6 && times.len() <= MAX_LAUNCHES,
        "expected 6..={MAX_LAUNCHES} launches in {WINDOW:?}, got {}; events: {:#?}",
        times.len(),
        s.events
    );
    // Two failed rounds are relaunched at once (desired count 2: four launches); from then on,
    // one launch per delay, each gap longer than the one before.
    let later = &gaps[gaps.len() - 4..];
    for pair in later.windows(2) {
        assert!(
            pair[1] + 0.5 >= pair[0],
            "gaps between launches should grow: {shown:?}"
        );
    }
    assert!(
        *later.last().unwrap() >= (2.5 * later[0]).max(8.0),
        "the last gap should be several times the first: {shown:?}"
    );

    // Still throttled at the end of the window, and saying until when.
    assert!(s.launches_delayed_until.is_some(), "{s:#?}");

    // The throttle event, once.
    let throttled = s
        .events
        .iter()
        .filter(|e| e.message == format!("(service {SERVICE}) {THROTTLE_EVENT}"))
        .count();
    assert_eq!(throttled, 1, "events: {:#?}", s.events);

    // Stopped tasks: bounded, newest first, each with ECS's reason and the exit code.
    assert!(!s.stopped_tasks.is_empty() && s.stopped_tasks.len() <= STOPPED_TASKS_KEPT);
    // Most are seen exiting; one whose target failed its first health checks before the exit
    // was seen is stopped for that, also a reason ECS gives.
    let mut exited = 0;
    for task in &s.stopped_tasks {
        assert_eq!(task.last_status.as_str(), "STOPPED");
        match task.stopped_reason.as_deref() {
            Some("Essential container in task exited (exit code 3)") => {
                assert_eq!(task.exit_code, Some(3), "{task:#?}");
                exited += 1;
            }
            Some("Task failed ELB health checks") => {}
            _ => panic!("unexpected stopped task: {task:#?}"),
        }
    }
    assert!(
        2 * exited >= s.stopped_tasks.len(),
        "{:#?}",
        s.stopped_tasks
    );
    // Log files: at most the bound for stopped tasks plus the running ones.
    let files = log_files(&lab.state_dir().logs_dir(&test.name));
    eprintln!(
        "stopped tasks listed: {}, log files: {files}",
        s.stopped_tasks.len()
    );
    assert!(files <= STOPPED_LOG_FILES_KEPT + 2, "{files} log files");
    // Every crashed task's container was removed by its controller: nothing orphaned.
    assert_eq!(lab.status().orphans, Default::default());

    lab.shutdown().await.unwrap();
    assert_eq!(leftovers(&docker, &test.name).await, (0, 0));
    tierlab::lab::remove_lab(&docker, &test.name, true)
        .await
        .unwrap();
}

/// A `debian:bookworm-slim` container that sleeps, on `network`.
fn sleeper(name: &str, labels: HashMap<String, String>, network: &str) -> ContainerSpec {
    ContainerSpec {
        name: name.to_string(),
        image: "debian:bookworm-slim".into(),
        entrypoint: None,
        cmd: Some(vec!["sleep".into(), "300".into()]),
        labels,
        networks: vec![NetworkAttachment {
            network: network.to_string(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Waits (polling the lab's status every 250 ms, up to `limit`) until `cond` holds.
async fn wait_status(lab: &Lab, what: &str, limit: Duration, cond: impl Fn(&LabStatus) -> bool) {
    let deadline = Instant::now() + limit;
    loop {
        let status = lab.status();
        if cond(&status) {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out after {limit:?} waiting for {what}; orphans: {:#?}",
                status.orphans
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn container_exists(docker: &DockerClient, id: &str) -> bool {
    docker.inspect_container(id).await.unwrap().is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_listed_then_removed_and_failed_removals_retried() {
    let _serial = DOCKER_LOCK.lock().await;
    let docker = docker().await;
    let test = TestLab::new("orphans");
    let lab = test.start().await;
    let lab_name = test.name.clone();
    let before = lab.service(SERVICE).unwrap().status();
    let db_container = lab.databases()[0].container_id();

    // A network of no subnet in use, with the lab's labels; Docker picks its range.
    let net_name = format!("tierlab-{lab_name}-gone-subnet");
    docker
        .bollard()
        .create_network(NetworkCreateRequest {
            name: net_name.clone(),
            driver: Some("bridge".into()),
            labels: Some(labels::of(&lab_name, labels::Role::Network, "gone-subnet")),
            ..Default::default()
        })
        .await
        .unwrap();
    // A task container no controller claims, and a database container that is not the instance's.
    let mut task_labels = labels::of(&lab_name, labels::Role::Task, SERVICE);
    task_labels.insert(labels::TASK_ID.into(), "0rphan0000000000".into());
    let orphan_task = docker
        .run_container(&sleeper(
            &format!("tierlab-{lab_name}-orphan-task"),
            task_labels,
            &net_name,
        ))
        .await
        .unwrap();
    let stray_db = docker
        .run_container(&sleeper(
            &format!("tierlab-{lab_name}-flask-crud-db-stale"),
            labels::of(&lab_name, labels::Role::Database, "flask-crud-db"),
            &net_name,
        ))
        .await
        .unwrap();
    // Something without the lab's labels still attached to the network: removing it fails.
    let blocker = docker
        .run_container(&sleeper(
            &format!("tierlab-test-blocker-{lab_name}"),
            HashMap::new(),
            &net_name,
        ))
        .await
        .unwrap();
    let created = Instant::now();

    // `status` lists them (table and --json come from the same typed model).
    wait_status(
        &lab,
        "the orphans to be listed",
        Duration::from_secs(15),
        |s| s.orphans.containers.len() == 2 && s.orphans.networks.len() == 1,
    )
    .await;
    let listed_after = created.elapsed();
    let json = serde_json::to_value(lab.status()).unwrap();
    let names: Vec<&str> = json["orphans"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n.ends_with("-orphan-task")),
        "{json:#}"
    );
    assert!(
        names.iter().any(|n| n.ends_with("-flask-crud-db-stale")),
        "{json:#}"
    );
    assert_eq!(json["orphans"]["networks"][0]["name"], net_name.as_str());

    // The next pass removes the containers; the network's removal fails while the blocker is
    // attached, and the failure is shown.
    wait_status(
        &lab,
        "the orphan containers to go and the network's removal to fail",
        Duration::from_secs(20),
        |s| {
            s.orphans.containers.is_empty()
                && s.orphans.networks.len() == 1
                && s.orphans.networks[0].last_error.is_some()
        },
    )
    .await;
    let removed_after = created.elapsed();
    assert!(!container_exists(&docker, &orphan_task).await);
    assert!(!container_exists(&docker, &stray_db).await);
    eprintln!(
        "orphans listed after {:.1} s, containers removed after {:.1} s; network removal failed: {}",
        listed_after.as_secs_f64(),
        removed_after.as_secs_f64(),
        lab.status().orphans.networks[0]
            .last_error
            .clone()
            .unwrap_or_default()
    );

    // Once the blocker is gone, a later pass retries and the network goes.
    docker.remove_container(&blocker, true).await.unwrap();
    wait_status(
        &lab,
        "the network's removal to be retried",
        Duration::from_secs(15),
        |s| s.orphans == Default::default(),
    )
    .await;
    assert!(
        docker
            .list_networks(labels::filter(&lab_name, None, None))
            .await
            .unwrap()
            .iter()
            .all(|n| n != &net_name)
    );

    // What the lab owns was left alone.
    let after = lab.service(SERVICE).unwrap().status();
    assert_eq!(after.running_count, 2);
    let ids = |s: &tierlab::ecs::ServiceStatus| {
        let mut ids: Vec<String> = s.tasks.iter().map(|t| t.task_id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(&after),
        ids(&before),
        "the lab's own tasks were replaced"
    );
    let db = docker.inspect_container(&db_container).await.unwrap();
    assert!(
        db.is_some_and(|d| d.running),
        "the DB instance's container must stay"
    );

    lab.shutdown().await.unwrap();
    assert_eq!(leftovers(&docker, &lab_name).await, (0, 0));
    tierlab::lab::remove_lab(&docker, &lab_name, true)
        .await
        .unwrap();
}
