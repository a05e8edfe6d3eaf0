//! Strangers on the control endpoint, and errors that keep their causes. The real `tierlab`
//! binary runs a load-balancer-only lab (no Docker) in front of a fake backend:
//!
//! - `POST /shutdown` without the credential, with a wrong one, with a foreign `Host` (DNS
//!   rebinding) or from another web origin is refused, and the lab keeps serving;
//! - the credential lives only in the control file (mode 0600), never in `up`'s output;
//! - `tierlab down` (which has the credential) still stops it;
//! - a port already in use, or an unwritable state directory, fails with the address or
//!   directory, the key to change and the cause, and leaves nothing behind.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::lab_support::free_port;
use crate::support::backend;

const BIN: &str = env!("CARGO_BIN_EXE_tierlab");
/// Bound on waiting for `up` to write its control file, and for it to exit after `down`.
const WAIT: Duration = Duration::from_secs(30);

/// The load-balancer-only example, on free ports, forwarding to `target`.
fn alb_only_config(dir: &Path, target: u16) -> (PathBuf, u16, u16) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (http, https, metrics) = (free_port(), free_port(), free_port());
    let text = std::fs::read_to_string(root.join("examples/alb-only.toml"))
        .unwrap()
        .replace("8080", &http.to_string())
        .replace("8443", &https.to_string())
        .replace("9100", &metrics.to_string())
        .replace("127.0.0.1:9001", &format!("127.0.0.1:{target}"))
        .replace("\"127.0.0.1:9002\"", &format!("\"127.0.0.1:{target}\""));
    let path = dir.join("alb-only.toml");
    std::fs::write(&path, text).unwrap();
    (path, http, https)
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

/// `tierlab up` in the background, its stderr in `state/up.log`.
fn spawn_up(config: &Path, state: &Path) -> Child {
    let log = std::fs::File::create(state.join("up.log")).unwrap();
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

#[derive(Clone)]
struct Control {
    address: String,
    token: String,
    file: PathBuf,
}

async fn wait_for_control_file(up: &mut Child, state: &Path) -> Control {
    let file = state.join("labs/alb-only/control.json");
    let started = Instant::now();
    loop {
        assert!(
            up.try_wait().unwrap().is_none(),
            "tierlab up exited early: {}",
            std::fs::read_to_string(state.join("up.log")).unwrap_or_default()
        );
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(&text)
        {
            return Control {
                address: value["address"].as_str().unwrap().to_string(),
                token: value["token"].as_str().unwrap().to_string(),
                file,
            };
        }
        assert!(started.elapsed() < WAIT, "no control file after {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn plain_client() -> reqwest::Client {
    // reqwest is built without a crypto provider; the test process installs ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// `tierlab up` of the load-balancer-only example in front of a fake backend, running.
struct UpLab {
    /// Serves the load balancer's target while the lab lives (dropping it stops it).
    _backend: crate::support::BackendHandle,
    _dir: tempfile::TempDir,
    config: PathBuf,
    http_port: u16,
    state: PathBuf,
    up: Child,
    control: Control,
}

impl UpLab {
    /// Starts it and waits for its control file.
    async fn start() -> UpLab {
        let backend = backend().run().await;
        let dir = tempfile::tempdir().unwrap();
        let (config, http_port, _) = alb_only_config(dir.path(), backend.addr.port());
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        let mut up = spawn_up(&config, &state);
        let control = wait_for_control_file(&mut up, &state).await;
        UpLab {
            _backend: backend,
            _dir: dir,
            config,
            http_port,
            state,
            up,
            control,
        }
    }

    /// `tierlab down` (which has the credential), then waits for `up` to exit; its exit status.
    /// The state directory stays until the lab is dropped (to read `up.log`).
    async fn down(&mut self) -> std::process::ExitStatus {
        let down = tierlab(&self.config, &self.state, &["down"]);
        assert!(
            down.status.success(),
            "{}",
            String::from_utf8_lossy(&down.stderr)
        );
        let started = Instant::now();
        loop {
            if let Some(code) = self.up.try_wait().unwrap() {
                break code;
            }
            assert!(started.elapsed() < WAIT, "up did not stop after `down`");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_cannot_stop_the_lab() {
    crate::support::init_tracing();
    let mut lab = UpLab::start().await;
    let (config, state) = (lab.config.clone(), lab.state.clone());
    let (http_port, control) = (lab.http_port, lab.control.clone());
    let mode = std::fs::metadata(&control.file)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the control file holds the credential");

    let client = plain_client();
    let shutdown = format!("http://{}/shutdown", control.address);
    let bearer = format!("Bearer {}", control.token);
    let lb = format!("http://127.0.0.1:{http_port}/");
    // (what is tried, the request, the status it must get)
    let attempts: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        ("no credential", client.post(&shutdown), 401),
        (
            "a wrong credential",
            client
                .post(&shutdown)
                .header("authorization", "Bearer guess"),
            401,
        ),
        (
            "a form posted by another web page",
            client
                .post(&shutdown)
                .header("origin", "http://evil.example")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("x=1"),
            403,
        ),
        (
            "another web origin, even with the credential",
            client
                .post(&shutdown)
                .header("origin", "http://evil.example")
                .header("authorization", &bearer),
            403,
        ),
        (
            "a cross-site fetch",
            client
                .post(&shutdown)
                .header("sec-fetch-site", "cross-site")
                .header("authorization", &bearer),
            403,
        ),
        (
            "a rebound DNS name",
            client
                .post(&shutdown)
                .header("host", "evil.example")
                .header("authorization", &bearer),
            403,
        ),
        (
            "reading the status without the credential",
            client.get(format!("http://{}/status", control.address)),
            401,
        ),
    ];
    for (what, request, expected) in attempts {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), expected, "{what}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["__type"].is_string() && body["message"].is_string(),
            "{what}: {body}"
        );
        // Still up and serving after each refusal.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            lab.up.try_wait().unwrap().is_none(),
            "{what} stopped the lab"
        );
        let served = client.get(&lb).send().await.unwrap();
        assert_eq!(
            served.status(),
            200,
            "{what}: the load balancer stopped serving"
        );
    }
    let status = tierlab(&config, &state, &["status", "--json"]);
    assert!(
        status.status.success(),
        "status with the credential: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(
        !shown.contains(&control.token),
        "status shows the credential"
    );

    // The lab's own `down` has the credential.
    let exit = lab.down().await;
    assert!(exit.success(), "up exited with {exit}");
    let log = std::fs::read_to_string(state.join("up.log")).unwrap();
    assert!(!log.contains(&control.token), "up logged the credential");
    assert!(
        log.contains("control endpoint refused"),
        "refusals are logged: {log}"
    );
    assert!(!control.file.exists(), "control file left behind");
}

#[test]
fn a_port_in_use_names_the_address_the_key_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _, https_port) = alb_only_config(dir.path(), free_port());
    let taken = std::net::TcpListener::bind(("127.0.0.1", https_port)).unwrap();
    let state = dir.path().join("state");
    let out = tierlab(&config, &state, &["up"]);
    drop(taken);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "error: load balancer alb-only: cannot bind 127.0.0.1:{https_port}: address in use \
         (port {https_port} is in use); set `port` of [[load-balancers.alb-only.listeners]] in \
         emulator.toml"
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        !state.join("labs/alb-only/control.json").exists(),
        "a failed start left its control file"
    );
}

#[test]
fn an_unwritable_state_directory_fails_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let (config, http_port, _) = alb_only_config(dir.path(), free_port());
    // A regular file where the state directory's parent should be: unwritable even for root.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let state = file.join("state");
    let out = tierlab(&config, &state, &["up"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "state directory {}: cannot write",
            state.display()
        )) && stderr.contains("state-dir")
            && stderr.contains("Not a directory"),
        "{stderr}"
    );
    // Nothing was bound: the listener's port is still free.
    std::net::TcpListener::bind(("127.0.0.1", http_port)).expect("the port was left bound");
}

#[test]
fn validate_warns_when_security_groups_cut_the_app_off_its_database() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root.join("emulator.toml"))
        .unwrap()
        .replace("  { port = 3306, from = \"app-sg\" },\n", "")
        .replace("build = \"", &format!("build = \"{}/", root.display()));
    let config = dir.path().join("emulator.toml");
    std::fs::write(&config, text).unwrap();
    let out = tierlab(&config, dir.path(), &["validate"]);
    assert!(out.status.success(), "a warning is not an error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: ")
            && stderr.contains("secrets[0]] value-from")
            && stderr.contains("service `flask-app-service` cannot reach database `flask-crud-db`")
            && stderr.contains("no ingress rule of `db-sg` allows port 3306 from `app-sg`"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_cannot_hold_the_control_endpoint() {
    use tokio::io::AsyncReadExt;
    let mut lab = UpLab::start().await;
    let (config, state, http_port) = (lab.config.clone(), lab.state.clone(), lab.http_port);
    let control = lab.control.clone();

    // Twice the cap, sending nothing: the excess is closed at once, the rest at the deadline.
    let cap = tierlab::loopback_http::MAX_CONNECTIONS;
    let deadline = tierlab::loopback_http::HEAD_TIMEOUT;
    let started = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..2 * cap {
        idle.push(
            tokio::net::TcpStream::connect(&control.address)
                .await
                .unwrap(),
        );
    }
    let closes: Vec<_> = idle
        .into_iter()
        .map(|mut conn| {
            tokio::spawn(async move {
                let mut buf = [0u8; 16];
                let read = tokio::time::timeout(Duration::from_secs(30), conn.read(&mut buf));
                assert!(matches!(read.await, Ok(Ok(0) | Err(_))), "held past 30 s");
                started.elapsed()
            })
        })
        .collect();
    let mut times = Vec::new();
    for close in closes {
        times.push(close.await.unwrap());
    }
    times.sort();
    let early = times.iter().filter(|t| **t < deadline / 2).count();
    assert!(early >= cap, "only {early} of {} closed at once", 2 * cap);
    let last = *times.last().unwrap();
    assert!(
        last >= deadline - Duration::from_millis(500) && last < deadline * 2,
        "the last idle connection closed after {last:?} (deadline {deadline:?})"
    );
    // The lab served throughout, and its own commands get in again.
    let served = plain_client()
        .get(format!("http://127.0.0.1:{http_port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let status = tierlab(&config, &state, &["status", "--json"]);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(lab.down().await.success());
}
