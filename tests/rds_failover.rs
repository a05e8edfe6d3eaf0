//! Multi-AZ on real Docker and MariaDB, driven by the reference's own AWS CLI commands, with the
//! Flask app serving through the load balancer: the standby is added at run time
//! (`modify-db-instance --multi-az --apply-immediately`), then the primary is failed over while a
//! writer of bounded count POSTs entries, (1) by `reboot-db-instance --force-failover` and (2) by
//! `docker kill` of the primary's container. Afterwards every entry that got a 2xx is in the
//! database, the service writes again, the AZs swapped (A → B → A), and the test prints how long
//! writes failed. One lab.
//!
//! `flock /tmp/tierlab-docker.lock cargo test --locked --test rds_failover -- --nocapture`

mod lab_support;
mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lab_support::{DOCKER_LOCK, TestLab, client, docker, shut_down_clean};
use serde_json::{Value, json};
use support::aws::Aws;
use tierlab::Lab;
use tierlab::lab::StandbyState;

const DB: &str = "flask-crud-db";
/// Writes per failover, from this many concurrent writers, one every PACE per writer.
const WRITES: usize = 300;
const WRITERS: usize = 4;
const PACE: Duration = Duration::from_millis(50);
/// Bound on every wait for the instance to settle.
const SETTLE: Duration = Duration::from_secs(90);

/// What one POST got.
#[derive(Debug, Clone)]
struct Write {
    text: String,
    at: Instant,
    /// The entry's id when the answer was a 2xx.
    acknowledged: Option<u64>,
    status: String,
}

/// POSTs `WRITES` entries through the load balancer from `WRITERS` writers; `trigger` runs once
/// a tenth of them are sent.
async fn write_through(
    lab: &Lab,
    tag: &str,
    trigger: impl std::future::Future<Output = ()>,
) -> Vec<Write> {
    let http = client(lab);
    let url = format!("{}/api/entries", lab.https_url().unwrap());
    let next = Arc::new(Mutex::new(0usize));
    let writes = Arc::new(Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let (http, url, next, writes, tag) = (
            http.clone(),
            url.clone(),
            next.clone(),
            writes.clone(),
            tag.to_string(),
        );
        writers.push(tokio::spawn(async move {
            loop {
                let n = {
                    let mut next = next.lock().unwrap();
                    if *next == WRITES {
                        return;
                    }
                    *next += 1;
                    *next
                };
                let text = format!("{tag}-{n}");
                let answer = http.post(&url).json(&json!({ "text": text })).send().await;
                let (acknowledged, status) = match answer {
                    Ok(r) if r.status().is_success() => {
                        let status = r.status().to_string();
                        let body: Value = r.json().await.unwrap_or_default();
                        (body["id"].as_u64(), status)
                    }
                    Ok(r) => (None, r.status().to_string()),
                    Err(e) => (None, format!("error: {e}")),
                };
                writes.lock().unwrap().push(Write {
                    text,
                    at: Instant::now(),
                    acknowledged,
                    status,
                });
                tokio::time::sleep(PACE).await;
            }
        }));
    }
    let started = Instant::now();
    while *next.lock().unwrap() < WRITES / 10 {
        assert!(started.elapsed() < SETTLE, "the writers do not progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    trigger.await;
    for writer in writers {
        writer.await.unwrap();
    }
    let mut writes = writes.lock().unwrap().clone();
    writes.sort_by_key(|w| w.at);
    writes
}

/// Checks that the service writes again and that every acknowledged write is in the database
/// (read through the app), and prints how long writes failed.
async fn check_writes(lab: &Lab, label: &str, writes: &[Write]) {
    let http = client(lab);
    let url = format!("{}/api/entries", lab.https_url().unwrap());
    // Writes again (bounded): the first 2xx after the writer's last write.
    let started = Instant::now();
    loop {
        let answer = http
            .post(&url)
            .json(&json!({ "text": format!("{label}: after") }))
            .send()
            .await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(
            started.elapsed() < SETTLE,
            "{label}: the service does not write again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored: Vec<Value> = loop {
        match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => break r.json().await.unwrap(),
            other => {
                assert!(
                    started.elapsed() < SETTLE,
                    "{label}: cannot read the entries: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let stored: BTreeMap<u64, String> = stored
        .iter()
        .map(|e| {
            (
                e["id"].as_u64().unwrap(),
                e["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let acknowledged: Vec<&Write> = writes.iter().filter(|w| w.acknowledged.is_some()).collect();
    let lost: Vec<&&Write> = acknowledged
        .iter()
        .filter(|w| stored.get(&w.acknowledged.unwrap()) != Some(&w.text))
        .collect();
    let failed: Vec<&Write> = writes.iter().filter(|w| w.acknowledged.is_none()).collect();
    let window = match (failed.first(), failed.last()) {
        (Some(first), Some(last)) => last.at.duration_since(first.at),
        _ => Duration::ZERO,
    };
    let statuses: HashSet<&str> = failed.iter().map(|w| w.status.as_str()).collect();
    println!(
        "{label}: {} writes, {} acknowledged, {} failed ({statuses:?}) over {:.2}s, {} acknowledged writes lost",
        writes.len(),
        acknowledged.len(),
        failed.len(),
        window.as_secs_f64(),
        lost.len()
    );
    if !lost.is_empty() {
        for w in lost.iter().take(5) {
            let id = w.acknowledged.unwrap();
            println!(
                "{label}: lost {:?} (id {id}); the read gave {:?}",
                w.text,
                stored.get(&id)
            );
        }
        describe_nodes(lab, label).await;
    }
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
}

/// Prints what each node of the instance holds, and where the endpoint's name points, so a
/// failure says which node served what.
async fn describe_nodes(lab: &Lab, label: &str) {
    let docker = docker().await;
    let db = lab.rds().get(DB).unwrap();
    let nodes = db.nodes();
    let mut all = vec![("primary", nodes.primary.clone())];
    all.extend(nodes.standby.clone().map(|s| ("standby", s)));
    for (role, node) in all {
        let sql = tierlab::rds::sql::Node {
            docker: &docker,
            container: &node.container_id,
            port: 3306,
        };
        let held = sql
            .query(
                "SELECT @@hostname, @@read_only, @@gtid_current_pos, COUNT(*), MIN(id), MAX(id) \
                 FROM flaskcrud.entries",
            )
            .await;
        println!("{label}: {role} {} ({}): {held:?}", node.name, node.subnet);
    }
    let filters = tierlab::docker::labels::filter(&lab.config().lab.name, None, None);
    for container in docker.list_containers(filters).await.unwrap_or_default() {
        let Some(id) = container.id else { continue };
        let Ok(inspect) = docker
            .bollard()
            .inspect_container(
                &id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
        else {
            continue;
        };
        let networks: Vec<String> = inspect
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default()
            .into_iter()
            .map(|(net, e)| format!("{net} {:?} {:?}", e.ip_address, e.aliases))
            .collect();
        println!(
            "{label}: container {:?} {:?}: {networks:?}",
            inspect.name,
            inspect.state.and_then(|s| s.status)
        );
    }
}

/// `aws rds ARGS` with `--endpoint-url` given explicitly: AWS CLI v1 replaces
/// `AWS_ENDPOINT_URL` for `rds` in us-east-1 (awscli/customizations/overridesslcommonname.py).
fn rds<'a>(aws: &'a Aws, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--endpoint-url", aws.endpoint.as_str(), "rds"];
    all.extend_from_slice(args);
    all
}

/// Waits until the instance is available with its standby in sync; returns its describe entry.
async fn settled(lab: &Lab, aws: &Aws) -> Value {
    let started = Instant::now();
    loop {
        let status = lab.status();
        let db = status
            .databases
            .iter()
            .find(|d| d.identifier == DB)
            .unwrap();
        let in_sync = db
            .standby
            .as_ref()
            .is_some_and(|s| s.state == StandbyState::InSync);
        if db.status.as_str() == "available" && in_sync {
            break;
        }
        assert!(
            started.elapsed() < SETTLE,
            "not settled after {SETTLE:?}: {} {:?}",
            db.status,
            db.standby
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let described = aws
        .json(&rds(
            aws,
            &["describe-db-instances", "--db-instance-identifier", DB],
        ))
        .await;
    described["DBInstances"][0].clone()
}

/// Checks, from inside an app task (as the app resolves it), that each of the instance's endpoint
/// names resolves to the primary and to nothing else: a standby that answered to it would take
/// reads, and while it is being rebuilt writes.
async fn assert_endpoint_is_the_primary_only(lab: &Lab, docker: &tierlab::docker::DockerClient) {
    let db = lab.rds().get(DB).unwrap();
    let primary = docker
        .inspect_container(&db.container_id())
        .await
        .unwrap()
        .expect("the primary's container exists");
    let primary_addresses: HashSet<&String> = primary.ipv4_addresses.values().collect();
    let tasks = docker
        .list_containers(tierlab::docker::labels::filter(
            &lab.config().lab.name,
            Some(tierlab::docker::labels::Role::Task),
            None,
        ))
        .await
        .unwrap();
    let task = tasks
        .iter()
        .find(|t| t.state.as_ref().is_some_and(|s| s.to_string() == "running"))
        .and_then(|t| t.id.clone())
        .expect("a running app task");
    for name in &db.endpoint_aliases {
        let (code, output) = docker
            .exec(&task, &["getent", "ahostsv4", name.as_str()])
            .await
            .unwrap();
        assert_eq!(code, 0, "{name} does not resolve in the app task: {output}");
        let resolved: HashSet<String> = output
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect();
        assert!(!resolved.is_empty(), "{name}: {output}");
        for address in &resolved {
            assert!(
                primary_addresses.contains(address),
                "{name} resolves to {address}, which is not the primary ({} at {primary_addresses:?}): {output}",
                primary.name
            );
        }
    }
}

fn zones(instance: &Value) -> (String, String) {
    (
        instance["AvailabilityZone"].as_str().unwrap().to_string(),
        instance["SecondaryAvailabilityZone"]
            .as_str()
            .unwrap_or("-")
            .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failover_loses_no_acknowledged_write() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("failover");
    let docker = docker().await;
    let lab = test.start().await;
    let aws = Aws::for_lab(&lab);

    // Only MultiAZ can be modified now; anything else is refused by name.
    let refused = aws
        .fails(&rds(
            &aws,
            &[
                "modify-db-instance",
                "--db-instance-identifier",
                DB,
                "--allocated-storage",
                "30",
                "--apply-immediately",
            ],
        ))
        .await;
    assert!(
        refused.message.contains("AllocatedStorage"),
        "{}",
        refused.message
    );

    // Multi-AZ at run time, as the reference does it: modifying → available, primary serving.
    let started = Instant::now();
    let modified = aws
        .json(&rds(
            &aws,
            &[
                "modify-db-instance",
                "--db-instance-identifier",
                DB,
                "--multi-az",
                "--apply-immediately",
            ],
        ))
        .await;
    assert_eq!(modified["DBInstance"]["DBInstanceStatus"], "modifying");
    let http = client(&lab);
    let url = format!("{}/api/entries", lab.https_url().unwrap());
    let during = http
        .post(&url)
        .json(&json!({ "text": "while the standby is built" }))
        .send()
        .await
        .unwrap();
    assert_eq!(during.status().as_u16(), 201, "the primary keeps serving");
    let instance = settled(&lab, &aws).await;
    assert_endpoint_is_the_primary_only(&lab, &docker).await;
    println!(
        "standby built and in sync {:.1}s after modify-db-instance --multi-az",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(instance["MultiAZ"], true);
    let first_zones = zones(&instance);
    assert_eq!(
        first_zones,
        ("us-east-1a".to_string(), "us-east-1b".to_string())
    );
    let replication = lab.rds().get(DB).unwrap();
    let semi = tierlab::rds::replication::primary_semi_sync(&tierlab::rds::sql::Node {
        docker: &docker,
        container: &replication.container_id(),
        port: 3306,
    })
    .await
    .unwrap();
    assert!(semi.active && semi.clients == 1, "{semi:?}");
    let standby = replication.nodes().standby.clone().unwrap();
    let standby_sql = tierlab::rds::sql::Node {
        docker: &docker,
        container: &standby.container_id,
        port: 3306,
    };
    assert_eq!(
        standby_sql
            .value("SELECT @@GLOBAL.read_only")
            .await
            .unwrap()
            .as_deref(),
        Some("1"),
        "the standby cannot be written"
    );

    // (1) Forced failover through the AWS API while writing.
    let aws_trigger = aws.clone();
    let writes = write_through(&lab, "forced", async move {
        let answer = aws_trigger
            .json(&rds(
                &aws_trigger,
                &[
                    "reboot-db-instance",
                    "--db-instance-identifier",
                    DB,
                    "--force-failover",
                ],
            ))
            .await;
        assert_eq!(answer["DBInstance"]["DBInstanceStatus"], "rebooting");
    })
    .await;
    check_writes(&lab, "forced failover", &writes).await;
    let instance = settled(&lab, &aws).await;
    assert_endpoint_is_the_primary_only(&lab, &docker).await;
    assert_eq!(
        zones(&instance),
        ("us-east-1b".to_string(), "us-east-1a".to_string()),
        "the AZs swapped"
    );

    // (2) The primary's container killed while writing: the supervisor fails over (B → A).
    let killed = lab.rds().get(DB).unwrap().container_id();
    let docker_kill = docker.clone();
    let writes = write_through(&lab, "killed", async move {
        docker_kill.kill_container(&killed).await.unwrap();
    })
    .await;
    check_writes(&lab, "primary killed", &writes).await;
    let instance = settled(&lab, &aws).await;
    assert_endpoint_is_the_primary_only(&lab, &docker).await;
    assert_eq!(zones(&instance), first_zones, "back in the first AZ");

    // RDS's events, in describe-events.
    let events = aws
        .json(&rds(
            &aws,
            &[
                "describe-events",
                "--source-identifier",
                DB,
                "--source-type",
                "db-instance",
            ],
        ))
        .await;
    let messages: Vec<&str> = events["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Message"].as_str().unwrap())
        .collect();
    for wanted in [
        "Applying modification to convert to a Multi-AZ DB instance.",
        "Finished applying modification to convert to a Multi-AZ DB instance.",
        "Multi-AZ instance failover started.",
        "Multi-AZ failover to standby complete - DNS propagation may take a few minutes.",
        "Multi-AZ instance failover completed.",
    ] {
        assert!(messages.contains(&wanted), "no {wanted:?} in {messages:?}");
    }
    assert_eq!(
        messages
            .iter()
            .filter(|m| **m == "Multi-AZ instance failover completed.")
            .count(),
        2
    );

    shut_down_clean(lab, &docker, &test).await;
}

/// bench/failover.sh: BENCH_RUNS (default 5) forced failovers of a Multi-AZ instance under a
/// steady write load through the load balancer; per run, the time from the
/// `reboot-db-instance --force-failover` call to the first successful write after writes began
/// failing, and the acknowledged writes lost. Prints `BENCH` lines with the medians.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run bench/failover.sh"]
async fn bench_failover() {
    let _serial = DOCKER_LOCK.lock().await;
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let mut test = TestLab::new("failbench");
    test.config_text = test
        .config_text
        .replace("multi-az = false", "multi-az = true");
    let docker = docker().await;
    let lab = test.start().await;
    let aws = Aws::for_lab(&lab);
    let mut recoveries = Vec::new();
    let mut lost_total = 0;
    for run in 1..=runs {
        let settling = Instant::now();
        settled(&lab, &aws).await;
        println!(
            "BENCH run {run}: standby in sync after {:.1}s",
            settling.elapsed().as_secs_f64()
        );
        let http = client(&lab);
        let url = format!("{}/api/entries", lab.https_url().unwrap());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writes = Arc::new(Mutex::new(
            Vec::<(Instant, Instant, Option<u64>, String)>::new(),
        ));
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let (http, url, stop, writes) =
                (http.clone(), url.clone(), stop.clone(), writes.clone());
            writers.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let text = format!("bench-{run}-{w}-{n}");
                    let sent = Instant::now();
                    let answer = http.post(&url).json(&json!({ "text": text })).send().await;
                    let id = match answer {
                        Ok(r) if r.status().is_success() => {
                            r.json::<Value>().await.ok().and_then(|b| b["id"].as_u64())
                        }
                        _ => None,
                    };
                    writes
                        .lock()
                        .unwrap()
                        .push((sent, Instant::now(), id, text));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t0 = Instant::now();
        aws.json(&rds(
            &aws,
            &[
                "reboot-db-instance",
                "--db-instance-identifier",
                DB,
                "--force-failover",
            ],
        ))
        .await;
        // Write until no write has failed for two seconds (bounded); writes work again from the
        // first success after the last failure.
        let recovered = loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let all = writes.lock().unwrap().clone();
            let last_failure = all
                .iter()
                .filter(|w| w.1 >= t0 && w.2.is_none())
                .map(|w| w.1)
                .max();
            let back = all
                .iter()
                .filter(|w| w.2.is_some() && last_failure.is_none_or(|f| w.1 > f))
                .map(|w| w.1)
                .min();
            if let Some(back) = back
                && last_failure.is_some_and(|f| f.elapsed() > Duration::from_secs(2))
            {
                break back.duration_since(t0);
            }
            assert!(t0.elapsed() < SETTLE, "run {run}: writes never recovered");
        };
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for writer in writers {
            writer.await.unwrap();
        }
        let all: Vec<Write> = writes
            .lock()
            .unwrap()
            .iter()
            .map(|(_, done, id, text)| Write {
                text: text.clone(),
                at: *done,
                acknowledged: *id,
                status: String::new(),
            })
            .collect();
        let lost = lost_writes(&lab, &all).await;
        println!(
            "BENCH run {run}: forced failover -> first successful write {:.2}s, {} writes acknowledged, {lost} lost",
            recovered.as_secs_f64(),
            all.iter().filter(|w| w.acknowledged.is_some()).count()
        );
        recoveries.push(recovered);
        lost_total += lost;
    }
    recoveries.sort();
    println!(
        "BENCH failover: median {:.2}s (min {:.2}s, max {:.2}s) over {runs} runs; lost acknowledged writes: {lost_total}",
        recoveries[recoveries.len() / 2].as_secs_f64(),
        recoveries[0].as_secs_f64(),
        recoveries[recoveries.len() - 1].as_secs_f64()
    );
    assert_eq!(lost_total, 0);
    shut_down_clean(lab, &docker, &test).await;
}

/// How many acknowledged writes are not in the database (read through the app).
async fn lost_writes(lab: &Lab, writes: &[Write]) -> usize {
    let http = client(lab);
    let url = format!("{}/api/entries", lab.https_url().unwrap());
    let started = Instant::now();
    let stored: Vec<Value> = loop {
        match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => break r.json().await.unwrap(),
            _ => {
                assert!(started.elapsed() < SETTLE, "cannot read the entries");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let stored: BTreeMap<u64, String> = stored
        .iter()
        .map(|e| {
            (
                e["id"].as_u64().unwrap(),
                e["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    writes
        .iter()
        .filter(|w| {
            w.acknowledged
                .is_some_and(|id| stored.get(&id) != Some(&w.text))
        })
        .count()
}
