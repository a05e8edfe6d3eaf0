//! An availability-zone outage on real Docker: the default topology with a Multi-AZ database,
//! `az-outage us-east-1a` kills everything of the lab in that zone; the service gets back to its
//! full count in us-east-1b, the database fails over there and builds no standby in the dead
//! zone; after `az-restore` the service rebalances (ECS's events) and the standby is rebuilt in
//! us-east-1a. A bounded client loop runs through the load balancer throughout and the test
//! prints what it saw, and how long each recovery took.
//!
//! `flock /tmp/tierlab-docker.lock cargo test --locked --test az_outage -- --nocapture`

mod lab_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use lab_support::{DOCKER_LOCK, TestLab, client, docker, shut_down_clean};
use tierlab::Lab;
use tierlab::lab::{Chaos, LabStatus, StandbyState};

const DB: &str = "flask-crud-db";
const DOWN: &str = "us-east-1a";
const UP: &str = "us-east-1b";
/// Bound on each wait.
const WITHIN: Duration = Duration::from_secs(120);

/// The first line sshd sends on 127.0.0.1:`port` (`SSH-2.0-...`), within a few seconds.
async fn ssh_banner(port: u16) -> Option<String> {
    use tokio::io::AsyncBufReadExt;
    let read = async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        let mut line = String::new();
        tokio::io::BufReader::new(stream)
            .read_line(&mut line)
            .await
            .ok()?;
        Some(line.trim().to_string())
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .ok()
        .flatten()
}

/// Waits until `cond` holds of the lab's status; returns when it did.
async fn until(lab: &Lab, what: &str, cond: impl Fn(&LabStatus) -> bool) -> Instant {
    let started = Instant::now();
    loop {
        let status = lab.status();
        if cond(&status) {
            return Instant::now();
        }
        assert!(
            started.elapsed() < WITHIN,
            "timed out waiting for {what}: {}",
            serde_json::to_string_pretty(&status).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The zones of the service's healthy tasks, and its running count.
fn task_zones(status: &LabStatus) -> (Vec<String>, u32) {
    let service = &status.services[0];
    let zones = service
        .tasks
        .iter()
        .filter(|t| t.health.as_deref() == Some("healthy"))
        .map(|t| t.availability_zone.clone())
        .collect();
    (zones, service.running_count)
}

fn database(status: &LabStatus) -> &tierlab::lab::DatabaseStatus {
    status
        .databases
        .iter()
        .find(|d| d.identifier == DB)
        .unwrap()
}

fn standby_in_sync(status: &LabStatus) -> bool {
    let db = database(status);
    db.status.as_str() == "available"
        && db
            .standby
            .as_ref()
            .is_some_and(|s| s.state == StandbyState::InSync)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_az_outage_moves_everything_to_the_other_zone_and_back() {
    let _serial = DOCKER_LOCK.lock().await;
    let mut test = TestLab::new("az");
    test.config_text = test
        .config_text
        .replacen("multi-az = false", "multi-az = true", 1);
    let docker = docker().await;
    let lab = test.start().await;
    let view = lab.view();

    // Spread over both zones, the database primary in us-east-1a with its standby in sync.
    until(&lab, "the standby in sync", standby_in_sync).await;
    let (zones, _) = task_zones(&lab.status());
    assert!(
        zones.contains(&DOWN.to_string()) && zones.contains(&UP.to_string()),
        "one task per zone: {zones:?}"
    );
    let before = database(&lab.status()).clone();
    assert!(before.subnet.ends_with("1a"), "{}", before.subnet);

    // A bounded client loop through the load balancer for the whole test.
    let running = Arc::new(AtomicBool::new(true));
    let (ok, failed) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let loop_task = {
        let (running, ok, failed) = (running.clone(), ok.clone(), failed.clone());
        let (http, url) = (client(&lab), format!("{}/", lab.https_url().unwrap()));
        tokio::spawn(async move {
            let started = Instant::now();
            while running.load(Ordering::Relaxed) && started.elapsed() < 2 * WITHIN {
                match http.get(&url).send().await {
                    Ok(r) if r.status().is_success() => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    // Unknown zones are refused by name, and change nothing.
    let unknown = view
        .chaos(&Chaos::AzOutage {
            zone: "us-east-1z".into(),
        })
        .await
        .unwrap_err();
    assert!(unknown.is_request_error());
    assert!(
        unknown.to_string().contains("us-east-1a, us-east-1b"),
        "{unknown}"
    );

    // The outage.
    let outage_at = Instant::now();
    let said = view
        .chaos(&Chaos::AzOutage { zone: DOWN.into() })
        .await
        .unwrap();
    println!("az-outage: {said}");
    assert!(said.contains("killed"), "{said}");
    // Both recoveries timed from the outage, whichever comes first.
    let (mut full_count, mut failed_over) = (None, None);
    while full_count.is_none() || failed_over.is_none() {
        let status = lab.status();
        let (zones, running) = task_zones(&status);
        if full_count.is_none() && running == 2 && zones.len() == 2 && zones.iter().all(|z| z == UP)
        {
            full_count = Some(outage_at.elapsed());
        }
        let db = database(&status);
        if failed_over.is_none() && db.status.as_str() == "available" && db.subnet.ends_with("1b") {
            failed_over = Some(outage_at.elapsed());
        }
        assert!(
            outage_at.elapsed() < WITHIN,
            "not recovered from the outage: {}",
            serde_json::to_string_pretty(&status).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (full_count, failed_over) = (full_count.unwrap(), failed_over.unwrap());
    // The bastion (public-subnet-1a) went down with its zone.
    let bastion = &lab.status().bastions[0];
    assert!(!bastion.running, "the bastion in {DOWN} still runs");
    let inspected = docker
        .inspect_container(&bastion.container_id)
        .await
        .unwrap();
    assert!(
        inspected.is_some_and(|i| !i.running),
        "its container still runs"
    );
    // No standby is built in the dead zone.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = lab.status();
    assert!(
        database(&during)
            .standby
            .as_ref()
            .is_some_and(|s| s.state == StandbyState::Missing && s.container_id.is_none()),
        "no standby while {DOWN} is down: {:?}",
        database(&during).standby
    );
    assert!(
        during.services[0]
            .tasks
            .iter()
            .all(|t| t.availability_zone == UP),
        "nothing placed in {DOWN}"
    );
    println!(
        "outage: service at full count in {UP} after {:.1}s, database available there after {:.1}s",
        full_count.as_secs_f64(),
        failed_over.as_secs_f64()
    );

    // The zone comes back: the service rebalances, the standby is rebuilt there.
    let restore_at = Instant::now();
    let said = view
        .chaos(&Chaos::AzRestore { zone: DOWN.into() })
        .await
        .unwrap();
    println!("az-restore: {said}");
    // The bastion is the same instance again, answering SSH on the port Docker published now.
    let bastion = lab.status().bastions[0].clone();
    assert!(bastion.running && said.contains("bastion"), "{said}");
    // sshd takes a moment to start again, as on a rebooted instance: ask for up to 20 s.
    let asking = Instant::now();
    let mut banner = ssh_banner(bastion.ssh_port).await;
    while !banner.as_deref().is_some_and(|b| b.starts_with("SSH-2.0-"))
        && asking.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
        banner = ssh_banner(bastion.ssh_port).await;
    }
    assert!(
        banner.as_deref().is_some_and(|b| b.starts_with("SSH-2.0-")),
        "no SSH banner on 127.0.0.1:{} after the restore: {banner:?}",
        bastion.ssh_port
    );
    let rebalanced = until(&lab, "one task per zone again", |s| {
        let (zones, running) = task_zones(s);
        running == 2 && zones.contains(&DOWN.to_string()) && zones.contains(&UP.to_string())
    })
    .await;
    let rebuilt = until(&lab, "the standby rebuilt in sync", standby_in_sync).await;
    for wanted in [
        "is not AZ balanced with 0 tasks in us-east-1a and 2 tasks in us-east-1b. AZ Rebalancing in progress.",
        "has stopped 1 running tasks in us-east-1b to AZ Rebalance",
        "is AZ balanced with 1 tasks in us-east-1a and 1 tasks in us-east-1b.",
    ] {
        until(&lab, wanted, |s| {
            s.services[0]
                .events
                .iter()
                .any(|e| e.message.contains(wanted))
        })
        .await;
    }
    println!(
        "restore: rebalanced after {:.1}s, standby in sync after {:.1}s",
        (rebalanced - restore_at).as_secs_f64(),
        (rebuilt - restore_at).as_secs_f64()
    );

    running.store(false, Ordering::Relaxed);
    loop_task.await.unwrap();
    println!(
        "client loop: {} ok, {} failed",
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    assert!(ok.load(Ordering::Relaxed) > 0);
    shut_down_clean(lab, &docker, &test).await;
}
