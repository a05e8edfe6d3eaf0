//! `eval "$(tierlab env)"`, as a user types it: the exports point the real AWS CLI at the running
//! lab; `status --json` names the same endpoint; without a running lab, `env` says so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::aws::cli_path;

const BIN: &str = env!("CARGO_BIN_EXE_tierlab");
/// How long `up` of the load-balancer-only example may take to write its control file.
const START_WAIT: Duration = Duration::from_secs(30);

/// `examples/alb-only.toml` on free ports, written to `dir`.
fn alb_only_config(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("examples/alb-only.toml"))
        .unwrap()
        .replace("port = 8080\n", "port = 0\n")
        .replace("port = 8443\n", "port = 0\n")
        .replace("metrics-port = 9100", "metrics-port = 0");
    let path = dir.join("alb-only.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `tierlab ARGS` with the test's config and state directory.
fn tierlab(config: &Path, state: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("TIERLAB_CONFIG", config)
        .env("TIERLAB_STATE_DIR", state);
    command
}

/// Stops `up` with `tierlab down` when the test ends, however it ends.
struct Up(Child, PathBuf, PathBuf);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = tierlab(&self.1, &self.2).arg("down").output();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
    }
}

#[test]
fn eval_tierlab_env_points_the_aws_cli_at_the_running_lab() {
    let dir = tempfile::tempdir().unwrap();
    let (config, state) = (alb_only_config(dir.path()), dir.path().join("state"));

    let before = tierlab(&config, &state).arg("env").output().unwrap();
    let stderr = String::from_utf8_lossy(&before.stderr);
    assert_eq!(before.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("lab `alb-only` is not running") && stderr.contains("tierlab up"),
        "{stderr}"
    );

    let log = std::fs::File::create(dir.path().join("up.log")).unwrap();
    let child = tierlab(&config, &state)
        .arg("up")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut up = Up(child, config.clone(), state.clone());
    let control = state.join("labs/alb-only/control.json");
    let started = Instant::now();
    while !control.exists() {
        assert!(
            up.0.try_wait().unwrap().is_none(),
            "tierlab up exited: {}",
            std::fs::read_to_string(dir.path().join("up.log")).unwrap_or_default()
        );
        assert!(
            started.elapsed() < START_WAIT,
            "no control file after {START_WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let script = r#"eval "$("$TIERLAB" env)" && echo "$AWS_ENDPOINT_URL" && "$AWS" sts get-caller-identity --query Account --output text"#;
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("TIERLAB", BIN)
        .env("TIERLAB_CONFIG", &config)
        .env("TIERLAB_STATE_DIR", &state)
        .env("AWS", cli_path())
        .env("AWS_CONFIG_FILE", "/nonexistent/tierlab-test-aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/tierlab-test-aws-credentials",
        )
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("http://127.0.0.1:"), "{stdout}");
    assert_eq!(lines[1], "000000000000");

    let status = tierlab(&config, &state)
        .args(["status", "--json"])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["aws"]["endpoint_url"], lines[0]);
    assert_eq!(status["aws"]["region"], "us-east-1");
    drop(up);
}
