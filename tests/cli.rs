//! The `tierlab` binary end to end: `up` in the foreground, `status --json` from another process,
//! `logs`, SIGTERM stopping the stack cleanly, `down --volumes`, and the exit codes.

mod lab_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lab_support::{DOCKER_LOCK, TestLab, docker, leftovers};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tierlab");

fn tierlab(test: &TestLab, config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("-f")
        .arg(config)
        .args(args)
        .env("TIERLAB_STATE_DIR", test.state_path())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_status_logs_sigterm_and_down() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("cli");
    let docker = docker().await;
    let config = test.write_config_file();

    let mut up = Command::new(BIN)
        .arg("-f")
        .arg(&config)
        .arg("up")
        .env("TIERLAB_STATE_DIR", test.state_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A failed assertion must not leave `up` running: it would keep the lab, and the Docker
    // lock it inherited from `flock`, after the test.
    let _stop_on_panic = StopOnPanic(up.id());

    // `status --json` answers once `up` is ready (bounded wait).
    let started = Instant::now();
    let status: Value = loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "tierlab up did not become ready"
        );
        assert!(up.try_wait().unwrap().is_none(), "tierlab up exited early");
        let out = tierlab(&test, &config, &["status", "--json"]);
        assert!(
            out.status.success(),
            "status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let value: Value = serde_json::from_slice(&out.stdout).unwrap();
        if value["running"] == true && value["services"][0]["running_count"] == 2 {
            break value;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        status["alb"]["http_url"],
        format!("http://127.0.0.1:{}", test.http_port)
    );
    assert_eq!(
        status["alb"]["https_url"],
        format!("https://127.0.0.1:{}", test.https_port)
    );
    for task in status["services"][0]["tasks"].as_array().unwrap() {
        assert!(task["container_id"].as_str().unwrap().len() >= 12);
        assert!(
            task["target_address"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:")
        );
        assert_eq!(task["health"], "healthy");
    }
    assert_eq!(status["databases"][0]["status"], "available");
    // The same document is the library's typed model: scripts and Rust read one shape.
    let typed: tierlab::lab::LabStatus =
        serde_json::from_value(status.clone()).expect("status --json reads as LabStatus");
    assert_eq!(typed.services[0].tasks.len(), 2);
    assert_eq!(typed.databases[0].status.as_str(), "available");

    // The table names the same things.
    let table = tierlab(&test, &config, &["status"]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("flask-app-alb")
            && table.contains("healthy")
            && table.contains("flask-crud-db"),
        "{table}"
    );

    // Logs carry CloudWatch-style stream names.
    let logs = tierlab(&test, &config, &["logs", "flask-app-service"]);
    assert!(logs.status.success());
    let logs = String::from_utf8(logs.stdout).unwrap();
    assert!(
        logs.lines().any(|l| l.starts_with("ecs/flask-app/")),
        "no stream-prefixed lines:\n{logs}"
    );

    // `tierlab deploy --build`: rebuilt (cached layers), tagged by digest, registered as
    // revision 2 and rolled out, its progress printed; timed.
    let deploying = Instant::now();
    let deploy = tierlab(&test, &config, &["deploy", "--build"]);
    let took = deploying.elapsed();
    let out = String::from_utf8_lossy(&deploy.stdout).into_owned();
    assert!(
        deploy.status.success(),
        "deploy failed: {out}\n{}",
        String::from_utf8_lossy(&deploy.stderr)
    );
    for part in [
        "building image flask-crud-app:latest",
        "tagged sha256:",
        "as flask-crud-app:sha256-",
        "registered task definition flask-app-task:2",
        "(service flask-app-service) has started 2 tasks:",
        "(service flask-app-service) has stopped 1 running tasks:",
        "deployment completed.",
    ] {
        assert!(out.contains(part), "`{part}` missing from:\n{out}");
    }
    eprintln!(
        "tierlab deploy --build: {:.1} s, printed:\n{out}",
        took.as_secs_f64()
    );
    let deployed: Value =
        serde_json::from_slice(&tierlab(&test, &config, &["status", "--json"]).stdout).unwrap();
    assert_eq!(
        deployed["services"][0]["task_definition"],
        "flask-app-task:2"
    );
    for task in deployed["services"][0]["tasks"].as_array().unwrap() {
        assert!(
            task["image"]
                .as_str()
                .unwrap()
                .starts_with("flask-crud-app:sha256-"),
            "{task}"
        );
    }
    // The same image again: nothing to deploy.
    let again = tierlab(&test, &config, &["deploy", "flask-app-service"]);
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing to deploy"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let unknown = tierlab(&test, &config, &["deploy", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no service `nope`"));

    // `tierlab apply`: the file changed (a task definition's environment, a service's
    // deployment bound). A dry run says what would change and changes nothing; the apply
    // registers revision 3 and rolls it out; a change only `up` can make is refused by name.
    let started_with = std::fs::read_to_string(&config).unwrap();
    let edited = started_with.replacen(
        "desired-count = 2\n",
        "desired-count = 2\nminimum-healthy-percent = 50\n",
        1,
    ) + "\n[task-definitions.flask-app-task.container.environment]\nAPPLY_MARK = \"applied\"\n";
    std::fs::write(&config, &edited).unwrap();
    let dry = tierlab(&test, &config, &["apply", "--dry-run"]);
    let dry_out = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        dry.status.success(),
        "apply --dry-run: {dry_out}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    for part in [
        "would change:",
        "task definition flask-app-task: register a new revision",
        "service flask-app-service: deploy flask-app-task (a rolling deployment)",
        "minimumHealthyPercent 100 -> 50",
    ] {
        assert!(dry_out.contains(part), "`{part}` missing from:\n{dry_out}");
    }
    let unchanged: Value =
        serde_json::from_slice(&tierlab(&test, &config, &["status", "--json"]).stdout).unwrap();
    assert_eq!(
        unchanged["services"][0]["task_definition"],
        "flask-app-task:2"
    );
    let applying = Instant::now();
    let apply = tierlab(&test, &config, &["apply"]);
    let apply_out = String::from_utf8_lossy(&apply.stdout).into_owned();
    assert!(
        apply.status.success(),
        "apply: {apply_out}{}",
        String::from_utf8_lossy(&apply.stderr)
    );
    for part in [
        "changed:",
        "deployment ecs-svc/",
        "of flask-app-task:3 started",
        "(service flask-app-service) has started",
        "deployment completed.",
    ] {
        assert!(
            apply_out.contains(part),
            "`{part}` missing from:\n{apply_out}"
        );
    }
    eprintln!(
        "tierlab apply (new revision, rolled out): {:.1} s, printed:\n{apply_out}",
        applying.elapsed().as_secs_f64()
    );
    let applied: Value =
        serde_json::from_slice(&tierlab(&test, &config, &["status", "--json"]).stdout).unwrap();
    assert_eq!(
        applied["services"][0]["task_definition"],
        "flask-app-task:3"
    );
    for task in applied["services"][0]["tasks"].as_array().unwrap() {
        let id = task["container_id"].as_str().unwrap();
        let inspected = docker.bollard().inspect_container(id, None).await.unwrap();
        let env = inspected.config.and_then(|c| c.env).unwrap_or_default();
        assert!(
            env.iter().any(|e| e == "APPLY_MARK=applied"),
            "{id}: {env:?}"
        );
    }
    let again = tierlab(&test, &config, &["apply"]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing to apply"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    std::fs::write(
        &config,
        edited.replace(
            "instance-class = \"db.t3.micro\"",
            "instance-class = \"db.t3.small\"",
        ),
    )
    .unwrap();
    let refused = tierlab(&test, &config, &["apply"]);
    let refused_err = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert_eq!(refused.status.code(), Some(2), "{refused_err}");
    assert!(
        refused_err.contains("databases.flask-crud-db.instance-class")
            && refused_err.contains("nothing was applied")
            && refused_err.contains("tierlab down && tierlab up"),
        "{refused_err}"
    );
    std::fs::write(&config, &edited).unwrap();

    // `tierlab chaos run`: a scenario whose one fault (a task answering 500 for 3 s) the
    // clients see, counted by kind and in the fault's window; the counts add up.
    let scenario = test.state_path().join("scenario.toml");
    std::fs::write(
        &scenario,
        "duration = \"8s\"\nclients = 2\npath = \"/api/info\"\n[[fault]]\nat = \"2s\"\nchaos = { kind = \"http-errors\", rate = 1.0, status = 500, for = \"3s\" }\n",
    )
    .unwrap();
    let run = tierlab(
        &test,
        &config,
        &["chaos", "run", scenario.to_str().unwrap(), "--json"],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    let failures: u64 = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f[1].as_u64().unwrap())
        .sum();
    assert_eq!(
        report["requests"].as_u64().unwrap(),
        report["ok"].as_u64().unwrap() + failures,
        "{report}"
    );
    assert!(
        report["failures"][0][0] == "HTTP 500" && failures > 0,
        "{report}"
    );
    assert_eq!(report["faults"][0]["kind"], "http-errors");
    assert_eq!(report["faults"][0]["failures"].as_u64().unwrap(), failures);
    // Recovered within the fault's window (tierlab's outlier detection may eject the failing
    // target well before the fault ends).
    let recovered = report["faults"][0]["recovered_after_s"].as_f64().unwrap();
    assert!(recovered > 0.0 && recovered < 6.0, "{report}");
    eprintln!("tierlab chaos run: {report}");
    let listed = tierlab(&test, &config, &["chaos", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("no fault is active"));

    // A second `up` of the same lab is refused.
    let second = tierlab(&test, &config, &["up"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("already up"));

    // `status --watch` without a terminal prints a table per interval, a blank line between.
    let mut watch = Command::new(BIN)
        .arg("-f")
        .arg(&config)
        .args(["status", "--watch", "--interval", "300ms"])
        .env("TIERLAB_STATE_DIR", test.state_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let frames = watch_lines(&mut watch);
    let header = format!("lab `{}` (", test.name);
    let seen = Instant::now();
    let mut watched = Vec::new();
    while watched
        .iter()
        .filter(|l: &&String| l.starts_with(&header))
        .count()
        < 2
    {
        let line = frames
            .recv_timeout(Duration::from_secs(10))
            .expect("status --watch printed no second table within 10 s");
        watched.push(line);
        assert!(seen.elapsed() < Duration::from_secs(20), "{watched:#?}");
    }
    let second_table = watched
        .iter()
        .rposition(|l| l.starts_with(&header))
        .unwrap();
    assert_eq!(
        watched[second_table - 1],
        "",
        "tables are separated by a blank line"
    );

    // SIGTERM stops the stack cleanly.
    let pid = up.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let waited = Instant::now();
    let exit = loop {
        if let Some(status) = up.try_wait().unwrap() {
            break status;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "up did not stop after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "up exited with {exit}");
    // The watch notices, says so and exits 0.
    let watch_exit = wait_bounded(&mut watch, Duration::from_secs(15));
    let rest: Vec<String> = frames.iter().collect();
    assert!(
        watch_exit.success(),
        "status --watch exited with {watch_exit}"
    );
    let last = rest.last().or(watched.last()).unwrap();
    assert!(
        last.starts_with(&format!("lab `{}` stopped", test.name)),
        "{last}"
    );
    assert_eq!(
        leftovers(&docker, &test.name).await,
        (0, 0),
        "SIGTERM leaves nothing running"
    );
    let not_running: Value =
        serde_json::from_slice(&tierlab(&test, &config, &["status", "--json"]).stdout).unwrap();
    assert_eq!(not_running["running"], false);

    // `down --volumes` removes the data volume too.
    let down = tierlab(&test, &config, &["down", "--volumes"]);
    assert!(down.status.success());
    let volumes = docker
        .list_volumes(tierlab::docker::labels::filter(&test.name, None, None))
        .await
        .unwrap();
    assert!(volumes.is_empty(), "volumes left: {volumes:?}");
}

/// Sends SIGTERM to `up` (which then removes its lab) when the test panics.
struct StopOnPanic(u32);

impl Drop for StopOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.to_string()])
                .status();
            std::thread::sleep(Duration::from_secs(10));
        }
    }
}

/// The child's stdout, line by line, through a channel (so a test can wait with a deadline).
fn watch_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for the child to exit, killing it (and failing) after `limit`.
fn wait_bounded(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("child did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn exit_codes_for_usage_and_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[lab]\nname = \"x\"\nstart-timout = \"5s\"\n").unwrap();
    let out = Command::new(BIN)
        .arg("-f")
        .arg(&bad)
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml:3")
            && stderr.contains("start-timout")
            && stderr.contains("did you mean"),
        "{stderr}"
    );

    let out = Command::new(BIN).arg("no-such-command").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
