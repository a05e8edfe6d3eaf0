//! The replication building blocks on real Docker and MariaDB, in a lab with the database only:
//! a physical copy of the primary taken while it serves, restored into a new volume, a second
//! node started on it that follows the primary by GTID with semi-sync (AFTER_SYNC), rows written
//! on the primary seen on the copy, then the copy promoted and writable.

mod lab_support;

use std::time::{Duration, Instant};

use lab_support::{DOCKER_LOCK, TestLab, docker, shut_down_clean};
use tierlab::docker::{BindMount, ContainerSpec, DockerClient, NetworkAttachment};
use tierlab::rds::sql::Node;
use tierlab::rds::{copy, replication};

/// The default topology with only its VPC and its database (no load balancer, no service).
fn database_only(test: &mut TestLab) {
    let text = &test.config_text;
    let cut_from = text.find("[load-balancers.").unwrap();
    let cut_to = text.find("[databases.").unwrap();
    test.config_text = format!("{}{}", &text[..cut_from], &text[cut_to..]);
}

async fn wait_for_sql(node: &Node<'_>, timeout: Duration) {
    let started = Instant::now();
    loop {
        match node.value("SELECT 1").await {
            Ok(Some(v)) if v == "1" => return,
            other if started.elapsed() > timeout => {
                panic!("node did not answer SQL within {timeout:?}: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn wait_for_rows(node: &Node<'_>, wanted: usize, timeout: Duration) -> Vec<Vec<String>> {
    let started = Instant::now();
    loop {
        let rows = node
            .query("SELECT id, v FROM flaskcrud.copytest ORDER BY id")
            .await
            .unwrap();
        if rows.len() >= wanted || started.elapsed() > timeout {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Removes the second node's container and volume however the test ends.
struct Cleanup {
    docker: DockerClient,
    container: String,
    volume: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (docker, container, volume) = (
            self.docker.clone(),
            self.container.clone(),
            self.volume.clone(),
        );
        let _ = std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let _ = docker.remove_container(&container, true).await;
                let _ = docker.remove_volume(&volume).await;
            })
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_restored_into_a_new_volume_follows_the_primary_by_gtid() {
    let _serial = DOCKER_LOCK.lock().await;
    let mut test = TestLab::new("repl");
    database_only(&mut test);
    let docker = docker().await;
    let lab = test.start().await;
    let db = lab.databases()[0].clone();
    let primary_id = db.container_id();
    let primary = Node {
        docker: &docker,
        container: &primary_id,
        port: db.port,
    };

    // Data before the copy, and the replication account (so the copy has it too).
    primary
        .query(
            "CREATE TABLE flaskcrud.copytest (id INT PRIMARY KEY, v VARCHAR(20));\n\
             INSERT INTO flaskcrud.copytest VALUES (1, 'before-copy');",
        )
        .await
        .unwrap();
    let password = "repl-Secret-1";
    replication::ensure_user(&primary, password).await.unwrap();

    // The copy, while the primary serves.
    let storage = tierlab::rds::storage_dir(lab.state_dir(), &test.name);
    let started = Instant::now();
    let seed = copy::take(&docker, &primary_id, db.port, &storage, "seeds/copytest")
        .await
        .unwrap();
    println!(
        "copy taken in {:.2}s at GTID {:?}",
        started.elapsed().as_secs_f64(),
        seed.gtid
    );
    assert!(seed.dir.join("xtrabackup_binlog_info").exists());
    assert!(!seed.gtid.is_empty(), "the copy records its GTID position");

    // Written after the copy: the replica must get it by replication.
    primary
        .query("INSERT INTO flaskcrud.copytest VALUES (2, 'after-copy')")
        .await
        .unwrap();

    // Restored into a new volume.
    let volume = format!("tierlab-{}-copytest-data", test.name);
    let container_name = format!("tierlab-{}-copytest", test.name);
    let _cleanup = Cleanup {
        docker: docker.clone(),
        container: container_name.clone(),
        volume: volume.clone(),
    };
    let started = Instant::now();
    copy::restore_into_volume(
        &docker,
        &seed,
        &copy::Restore {
            lab: &test.name,
            identifier: "copytest",
            image: &db.settings().image,
            storage: &storage,
            volume: &volume,
        },
    )
    .await
    .unwrap();
    println!("restored in {:.2}s", started.elapsed().as_secs_f64());
    seed.remove().unwrap();

    // A second node on it, on the same DB network. The copy holds the primary's accounts, so
    // it gets the primary's root password. No tierlab labels: the lab's orphan sweep would take
    // a database container it does not own; this test removes it itself.
    let root_password = lab
        .state_dir()
        .secret(&test.name, "flask-crud-db-root-password")
        .unwrap();
    let spec = ContainerSpec {
        name: container_name.clone(),
        image: db.settings().image.clone(),
        hostname: Some("copytest".into()),
        // The passwords as files, as every node of the lab gets them.
        env: tierlab::rds::credentials::file_env()
            .into_iter()
            .chain([(
                "MYSQL_SERVER_ID".into(),
                tierlab::rds::server_id(&container_name).to_string(),
            )])
            .collect(),
        networks: vec![NetworkAttachment {
            network: db.network(),
            aliases: vec![],
            ipv4_address: None,
        }],
        volume: Some((volume.clone(), "/var/lib/mysql".into())),
        binds: vec![BindMount {
            source: storage.clone(),
            target: tierlab::rds::STORAGE_MOUNT.into(),
            read_only: false,
        }],
        dns: Some(vec!["127.0.0.1".into()]),
        ..Default::default()
    };
    let passwords = tierlab::rds::credentials::NodePasswords {
        root: root_password,
        master: String::new(),
    };
    let replica_id = tierlab::rds::credentials::run_node(&docker, &spec, &passwords)
        .await
        .unwrap();
    let replica = Node {
        docker: &docker,
        container: &replica_id,
        port: 3306,
    };
    let started = Instant::now();
    wait_for_sql(&replica, Duration::from_secs(60)).await;
    println!(
        "second node answers in {:.2}s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        replica
            .query("SELECT v FROM flaskcrud.copytest")
            .await
            .unwrap(),
        vec![vec!["before-copy".to_string()]],
        "the copy holds what was committed before it, and nothing after"
    );
    assert_ne!(
        replica.value("SELECT @@server_id").await.unwrap(),
        primary.value("SELECT @@server_id").await.unwrap(),
        "every node has its own server id"
    );

    // Follow by GTID, semi-sync.
    let primary_address = db.address().expect("the primary has an address");
    let source = replication::Source {
        host: &primary_address,
        port: db.port,
        password,
    };
    replication::follow(&replica, &source, &seed.gtid, true)
        .await
        .unwrap();
    replication::enable_semi_sync_primary(&primary, Duration::from_secs(5))
        .await
        .unwrap();
    let rows = wait_for_rows(&replica, 2, Duration::from_secs(15)).await;
    assert_eq!(rows.len(), 2, "the row written after the copy replicates");
    assert_eq!(
        primary
            .value("SELECT @@GLOBAL.rpl_semi_sync_master_wait_point")
            .await
            .unwrap()
            .as_deref(),
        Some("AFTER_SYNC")
    );

    // Writes on the primary, acknowledged by the semi-sync replica.
    let started = Instant::now();
    while replication::primary_semi_sync(&primary)
        .await
        .unwrap()
        .clients
        == 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the replica never connected as a semi-sync client"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in 3..=22 {
        primary
            .query(&format!(
                "INSERT INTO flaskcrud.copytest VALUES ({id}, 'row-{id}')"
            ))
            .await
            .unwrap();
    }
    let semi = replication::primary_semi_sync(&primary).await.unwrap();
    println!("primary semi-sync: {semi:?}");
    assert!(semi.enabled && semi.active && semi.clients == 1, "{semi:?}");
    let rows = wait_for_rows(&replica, 22, Duration::from_secs(15)).await;
    assert_eq!(rows.len(), 22);
    assert_eq!(rows[21], vec!["22".to_string(), "row-22".to_string()]);
    let state = replication::status(&replica).await.unwrap();
    println!("replica state: {state:?}");
    assert!(state.io_running && state.sql_running, "{state:?}");
    assert_eq!(state.seconds_behind, Some(0));
    assert_eq!(state.gtid_applied, state.gtid_received);
    // read_only stops the application's account (root has READ ONLY ADMIN and is not stopped).
    assert_eq!(
        replica
            .value("SELECT @@GLOBAL.read_only")
            .await
            .unwrap()
            .as_deref(),
        Some("1"),
        "the replica is read-only"
    );

    // Promote: writable, standalone, with everything the primary had.
    let promoted = replication::promote(&replica, Duration::from_secs(10))
        .await
        .unwrap();
    println!("promoted at {}", promoted.gtid);
    replica
        .query("INSERT INTO flaskcrud.copytest VALUES (100, 'on-promoted')")
        .await
        .unwrap();
    let state = replication::status(&replica).await.unwrap();
    assert!(!state.configured, "{state:?}");
    assert_eq!(
        replica
            .value("SELECT @@GLOBAL.read_only")
            .await
            .unwrap()
            .as_deref(),
        Some("0")
    );
    assert_eq!(wait_for_rows(&replica, 23, Duration::ZERO).await.len(), 23);

    docker.remove_container(&replica_id, true).await.unwrap();
    shut_down_clean(lab, &docker, &test).await;
}
