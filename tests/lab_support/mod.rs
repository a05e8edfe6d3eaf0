//! Helpers for tests that run whole labs on the real Docker engine.
//!
//! Each test gets its own lab name, VPC range, listener ports and state directory, so labs never
//! collide; Docker tests still run one at a time (a process-wide lock) because two stacks on two
//! cores would make each other's timings meaningless.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tierlab::Config;
use tierlab::docker::{DockerClient, labels};
use tierlab::lab::{Lab, Reaper, StartOptions};
use tokio_util::sync::CancellationToken;

/// One Docker test at a time in this process.
pub static DOCKER_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

static NEXT_LAB: AtomicU8 = AtomicU8::new(0);

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A free loopback port (bound, read and released; good enough for tests on one machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The default topology (`emulator.toml`), renamed and re-addressed for one test.
pub struct TestLab {
    pub name: String,
    pub http_port: u16,
    pub https_port: u16,
    pub state_dir: tempfile::TempDir,
    pub config_text: String,
}

impl TestLab {
    /// `tag` makes the lab name recognisable in `docker ps` (`tierlab-t-<tag>-<pid>-<n>`).
    pub fn new(tag: &str) -> TestLab {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("tierlab=info"))
            .with_test_writer()
            .try_init();
        let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        let name = format!("t-{tag}-{}-{n}", std::process::id() % 10000);
        let (http_port, https_port) = (free_port(), free_port());
        // A VPC range per test: 10.0.x.0/24 → 10.<200+n>.x.0/24.
        let octet = 200 + (u32::from(n) + std::process::id()) % 50;
        let text = std::fs::read_to_string(repo_root().join("emulator.toml")).unwrap();
        let config_text = text
            // Any free port for the AWS API: test labs run side by side.
            .replacen(
                "name = \"flask-app\"",
                &format!("name = \"{name}\"\napi-port = 0"),
                1,
            )
            .replace("8080", &http_port.to_string())
            .replace("8443", &https_port.to_string())
            .replace("10.0.", &format!("10.{octet}."));
        TestLab {
            name,
            http_port,
            https_port,
            state_dir: tempfile::tempdir().unwrap(),
            config_text,
        }
    }

    pub fn config(&self) -> Config {
        tierlab::config::parse(
            &self.config_text,
            &repo_root().join("emulator.toml"),
            &repo_root(),
        )
        .unwrap()
    }

    pub async fn start(&self) -> Lab {
        self.start_with(CancellationToken::new()).await
    }

    /// [`start`](Self::start) under the caller's `shutdown` token (cancelling it stops the lab).
    pub async fn start_with(&self, shutdown: CancellationToken) -> Lab {
        let options = StartOptions {
            state_dir: Some(self.state_dir.path().to_path_buf()),
            reaper: reaper(),
            ..Default::default()
        };
        match Lab::start(self.config(), options, shutdown).await {
            Ok(lab) => lab,
            Err(e) => panic!(
                "lab {} failed to start (is the Docker engine running? `sudo scripts/docker-engine.sh`): {}",
                self.name,
                chain(&e)
            ),
        }
    }

    /// Writes the config to a file in the state dir (build contexts made absolute) for CLI tests.
    pub fn write_config_file(&self) -> PathBuf {
        let root = repo_root();
        let text = self
            .config_text
            .replace(
                "build = \"examples/",
                &format!("build = \"{}/examples/", root.display()),
            )
            .replace(
                "build = \"images/",
                &format!("build = \"{}/images/", root.display()),
            );
        let path = self.state_dir.path().join("emulator.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn state_path(&self) -> &Path {
        self.state_dir.path()
    }
}

/// The reaper a test's lab starts: the `tierlab` binary Cargo built for these tests, so a test
/// process that dies leaves no lab running.
pub fn reaper() -> Reaper {
    Reaper::Binary(PathBuf::from(env!("CARGO_BIN_EXE_tierlab")))
}

/// The error with all its causes, as tierlab shows errors.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    tierlab::error::chain(e).to_string()
}

/// A Docker client; fails the test (never skips it) when no engine answers.
pub async fn docker() -> DockerClient {
    DockerClient::connect().await.unwrap_or_else(|e| {
        panic!(
            "these tests need a Docker engine (run `sudo scripts/docker-engine.sh`): {}",
            chain(&e)
        )
    })
}

/// Stops `lab`, asserts that no container or network with its labels remains, then deletes
/// its data volume too (kept by `shutdown` by design; a test's has served its purpose).
pub async fn shut_down_clean(lab: Lab, docker: &DockerClient, test: &TestLab) {
    lab.shutdown().await.unwrap();
    assert_eq!(
        leftovers(docker, &test.name).await,
        (0, 0),
        "no labelled container or network remains"
    );
    tierlab::lab::remove_lab(docker, &test.name, true)
        .await
        .unwrap();
}

/// Containers and networks still carrying the lab's labels.
pub async fn leftovers(docker: &DockerClient, lab: &str) -> (usize, usize) {
    let containers = docker
        .list_containers(labels::filter(lab, None, None))
        .await
        .unwrap()
        .len();
    let networks = docker
        .list_networks(labels::filter(lab, None, None))
        .await
        .unwrap()
        .len();
    (containers, networks)
}

/// An HTTPS client that trusts the lab's CA (and nothing else), with no redirects followed.
pub fn client(lab: &Lab) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(lab.ca_cert_pem().as_bytes()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .tls_built_in_root_certs(false)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// GET `url` and parse the JSON body (panics with the status on a non-JSON answer).
pub async fn get_json<T: serde::de::DeserializeOwned>(client: &reqwest::Client, url: &str) -> T {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// POST `body` as JSON to `url`; the answer must be a success with a JSON body.
pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> serde_json::Value {
    let response = client.post(url).json(body).send().await.unwrap();
    response.error_for_status().unwrap().json().await.unwrap()
}
