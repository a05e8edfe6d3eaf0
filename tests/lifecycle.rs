//! A lab's life cycle on the real Docker engine (issue 7, "runtime shape" and "crash safety").
//!
//! - Starting and stopping the default topology several times in one process leaves nothing
//!   behind: no task of the lab's tree, no container or network with its labels, no listener
//!   port still bound, no reaper process. One of the stops is a cancel of the caller's token.
//! - `tierlab up` killed with SIGKILL: within 10 s its reaper has removed the lab's containers
//!   and networks and the control file; the next `up` starts cleanly and `down` stops it. The
//!   same for an `up` killed half-way through its start.
//! - A control file whose `up` is gone is reported and removed by the next command of the lab.

mod lab_support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lab_support::{DOCKER_LOCK, TestLab, docker, leftovers};
use tierlab::docker::DockerClient;
use tokio_util::sync::CancellationToken;

const BIN: &str = env!("CARGO_BIN_EXE_tierlab");
/// Crash safety's bound: nothing of a killed `up`'s lab runs this long after the kill.
const REAP_BOUND: Duration = Duration::from_secs(10);
/// A whole start of the default topology (images are built by `scripts/test.sh --no-run`).
const START_WAIT: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_and_stopping_three_times_leaves_nothing_behind() {
    let _lock = DOCKER_LOCK.lock().await;
    let docker = docker().await;
    let test = TestLab::new("cycle");
    for round in 1..=3 {
        let root = CancellationToken::new();
        let started = Instant::now();
        let lab = test.start_with(root.clone()).await;
        let took = started.elapsed();
        let tasks = lab.tasks().clone();
        assert!(
            !tasks.running().is_empty(),
            "the lab's loops run in its tree"
        );
        assert_eq!(reapers(&test.name).len(), 1, "one reaper watches the lab");
        let ports = listener_ports(&lab);
        assert!(!ports.is_empty());

        let stopping = Instant::now();
        if round == 2 {
            // The caller's token is the root: cancelling it stops the lab as `shutdown` does.
            root.cancel();
            tokio::time::timeout(START_WAIT, lab.stopped())
                .await
                .expect("a cancel of the root token stops the lab");
            assert_eq!(leftovers(&docker, &test.name).await, (0, 0));
        }
        lab.shutdown().await.expect("the lab stops cleanly");
        eprintln!(
            "round {round}: started in {:.1}s, stopped in {:.1}s",
            took.as_secs_f64(),
            stopping.elapsed().as_secs_f64()
        );

        assert_eq!(tasks.running(), vec![], "every task of the tree ended");
        assert_eq!(
            leftovers(&docker, &test.name).await,
            (0, 0),
            "no labelled container or network remains"
        );
        for port in &ports {
            TcpListener::bind(("127.0.0.1", *port))
                .unwrap_or_else(|e| panic!("port {port} is still bound after the stop: {e}"));
        }
        wait_for("the reaper to exit", Duration::from_secs(5), || {
            reapers(&test.name).is_empty()
        })
        .await;
    }
    tierlab::lab::remove_lab(&docker, &test.name, true)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_up_leaves_nothing_running_and_the_next_up_starts_cleanly() {
    let _lock = DOCKER_LOCK.lock().await;
    let docker = docker().await;
    let test = TestLab::new("kill");
    let config = test.write_config_file();
    let state = test.state_path();
    let control = state.join("labs").join(&test.name).join("control.json");

    let mut up = spawn_up(&config, state, "up-1.log");
    wait_for_file(&mut up, &control, &state.join("up-1.log")).await;
    let (containers, networks) = leftovers(&docker, &test.name).await;
    assert!(containers > 0 && networks > 0, "the lab runs");
    assert_eq!(reapers(&test.name).len(), 1);

    // SAFETY: SIGKILL to the child this test started.
    assert_eq!(unsafe { libc::kill(up.id() as i32, libc::SIGKILL) }, 0);
    up.wait().unwrap();
    let killed = Instant::now();
    let gone = wait_until_gone(&docker, &test.name, REAP_BOUND).await;
    eprintln!(
        "SIGKILL of up: {containers} containers and {networks} networks removed {:.1}s after the kill",
        gone.as_secs_f64()
    );
    assert!(
        !control.exists(),
        "the reaper removed the dead up's control file"
    );
    wait_for(
        "the reaper to exit",
        REAP_BOUND - killed.elapsed().min(REAP_BOUND),
        || reapers(&test.name).is_empty(),
    )
    .await;
    let log = std::fs::read_to_string(state.join("up-1.log")).unwrap();
    assert!(log.contains("tierlab reap: lab"), "{log}");

    // The next `up` of the lab finds nothing of the dead one.
    let mut up = spawn_up(&config, state, "up-2.log");
    wait_for_file(&mut up, &control, &state.join("up-2.log")).await;
    let down = tierlab(&config, state, &["down"]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let status = up.wait().unwrap();
    let log = std::fs::read_to_string(state.join("up-2.log")).unwrap();
    assert!(status.success(), "{log}");
    assert!(!log.contains("left behind"), "a clean start: {log}");
    assert!(!log.contains("stale"), "{log}");
    assert_eq!(leftovers(&docker, &test.name).await, (0, 0));
    assert!(
        reapers(&test.name).is_empty(),
        "dismissed on the clean stop"
    );
    tierlab::lab::remove_lab(&docker, &test.name, true)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_up_killed_during_its_start_is_reaped_too() {
    let _lock = DOCKER_LOCK.lock().await;
    let docker = docker().await;
    let test = TestLab::new("killstart");
    let config = test.write_config_file();
    let state = test.state_path();
    let mut up = spawn_up(&config, state, "up.log");
    // Killed as soon as its first container exists (the database is starting).
    let started = Instant::now();
    while leftovers(&docker, &test.name).await.0 == 0 {
        assert!(up.try_wait().unwrap().is_none(), "up exited early");
        assert!(
            started.elapsed() < START_WAIT,
            "no container after {START_WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // SAFETY: SIGKILL to the child this test started.
    assert_eq!(unsafe { libc::kill(up.id() as i32, libc::SIGKILL) }, 0);
    up.wait().unwrap();
    let gone = wait_until_gone(&docker, &test.name, REAP_BOUND).await;
    eprintln!(
        "SIGKILL of up during its start: removed {:.1}s after the kill",
        gone.as_secs_f64()
    );
    wait_for("the reaper to exit", REAP_BOUND, || {
        reapers(&test.name).is_empty()
    })
    .await;
    // Nothing arrives late either (a create that was in flight).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(leftovers(&docker, &test.name).await, (0, 0));
    tierlab::lab::remove_lab(&docker, &test.name, true)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_control_file_is_reported_and_removed_first() {
    let test = TestLab::new("stale");
    let config = test.write_config_file();
    let state = test.state_path();
    let control = state.join("labs").join(&test.name).join("control.json");
    std::fs::create_dir_all(control.parent().unwrap()).unwrap();
    // Written by a process that has exited since.
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let file = serde_json::json!({
        "pid": pid,
        "address": "127.0.0.1:9",
        "config": "emulator.toml",
        "started_at": "2026-01-01T00:00:00Z",
        "token": "x",
    });
    std::fs::write(&control, file.to_string()).unwrap();
    let out = tierlab(&config, state, &["validate"]);
    assert!(out.status.success());
    assert!(control.exists(), "validate does not address the lab");
    let out = tierlab(&config, state, &["logs"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "found a stale control file of lab `{}` (its `tierlab up` (pid {pid}) is not running): removed",
            test.name
        )),
        "{stderr}"
    );
    assert!(!control.exists());
}

/// `tierlab up` in the background, its stderr in `state/<log>`.
fn spawn_up(config: &Path, state: &Path, log: &str) -> Child {
    let log = std::fs::File::create(state.join(log)).unwrap();
    Command::new(BIN)
        .arg("-f")
        .arg(config)
        .arg("up")
        .env("TIERLAB_STATE_DIR", state)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn tierlab(config: &Path, state: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("-f")
        .arg(config)
        .args(args)
        .env("TIERLAB_STATE_DIR", state)
        .output()
        .unwrap()
}

/// Waits for `up`'s control file (the lab is up), failing if `up` exits first.
async fn wait_for_file(up: &mut Child, control: &Path, log: &PathBuf) {
    let started = Instant::now();
    while !control.exists() {
        assert!(
            up.try_wait().unwrap().is_none(),
            "tierlab up exited early: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        assert!(
            started.elapsed() < START_WAIT,
            "no control file after {START_WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until no container or network of `lab` remains; how long that took. Fails after
/// `bound`.
async fn wait_until_gone(docker: &DockerClient, lab: &str, bound: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let left = leftovers(docker, lab).await;
        if left == (0, 0) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < bound,
            "lab `{lab}` still has {left:?} containers/networks {bound:?} after its up was killed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_for(what: &str, bound: Duration, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < bound, "waited {bound:?} for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every port the lab listens on: its load balancers' listeners and metrics, its AWS API.
fn listener_ports(lab: &tierlab::Lab) -> Vec<u16> {
    let api: std::net::SocketAddr = lab
        .aws_endpoint()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    lab.load_balancers()
        .iter()
        .flat_map(|lb| {
            let listeners = lb.endpoints().into_iter().map(|e| e.addr.port());
            listeners.chain(lb.metrics_addr().map(|a| a.port()))
        })
        .chain([api.port()])
        .collect()
}

/// Pids of `tierlab reap` processes watching `lab`.
fn reapers(lab: &str) -> Vec<u32> {
    let wanted = format!("\0reap\0--lab\0{lab}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&wanted))
        })
        .collect()
}
