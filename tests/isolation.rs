//! Network isolation, proven by inspecting configuration and routes (never by sending packets to
//! container or outside addresses): the database publishes nothing and has no route out; its
//! network is internal without a host address; app ports are bound to 127.0.0.1 only.

mod lab_support;

use bollard::query_parameters::InspectContainerOptions;
use lab_support::{DOCKER_LOCK, TestLab, docker, leftovers};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_is_isolated_and_app_ports_are_loopback_only() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("iso");
    let docker = docker().await;
    let lab = test.start().await;
    let api = docker.bollard();

    // The database container: one network, the internal DB subnet; no published port.
    let db = &lab.databases()[0];
    let inspect = api.inspect_container(&db.container_id, None::<InspectContainerOptions>).await.unwrap();
    let host_config = inspect.host_config.clone().unwrap();
    assert!(host_config.port_bindings.unwrap_or_default().is_empty(), "database publishes ports");
    let settings = inspect.network_settings.clone().unwrap();
    assert!(settings.ports.unwrap_or_default().values().all(|b| b.is_none()), "database has host port bindings");
    let networks: Vec<String> = settings.networks.unwrap().keys().cloned().collect();
    assert_eq!(networks, vec![format!("tierlab-{}-private-db-subnet-1a", test.name)]);

    // That network is internal and the bridge has no host address.
    let net = api.inspect_network(&networks[0], None).await.unwrap();
    assert_eq!(net.internal, Some(true), "DB network must be internal");
    let options = net.options.unwrap_or_default();
    assert_eq!(options.get("com.docker.network.bridge.inhibit_ipv4").map(String::as_str), Some("true"));

    // No default route inside the database container (read the kernel's table, as `ip route`).
    let (code, routes) = docker.exec(&db.container_id, &["cat", "/proc/net/route"]).await.unwrap();
    assert_eq!(code, 0);
    let default_routes: Vec<&str> =
        routes.lines().skip(1).filter(|l| l.split_whitespace().nth(1) == Some("00000000")).collect();
    assert!(default_routes.is_empty(), "database has a default route: {default_routes:?}\n{routes}");

    // App tasks: published on 127.0.0.1 only, on their app subnet plus the DB subnet.
    let service = lab.service("flask-app-service").unwrap().status();
    for task in &service.tasks {
        let inspect = api.inspect_container(&task.container_id, None::<InspectContainerOptions>).await.unwrap();
        let bindings = inspect.host_config.unwrap().port_bindings.unwrap_or_default();
        let all: Vec<_> = bindings.values().flatten().flatten().collect();
        assert!(!all.is_empty(), "task publishes its port");
        for b in all {
            assert_eq!(b.host_ip.as_deref(), Some("127.0.0.1"), "task port bound beyond loopback: {b:?}");
        }
        let nets: Vec<String> = inspect.network_settings.unwrap().networks.unwrap().keys().cloned().collect();
        assert!(nets.contains(&format!("tierlab-{}-private-db-subnet-1a", test.name)), "{nets:?}");
        assert!(nets.iter().any(|n| n.contains("private-app-subnet")), "{nets:?}");
    }
    // Tasks are spread over both app subnets (AZs), as ECS spreads them.
    let subnets: std::collections::HashSet<_> = service.tasks.iter().map(|t| t.subnet.clone()).collect();
    assert_eq!(subnets.len(), 2, "tasks in both AZs: {subnets:?}");

    lab.shutdown().await.unwrap();
    assert_eq!(leftovers(&docker, &test.name).await, (0, 0));
    tierlab::lab::remove_lab(&docker, &test.name, true).await.unwrap();
}
