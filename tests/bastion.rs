//! The bastion host, on real Docker and MariaDB with the real `ssh` client (through 127.0.0.1
//! only): key login works, password login is refused, the database is reachable from the
//! bastion only while `db-sg` has its rule for `bastion-sg`, and the app keeps its own access
//! when that rule is revoked through the EC2 API (the real AWS CLI). One lab, bounded waits.
//!
//! `flock /tmp/tierlab-docker.lock cargo test --locked --test bastion -- --nocapture`

mod lab_support;
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use lab_support::{DOCKER_LOCK, TestLab, docker, leftovers};
use support::aws::Aws;
use tierlab::bastion::{self, ssh};
use tierlab::state::StateDir;

/// No ssh call of this test takes longer.
const SSH_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a security group change may take to reach the bastion's networks.
const APPLY_WITHIN: Duration = Duration::from_secs(10);

struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs the system `ssh` with `args`, bounded.
async fn ssh(args: &[&str]) -> Ran {
    let mut command = tokio::process::Command::new("ssh");
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(SSH_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("`ssh {}` took more than {SSH_TIMEOUT:?}", args.join(" ")))
        .expect("the ssh client (openssh-client) is installed; scripts/test.sh installs it");
    Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `ssh -F CONFIG NAME COMMAND...`, retried while sshd is still starting (connection refused).
async fn ssh_via(config: &Path, name: &str, command: &[&str]) -> Ran {
    let config = config.to_str().unwrap();
    let mut args = vec![
        "-F",
        config,
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
        name,
    ];
    args.extend_from_slice(command);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ran = ssh(&args).await;
        if ran.ok || !ran.stderr.contains("Connection refused") || Instant::now() > deadline {
            return ran;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bastion_lets_keys_in_and_reaches_the_database_only_while_db_sg_allows_it() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("bastion");
    let docker = docker().await;
    let started = Instant::now();
    let lab = test.start().await;
    eprintln!(
        "lab with bastion up in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let handle = lab.bastions()[0].clone();
    let status = handle.status();
    assert_eq!(status.name, "flask-bastion-host");
    assert_ne!(status.ssh_port, 0);
    assert_eq!(status.databases, ["flask-crud-db"]);

    // The key pair: `bastion-key.pem`, mode 0400, in the lab's state directory.
    let state = StateDir::at(test.state_path());
    let key = ssh::key_path(&state, &test.name, "bastion-key");
    assert_eq!(handle.key_path, key);
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o400,
        "bastion-key.pem is 0400 as `chmod 400` makes it"
    );
    // Not in the container's environment or command line: only the public half, as a file.
    let inspect = docker.bastion_inspect(&handle.container_id).await;
    let pem = std::fs::read_to_string(&key).unwrap();
    let secret_line = pem.lines().nth(3).unwrap();
    assert!(
        !inspect.contains(secret_line),
        "the private key shows in `docker inspect`"
    );

    // Published on 127.0.0.1 only.
    assert!(inspect.contains("\"HostIp\":\"127.0.0.1\""), "{inspect}");
    assert!(!inspect.contains("\"HostIp\":\"0.0.0.0\""), "{inspect}");

    // 1. Key login with the real client, host key checked against the lab's known_hosts.
    let target = ssh::Target {
        name: handle.name.clone(),
        port: handle.ssh_port(),
        key: key.clone(),
        known_hosts: handle.known_hosts.clone(),
    };
    let db = &lab.databases()[0];
    let password = db.master_password.clone();
    let config = ssh::write_config(
        &state,
        &test.name,
        "test.config",
        &ssh::client_config(&target, &[("MYSQL_PWD", &password)]),
    )
    .unwrap();
    let whoami = ssh_via(&config, &handle.name, &["id", "-un"]).await;
    assert!(whoami.ok, "key login failed: {}", whoami.stderr);
    assert_eq!(whoami.stdout.trim(), bastion::USER);

    // The reference's own command line works too (host key pinned by alias, not waved through).
    let port = handle.ssh_port().to_string();
    let known = format!("UserKnownHostsFile={}", handle.known_hosts.display());
    let alias = format!("HostKeyAlias={}", handle.name);
    let plain = ssh(&[
        "-i",
        key.to_str().unwrap(),
        "-p",
        &port,
        "-o",
        &known,
        "-o",
        &alias,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "ec2-user@127.0.0.1",
        "true",
    ])
    .await;
    assert!(
        plain.ok,
        "ssh -i bastion-key.pem -p PORT ec2-user@127.0.0.1 failed: {}",
        plain.stderr
    );

    // 2. Password login is refused: the server offers no password method at all...
    let password_only = ssh(&[
        "-p",
        &port,
        "-o",
        &known,
        "-o",
        &alias,
        "-o",
        "BatchMode=yes",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password,keyboard-interactive",
        "ec2-user@127.0.0.1",
        "true",
    ])
    .await;
    assert!(!password_only.ok);
    assert!(
        password_only
            .stderr
            .contains("Permission denied (publickey)"),
        "only publickey should be offered: {}",
        password_only.stderr
    );
    // ...and says so in its effective configuration (root login off too).
    let (_, sshd) = docker
        .exec(&handle.container_id, &["/usr/sbin/sshd", "-T"])
        .await
        .unwrap();
    for line in [
        "passwordauthentication no",
        "kbdinteractiveauthentication no",
        "permitrootlogin no",
        "pubkeyauthentication yes",
    ] {
        assert!(
            sshd.contains(line),
            "`{line}` missing from sshd -T:\n{sshd}"
        );
    }

    // 3. From the bastion, the reference's `mysql -h flask-crud-db -u admin`, the password in
    //    MYSQL_PWD (SetEnv from the 0600 config file, never on a command line).
    // (ssh hands the remote shell one line: the query is quoted for it.)
    let query = ["mariadb -h flask-crud-db -u admin -N -e 'SELECT 1'"];
    let select = ssh_via(&config, &handle.name, &query).await;
    assert!(
        select.ok,
        "SELECT 1 from the bastion failed: {}",
        select.stderr
    );
    assert_eq!(select.stdout.trim(), "1");

    // `tierlab ssh`, `db shell` and `db tunnel` run exactly these sessions.
    cli_sessions(&lab, &state, &password).await;

    // 4. Revoke db-sg's rule for bastion-sg through the EC2 API (the real AWS CLI).
    let aws = Aws::for_lab(&lab);
    let group_id = |name: &str| lab.registry().security_group_id(name);
    let (db_sg, bastion_sg) = (group_id("db-sg"), group_id("bastion-sg"));
    let rule = [
        "--group-id",
        db_sg.as_str(),
        "--protocol",
        "tcp",
        "--port",
        "3306",
        "--source-group",
        bastion_sg.as_str(),
    ];
    let revoke: Vec<&str> = ["ec2", "revoke-security-group-ingress"]
        .iter()
        .copied()
        .chain(rule)
        .collect();
    let authorize: Vec<&str> = ["ec2", "authorize-security-group-ingress"]
        .iter()
        .copied()
        .chain(rule)
        .collect();
    aws.json(&revoke).await;
    let revoked_at = Instant::now();
    wait_for(&handle, "the bastion detached from the DB network", |s| {
        s.databases.is_empty()
    })
    .await;
    eprintln!(
        "revoke applied in {:.2}s",
        revoked_at.elapsed().as_secs_f64()
    );
    let cut = ssh_via(&config, &handle.name, &query).await;
    assert!(
        !cut.ok,
        "the bastion still reaches the database after the revoke"
    );
    eprintln!("from the bastion after the revoke: {}", cut.stderr.trim());
    // DescribeSecurityGroups answers from the live rules.
    let described = aws
        .json(&[
            "ec2",
            "describe-security-groups",
            "--group-ids",
            db_sg.as_str(),
        ])
        .await;
    let pairs = described.to_string();
    assert!(!pairs.contains(&bastion_sg), "{pairs}");
    // Revoking it again: AWS's error.
    let again = aws.fails(&revoke).await;
    assert_eq!(again.code, "InvalidPermission.NotFound");
    assert_eq!(
        again.message,
        "The specified rule does not exist in this security group."
    );

    // ...while the app still reaches it, from inside a task container.
    let service = lab.service("flask-app-service").unwrap().status();
    let task = &service.tasks[0];
    let probe = "import socket; socket.create_connection(('flask-crud-db', 3306), 3); print('ok')";
    let (code, out) = docker
        .exec(&task.container_id, &["python3", "-c", probe])
        .await
        .unwrap();
    assert_eq!(
        (code, out.trim()),
        (0, "ok"),
        "the app lost the database: {out}"
    );

    // 5. Authorize it again: reachable again; a second authorize is a duplicate.
    let body = aws.json(&authorize).await;
    assert_eq!(body["Return"], true, "{body}");
    wait_for(
        &handle,
        "the bastion attached to the DB network again",
        |s| !s.databases.is_empty(),
    )
    .await;
    let back = ssh_via(&config, &handle.name, &query).await;
    assert!(
        back.ok,
        "SELECT 1 after the authorize failed: {}",
        back.stderr
    );
    let duplicate = aws.fails(&authorize).await;
    assert_eq!(duplicate.code, "InvalidPermission.Duplicate");
    assert_eq!(
        duplicate.message,
        format!(
            "the specified rule \"peer: {bastion_sg}, TCP, from port: 3306, to port: 3306, ALLOW\" already exists"
        )
    );

    // 6. The app's tasks follow too: without db-sg's rule for app-sg a running task loses the
    //    database's network; with it back, it has it again.
    let app_sg = group_id("app-sg");
    let app_rule = [
        "--group-id",
        db_sg.as_str(),
        "--protocol",
        "tcp",
        "--port",
        "3306",
        "--source-group",
        app_sg.as_str(),
    ];
    let revoke_app: Vec<&str> = ["ec2", "revoke-security-group-ingress"]
        .iter()
        .copied()
        .chain(app_rule)
        .collect();
    let authorize_app: Vec<&str> = ["ec2", "authorize-security-group-ingress"]
        .iter()
        .copied()
        .chain(app_rule)
        .collect();
    let task_reaches = |container: String| {
        let docker = docker.clone();
        async move {
            // `None`: the task went meanwhile (replaced after failing its health checks).
            let (code, out) = docker
                .exec(&container, &["python3", "-c", probe])
                .await
                .ok()?;
            Some(code == 0 && out.trim() == "ok")
        }
    };
    let running_task = || {
        lab.service("flask-app-service").unwrap().status().tasks[0]
            .container_id
            .clone()
    };
    aws.json(&revoke_app).await;
    let cut_at = Instant::now();
    loop {
        if task_reaches(running_task()).await == Some(false) {
            break;
        }
        assert!(
            cut_at.elapsed() < APPLY_WITHIN,
            "a task still reaches the database"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("app task cut off in {:.2}s", cut_at.elapsed().as_secs_f64());
    aws.json(&authorize_app).await;
    let back_at = Instant::now();
    loop {
        if task_reaches(running_task()).await == Some(true) {
            break;
        }
        assert!(
            back_at.elapsed() < APPLY_WITHIN,
            "no task reaches the database again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The status shows the bastion with its port.
    let json = serde_json::to_value(lab.status()).unwrap();
    assert_eq!(json["bastions"][0]["ssh_port"], handle.ssh_port());

    let name = test.name.clone();
    lab.shutdown().await.unwrap();
    assert_eq!(leftovers(&docker, &name).await, (0, 0));
    // The same key after down/up: the file is kept (a new one would lock the user out).
    assert_eq!(std::fs::read_to_string(&key).unwrap(), pem);
    tierlab::lab::remove_lab(&docker, &name, true)
        .await
        .unwrap();
}

/// Waits until the bastion's status satisfies `cond`.
async fn wait_for(
    handle: &bastion::BastionHandle,
    what: &str,
    cond: impl Fn(&bastion::BastionStatus) -> bool,
) {
    let deadline = Instant::now() + APPLY_WITHIN;
    while !cond(&handle.status()) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:?}",
            handle.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

trait InspectText {
    async fn bastion_inspect(&self, id: &str) -> String;
}

impl InspectText for tierlab::docker::DockerClient {
    /// `docker inspect` of the container as JSON text.
    async fn bastion_inspect(&self, id: &str) -> String {
        let inspect = self
            .bollard()
            .inspect_container(
                id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .unwrap();
        serde_json::to_string(&inspect).unwrap()
    }
}

/// The sessions of `tierlab ssh -- true`, `tierlab db shell` (fed a query on stdin) and
/// `tierlab db tunnel` (a MySQL client on the host through 127.0.0.1).
async fn cli_sessions(lab: &tierlab::Lab, state: &StateDir, password: &str) {
    let status = lab.status();
    let login = tierlab::cli::ssh::login(&status, state, None, &["true".into()]).unwrap();
    let mut args: Vec<&str> = vec!["-o", "BatchMode=yes"];
    args.extend(login.args.iter().map(String::as_str));
    let ran = ssh(&args).await;
    assert!(ran.ok, "tierlab ssh -- true: {}", ran.stderr);

    let shell = tierlab::cli::db::shell(&status, state, None).unwrap();
    assert!(
        shell.args.iter().all(|a| !a.contains(password)),
        "{:?}",
        shell.args
    );
    let mut child = tokio::process::Command::new("ssh")
        .args(&shell.args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"SELECT 40 + 2 AS answer;\n")
        .await
        .unwrap();
    drop(stdin);
    let out = tokio::time::timeout(SSH_TIMEOUT, child.wait_with_output())
        .await
        .expect("db shell ended")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("42"),
        "db shell: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(shell.remove_after.unwrap()).unwrap();

    let port = lab_support::free_port();
    let (tunnel, hint) = tierlab::cli::db::tunnel(&status, state, None, port).unwrap();
    eprintln!("{hint}");
    let mut forward = tokio::process::Command::new("ssh")
        .args(&tunnel.args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("mysql://admin:{password}@127.0.0.1:{port}/flaskcrud");
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer: u32 = loop {
        let tried = async {
            use mysql_async::prelude::Queryable;
            let mut conn = mysql_async::Conn::from_url(&url).await?;
            let one: Option<u32> = conn.query_first("SELECT 7").await?;
            conn.disconnect().await?;
            Ok::<_, mysql_async::Error>(one.unwrap_or(0))
        }
        .await;
        match tried {
            Ok(v) => break v,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no MySQL through the tunnel on 127.0.0.1:{port}: {e}"),
        }
    };
    assert_eq!(answer, 7);
    forward.kill().await.unwrap();
}
