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
    let inspect = api
        .inspect_container(&db.container_id(), None::<InspectContainerOptions>)
        .await
        .unwrap();
    let host_config = inspect.host_config.clone().unwrap();
    assert!(
        host_config.port_bindings.unwrap_or_default().is_empty(),
        "database publishes ports"
    );
    let settings = inspect.network_settings.clone().unwrap();
    assert!(
        settings
            .ports
            .unwrap_or_default()
            .values()
            .all(|b| b.is_none()),
        "database has host port bindings"
    );
    let networks: Vec<String> = settings.networks.unwrap().keys().cloned().collect();
    assert_eq!(
        networks,
        vec![format!("tierlab-{}-private-db-subnet-1a", test.name)]
    );

    // That network is internal and the bridge has no host address.
    let net = api.inspect_network(&networks[0], None).await.unwrap();
    assert_eq!(net.internal, Some(true), "DB network must be internal");
    let options = net.options.unwrap_or_default();
    assert_eq!(
        options
            .get("com.docker.network.bridge.inhibit_ipv4")
            .map(String::as_str),
        Some("true")
    );

    // No route out of the database container. Docker still writes a default route via the
    // subnet's gateway address, but with `inhibit_ipv4` that address exists nowhere: no host
    // interface carries it and the host has no route to the subnet, so the next hop is dead.
    let (code, routes) = docker
        .exec(&db.container_id(), &["cat", "/proc/net/route"])
        .await
        .unwrap();
    assert_eq!(code, 0);
    let db_subnet = &lab.config().vpc.subnets["private-db-subnet-1a"].cidr;
    let host_addrs = host_command(&["ip", "-4", "-o", "addr", "show"]);
    let host_routes = host_command(&["ip", "-4", "route", "show"]);
    for line in routes.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&"00000000") {
            continue;
        }
        let gateway =
            std::net::Ipv4Addr::from(u32::from_str_radix(fields[2], 16).unwrap().swap_bytes());
        assert!(
            db_subnet.contains_addr(gateway),
            "default route leaves the DB subnet: via {gateway}"
        );
        assert!(
            !host_addrs.contains(&format!(" {gateway}/")),
            "the host carries the DB gateway {gateway}, so the DB could reach it:\n{host_addrs}"
        );
    }
    assert!(
        !host_routes.contains(&db_subnet.to_string()),
        "the host has a route to the DB subnet {db_subnet}:\n{host_routes}"
    );

    // App tasks: published on 127.0.0.1 only, on their app subnet plus the DB subnet.
    let service = lab.service("flask-app-service").unwrap().status();
    for task in &service.tasks {
        let inspect = api
            .inspect_container(&task.container_id, None::<InspectContainerOptions>)
            .await
            .unwrap();
        let bindings = inspect
            .host_config
            .unwrap()
            .port_bindings
            .unwrap_or_default();
        let all: Vec<_> = bindings.values().flatten().flatten().collect();
        assert!(!all.is_empty(), "task publishes its port");
        for b in all {
            assert_eq!(
                b.host_ip.as_deref(),
                Some("127.0.0.1"),
                "task port bound beyond loopback: {b:?}"
            );
        }
        let nets: Vec<String> = inspect
            .network_settings
            .unwrap()
            .networks
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert!(
            nets.contains(&format!("tierlab-{}-private-db-subnet-1a", test.name)),
            "{nets:?}"
        );
        assert!(
            nets.iter().any(|n| n.contains("private-app-subnet")),
            "{nets:?}"
        );
    }
    // Tasks are spread over both app subnets (AZs), as ECS spreads them.
    let subnets: std::collections::HashSet<_> =
        service.tasks.iter().map(|t| t.subnet.clone()).collect();
    assert_eq!(subnets.len(), 2, "tasks in both AZs: {subnets:?}");

    lab.shutdown().await.unwrap();
    assert_eq!(leftovers(&docker, &test.name).await, (0, 0));
    tierlab::lab::remove_lab(&docker, &test.name, true)
        .await
        .unwrap();
}

/// Output of a read-only command on the host (inspecting its configuration, sending nothing).
fn host_command(args: &[&str]) -> String {
    let out = std::process::Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run ip");
    assert!(out.status.success(), "{args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}
