//! `docker kill` of the database under a writer loop (issue 6, "a dead database comes back").
//!
//! On the default stack, a writer POSTs entries through the load balancer over HTTPS and keeps
//! every acknowledged one; the DB container is SIGKILLed through the Docker API. The instance
//! must be restarted on its volume and `available` again, the app writing again, within
//! [`RECOVERY_BOUND`]; every acknowledged write must read back afterwards; `status` must have
//! said `available`, then something else, then `available` again; and at most
//! [`MAX_LAUNCHES`] tasks may have been launched meanwhile. Prints the measured times.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::query_parameters::KillContainerOptions;
use serde_json::{Value, json};
use tierlab::rds::InstanceStatus;

use crate::lab_support::{DOCKER_LOCK, TestLab, client, docker, shut_down_clean};

/// The writer stops at whichever bound comes first.
const MAX_WRITES: usize = 5_000;
const MAX_WRITE_TIME: Duration = Duration::from_secs(120);
const WRITE_PAUSE: Duration = Duration::from_millis(20);
/// Kill → instance `available` and the app acknowledging writes again.
const RECOVERY_BOUND: Duration = Duration::from_secs(30);
/// Task launches tolerated between the kill and the end of the test (a dead database makes the
/// health check `/` fail, so the service may replace its two tasks once each).
const MAX_LAUNCHES: usize = 4;
/// How often the test reads `status` (what `tierlab status` shows).
const STATUS_POLL: Duration = Duration::from_millis(50);

/// One acknowledged write: the entry's id and text, and when it was sent.
struct Ack {
    id: u64,
    text: String,
    sent: Instant,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_database_is_restarted_on_its_volume_and_loses_no_acknowledged_write() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("dbkill");
    let docker = docker().await;
    let lab = test.start().await;
    let client = client(&lab);
    let url = format!("{}/api/entries", lab.https_url().unwrap());
    let db = lab.databases()[0].clone();
    let view = lab.view();
    assert_eq!(lab.status().databases[0].status, InstanceStatus::Available);

    // `status`, read the way the CLI reads it, every STATUS_POLL: DB status words in order, and
    // every task id the service ever showed.
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (stop, view) = (stop.clone(), view.clone());
        tokio::spawn(async move {
            let mut words: Vec<(Instant, InstanceStatus)> = Vec::new();
            let mut tasks = BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                let status = view.status();
                let word = status.databases[0].status;
                if words.last().is_none_or(|(_, w)| *w != word) {
                    words.push((Instant::now(), word));
                }
                for s in &status.services {
                    tasks.extend(s.tasks.iter().map(|t| t.task_id.clone()));
                }
                tokio::time::sleep(STATUS_POLL).await;
            }
            (words, tasks)
        })
    };

    // The writer: POST through the load balancer, keep what was acknowledged.
    let acks: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let writer = {
        let (stop, acks, client, url) = (stop.clone(), acks.clone(), client.clone(), url.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let mut failed = 0usize;
            for i in 0..MAX_WRITES {
                if stop.load(Ordering::Relaxed) || started.elapsed() > MAX_WRITE_TIME {
                    break;
                }
                let text = format!("dbkill-{i}");
                let sent = Instant::now();
                let answer = client
                    .post(&url)
                    .json(&json!({ "text": text }))
                    .send()
                    .await;
                match answer {
                    Ok(r) if r.status() == 201 => {
                        let body: Value = r.json().await.unwrap();
                        let id = body["id"].as_u64().expect("201 carries the id");
                        assert_eq!(body["text"], text);
                        acks.lock().unwrap().push(Ack { id, text, sent });
                    }
                    _ => failed += 1,
                }
                tokio::time::sleep(WRITE_PAUSE).await;
            }
            failed
        })
    };
    let acked = || acks.lock().unwrap().len();
    let until = Instant::now() + Duration::from_secs(10);
    while acked() < 20 {
        assert!(Instant::now() < until, "the writer got no acknowledgements");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let service = lab.service("flask-app-service").unwrap().clone();
    let tasks_before: BTreeSet<String> = service
        .status()
        .tasks
        .iter()
        .map(|t| t.task_id.clone())
        .collect();

    // Commits are durable (as on RDS): a SIGKILL of the engine cannot lose an acknowledged one.
    let root_password = lab
        .state_dir()
        .secret(&test.name, "flask-crud-db-root-password")
        .unwrap();
    let query = "SELECT @@GLOBAL.innodb_flush_log_at_trx_commit, @@GLOBAL.sync_binlog";
    let (code, output) = docker
        .exec(
            &db.container_id(),
            &[
                "mariadb",
                "-uroot",
                &format!("-p{root_password}"),
                "-N",
                "-B",
                "-e",
                query,
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        (code, output.split_whitespace().collect::<Vec<_>>()),
        (0, vec!["1", "1"]),
        "durability settings: {output}"
    );

    // Kill the database the way a user would, through the Docker API.
    let victim = db.container_id();
    let mut observed = db.watch();
    observed.borrow_and_update();
    let killed_at = Instant::now();
    send_signal(&docker, &victim, "SIGKILL").await;

    // The instance leaves `available`, then comes back.
    let left = tokio::time::timeout(
        Duration::from_secs(5),
        observed.wait_for(|o| o.status != InstanceStatus::Available),
    )
    .await
    .map(|r| r.map(|o| o.status));
    let left_as = match left {
        Ok(Ok(status)) => status,
        _ => panic!("status still `available` 5 s after the kill"),
    };
    let noticed_at = Instant::now();
    let noticed_after = noticed_at - killed_at;
    // Drop the borrows at once: a held watch `Ref` would block the supervisor's updates.
    let back = tokio::time::timeout(
        RECOVERY_BOUND,
        observed.wait_for(|o| o.status == InstanceStatus::Available),
    )
    .await
    .map(|r| r.map(|_| ()));
    assert!(
        matches!(back, Ok(Ok(()))),
        "database not available {RECOVERY_BOUND:?} after the kill: {:?}",
        db.observed()
    );
    let available_after = killed_at.elapsed();

    // The app acknowledges writes again: the first acknowledged write sent after the outage was
    // seen (one sent earlier may have been served before the kill took effect).
    let writing_after = loop {
        let first_after_kill = acks
            .lock()
            .unwrap()
            .iter()
            .find(|a| a.sent > noticed_at)
            .map(|a| a.sent - killed_at);
        if let Some(after) = first_after_kill {
            break after;
        }
        assert!(
            killed_at.elapsed() < RECOVERY_BOUND,
            "no write acknowledged {RECOVERY_BOUND:?} after the kill"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Keep writing a little, and give the service a moment to settle, then stop.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let failed_writes = writer.await.unwrap();
    let (words, tasks_seen) = poller.await.unwrap();

    // Every acknowledged write reads back (retrying while the service settles).
    let stored: BTreeMap<u64, String> = {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => {
                    let entries: Vec<Value> = r.json().await.unwrap();
                    break entries
                        .iter()
                        .map(|e| {
                            let id = e["id"].as_u64().unwrap();
                            (id, e["text"].as_str().unwrap().to_string())
                        })
                        .collect();
                }
                other => assert!(
                    Instant::now() < until,
                    "cannot read the entries back: {other:?}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let acks = std::mem::take(&mut *acks.lock().unwrap());
    let lost: Vec<&Ack> = acks
        .iter()
        .filter(|a| stored.get(&a.id) != Some(&a.text))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes are missing, e.g. id {} ({:?})",
        lost.len(),
        acks.len(),
        lost[0].id,
        lost[0].text
    );

    // `status` told the truth at each step: available → not available → available.
    let sequence: Vec<InstanceStatus> = words.iter().map(|(_, w)| *w).collect();
    assert_eq!(sequence.first(), Some(&InstanceStatus::Available));
    assert_eq!(sequence.last(), Some(&InstanceStatus::Available));
    assert!(
        sequence.len() >= 3 && sequence[1] != InstanceStatus::Available,
        "status words seen: {sequence:?}"
    );
    // ... and `--json` carries RDS's events for it, in order.
    let status = serde_json::to_value(lab.status()).unwrap();
    let event_ids: Vec<&str> = status["databases"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    let expected = [
        "RDS-EVENT-0004",
        "RDS-EVENT-0020",
        "RDS-EVENT-0006",
        "RDS-EVENT-0021",
    ];
    assert!(
        event_ids.windows(4).any(|w| w == expected),
        "events: {event_ids:?}"
    );
    assert_eq!(status["databases"][0]["status"], "available");
    assert_eq!(status["databases"][0]["recoveries"], 1);
    // Restarted in place: the same container, on the same volume.
    assert_eq!(db.container_id(), victim);

    // Few task launches meanwhile.
    let launches = tasks_seen.difference(&tasks_before).count();
    let started_events = started_events(&service);
    eprintln!(
        "database recovery: status `{left_as}` after {:.0} ms, `available` again after {:.2} s, app writing again after {:.2} s; \
         status words {:?}; {} writes acknowledged, {failed_writes} failed, none lost; {launches} task launches meanwhile ({started_events} `has started` events in all)",
        noticed_after.as_secs_f64() * 1000.0,
        available_after.as_secs_f64(),
        writing_after.as_secs_f64(),
        sequence.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        acks.len(),
    );
    assert!(
        launches <= MAX_LAUNCHES,
        "{launches} tasks launched while the database recovered (at most {MAX_LAUNCHES})"
    );

    shut_down_clean(lab, &docker, &test).await;
}

/// Task launches tolerated while a hung database is detected and restarted. Detection takes
/// three unanswered pings (each waits 2 s for an answer), 6–10 s in all, and the health check `/`
/// fails for that whole time; without launch back-off in the service (issue 6's ECS part) the
/// controller replaces a task about every 1.5 s meanwhile (measured: 4 and 8). With back-off
/// this bound can come down to the kill test's.
const MAX_LAUNCHES_WHILE_HUNG: usize = 12;

/// A database that stops answering (its engine stopped with SIGSTOP: the container still runs,
/// connections are accepted by the kernel, nothing answers) is restarted after a bounded number
/// of unanswered pings, and reported as RDS reports a recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_database_is_restarted_after_unanswered_pings() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("dbhang");
    let docker = docker().await;
    let lab = test.start().await;
    let client = client(&lab);
    let url = format!("{}/api/entries", lab.https_url().unwrap());
    let db = lab.databases()[0].clone();
    let service = lab.service("flask-app-service").unwrap().clone();
    let tasks_before = service.status().tasks.len();
    let started_before = started_events(&service);
    let mut observed = db.watch();
    observed.borrow_and_update();

    let stopped_at = Instant::now();
    send_signal(&docker, &db.container_id(), "SIGSTOP").await;
    let left = tokio::time::timeout(
        Duration::from_secs(15),
        observed.wait_for(|o| o.status != InstanceStatus::Available),
    )
    .await
    .map(|r| r.map(|o| o.status));
    let Ok(Ok(left_as)) = left else {
        panic!("status still `available` 15 s after the engine was stopped");
    };
    let noticed_after = stopped_at.elapsed();
    let back = tokio::time::timeout(
        RECOVERY_BOUND,
        observed.wait_for(|o| o.status == InstanceStatus::Available),
    )
    .await
    .map(|r| r.map(|_| ()));
    assert!(
        matches!(back, Ok(Ok(()))),
        "database not available {RECOVERY_BOUND:?} after its engine stopped: {:?}",
        db.observed()
    );
    let available_after = stopped_at.elapsed();

    // The app writes again.
    post_until_acknowledged(&client, &url, "after the hang").await;
    let writing_after = stopped_at.elapsed();

    let observed = db.observed();
    let event_ids: Vec<&str> = observed
        .events
        .iter()
        .map(|e| e.event_id.as_str())
        .collect();
    // Nothing shut down by itself: recovery started, the engine restarted, recovery complete.
    assert!(
        event_ids
            .windows(3)
            .any(|w| w == ["RDS-EVENT-0020", "RDS-EVENT-0006", "RDS-EVENT-0021"]),
        "events: {event_ids:?}"
    );
    assert!(
        !event_ids.contains(&"RDS-EVENT-0004"),
        "events: {event_ids:?}"
    );
    let launches = started_events(&service) - started_before;
    eprintln!(
        "hung database: status `{left_as}` after {:.2} s, `available` again after {:.2} s, app writing again after {:.2} s; \
         {launches} task launches meanwhile (service had {tasks_before} tasks)",
        noticed_after.as_secs_f64(),
        available_after.as_secs_f64(),
        writing_after.as_secs_f64(),
    );
    assert!(
        launches <= MAX_LAUNCHES_WHILE_HUNG,
        "{launches} tasks launched while the database hung (at most {MAX_LAUNCHES_WHILE_HUNG})"
    );

    shut_down_clean(lab, &docker, &test).await;
}

/// `has started` events of the service so far (ECS keeps the latest 100).
fn started_events(service: &tierlab::ecs::ServiceHandle) -> usize {
    service
        .status()
        .events
        .iter()
        .filter(|e| e.message.contains("has started"))
        .count()
}

/// A database container that is removed (`docker rm -f`) is created again on the same volume,
/// network alias and address: the data written before is still there and the app, which resolves
/// the endpoint per connection, writes again without a task restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_database_is_recreated_on_its_volume() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("dbrm");
    let docker = docker().await;
    let lab = test.start().await;
    let client = client(&lab);
    let url = format!("{}/api/entries", lab.https_url().unwrap());
    let db = lab.databases()[0].clone();
    let before = post_until_acknowledged(&client, &url, "before the removal").await;
    let victim = db.container_id();
    let mut observed = db.watch();
    observed.borrow_and_update();

    let removed_at = Instant::now();
    docker.remove_container(&victim, true).await.unwrap();
    let back = tokio::time::timeout(RECOVERY_BOUND, async {
        observed
            .wait_for(|o| o.status != InstanceStatus::Available)
            .await
            .map(|_| ())?;
        observed
            .wait_for(|o| o.status == InstanceStatus::Available)
            .await
            .map(|_| ())
    })
    .await;
    assert!(
        matches!(back, Ok(Ok(()))),
        "database not back {RECOVERY_BOUND:?} after its container was removed: {:?}",
        db.observed()
    );
    let available_after = removed_at.elapsed();
    let after = post_until_acknowledged(&client, &url, "after the removal").await;
    let writing_after = removed_at.elapsed();

    // A new container, at the old address, on the old volume.
    let replacement = db.container_id();
    assert_ne!(replacement, victim);
    let inspect = docker
        .bollard()
        .inspect_container(
            &replacement,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .unwrap();
    let endpoint = inspect.network_settings.unwrap().networks.unwrap()[&db.network()].clone();
    assert_eq!(endpoint.ip_address, db.address(), "address kept");
    assert!(
        endpoint
            .aliases
            .unwrap_or_default()
            .contains(&db.identifier),
        "endpoint alias kept"
    );
    let entries: Vec<Value> = client.get(&url).send().await.unwrap().json().await.unwrap();
    for id in [before, after] {
        assert!(
            entries.iter().any(|e| e["id"].as_u64() == Some(id)),
            "entry {id} missing"
        );
    }
    eprintln!(
        "removed database: `available` again after {:.2} s on a new container, app writing again after {:.2} s",
        available_after.as_secs_f64(),
        writing_after.as_secs_f64()
    );

    shut_down_clean(lab, &docker, &test).await;
}

/// POSTs one entry, retrying for up to [`RECOVERY_BOUND`]; returns its id.
async fn post_until_acknowledged(client: &reqwest::Client, url: &str, text: &str) -> u64 {
    let until = Instant::now() + RECOVERY_BOUND;
    loop {
        let answer = client.post(url).json(&json!({ "text": text })).send().await;
        if let Ok(r) = answer
            && r.status() == 201
        {
            let body: Value = r.json().await.unwrap();
            return body["id"].as_u64().unwrap();
        }
        assert!(Instant::now() < until, "no write acknowledged: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends `signal` to the container, as `docker kill --signal` does.
async fn send_signal(docker: &tierlab::docker::DockerClient, container: &str, signal: &str) {
    let options = KillContainerOptions {
        signal: signal.into(),
    };
    docker
        .bollard()
        .kill_container(container, Some(options))
        .await
        .unwrap();
}
