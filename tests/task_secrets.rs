//! ECS task `secrets` on real Docker, through the `tierlab` binary and the real AWS CLI: the
//! default topology's app gets DATABASE_URL and SECRET_KEY from Secrets Manager and serves
//! DB-backed requests; the values are in the app process's environment but not in `docker
//! inspect` of its container, not in describe-task-definition / describe-tasks / `status
//! --json`, not in `up`'s output (at debug level) nor the task log streams, and not in the store
//! file (0600). `put-secret-value` + `update-service --force-new-deployment` rolls the new value
//! out; the DB master password is a Secrets Manager secret that describe-db-instances names.
//!
//! `flock /tmp/tierlab-docker.lock cargo test --locked --test task_secrets -- --nocapture`

mod lab_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lab_support::{DOCKER_LOCK, TestLab, docker, leftovers};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tierlab");
const NEW_KEY: &str = "rotated-Secret-Key-4711";

fn tierlab(test: &TestLab, config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("-f")
        .arg(config)
        .args(args)
        .env("TIERLAB_STATE_DIR", test.state_path())
        .output()
        .unwrap()
}

fn status(test: &TestLab, config: &Path) -> Value {
    let out = tierlab(test, config, &["status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The real AWS CLI with what `tierlab env` prints.
struct Cli {
    env: Vec<(String, String)>,
}

impl Cli {
    fn new(test: &TestLab, config: &Path) -> Cli {
        let out = tierlab(test, config, &["env"]);
        assert!(out.status.success());
        let env = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.trim_matches(|c| c == '\'' || c == '"').to_string(),
                )
            })
            .collect();
        Cli { env }
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(support_cli())
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("AWS_PAGER", "")
            .env("AWS_MAX_ATTEMPTS", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "aws {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn support_cli() -> PathBuf {
    std::env::var_os("TIERLAB_AWS_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/tierlab/awscli-venv/bin/aws")
        })
}

fn docker_cli(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Whether the app process (PID 1 after the launcher's exec) has `NAME=value` in its
/// environment; checked inside the container, so the value is never printed.
fn process_has(container: &str, name: &str, value: &str) -> bool {
    let script = "tr '\\0' '\\n' < /proc/1/environ | grep -qxF \"$1=$2\"";
    Command::new("docker")
        .args(["exec", container, "sh", "-c", script, "sh", name, value])
        .status()
        .unwrap()
        .success()
}

fn task_ids(status: &Value) -> Vec<String> {
    status["services"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["health"] == "healthy")
        .map(|t| t["container_id"].as_str().unwrap().to_string())
        .collect()
}

/// Every file under `dir`, read whole.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_secrets_reach_the_app_and_nothing_else() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("tsecrets");
    let docker = docker().await;
    let config = test.write_config_file();
    let log_path = test.state_path().join("up.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut up = Command::new(BIN)
        .arg("-f")
        .arg(&config)
        .arg("up")
        .env("TIERLAB_STATE_DIR", test.state_path())
        // Everything tierlab logs, so that a value logged at any level would be found.
        .env("TIERLAB_LOG", "tierlab=debug,info")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();

    let started = Instant::now();
    let first = loop {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "tierlab up did not become ready"
        );
        assert!(
            up.try_wait().unwrap().is_none(),
            "tierlab up exited early: {}",
            std::fs::read_to_string(&log_path).unwrap()
        );
        let out = tierlab(&test, &config, &["status", "--json"]);
        if out.status.success() {
            let value: Value = serde_json::from_slice(&out.stdout).unwrap();
            if value["running"] == true && task_ids(&value).len() == 2 {
                break value;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!("lab up with 2 healthy tasks in {:?}", started.elapsed());

    // The values the tasks were given.
    let state = tierlab::state::StateDir::at(test.state_path());
    let password = state
        .secret(&test.name, "flask-crud-db-master-password")
        .unwrap();
    let secret_key = state.secret(&test.name, "flask-app-secret-key").unwrap();
    let values = [password.as_str(), secret_key.as_str(), NEW_KEY];

    // The app works: DB-backed writes and reads through the load balancer.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = std::fs::read(state.ca_dir().join("ca.pem")).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .tls_built_in_root_certs(false)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let base = format!("https://127.0.0.1:{}", test.https_port);
    let created = http
        .post(format!("{base}/api/entries"))
        .json(&serde_json::json!({"text": "from a secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let entries: Value = http
        .get(format!("{base}/api/entries"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(entries.to_string().contains("from a secret"), "{entries}");

    // In the process, not in the container's configuration.
    let ids = task_ids(&first);
    for id in &ids {
        assert!(
            process_has(id, "SECRET_KEY", &secret_key),
            "SECRET_KEY not in the app's environment"
        );
        let url_ok = Command::new("docker")
            .args(["exec", id, "sh", "-c", "tr '\\0' '\\n' < /proc/1/environ | grep -q \"^DATABASE_URL=mysql+pymysql://admin:$1@\"", "sh", &password])
            .status()
            .unwrap()
            .success();
        assert!(
            url_ok,
            "DATABASE_URL with the master password not in the app's environment"
        );
        let inspect = docker_cli(&["inspect", id]);
        for value in values {
            assert!(
                !inspect.contains(value),
                "a secret value in `docker inspect {id}`"
            );
        }
        let config: Value = serde_json::from_str(&inspect).unwrap();
        let env = config[0]["Config"]["Env"].to_string();
        assert!(
            !env.contains("DATABASE_URL") && !env.contains("SECRET_KEY"),
            "{env}"
        );
        // The app runs as the image's user, from the image's own entrypoint, behind the launcher.
        assert_eq!(config[0]["Config"]["User"], "app");
        assert_eq!(config[0]["Config"]["Cmd"][0], "/app/entrypoint.sh");
        let file = docker_cli(&[
            "exec",
            id,
            "stat",
            "-c",
            "%a %U",
            "/run/tierlab/task-secrets",
        ]);
        assert_eq!(file.trim(), "400 app");
    }

    // The database's own container: its passwords are files too, never `Config.Env` values.
    let root_password = state
        .secret(&test.name, "flask-crud-db-root-password")
        .unwrap();
    let db_container = format!("tierlab-{}-flask-crud-db", test.name);
    let inspect = docker_cli(&["inspect", &db_container]);
    assert!(
        !inspect.contains(&password) && !inspect.contains(&root_password),
        "a database password in `docker inspect {db_container}`"
    );
    let inspected: Value = serde_json::from_str(&inspect).unwrap();
    let env = inspected[0]["Config"]["Env"].to_string();
    assert!(
        env.contains("MYSQL_ROOT_PASSWORD_FILE=/run/tierlab/rds/root-password"),
        "{env}"
    );
    let file = docker_cli(&[
        "exec",
        &db_container,
        "stat",
        "-c",
        "%a %U",
        "/run/tierlab/rds/root-password",
        "/run/tierlab/rds/master-password",
    ]);
    assert_eq!(file.trim(), "400 mysql\n400 mysql");

    // The API and status show where values come from, never the values.
    let aws = Cli::new(&test, &config);
    let td = aws.run(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        "flask-app-task",
    ]);
    let td_json: Value = serde_json::from_str(&td).unwrap();
    let secrets = &td_json["taskDefinition"]["containerDefinitions"][0]["secrets"];
    assert_eq!(secrets[0]["name"], "DATABASE_URL");
    assert_eq!(
        secrets[0]["valueFrom"],
        "arn:aws:secretsmanager:us-east-1:000000000000:secret:flask-app/database-url"
    );
    let arns = aws.run(&[
        "ecs",
        "list-tasks",
        "--cluster",
        "flask-app-cluster",
        "--query",
        "taskArns",
        "--output",
        "text",
    ]);
    let mut describe = vec![
        "ecs",
        "describe-tasks",
        "--cluster",
        "flask-app-cluster",
        "--tasks",
    ];
    describe.extend(arns.split_whitespace());
    let tasks = aws.run(&describe);
    let status_text = status(&test, &config).to_string();
    for (what, text) in [
        ("describe-task-definition", &td),
        ("describe-tasks", &tasks),
        ("status --json", &status_text),
    ] {
        for value in values {
            assert!(!text.contains(value), "a secret value in {what}");
        }
    }

    // The master password is a Secrets Manager secret, as ManageMasterUserPassword keeps it.
    let endpoint = aws
        .env
        .iter()
        .find(|(k, _)| k == "AWS_ENDPOINT_URL")
        .map(|(_, v)| v.clone())
        .unwrap();
    let secret_arn = aws.run(&[
        "--endpoint-url",
        &endpoint,
        "rds",
        "describe-db-instances",
        "--db-instance-identifier",
        "flask-crud-db",
        "--query",
        "DBInstances[0].MasterUserSecret.[SecretArn,SecretStatus]",
        "--output",
        "text",
    ]);
    let (secret_arn, secret_status) = secret_arn.trim().split_once('\t').unwrap();
    assert_eq!(secret_status, "active");
    assert!(
        secret_arn.starts_with("arn:aws:secretsmanager:us-east-1:000000000000:secret:rds!db-"),
        "{secret_arn}"
    );
    let master: Value = serde_json::from_str(&aws.run(&[
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        secret_arn,
        "--query",
        "SecretString",
        "--output",
        "text",
    ]))
    .unwrap();
    assert_eq!(master["username"], "admin");
    assert!(
        master["password"] == password.as_str(),
        "the secret holds the volume's password"
    );
    let described = aws.run(&[
        "secretsmanager",
        "describe-secret",
        "--secret-id",
        secret_arn,
    ]);
    assert!(
        described.contains("\"OwningService\": \"rds\""),
        "{described}"
    );

    // A new value rolls out with a new deployment, as on ECS: put-secret-value, then
    // update-service --force-new-deployment replaces every task with one that has it.
    let rotated = Instant::now();
    aws.run(&[
        "secretsmanager",
        "put-secret-value",
        "--secret-id",
        "flask-app/secret-key",
        "--secret-string",
        NEW_KEY,
    ]);
    aws.run(&[
        "ecs",
        "update-service",
        "--cluster",
        "flask-app-cluster",
        "--service",
        "flask-app-service",
        "--force-new-deployment",
    ]);
    let replacements = loop {
        assert!(
            rotated.elapsed() < Duration::from_secs(180),
            "the deployment did not replace both tasks"
        );
        let now = task_ids(&status(&test, &config));
        if now.len() == 2 && now.iter().all(|id| !ids.contains(id)) {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!(
        "put-secret-value + update-service --force-new-deployment -> 2 new healthy tasks in {:?}",
        rotated.elapsed()
    );
    for id in &replacements {
        assert!(
            process_has(id, "SECRET_KEY", NEW_KEY),
            "a new task has not the new value"
        );
        assert!(!process_has(id, "SECRET_KEY", &secret_key));
    }

    // Stop, then search everything tierlab wrote.
    let pid = up.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let waited = Instant::now();
    while up.try_wait().unwrap().is_none() {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "up did not stop after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let up_log = std::fs::read(&log_path).unwrap();
    assert!(contains(&up_log, "started task"), "debug log captured");
    let lab_dir = state.lab_dir(&test.name);
    let mut written = files_under(&lab_dir.join("logs"));
    written.push((log_path.clone(), up_log));
    for (path, bytes) in &written {
        for value in values {
            assert!(
                !contains(bytes, value),
                "a secret value in {}",
                path.display()
            );
        }
    }
    let store = tierlab::secrets::SecretStore::path(&state, &test.name);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&store).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let sealed = std::fs::read(&store).unwrap();
    for value in values {
        assert!(
            !contains(&sealed, value),
            "a plaintext value in the store file"
        );
    }
    assert_eq!(leftovers(&docker, &test.name).await, (0, 0));
    let down = tierlab(&test, &config, &["down", "--volumes"]);
    assert!(down.status.success());
}
