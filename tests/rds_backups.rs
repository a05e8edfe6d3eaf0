//! Backups, snapshots and point-in-time restore on a real lab (the database tier only, fast
//! profile): an automated backup appears at once; rows written before T are in an instance
//! restored to T and rows written after are not, while the source is untouched; an instance
//! restored from a manual snapshot equals the snapshot (CHECKSUM TABLE); RDS's errors; a
//! deletion with a final snapshot; everything through the real AWS CLI.
//!
//! `flock /tmp/tierlab-docker.lock cargo test --locked --test rds_backups -- --nocapture`

#[allow(dead_code)]
#[path = "support/aws.rs"]
mod aws;
mod lab_support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lab_support::{DOCKER_LOCK, TestLab, docker, shut_down_clean};
use tierlab::docker::DockerClient;
use tierlab::lab::Lab;
use tierlab::rds::sql::Node;

use aws::{Aws, SERVICE_ERROR_EXIT};

const DB: &str = "flask-crud-db";
const WAIT: Duration = Duration::from_secs(120);

/// The default topology without the app tier: VPC, security groups and the database.
fn database_only(test: &mut TestLab) {
    let text = &test.config_text;
    let head = &text[..text.find("[load-balancers.").unwrap()];
    test.config_text = format!("{head}{}", database_table(text));
}

/// The `[databases.flask-crud-db]` table (up to the next table).
fn database_table(text: &str) -> String {
    let start = text.find("[databases.").unwrap();
    let end = text[start + 1..]
        .find("\n[")
        .map_or(text.len(), |i| start + 1 + i + 1);
    text[start..end].to_string()
}

/// A second instance like the first, with `storage-encrypted = true`.
fn with_encrypted(test: &mut TestLab) {
    let encrypted = database_table(&test.config_text)
        .replacen(
            "[databases.flask-crud-db]",
            &format!("[databases.{ENC}]"),
            1,
        )
        .replace(
            "multi-az = false",
            "multi-az = false\nstorage-encrypted = true",
        );
    test.config_text.push_str(&format!("\n{encrypted}"));
}

const ENC: &str = "enc-db";
const MARKER: &str = "tierlab-plaintext-marker";

/// How many files under `glob` in the instance's container contain [`MARKER`] (grep inside
/// the container: the host never reads a volume).
async fn files_with_marker(docker: &DockerClient, lab: &Lab, id: &str, glob: &str) -> usize {
    let db = lab.rds().get(id).unwrap();
    let script = format!("grep -l -a '{MARKER}' {glob} 2>/dev/null | wc -l");
    let out = docker
        .exec_with_input(&db.container_id(), &["sh", "-c", &script], b"")
        .await
        .unwrap();
    out.stdout.trim().parse().unwrap()
}

/// Writes [`MARKER`] into a table of `id` and forces its pages to the table file.
async fn write_marker(docker: &DockerClient, lab: &Lab, id: &str) {
    sql(docker, lab, id, &format!(
        "CREATE TABLE flaskcrud.secret (v VARCHAR(64)) ENGINE=InnoDB; INSERT INTO flaskcrud.secret VALUES ('{MARKER}'); FLUSH TABLES flaskcrud.secret FOR EXPORT; UNLOCK TABLES"
    ))
    .await;
}

/// `aws rds ARGS` with the endpoint given explicitly (CLI v1 overrides AWS_ENDPOINT_URL for rds).
fn rds<'a>(aws: &'a Aws, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--endpoint-url", aws.endpoint.as_str(), "rds"];
    all.extend_from_slice(args);
    all
}

async fn sql(docker: &DockerClient, lab: &Lab, id: &str, statements: &str) -> Vec<Vec<String>> {
    let db = lab
        .rds()
        .get(id)
        .unwrap_or_else(|| panic!("no instance {id}"));
    let container = db.container_id();
    let node = Node {
        docker,
        container: &container,
        port: db.port,
    };
    node.query(statements)
        .await
        .unwrap_or_else(|e| panic!("{statements} on {id}: {}", lab_support::chain(&e)))
}

async fn count(docker: &DockerClient, lab: &Lab, id: &str, phase: &str) -> u64 {
    let rows = sql(
        docker,
        lab,
        id,
        &format!("SELECT COUNT(*) FROM flaskcrud.pitr WHERE phase = '{phase}'"),
    )
    .await;
    rows[0][0].parse().unwrap()
}

async fn checksum(docker: &DockerClient, lab: &Lab, id: &str) -> String {
    sql(docker, lab, id, "CHECKSUM TABLE flaskcrud.pitr").await[0][1].clone()
}

/// Waits until instance `id` is `available` (or fails after [`WAIT`]); returns how long it took.
async fn available(lab: &Lab, id: &str) -> Duration {
    let started = Instant::now();
    loop {
        if let Some(db) = lab.rds().get(id) {
            match db.status() {
                tierlab::rds::InstanceStatus::Available => return started.elapsed(),
                tierlab::rds::InstanceStatus::Failed => panic!("{id} failed: see the log above"),
                _ => {}
            }
        }
        assert!(
            started.elapsed() < WAIT,
            "{id} not available after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until snapshot `id` is `available`, through the CLI.
async fn snapshot_available(aws: &Aws, id: &str) {
    let started = Instant::now();
    loop {
        let out = aws
            .json(&rds(
                aws,
                &["describe-db-snapshots", "--db-snapshot-identifier", id],
            ))
            .await;
        if out["DBSnapshots"][0]["Status"] == "available" {
            return;
        }
        assert!(
            started.elapsed() < WAIT,
            "snapshot {id} not available: {out}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn iso(t: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t)).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_snapshots_and_point_in_time_restore() {
    let _serial = DOCKER_LOCK.lock().await;
    let mut test = TestLab::new("backups");
    database_only(&mut test);
    with_encrypted(&mut test);
    let docker = docker().await;
    let lab = test.start().await;
    let aws = Aws::for_lab(&lab);
    let backups = lab.rds().backups().unwrap();

    // --- An automated backup is taken as soon as the instance is available -------------------
    let started = Instant::now();
    let automated = loop {
        let out = aws
            .json(&rds(
                &aws,
                &[
                    "describe-db-snapshots",
                    "--db-instance-identifier",
                    DB,
                    "--snapshot-type",
                    "automated",
                ],
            ))
            .await;
        let snaps = out["DBSnapshots"].as_array().unwrap().clone();
        if let Some(s) = snaps.iter().find(|s| s["Status"] == "available") {
            break s.clone();
        }
        assert!(started.elapsed() < WAIT, "no automated backup: {out}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let automated_id = automated["DBSnapshotIdentifier"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        automated_id.starts_with(&format!("rds:{DB}-")),
        "{automated_id}"
    );
    assert_eq!(automated["SnapshotType"], "automated");
    println!(
        "automated backup {automated_id} after {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // --- Retention prunes: of two automated backups from last month, the older goes; the newer
    //     stays as the base of the window's first minutes (the fast profile's "day" is 3 min).
    let month_ago = now() - 30 * 86_400;
    let mut old = backups.store.snapshot(&automated_id).unwrap();
    for (i, id) in [
        "rds:flask-crud-db-2026-01-01-00-00",
        "rds:flask-crud-db-2026-01-02-00-00",
    ]
    .iter()
    .enumerate()
    {
        old.id = id.to_string();
        old.started_at = month_ago + i as u64 * 86_400;
        old.completed_at = Some(old.started_at + 1);
        backups.store.put_snapshot(&old).unwrap();
    }
    let started = Instant::now();
    while backups
        .store
        .snapshot("rds:flask-crud-db-2026-01-01-00-00")
        .is_some()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the expired backup stays"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        backups
            .store
            .snapshot("rds:flask-crud-db-2026-01-02-00-00")
            .is_some()
    );
    backups
        .store
        .delete_snapshot("rds:flask-crud-db-2026-01-02-00-00")
        .unwrap();
    println!(
        "retention pruned in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // --- Rows before T, rows after T ----------------------------------------------------------
    sql(
        &docker,
        &lab,
        DB,
        "CREATE TABLE flaskcrud.pitr (id INT AUTO_INCREMENT PRIMARY KEY, phase VARCHAR(8), note TEXT) ENGINE=InnoDB",
    )
    .await;
    let mut inserts = String::from("INSERT INTO flaskcrud.pitr (phase, note) VALUES ");
    inserts.push_str(&vec!["('before', REPEAT('b', 200))"; 100].join(","));
    sql(&docker, &lab, DB, &inserts).await;
    // T: the next whole second; the later rows are written a second after it.
    let t = now() + 1;
    while now() < t + 1 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sql(&docker, &lab, DB, &inserts.replace("before", "after")).await;

    // LatestRestorableTime passes T once the logs are archived (every 10 s in the fast profile).
    let started = Instant::now();
    loop {
        let out = aws
            .json(&rds(
                &aws,
                &["describe-db-instances", "--db-instance-identifier", DB],
            ))
            .await;
        let latest = out["DBInstances"][0]["LatestRestorableTime"]
            .as_str()
            .map(str::to_string);
        if let Some(latest) = &latest
            && humantime::parse_rfc3339_weak(latest).unwrap() >= UNIX_EPOCH + Duration::from_secs(t)
        {
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "LatestRestorableTime stays before T: {latest:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    let out = aws
        .json(&rds(
            &aws,
            &[
                "describe-db-instance-automated-backups",
                "--db-instance-identifier",
                DB,
            ],
        ))
        .await;
    let backup = &out["DBInstanceAutomatedBackups"][0];
    assert_eq!(backup["Status"], "active", "{out}");
    assert!(backup["RestoreWindow"]["EarliestTime"].is_string(), "{out}");

    // --- Errors as RDS words them -------------------------------------------------------------
    let too_late = iso(now() + 3600);
    let e = aws
        .fails(&rds(
            &aws,
            &[
                "restore-db-instance-to-point-in-time",
                "--source-db-instance-identifier",
                DB,
                "--target-db-instance-identifier",
                "late",
                "--restore-time",
                &too_late,
            ],
        ))
        .await;
    assert_eq!(
        (e.exit, e.code.as_str()),
        (SERVICE_ERROR_EXIT, "InvalidParameterValue"),
        "{}",
        e.stderr
    );
    assert!(
        e.message.contains("latest restorable time"),
        "{}",
        e.message
    );
    let e = aws
        .fails(&rds(
            &aws,
            &[
                "delete-db-snapshot",
                "--db-snapshot-identifier",
                &automated_id,
            ],
        ))
        .await;
    assert_eq!(e.code, "InvalidDBSnapshotState", "{}", e.stderr);
    let e = aws
        .fails(&rds(
            &aws,
            &["delete-db-instance", "--db-instance-identifier", DB],
        ))
        .await;
    assert_eq!(e.code, "InvalidParameterCombination", "{}", e.stderr);
    assert_eq!(
        e.message,
        "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."
    );
    let e = aws
        .fails(&rds(
            &aws,
            &["describe-db-snapshots", "--db-snapshot-identifier", "nope"],
        ))
        .await;
    assert_eq!(e.code, "DBSnapshotNotFound", "{}", e.stderr);

    // --- Point-in-time restore to T -----------------------------------------------------------
    let requested = Instant::now();
    let out = aws
        .json(&rds(
            &aws,
            &[
                "restore-db-instance-to-point-in-time",
                "--source-db-instance-identifier",
                DB,
                "--target-db-instance-identifier",
                "pitr-db",
                "--restore-time",
                &iso(t),
            ],
        ))
        .await;
    assert_eq!(out["DBInstance"]["DBInstanceStatus"], "creating", "{out}");
    let took = available(&lab, "pitr-db").await;
    println!(
        "point-in-time restore: available {:.1}s after the request",
        (requested.elapsed()).as_secs_f64().max(took.as_secs_f64())
    );
    assert_eq!(
        count(&docker, &lab, "pitr-db", "before").await,
        100,
        "every row before T"
    );
    assert_eq!(
        count(&docker, &lab, "pitr-db", "after").await,
        0,
        "no row after T"
    );
    assert_eq!(
        count(&docker, &lab, DB, "before").await,
        100,
        "source untouched"
    );
    assert_eq!(
        count(&docker, &lab, DB, "after").await,
        100,
        "source untouched"
    );
    let out = aws
        .json(&rds(
            &aws,
            &[
                "describe-db-instances",
                "--db-instance-identifier",
                "pitr-db",
            ],
        ))
        .await;
    assert_eq!(out["DBInstances"][0]["Endpoint"]["Port"], 3306);
    assert_ne!(
        out["DBInstances"][0]["Endpoint"]["Address"],
        serde_json::json!(null)
    );

    // --- A manual snapshot, restored, equals the snapshot -------------------------------------
    let at_snapshot = checksum(&docker, &lab, DB).await;
    let out = aws
        .json(&rds(
            &aws,
            &[
                "create-db-snapshot",
                "--db-instance-identifier",
                DB,
                "--db-snapshot-identifier",
                "before-change",
            ],
        ))
        .await;
    assert_eq!(out["DBSnapshot"]["Status"], "creating", "{out}");
    snapshot_available(&aws, "before-change").await;
    sql(
        &docker,
        &lab,
        DB,
        "DELETE FROM flaskcrud.pitr WHERE id % 2 = 0",
    )
    .await;
    assert_ne!(checksum(&docker, &lab, DB).await, at_snapshot);
    aws.json(&rds(
        &aws,
        &[
            "restore-db-instance-from-db-snapshot",
            "--db-instance-identifier",
            "snap-db",
            "--db-snapshot-identifier",
            "before-change",
        ],
    ))
    .await;
    available(&lab, "snap-db").await;
    assert_eq!(
        checksum(&docker, &lab, "snap-db").await,
        at_snapshot,
        "the snapshot's data"
    );

    // --- Delete with a final snapshot ---------------------------------------------------------
    aws.json(&rds(
        &aws,
        &[
            "delete-db-instance",
            "--db-instance-identifier",
            "snap-db",
            "--final-db-snapshot-identifier",
            "snap-db-final",
        ],
    ))
    .await;
    let started = Instant::now();
    while lab.rds().get("snap-db").is_some() {
        assert!(started.elapsed() < WAIT, "snap-db not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    snapshot_available(&aws, "snap-db-final").await;
    let volume = tierlab::rds::volume_name(&test.name, "snap-db");
    assert!(
        !docker.volume_exists(&volume).await.unwrap(),
        "its volume is gone"
    );
    let e = aws
        .fails(&rds(
            &aws,
            &[
                "describe-db-instances",
                "--db-instance-identifier",
                "snap-db",
            ],
        ))
        .await;
    assert_eq!(e.code, "DBInstanceNotFound");
    aws.json(&rds(
        &aws,
        &[
            "delete-db-instance",
            "--db-instance-identifier",
            "pitr-db",
            "--skip-final-snapshot",
        ],
    ))
    .await;

    // --- storage-encrypted: nothing readable on its volume; its snapshot restores with its key --
    write_marker(&docker, &lab, ENC).await;
    write_marker(&docker, &lab, DB).await;
    assert_eq!(
        files_with_marker(&docker, &lab, DB, "/var/lib/mysql/flaskcrud/secret.ibd").await,
        1,
        "control: a plain table file shows the marker"
    );
    assert_eq!(
        files_with_marker(&docker, &lab, ENC, "/var/lib/mysql/flaskcrud/secret.ibd").await,
        0,
        "the encrypted table file does not"
    );
    assert_eq!(
        files_with_marker(
            &docker,
            &lab,
            ENC,
            "/var/lib/mysql/ib_logfile* /var/lib/mysql/mysql-bin.0*"
        )
        .await,
        0,
        "nor its redo or binary logs"
    );
    let encryption = sql(&docker, &lab, ENC, "SELECT COUNT(*) FROM information_schema.INNODB_TABLESPACES_ENCRYPTION WHERE NAME = 'flaskcrud/secret' AND ENCRYPTION_SCHEME = 1").await;
    assert_eq!(encryption[0][0], "1", "InnoDB reports the table encrypted");
    let key = test
        .state_path()
        .join(format!("labs/{}/keys/{ENC}.key", test.name));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let out = aws
        .json(&rds(
            &aws,
            &["describe-db-instances", "--db-instance-identifier", ENC],
        ))
        .await;
    assert_eq!(out["DBInstances"][0]["StorageEncrypted"], true);
    aws.json(&rds(
        &aws,
        &[
            "create-db-snapshot",
            "--db-instance-identifier",
            ENC,
            "--db-snapshot-identifier",
            "enc-snap",
        ],
    ))
    .await;
    snapshot_available(&aws, "enc-snap").await;
    let out = aws
        .json(&rds(
            &aws,
            &[
                "describe-db-snapshots",
                "--db-snapshot-identifier",
                "enc-snap",
            ],
        ))
        .await;
    assert_eq!(out["DBSnapshots"][0]["Encrypted"], true);
    aws.json(&rds(
        &aws,
        &[
            "restore-db-instance-from-db-snapshot",
            "--db-instance-identifier",
            "enc-restored",
            "--db-snapshot-identifier",
            "enc-snap",
        ],
    ))
    .await;
    available(&lab, "enc-restored").await;
    let rows = sql(
        &docker,
        &lab,
        "enc-restored",
        "SELECT v FROM flaskcrud.secret",
    )
    .await;
    assert_eq!(
        rows,
        [[MARKER.to_string()]],
        "the restored instance reads its data with the snapshot's key"
    );
    let e = aws
        .fails(&rds(
            &aws,
            &[
                "restore-db-instance-to-point-in-time",
                "--source-db-instance-identifier",
                ENC,
                "--target-db-instance-identifier",
                "enc-pitr",
                "--use-latest-restorable-time",
            ],
        ))
        .await;
    assert_eq!(e.code, "InvalidAction", "{}", e.stderr);

    // --- Snapshots live in the state directory and outlive the run ----------------------------
    shut_down_clean(lab, &docker, &test).await;
    let kept: Vec<String> = backups
        .store
        .snapshots()
        .into_iter()
        .map(|s| s.id)
        .collect();
    for id in [automated_id.as_str(), "before-change", "snap-db-final"] {
        assert!(kept.iter().any(|k| k == id), "{id} kept in {kept:?}");
    }
}

/// `bench/backups.sh`: with the demo data set (10k rows), the time of a manual snapshot (request
/// → available) and of a point-in-time restore (request → the new instance available with the
/// logs replayed), over `BENCH_RUNS` runs (default 3). Prints `BENCH ...` lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: bench/backups.sh"]
async fn bench_backup_and_point_in_time_restore() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let rows: usize = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10_000);
    let _serial = DOCKER_LOCK.lock().await;
    let mut test = TestLab::new("bkbench");
    database_only(&mut test);
    let docker = docker().await;
    let lab = test.start().await;
    let aws = Aws::for_lab(&lab);
    sql(&docker, &lab, DB, "CREATE TABLE flaskcrud.pitr (id INT AUTO_INCREMENT PRIMARY KEY, phase VARCHAR(8), note TEXT) ENGINE=InnoDB").await;
    for _ in 0..rows / 1000 {
        let mut batch = String::from("INSERT INTO flaskcrud.pitr (phase, note) VALUES ");
        batch.push_str(&vec!["('demo', REPEAT('x', 200))"; 1000].join(","));
        sql(&docker, &lab, DB, &batch).await;
    }
    let (mut snapshots, mut restores) = (Vec::new(), Vec::new());
    for run in 0..runs {
        // A manual snapshot, request to available.
        let id = format!("bench-{run}");
        let started = Instant::now();
        aws.json(&rds(
            &aws,
            &[
                "create-db-snapshot",
                "--db-instance-identifier",
                DB,
                "--db-snapshot-identifier",
                &id,
            ],
        ))
        .await;
        snapshot_available(&aws, &id).await;
        snapshots.push(started.elapsed());
        // Writes after the last backup, so the restore replays logs; then the latest restorable time.
        sql(
            &docker,
            &lab,
            DB,
            "INSERT INTO flaskcrud.pitr (phase, note) VALUES ('late', 'x')",
        )
        .await;
        let t = now() + 1;
        while lab
            .rds()
            .backups()
            .unwrap()
            .restorable(DB)
            .is_none_or(|(_, latest)| latest < t)
        {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let target = format!("bench-pitr-{run}");
        let started = Instant::now();
        aws.json(&rds(
            &aws,
            &[
                "restore-db-instance-to-point-in-time",
                "--source-db-instance-identifier",
                DB,
                "--target-db-instance-identifier",
                &target,
                "--use-latest-restorable-time",
            ],
        ))
        .await;
        available(&lab, &target).await;
        restores.push(started.elapsed());
        let restored = count(&docker, &lab, &target, "demo").await;
        assert_eq!(restored as usize, rows);
        aws.json(&rds(
            &aws,
            &[
                "delete-db-instance",
                "--db-instance-identifier",
                &target,
                "--skip-final-snapshot",
            ],
        ))
        .await;
        while lab.rds().get(&target).is_some() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        println!(
            "BENCH run {run}: snapshot {:.2}s, point-in-time restore {:.2}s",
            snapshots[run].as_secs_f64(),
            restores[run].as_secs_f64()
        );
    }
    let size = lab
        .rds()
        .backups()
        .unwrap()
        .store
        .snapshot("bench-0")
        .unwrap()
        .size_bytes;
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    println!(
        "BENCH rows={rows} runs={runs} snapshot_size_mib={:.1} snapshot_median_s={:.2} pitr_median_s={:.2}",
        size as f64 / (1024.0 * 1024.0),
        median(&mut snapshots),
        median(&mut restores)
    );
    shut_down_clean(lab, &docker, &test).await;
}
