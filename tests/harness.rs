//! The harness on real Docker: two labs from one test binary at once, each isolated and torn
//! down clean; and a test process killed with SIGKILL leaving nothing behind.
//!
//! `flock /tmp/tierlab-docker.lock cargo test --locked --test harness -- --nocapture`

mod lab_support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lab_support::{DOCKER_LOCK, docker, reaper};
use mysql_async::prelude::Queryable;
use tierlab::Lab;
use tierlab::docker::{DockerClient, labels};
use tierlab::harness::LabConfig;

/// Set in the child process of the SIGKILL test: it starts a lab and waits to be killed.
const CHILD_ENV: &str = "TIERLAB_HARNESS_SIGKILL_CHILD";
/// What the child prints once its lab is up: `LAB <name> <state dir>`.
const READY: &str = "TIERLAB-HARNESS-LAB";
/// Bound on the removal after the kill (the reaper's job takes a few seconds).
const REAPED_WITHIN: Duration = Duration::from_secs(30);

/// The default topology with one task per service: two labs fit on two cores.
fn small() -> LabConfig {
    LabConfig::default_with(|text| text.replace("desired-count = 2", "desired-count = 1"))
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("tierlab=info"))
        .with_test_writer()
        .try_init();
}

/// Containers, networks and volumes still carrying `lab`'s labels.
async fn leftovers(docker: &DockerClient, lab: &str) -> (usize, usize, usize) {
    let filter = || labels::filter(lab, None, None);
    (
        docker.list_containers(filter()).await.unwrap().len(),
        docker.list_networks(filter()).await.unwrap().len(),
        docker.list_volumes(filter()).await.unwrap().len(),
    )
}

async fn start_small() -> (Lab, Duration) {
    let started = Instant::now();
    let lab = Lab::builder()
        .config(small())
        .reaper(reaper())
        .start()
        .await
        .unwrap_or_else(|e| panic!("lab failed to start: {}", lab_support::chain(&e)));
    (lab, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_labs_at_once_are_isolated_and_torn_down_clean() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let _serial = DOCKER_LOCK.lock().await;
    init_tracing();
    let docker = docker().await;
    let started = Instant::now();
    let ((a, took_a), (b, took_b)) = tokio::join!(start_small(), start_small());
    println!(
        "two labs started in parallel in {:.1}s (each {:.1}s, {:.1}s)",
        started.elapsed().as_secs_f64(),
        took_a.as_secs_f64(),
        took_b.as_secs_f64()
    );
    let (name_a, name_b) = (a.config().lab.name.clone(), b.config().lab.name.clone());
    assert_ne!(name_a, name_b);
    assert!(
        !a.config().vpc.cidr.overlaps(&b.config().vpc.cidr),
        "VPCs {} and {} overlap",
        a.config().vpc.cidr,
        b.config().vpc.cidr
    );
    assert_ne!(a.https_url(), b.https_url());
    assert_ne!(a.state_dir().root(), b.state_dir().root());

    // Each answers through its own load balancer, from its own task and database.
    let mut servers = HashSet::new();
    for lab in [&a, &b] {
        let http = lab.http_client().unwrap();
        let url = lab.https_url().unwrap();
        let info: serde_json::Value = http
            .get(format!("{url}/api/info"))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        servers.insert(info.to_string());
        // The HTTP listener redirects to this lab's HTTPS listener, which the client follows.
        let redirected = http.get(lab.http_url().unwrap()).send().await.unwrap();
        assert_eq!(redirected.status(), 200);
        assert!(redirected.url().as_str().starts_with(&url));
    }
    assert_eq!(servers.len(), 2, "two labs, two different tasks answering");

    // A row written in lab A through its app is in A's database, not in B's.
    let text = format!("only-in-{name_a}");
    let http = a.http_client().unwrap();
    let created = http
        .post(format!("{}/api/entries", a.https_url().unwrap()))
        .json(&serde_json::json!({ "text": text }))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    let (pool_a, pool_b) = tokio::join!(a.mysql(), b.mysql());
    let (pool_a, pool_b) = (pool_a.unwrap(), pool_b.unwrap());
    let count = |pool: mysql_async::Pool, text: String| async move {
        let mut conn = pool.get_conn().await.unwrap();
        let n: Option<u64> = conn
            .exec_first("SELECT COUNT(*) FROM entries WHERE text = ?", (text,))
            .await
            .unwrap();
        drop(conn);
        pool.disconnect().await.unwrap();
        n.unwrap()
    };
    assert_eq!(count(pool_a, text.clone()).await, 1);
    assert_eq!(count(pool_b, text).await, 0);

    // Both stop at once; nothing of either remains, state directories included.
    let dirs = [
        a.state_dir().root().to_path_buf(),
        b.state_dir().root().to_path_buf(),
    ];
    let stopping = Instant::now();
    let (stop_a, stop_b) = tokio::join!(a.shutdown(), b.shutdown());
    stop_a.unwrap();
    stop_b.unwrap();
    println!("both stopped in {:.1}s", stopping.elapsed().as_secs_f64());
    for name in [&name_a, &name_b] {
        assert_eq!(leftovers(&docker, name).await, (0, 0, 0), "lab {name}");
    }
    for dir in dirs {
        assert!(!dir.exists(), "{} is removed", dir.display());
    }
}

/// The child's side: start a lab, say so, and wait to be killed.
async fn child_runs_a_lab_until_killed() {
    let (lab, _) = start_small().await;
    println!(
        "{READY} {} {}",
        lab.config().lab.name,
        lab.state_dir().root().display()
    );
    tokio::time::sleep(Duration::from_secs(600)).await;
    panic!("the parent should have killed this process");
}

#[tokio::test]
async fn a_test_killed_with_sigkill_leaves_nothing_behind() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child_runs_a_lab_until_killed().await;
    }
    let _serial = DOCKER_LOCK.lock().await;
    let docker = docker().await;
    // This test binary again, running only this test, as the child.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "a_test_killed_with_sigkill_leaves_nothing_behind",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.starts_with(READY))
    });
    let line = tokio::time::timeout(Duration::from_secs(180), line)
        .await
        .expect("the child's lab starts within 3 minutes")
        .unwrap()
        .expect("the child says its lab is up");
    let mut words = line.split_whitespace().skip(1);
    let (lab, state_dir) = (
        words.next().unwrap().to_string(),
        words.next().unwrap().to_string(),
    );
    let (containers, networks, volumes) = leftovers(&docker, &lab).await;
    assert!(
        containers > 0 && networks > 0 && volumes > 0,
        "the child's lab runs"
    );

    // SIGKILL: no handler, no Drop, no shutdown. Only the reaper is left to clean up.
    let killed = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGKILL) }, 0);
    let status = child.wait().unwrap();
    assert!(!status.success());
    loop {
        let left = leftovers(&docker, &lab).await;
        let dir_left = std::path::Path::new(&state_dir).exists();
        if left == (0, 0, 0) && !dir_left {
            break;
        }
        assert!(
            killed.elapsed() < REAPED_WITHIN,
            "{REAPED_WITHIN:?} after SIGKILL lab {lab} still has (containers, networks, volumes) = {left:?}, state dir left: {dir_left}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "SIGKILL of the test process: lab {lab} (containers {containers}, networks {networks}, volumes {volumes}) and its state dir gone {:.1}s after the kill",
        killed.elapsed().as_secs_f64()
    );
}

/// The README's numbers: one lab started with the builder; two one after another; two at once
/// (each run: start until every service is steady, then a shutdown that is not timed).
///
/// `flock /tmp/tierlab-docker.lock cargo test --locked --test harness -- --ignored bench --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run by hand for the README"]
async fn bench_lab_starts() {
    let _serial = DOCKER_LOCK.lock().await;
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for run in 1..=runs {
        let (lab, one) = start_small().await;
        lab.shutdown().await.unwrap();
        let sequential = Instant::now();
        let (a, _) = start_small().await;
        let (b, _) = start_small().await;
        let sequential = sequential.elapsed();
        let (_, _) = tokio::join!(a.shutdown(), b.shutdown());
        let parallel = Instant::now();
        let ((a, _), (b, _)) = tokio::join!(start_small(), start_small());
        let parallel = parallel.elapsed();
        let (_, _) = tokio::join!(a.shutdown(), b.shutdown());
        println!(
            "BENCH run {run}: one lab {:.2}s; two one after another {:.2}s; two at once {:.2}s",
            one.as_secs_f64(),
            sequential.as_secs_f64(),
            parallel.as_secs_f64()
        );
    }
}
