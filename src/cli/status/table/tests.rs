//! The status table rendered from typed statuses (no lab needed).

use super::super::report::{Flag, LeftoverContainer, LeftoverNetwork};
use super::super::sample;
use super::*;

#[test]
fn every_tier_has_its_section() {
    let table = render(&sample::lab_status());
    for part in [
        "lab `flask-app` (emulator.toml)",
        "flask-app-alb  HTTPS     https://127.0.0.1:8443",
        "fedcba9876543210  127.0.0.1:41002  initial  Elb.InitialHealthChecking",
        "flask-app-service  2 (emulator.toml: 3)  1        1        flask-app-task:1  IN_PROGRESS  (service flask-app-service) has reached a steady state.",
        "flask-app-service  0123456789ab  c00123456789  private-app-subnet-1a  us-east-1a  10.0.3.1    RUNNING       healthy   127.0.0.1:41001",
        "555566667777  c05555666677  private-app-subnet-1a  us-east-1a  10.0.3.3    DEACTIVATING  draining",
        "STOPPED TASK",
        "aaaabbbbcccc  2026-12-02T00:01:00Z  3     Essential container in task exited (exit code 3)",
        "tierlab-flask-app-svc-0rphan",
        "at the next pass",
        "failed 2 times, retrying: has active endpoints",
        "flask-app-service  92.2 %  21.0 %  1234                 2      1s",
        "flask-app-service  2..6      cpu-tracking-scaling-policy  CPU = 70  60s / 60s        high ALARM, low OK",
        "2026-12-02T00:03:00.000Z  flask-app-service  Setting desired count to 3.  monitor alarm",
    ] {
        assert!(table.contains(part), "`{part}` missing from:\n{table}");
    }
}

#[test]
fn the_aws_endpoint_follows_the_lab_line() {
    let mut status = sample::lab_status();
    let table = render(&status);
    assert!(
        table.starts_with(
            "lab `flask-app` (emulator.toml)\nAWS API: http://127.0.0.1:4600 (eval \"$(tierlab env)\")\n\nLOAD BALANCER"
        ),
        "{table}"
    );
    status.aws = None;
    assert!(render(&status).starts_with("lab `flask-app` (emulator.toml)\n\nLOAD BALANCER"));
}

#[test]
fn absent_values_show_as_a_dash() {
    let table = render(&sample::lab_status());
    let healthy = table
        .lines()
        .find(|l| l.starts_with("flask-app-tg  0123456789abcdef"))
        .unwrap();
    assert!(healthy.ends_with("healthy  -"), "{table}");
    let orphan_network = table
        .lines()
        .find(|l| l.starts_with("tierlab-flask-app-old"))
        .unwrap();
    assert!(orphan_network.contains("svc       -"), "{table}");
}

#[test]
fn databases_show_their_observed_status_and_latest_events() {
    let table = render(&sample::lab_status());
    let row = table
        .lines()
        .find(|l| l.starts_with("flask-crud-db"))
        .unwrap();
    assert!(
        row.contains("rebooting")
            && row.contains("flask-crud-db:3306")
            && row.contains("999988887777"),
        "{table}"
    );
    assert!(
        table.contains("EVENT") && table.contains("message 6."),
        "{table}"
    );
    assert!(
        table.contains("message 2.") && !table.contains("message 1."),
        "{table}"
    );
}

#[test]
fn read_replicas_show_their_lag_and_source() {
    let table = render(&sample::lab_status_with_replica());
    let line = |start: &str| table.lines().find(|l| l.starts_with(start)).unwrap();
    let source = line("flask-crud-db ");
    assert!(
        source.ends_with("-            source of flask-crud-db-replica"),
        "{table}"
    );
    let replica = line("flask-crud-db-replica");
    assert!(
        replica.ends_with("5s           replicating from flask-crud-db (delayed 5s)"),
        "{table}"
    );
}

#[test]
fn tiers_a_lab_does_not_have_are_left_out() {
    let mut status = sample::lab_status();
    status.databases.clear();
    status.orphans = Default::default();
    status.services[0].stopped_tasks.clear();
    let table = render(&status);
    for header in ["DATABASE", "ORPHAN", "STOPPED TASK", "RDS-EVENT"] {
        assert!(!table.contains(header), "`{header}` in:\n{table}");
    }
    assert!(table.contains("TARGET GROUP"), "{table}");
}

#[test]
fn a_service_scaled_to_zero_still_shows() {
    let mut status = sample::lab_status();
    let service = &mut status.services[0];
    (service.desired_count, service.configured_desired_count) = (0, 0);
    service.tasks.clear();
    service.stopping_tasks.clear();
    service.events.clear();
    let table = render(&status);
    assert!(
        table.contains(
            "flask-app-service  0        1        1        flask-app-task:1  IN_PROGRESS  -"
        ),
        "{table}"
    );
    assert!(!table.contains("PRIVATE IP"), "{table}");
}

#[test]
fn leftovers_are_listed_when_no_lab_runs() {
    let stopped = StoppedLab {
        running: Flag,
        lab: "t".into(),
        config: "t.toml".into(),
        alb: None,
        containers: vec![LeftoverContainer {
            container_id: Some("abc".into()),
            name: Some("tierlab-t-db".into()),
            role: Some("database".into()),
            resource: None,
            state: None,
        }],
        networks: vec![LeftoverNetwork {
            network_id: "n1".into(),
            name: "tierlab-t-app-a".into(),
            resource: Some("app-a".into()),
        }],
    };
    let table = render_report(&StatusReport::NotRunning(stopped));
    assert!(table.starts_with("lab `t` is not running"), "{table}");
    assert!(table.contains("tierlab-t-db  database  -"), "{table}");
    assert!(table.contains("leftover networks"), "{table}");
    assert!(table.contains("tierlab-t-app-a  app-a"), "{table}");
}

#[test]
fn bastions_show_their_ssh_port_what_they_reach_and_how_to_log_in() {
    let table = render(&sample::lab_status());
    assert!(table.contains("BASTION"), "{table}");
    let row = table
        .lines()
        .find(|l| l.starts_with("flask-bastion-host"))
        .unwrap_or_else(|| panic!("{table}"));
    for part in [
        "127.0.0.1:32801",
        "public-subnet-1a",
        "flask-crud-db",
        "ssh -i /state/labs/flask-app/bastion-key.pem -p 32801 ec2-user@127.0.0.1",
    ] {
        assert!(row.contains(part), "`{part}` missing from {row}");
    }
}

#[test]
fn a_rolling_deployment_names_what_it_replaces() {
    let mut status = sample::lab_status();
    let service = &mut status.services[0];
    service.task_definition = "flask-app-task:2".into();
    service.active_deployments = vec![crate::ecs::DeploymentStatus {
        task_definition: "flask-app-task:1".into(),
        ..Default::default()
    }];
    let table = render(&status);
    assert!(
        table.contains("flask-app-task:2  IN_PROGRESS (replacing flask-app-task:1)"),
        "{table}"
    );
}

#[test]
fn a_zone_held_down_shows_with_how_to_bring_it_back() {
    let mut status = sample::lab_status();
    assert!(
        !render(&status).contains("AVAILABILITY ZONE"),
        "nothing while all are up"
    );
    status.availability_zones[0].state = "unavailable".into();
    let table = render(&status);
    assert!(table.contains("AVAILABILITY ZONE"), "{table}");
    assert!(
        table.contains("us-east-1a") && table.contains("tierlab chaos az-restore us-east-1a"),
        "{table}"
    );
}
