//! Read replicas on real Docker and MariaDB, in one lab: a replica of the config
//! (`read-replicas`) that the Flask app reads from (`DATABASE_READ_URL`), and one created with
//! the reference's `aws rds create-db-instance-read-replica`. Rows written to the primary appear
//! on the replicas; a replica refuses writes; `ReplicaLag` goes up under `chaos replica-lag` and
//! back to 0; promotion makes a replica writable and standalone.
//!
//! Run with the machine-wide Docker lock:
//! `flock /tmp/tierlab-docker.lock cargo test --locked --test rds_replica -- --nocapture`.

mod lab_support;
mod support;

use std::time::{Duration, Instant};

use lab_support::{DOCKER_LOCK, TestLab, client, docker, shut_down_clean};
use serde_json::{Value, json};
use support::aws::{Aws, SERVICE_ERROR_EXIT};
use tierlab::docker::DockerClient;
use tierlab::lab::{Chaos, DatabaseStatus, Lab};
use tierlab::rds::read_replica::ReplicationState;
use tierlab::rds::sql::Node;

const SOURCE: &str = "flask-crud-db";
const REPLICA: &str = "flask-crud-db-replica";
/// The replica created at run time, then promoted.
const CREATED: &str = "flask-crud-db-replica-2";

/// `aws --endpoint-url ... rds ARGS` (CLI v1 ignores AWS_ENDPOINT_URL for rds in us-east-1).
fn rds<'a>(aws: &'a Aws, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--endpoint-url", aws.endpoint.as_str(), "rds"];
    all.extend_from_slice(args);
    all
}

fn status_of(lab: &Lab, id: &str) -> DatabaseStatus {
    lab.status()
        .databases
        .into_iter()
        .find(|d| d.identifier == id)
        .unwrap_or_else(|| panic!("no instance {id} in the lab's status"))
}

/// Polls `check` every 200 ms until it holds or `timeout` passes (then fails with `what`).
async fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    started.elapsed()
}

/// Rows of `sql` on instance `id`, as root through `docker exec`.
async fn rows(docker: &DockerClient, lab: &Lab, id: &str, sql: &str) -> Vec<Vec<String>> {
    let db = lab.rds().get(id).unwrap();
    let container = db.container_id();
    let node = Node {
        docker,
        container: &container,
        port: db.port,
    };
    node.query(sql).await.unwrap()
}

async fn count(docker: &DockerClient, lab: &Lab, id: &str) -> usize {
    let n = rows(docker, lab, id, "SELECT COUNT(*) FROM flaskcrud.entries").await;
    n[0][0].parse().unwrap()
}

/// Runs `sql` on instance `id` as the master user (as the app connects): subject to
/// `read_only`, which root is not. Returns the client's exit code and error output.
async fn as_master_user(docker: &DockerClient, lab: &Lab, id: &str, sql: &str) -> (i64, String) {
    let container = lab.rds().get(id).unwrap().container_id();
    let client = "MYSQL_PWD=\"$(cat \"$MYSQL_PASSWORD_FILE\")\" exec mariadb --user=\"$MYSQL_USER\" --protocol=tcp \
                  --host=127.0.0.1 --batch flaskcrud";
    let out = docker
        .exec_with_input(
            &container,
            &["sh", "-c", client],
            format!("{sql};\n").as_bytes(),
        )
        .await
        .unwrap();
    (out.exit_code, out.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_replicas_replicate_refuse_writes_lag_on_demand_and_promote() {
    let _serial = DOCKER_LOCK.lock().await;
    let mut test = TestLab::new("replica");
    // A replica of the config, and the app reading from it.
    test.config_text = test
        .config_text
        .replacen(
            "backup-retention-period = 7",
            &format!("backup-retention-period = 7\nread-replicas = [\"{REPLICA}\"]"),
            1,
        )
        .replacen(
            "# [task-definitions.flask-app-task.container.environment]\n",
            &format!(
                "[task-definitions.flask-app-task.container.environment]\nDATABASE_READ_URL = \"${{rds.{REPLICA}.url}}\"\n"
            ),
            1,
        );
    let docker = docker().await;
    let started = Instant::now();
    let lab = test.start().await;
    println!(
        "lab with a read replica up in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let aws = Aws::for_lab(&lab);
    let http = client(&lab);
    let https = lab.https_url().unwrap();

    // --- The config's replica: listed, replicating, read-only ------------------------------
    let replica = status_of(&lab, REPLICA);
    assert_eq!(replica.status.to_string(), "available");
    assert_eq!(replica.replication.as_ref().unwrap().source, SOURCE);
    assert_eq!(status_of(&lab, SOURCE).read_replicas, [REPLICA]);
    wait_until(
        "the replica's first sample: replicating, lag 0",
        Duration::from_secs(10),
        || {
            let r = status_of(&lab, REPLICA);
            r.replication.unwrap().state == ReplicationState::Replicating
                && r.replica_lag == Some(0)
        },
    )
    .await;

    // Writes through the load balancer land on the primary and appear on the replica; the app
    // reads from the replica and says so.
    for i in 0..5 {
        let created = http
            .post(format!("{https}/api/entries"))
            .json(&json!({ "text": format!("replicated {i}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    let primary_rows = count(&docker, &lab, SOURCE).await;
    assert!(primary_rows >= 5);
    let mut replica_rows = 0;
    let took = {
        let started = Instant::now();
        while replica_rows < primary_rows {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "rows did not reach the replica"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            replica_rows = count(&docker, &lab, REPLICA).await;
        }
        started.elapsed()
    };
    println!(
        "{primary_rows} rows on the replica {:.0} ms after the last write",
        took.as_secs_f64() * 1e3
    );
    let info: Value = http
        .get(format!("{https}/api/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Each server's host name is its container's (the node serving), never an endpoint name.
    let host_of = |id: &str| lab.rds().get(id).unwrap().nodes().primary.name.clone();
    assert_eq!(
        info["database"]["server_hostname"],
        host_of(SOURCE),
        "{info}"
    );
    assert_eq!(info["database"]["read_only"], false, "{info}");
    assert_eq!(
        info["read_database"]["server_hostname"],
        host_of(REPLICA),
        "{info}"
    );
    assert_eq!(info["read_database"]["read_only"], true, "{info}");
    assert_ne!(
        info["database"]["server_id"],
        info["read_database"]["server_id"]
    );
    let listed: Vec<Value> = http
        .get(format!("{https}/api/entries"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed.len(),
        replica_rows,
        "the list is read from the replica"
    );

    // The replica refuses writes from the app's user.
    let (code, error) = as_master_user(
        &docker,
        &lab,
        REPLICA,
        "INSERT INTO entries (text) VALUES ('nope')",
    )
    .await;
    assert_ne!(code, 0);
    assert!(error.contains("--read-only"), "{error}");

    // --- ReplicaLag under a delayed replica ------------------------------------------------
    let delay = |seconds| Chaos::ReplicaLag {
        replica: REPLICA.into(),
        delay: Duration::from_secs(seconds),
    };
    let said = lab.view().chaos(&delay(5)).await.unwrap();
    assert!(said.contains("5s"), "{said}");
    // A write every 500 ms while the lag builds: it shows in status, /metrics and the API.
    let writer = {
        let (http, https) = (http.clone(), https.clone());
        tokio::spawn(async move {
            for i in 0..16 {
                let _ = http
                    .post(format!("{https}/api/entries"))
                    .json(&json!({ "text": format!("delayed {i}") }))
                    .send()
                    .await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let lagging = wait_until(
        "ReplicaLag above 2 s under a 5 s delay",
        Duration::from_secs(15),
        || status_of(&lab, REPLICA).replica_lag.unwrap_or(-1) >= 2,
    )
    .await;
    println!(
        "lag visible {:.1}s after the delay was set",
        lagging.as_secs_f64()
    );
    assert_eq!(
        status_of(&lab, REPLICA).replication.unwrap().delay_seconds,
        5
    );
    let metrics = lab.view().metrics_text();
    let line = metrics
        .lines()
        .find(|l| l.starts_with(&format!("ReplicaLag{{DBInstanceIdentifier=\"{REPLICA}\"}}")))
        .unwrap_or_else(|| panic!("no ReplicaLag in:\n{metrics}"));
    let metric: i64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(metric >= 1, "{line}");
    let described = aws
        .json(&rds(
            &aws,
            &["describe-db-instances", "--db-instance-identifier", REPLICA],
        ))
        .await;
    let info = &described["DBInstances"][0]["StatusInfos"][0];
    assert_eq!(info["StatusType"], "read replication", "{described}");
    assert_eq!(info["Status"], "replicating", "{described}");
    assert!(
        info["Message"]
            .as_str()
            .unwrap()
            .starts_with("ReplicaLag: "),
        "{info}"
    );
    writer.await.unwrap();
    lab.view().chaos(&delay(0)).await.unwrap();
    let caught_up = wait_until("ReplicaLag back to 0", Duration::from_secs(15), || {
        status_of(&lab, REPLICA).replica_lag == Some(0)
    })
    .await;
    println!(
        "lag back to 0 {:.1}s after the delay was removed",
        caught_up.as_secs_f64()
    );
    let primary_rows = count(&docker, &lab, SOURCE).await;
    assert_eq!(
        count(&docker, &lab, REPLICA).await,
        primary_rows,
        "every delayed row arrived"
    );
    let wrong = lab
        .view()
        .chaos(&Chaos::ReplicaLag {
            replica: SOURCE.into(),
            delay: Duration::from_secs(1),
        })
        .await;
    assert!(wrong.unwrap_err().is_request_error());

    // --- A replica through the AWS CLI (the reference's command) ----------------------------
    let created = aws
        .json(&rds(
            &aws,
            &[
                "create-db-instance-read-replica",
                "--db-instance-identifier",
                CREATED,
                "--source-db-instance-identifier",
                SOURCE,
                "--db-instance-class",
                "db.t3.micro",
            ],
        ))
        .await;
    let instance = &created["DBInstance"];
    assert_eq!(instance["DBInstanceStatus"], "creating", "{created}");
    assert_eq!(
        instance["ReadReplicaSourceDBInstanceIdentifier"], SOURCE,
        "{created}"
    );
    assert!(
        instance["Endpoint"]["Address"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{CREATED}.")),
        "{created}"
    );
    let again = aws
        .fails(&rds(
            &aws,
            &[
                "create-db-instance-read-replica",
                "--db-instance-identifier",
                CREATED,
                "--source-db-instance-identifier",
                SOURCE,
            ],
        ))
        .await;
    assert_eq!(
        (again.exit, again.code.as_str()),
        (SERVICE_ERROR_EXIT, "DBInstanceAlreadyExists")
    );
    let available = wait_until(
        "the created replica to be available",
        Duration::from_secs(60),
        || status_of(&lab, CREATED).status.to_string() == "available",
    )
    .await;
    println!(
        "created replica available {:.1}s after the CLI returned",
        available.as_secs_f64()
    );
    let source = aws
        .json(&rds(
            &aws,
            &["describe-db-instances", "--db-instance-identifier", SOURCE],
        ))
        .await;
    assert_eq!(
        source["DBInstances"][0]["ReadReplicaDBInstanceIdentifiers"],
        json!([REPLICA, CREATED]),
        "{source}"
    );
    let events = &status_of(&lab, CREATED).events;
    for id in ["RDS-EVENT-0005", "RDS-EVENT-0046"] {
        wait_until(
            &format!("{id} on {CREATED}"),
            Duration::from_secs(5),
            || {
                status_of(&lab, CREATED)
                    .events
                    .iter()
                    .any(|e| e.event_id == id)
            },
        )
        .await;
    }
    let primary_rows = count(&docker, &lab, SOURCE).await;
    assert_eq!(
        count(&docker, &lab, CREATED).await,
        primary_rows,
        "the copy has every row: {events:?}"
    );

    // --- Promotion: writable, standalone ----------------------------------------------------
    let promoted = aws
        .json(&rds(
            &aws,
            &["promote-read-replica", "--db-instance-identifier", CREATED],
        ))
        .await;
    assert_eq!(
        promoted["DBInstance"]["DBInstanceStatus"], "modifying",
        "{promoted}"
    );
    let took = wait_until(
        "the promoted replica to be available",
        Duration::from_secs(30),
        || {
            let s = status_of(&lab, CREATED);
            s.status.to_string() == "available" && s.replication.is_none()
        },
    )
    .await;
    println!("promoted in {:.1}s", took.as_secs_f64());
    let (code, error) = as_master_user(
        &docker,
        &lab,
        CREATED,
        "INSERT INTO entries (text) VALUES ('on the promoted one')",
    )
    .await;
    assert_eq!(code, 0, "the promoted replica takes writes: {error}");
    let described = aws
        .json(&rds(
            &aws,
            &["describe-db-instances", "--db-instance-identifier", CREATED],
        ))
        .await;
    let instance = &described["DBInstances"][0];
    assert!(
        instance
            .get("ReadReplicaSourceDBInstanceIdentifier")
            .is_none(),
        "{described}"
    );
    assert!(instance.get("StatusInfos").is_none(), "{described}");
    assert_eq!(
        instance["BackupRetentionPeriod"], 1,
        "RDS's default for a promoted replica"
    );
    assert_eq!(status_of(&lab, SOURCE).read_replicas, [REPLICA]);
    let not_a_replica = aws
        .fails(&rds(
            &aws,
            &["promote-read-replica", "--db-instance-identifier", CREATED],
        ))
        .await;
    assert_eq!(not_a_replica.code, "InvalidDBInstanceState");
    assert_eq!(not_a_replica.message, "DB Instance is not a read replica.");
    // Standalone: the source's new rows no longer reach it, and still reach the other replica.
    http.post(format!("{https}/api/entries"))
        .json(&json!({ "text": "after promotion" }))
        .send()
        .await
        .unwrap();
    let primary_rows = count(&docker, &lab, SOURCE).await;
    wait_until(
        "the config's replica to get the new row",
        Duration::from_secs(10),
        || futures_lite_block(count(&docker, &lab, REPLICA)) == primary_rows,
    )
    .await;
    assert_eq!(
        count(&docker, &lab, CREATED).await,
        primary_rows,
        "its own row in, the source's new one not"
    );

    // Nothing of either replica is taken for an orphan.
    assert!(
        lab.status().orphans.containers.is_empty(),
        "{:?}",
        lab.status().orphans
    );
    shut_down_clean(lab, &docker, &test).await;
}

/// Runs a future to completion from a synchronous poll (the wait helper's closures are sync).
fn futures_lite_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

/// `bench/replica.sh`: replica lag under a steady write load. The lab of the test above (a
/// config replica the app reads from); BENCH_WRITES_PER_SEC (default 10) entries POSTed through
/// the load balancer for BENCH_SECONDS (default 20). Measured: `ReplicaLag` (Seconds_Behind_Master)
/// sampled every 250 ms, and for every write the time until the app, reading from the replica
/// (`GET /api/entries/ID`), returns it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: bench/replica.sh"]
async fn bench_replica_lag() {
    let _serial = DOCKER_LOCK.lock().await;
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (rate, seconds) = (env("BENCH_WRITES_PER_SEC", 10), env("BENCH_SECONDS", 20));
    let mut test = TestLab::new("replbench");
    test.config_text = test
        .config_text
        .replacen(
            "backup-retention-period = 7",
            &format!("backup-retention-period = 7\nread-replicas = [\"{REPLICA}\"]"),
            1,
        )
        .replacen(
            "# [task-definitions.flask-app-task.container.environment]\n",
            &format!(
                "[task-definitions.flask-app-task.container.environment]\nDATABASE_READ_URL = \"${{rds.{REPLICA}.url}}\"\n"
            ),
            1,
        );
    let docker = docker().await;
    let lab = test.start().await;
    let http = client(&lab);
    let https = lab.https_url().unwrap();
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (view, sampling) = (lab.view(), sampling.clone());
        tokio::spawn(async move {
            let mut lags = Vec::new();
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(lag) = view
                    .status()
                    .databases
                    .iter()
                    .find(|d| d.identifier == REPLICA)
                    .and_then(|d| d.replica_lag)
                {
                    lags.push(lag);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            lags
        })
    };
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let mut visible_ms = Vec::new();
    let mut failed = 0;
    let started = Instant::now();
    let mut next = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        let created = http
            .post(format!("{https}/api/entries"))
            .json(&json!({ "text": "bench" }))
            .send()
            .await;
        let written = Instant::now();
        match created {
            Ok(r) if r.status() == 201 => {
                let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
                loop {
                    let got = http.get(format!("{https}/api/entries/{id}")).send().await;
                    if matches!(&got, Ok(r) if r.status() == 200) {
                        visible_ms.push(written.elapsed().as_secs_f64() * 1e3);
                        break;
                    }
                    assert!(
                        written.elapsed() < Duration::from_secs(30),
                        "entry {id} never reached the replica"
                    );
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            _ => failed += 1,
        }
        next += period;
        tokio::time::sleep_until(next.into()).await;
    }
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let mut lags = sampler.await.unwrap();
    lags.sort_unstable();
    visible_ms.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v[v.len() / 2];
    println!(
        "BENCH writes: {} at {rate}/s for {seconds}s through the load balancer ({failed} failed)",
        visible_ms.len()
    );
    println!(
        "BENCH ReplicaLag (Seconds_Behind_Master, {} samples every 250 ms): median {} s, max {} s",
        lags.len(),
        lags[lags.len() / 2],
        lags.last().unwrap()
    );
    println!(
        "BENCH write acknowledged -> readable from the replica through the app: median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        median(&visible_ms),
        visible_ms[visible_ms.len() * 95 / 100],
        visible_ms.last().unwrap()
    );
    shut_down_clean(lab, &docker, &test).await;
}
