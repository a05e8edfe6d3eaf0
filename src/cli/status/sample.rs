//! One fully populated [`LabStatus`] for the status tests: every model and every optional field
//! set, so a round trip through JSON and the table exercise all of them.

use crate::alb::{ReasonCode, TargetDescription, TargetState};
use crate::ecs::{DesiredStatus, LastStatus, ServiceEvent, ServiceStatus, TaskStatus};
use crate::lab::{
    AlbStatus, DatabaseStatus, LabStatus, ListenerStatus, Orphan, OrphanStatus, TargetGroupStatus,
};
use crate::rds::{InstanceStatus, RdsEvent};

/// The reference lab: one ALB, two tasks (one healthy, one still initial), one stopped task, a
/// database with seven events, and one orphan of each kind.
pub fn lab_status() -> LabStatus {
    let alb = AlbStatus {
        name: "flask-app-alb".into(),
        http_url: Some("http://127.0.0.1:8080".into()),
        https_url: Some("https://127.0.0.1:8443".into()),
        listeners: vec![
            listener("HTTP", "http://127.0.0.1:8080"),
            listener("HTTPS", "https://127.0.0.1:8443"),
        ],
    };
    LabStatus {
        lab: "flask-app".into(),
        config: "emulator.toml".into(),
        alb: Some(alb.clone()),
        load_balancers: vec![alb],
        target_groups: vec![TargetGroupStatus {
            name: "flask-app-tg".into(),
            port: 5000,
            targets: vec![
                target("0123456789abcdef", 41001, TargetState::Healthy, None),
                target(
                    "fedcba9876543210",
                    41002,
                    TargetState::Initial,
                    Some(ReasonCode::InitialHealthChecking),
                ),
            ],
        }],
        services: vec![ServiceStatus {
            name: "flask-app-service".into(),
            cluster: "flask-app-cluster".into(),
            task_definition: "flask-app-task:1".into(),
            desired_count: 2,
            configured_desired_count: 3,
            running_count: 1,
            pending_count: 1,
            tasks: vec![
                task("0123456789abcdef", 41001, LastStatus::Running, "healthy"),
                task("fedcba9876543210", 41002, LastStatus::Pending, "initial"),
            ],
            stopping_tasks: vec![TaskStatus {
                desired_status: DesiredStatus::Stopped,
                health: Some("draining".into()),
                stopping_at: Some("2026-12-02T00:02:00Z".into()),
                ..task(
                    "5555666677778888",
                    41003,
                    LastStatus::Deactivating,
                    "draining",
                )
            }],
            launches_delayed_until: None,
            stopped_tasks: vec![stopped_task("aaaabbbbccccdddd")],
            events: vec![ServiceEvent {
                id: "0f8e1c52-7a4b-4d5e-9c3a-2b1d0e9f8a7b".into(),
                created_at: "2026-12-02T00:00:00Z".into(),
                message: "(service flask-app-service) has reached a steady state.".into(),
            }],
            ..Default::default()
        }],
        databases: vec![DatabaseStatus {
            identifier: "flask-crud-db".into(),
            master_username: "admin".into(),
            db_name: "flaskcrud".into(),
            engine: "mysql".into(),
            engine_version: "8.0".into(),
            instance_class: "db.t3.micro".into(),
            image: "mysql:8.0".into(),
            container_id: "99998888777766665555".into(),
            status: InstanceStatus::Rebooting,
            endpoint: "flask-crud-db".into(),
            port: 3306,
            subnet: "private-db-subnet-1a".into(),
            network: "tierlab-flask-app-private-db-subnet-1a".into(),
            volume: "tierlab-flask-app-flask-crud-db-data".into(),
            multi_az: false,
            standby: None,
            backup_retention_period: 7,
            recoveries: 1,
            events: (0..7).map(rds_event).collect(),
            read_replicas: Vec::new(),
            replica_lag: None,
            replication: None,
        }],
        orphans: OrphanStatus {
            containers: vec![orphan("container", "tierlab-flask-app-svc-0rphan", None)],
            networks: vec![orphan(
                "network",
                "tierlab-flask-app-old",
                Some("has active endpoints"),
            )],
        },
        aws: Some(crate::lab::AwsStatus {
            endpoint_url: "http://127.0.0.1:4600".into(),
            region: "us-east-1".into(),
        }),
        bastions: vec![crate::bastion::BastionStatus {
            name: "flask-bastion-host".into(),
            instance_type: "t2.micro".into(),
            subnet: "public-subnet-1a".into(),
            container_id: "bbbb2222cccc3333dddd".into(),
            user: "ec2-user".into(),
            ssh_host: "127.0.0.1".into(),
            ssh_port: 32801,
            running: true,
            key_path: "/state/labs/flask-app/bastion-key.pem".into(),
            known_hosts: "/state/labs/flask-app/ssh/flask-bastion-host.known_hosts".into(),
            networks: vec![
                "tierlab-flask-app-public-subnet-1a".into(),
                "tierlab-flask-app-private-db-subnet-1a".into(),
            ],
            databases: vec!["flask-crud-db".into()],
        }],
        availability_zones: ["us-east-1a", "us-east-1b"]
            .map(|zone| crate::lab::ZoneStatus {
                zone: zone.into(),
                state: "available".into(),
            })
            .to_vec(),
        autoscaling: autoscaling(),
        vpc: Default::default(),
        dashboard: None,
        chaos: Vec::new(),
    }
}

/// A scalable target with the reference's CPU policy, a datapoint above its target and one
/// scale-out.
fn autoscaling() -> crate::autoscaling::AutoScalingStatus {
    use crate::autoscaling::alarm::{AlarmState, Alarms};
    use crate::autoscaling::model::*;
    let alarm = |which: &str| AlarmRef {
        name: format!("TargetTracking-service/flask-app-cluster/flask-app-service-{which}-1"),
        arn: format!("arn:aws:cloudwatch:us-east-1:000000000000:alarm:{which}"),
    };
    crate::autoscaling::AutoScalingStatus {
        targets: vec![ScalableTarget {
            cluster: "flask-app-cluster".into(),
            service: "flask-app-service".into(),
            min_capacity: 2,
            max_capacity: 6,
            arn: "arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/0".into(),
            created_at: "2026-12-02T00:00:00.000Z".into(),
            suspended: SuspendedState::default(),
            policies: vec![ScalingPolicy {
                name: "cpu-tracking-scaling-policy".into(),
                arn: "arn:aws:autoscaling:x".into(),
                metric: ScalingMetric::Cpu,
                resource_label: None,
                target_value: 70.0,
                scale_out_cooldown_seconds: 60,
                scale_in_cooldown_seconds: 60,
                disable_scale_in: false,
                alarms: [alarm("AlarmHigh"), alarm("AlarmLow")],
                created_at: "2026-12-02T00:00:00.000Z".into(),
            }],
        }],
        metrics: vec![ServiceMetrics {
            cluster: "flask-app-cluster".into(),
            service: "flask-app-service".into(),
            period_seconds: 1,
            at: "2026-12-02T00:03:00Z".into(),
            cpu_utilization: Some(92.25),
            memory_utilization: Some(21.0),
            request_count_per_target: Some(1234.0),
            tasks_sampled: 2,
            alarms: vec![PolicyAlarms {
                policy: "cpu-tracking-scaling-policy".into(),
                alarms: Alarms {
                    high: AlarmState::Alarm,
                    low: AlarmState::Ok,
                },
            }],
        }],
        activities: vec![crate::autoscaling::store::activity(
            "flask-app-cluster",
            "flask-app-service",
            3,
            "monitor alarm TargetTracking-service/flask-app-cluster/flask-app-service-AlarmHigh-1 in state ALARM triggered policy cpu-tracking-scaling-policy",
            "2026-12-02T00:03:00.000Z".into(),
        )],
    }
}

/// [`lab_status`] with a read replica of its database, 5 s behind under a 5 s delay.
pub fn lab_status_with_replica() -> LabStatus {
    let mut status = lab_status();
    status.databases[0].read_replicas = vec!["flask-crud-db-replica".into()];
    status.databases.push(replica());
    status
}

fn replica() -> DatabaseStatus {
    DatabaseStatus {
        identifier: "flask-crud-db-replica".into(),
        master_username: "admin".into(),
        db_name: "flaskcrud".into(),
        engine: "mysql".into(),
        engine_version: "8.0".into(),
        instance_class: "db.t3.micro".into(),
        image: "mysql:8.0".into(),
        container_id: "77776666555544443333".into(),
        status: InstanceStatus::Available,
        endpoint: "flask-crud-db-replica".into(),
        port: 3306,
        subnet: "private-db-subnet-1a".into(),
        network: "tierlab-flask-app-private-db-subnet-1a".into(),
        volume: "tierlab-flask-app-flask-crud-db-replica-data".into(),
        multi_az: false,
        backup_retention_period: 0,
        recoveries: 0,
        events: Vec::new(),
        read_replicas: Vec::new(),
        standby: None,
        replica_lag: Some(5),
        replication: Some(crate::lab::ReplicationStatus {
            source: "flask-crud-db".into(),
            state: crate::rds::read_replica::ReplicationState::Replicating,
            error: None,
            delay_seconds: 5,
        }),
    }
}

fn listener(protocol: &str, url: &str) -> ListenerStatus {
    ListenerStatus {
        protocol: protocol.into(),
        address: url.rsplit('/').next().unwrap_or_default().into(),
        url: url.into(),
    }
}

fn target(
    id: &str,
    port: u16,
    state: TargetState,
    reason: Option<ReasonCode>,
) -> TargetDescription {
    TargetDescription {
        id: id.into(),
        address: Some(([127, 0, 0, 1], port).into()),
        state,
        reason,
        description: reason.map(|_| "Initial health checks in progress".into()),
    }
}

pub fn task(id: &str, port: u16, last_status: LastStatus, health: &str) -> TaskStatus {
    TaskStatus {
        task_id: id.into(),
        container_id: format!("c0{id}"),
        container_name: "flask-app".into(),
        subnet: "private-app-subnet-1a".into(),
        availability_zone: "us-east-1a".into(),
        private_ipv4_address: Some(format!("10.0.3.{}", port % 100)),
        last_status,
        health: Some(health.into()),
        target_address: Some(format!("127.0.0.1:{port}")),
        log_stream: format!("ecs/flask-app/{id}"),
        started_at: "2026-12-02T00:00:00Z".into(),
        stopped_reason: None,
        exit_code: None,
        stopped_at: None,
        ..Default::default()
    }
}

fn stopped_task(id: &str) -> TaskStatus {
    TaskStatus {
        last_status: LastStatus::Stopped,
        health: None,
        target_address: None,
        stopped_reason: Some("Essential container in task exited (exit code 3)".into()),
        exit_code: Some(3),
        stopped_at: Some("2026-12-02T00:01:00Z".into()),
        ..task(id, 0, LastStatus::Stopped, "")
    }
}

fn rds_event(i: u32) -> RdsEvent {
    RdsEvent {
        date: format!("2026-12-02T00:00:0{i}Z"),
        event_id: format!("RDS-EVENT-000{i}"),
        source_identifier: "flask-crud-db".into(),
        source_type: "db-instance".into(),
        event_categories: vec!["availability".into()],
        message: format!("message {i}."),
    }
}

fn orphan(kind: &str, name: &str, last_error: Option<&str>) -> Orphan {
    Orphan {
        kind: kind.into(),
        id: format!("{kind}-id"),
        name: name.into(),
        role: Some(if kind == "network" { "network" } else { "task" }.into()),
        resource: Some("svc".into()),
        task_id: None,
        state: (kind == "container").then(|| "running".into()),
        first_seen: "2026-12-02T00:00:00Z".into(),
        removal_attempts: if last_error.is_some() { 2 } else { 0 },
        last_error: last_error.map(Into::into),
    }
}
