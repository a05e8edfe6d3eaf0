//! Rendering compared with the response shapes of ECS's API reference (DescribeServices,
//! DescribeTasks, DescribeTaskDefinition, DescribeClusters examples; member names from
//! botocore's `ecs/2014-11-13/service-2.json`).

use serde_json::Value;

use crate::config::Config;
use crate::config::env_ref::{RdsAttr, Segment};
use crate::ecs::{
    DeploymentStatus, DesiredStatus, HealthStatus, LastStatus, RolloutState, ServiceEvent,
    ServiceStatus, StopCode, TaskStatus,
};
use crate::registry::Registry;

use super::render;

fn config() -> Config {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("emulator.toml")).unwrap();
    crate::config::parse(&text, &root.join("emulator.toml"), root).unwrap()
}

fn task(id: &str) -> TaskStatus {
    TaskStatus {
        task_id: id.into(),
        cluster: "flask-app-cluster".into(),
        service: "flask-app-service".into(),
        task_definition_family: "flask-app-task".into(),
        task_definition_revision: 1,
        container_id: "c0ffee".into(),
        container_name: "tierlab-flask-app-flask-app-service-0123".into(),
        subnet: "private-app-subnet-1a".into(),
        availability_zone: "us-east-1a".into(),
        private_ipv4_address: Some("10.0.3.5".into()),
        cpu: 256,
        memory_mib: 512,
        desired_status: DesiredStatus::Running,
        last_status: LastStatus::Running,
        health_status: HealthStatus::Unknown,
        health: Some("healthy".into()),
        target_address: Some("127.0.0.1:41001".into()),
        log_stream: format!("ecs/flask-app/{id}"),
        started_by: "ecs-svc/1".into(),
        created_at: "2026-12-02T00:00:00.000Z".into(),
        started_at: "2026-12-02T00:00:01.500Z".into(),
        ..Default::default()
    }
}

fn service() -> ServiceStatus {
    let event = |at: &str, message: &str| ServiceEvent {
        id: format!("id-{at}"),
        created_at: at.into(),
        message: message.into(),
    };
    ServiceStatus {
        name: "flask-app-service".into(),
        cluster: "flask-app-cluster".into(),
        task_definition: "flask-app-task:3".into(),
        desired_count: 2,
        configured_desired_count: 2,
        running_count: 2,
        pending_count: 0,
        deployment: DeploymentStatus {
            id: "ecs-svc/1234567890123456789".into(),
            task_definition: "flask-app-task:3".into(),
            desired_count: 2,
            running_count: 1,
            pending_count: 1,
            rollout_state: RolloutState::InProgress,
            rollout_state_reason: "ECS deployment ecs-svc/1234567890123456789 completed.".into(),
            failed_tasks: 0,
            created_at: "2026-12-02T00:00:00Z".into(),
            updated_at: "2026-12-02T00:00:20Z".into(),
        },
        active_deployments: vec![DeploymentStatus {
            id: "ecs-svc/1111111111111111111".into(),
            task_definition: "flask-app-task:2".into(),
            desired_count: 1,
            running_count: 1,
            rollout_state: RolloutState::Completed,
            ..Default::default()
        }],
        health_check_grace_period_seconds: 20,
        created_at: "2026-12-02T00:00:00Z".into(),
        tasks: vec![task("0123456789abcdef0123456789abcdef")],
        events: vec![
            event(
                "2026-12-02T00:00:01Z",
                "(service flask-app-service) has started 2 tasks: (task a) (task b).",
            ),
            event(
                "2026-12-02T00:00:20Z",
                "(service flask-app-service) has reached a steady state.",
            ),
        ],
        ..Default::default()
    }
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

#[test]
fn describe_services_has_ecs_members_events_newest_first() {
    let registry = Registry::in_memory("us-east-1");
    let s = render::service(&registry, &config(), &service());
    let v = serde_json::to_value(&s).unwrap();
    for member in [
        "serviceArn",
        "serviceName",
        "clusterArn",
        "loadBalancers",
        "status",
        "desiredCount",
        "runningCount",
        "pendingCount",
        "launchType",
        "taskDefinition",
        "deployments",
        "events",
        "createdAt",
        "networkConfiguration",
        "healthCheckGracePeriodSeconds",
        "schedulingStrategy",
    ] {
        assert!(v.get(member).is_some(), "missing {member}: {:?}", keys(&v));
    }
    assert_eq!(
        v["serviceArn"],
        "arn:aws:ecs:us-east-1:000000000000:service/flask-app-cluster/flask-app-service"
    );
    assert_eq!(
        v["clusterArn"],
        "arn:aws:ecs:us-east-1:000000000000:cluster/flask-app-cluster"
    );
    assert_eq!(
        v["taskDefinition"],
        "arn:aws:ecs:us-east-1:000000000000:task-definition/flask-app-task:3"
    );
    assert_eq!(v["status"], "ACTIVE");
    assert_eq!(v["launchType"], "FARGATE");
    assert_eq!(v["healthCheckGracePeriodSeconds"], 20);
    assert!(v["createdAt"].is_f64() || v["createdAt"].is_u64());
    let d = &v["deployments"][0];
    assert_eq!(v["deployments"].as_array().unwrap().len(), 2);
    assert_eq!(d["status"], "PRIMARY");
    assert_eq!(d["rolloutState"], "IN_PROGRESS");
    assert_eq!(d["id"], "ecs-svc/1234567890123456789");
    assert_eq!(
        (d["desiredCount"].as_u64(), d["runningCount"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(d["createdAt"], 1_796_169_600.0);
    let lb = &v["loadBalancers"][0];
    assert_eq!(
        keys(lb),
        ["containerName", "containerPort", "targetGroupArn"]
    );
    assert!(
        lb["targetGroupArn"]
            .as_str()
            .unwrap()
            .contains(":targetgroup/flask-app-tg/")
    );
    let vpc = &v["networkConfiguration"]["awsvpcConfiguration"];
    assert_eq!(vpc["assignPublicIp"], "DISABLED");
    assert!(
        vpc["subnets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s.as_str().unwrap().starts_with("subnet-"))
    );
    assert!(
        vpc["securityGroups"][0]
            .as_str()
            .unwrap()
            .starts_with("sg-")
    );
    // Newest first, as ECS returns them.
    assert_eq!(
        v["events"][0]["message"],
        "(service flask-app-service) has reached a steady state."
    );
    assert_eq!(keys(&v["events"][0]), ["createdAt", "id", "message"]);
    // The PRIMARY deployment first, then the older one still replacing its tasks.
    let d = &v["deployments"];
    assert_eq!(
        (d[0]["status"].as_str(), d[1]["status"].as_str()),
        (Some("PRIMARY"), Some("ACTIVE"))
    );
    assert_eq!(
        d[0]["taskDefinition"],
        "arn:aws:ecs:us-east-1:000000000000:task-definition/flask-app-task:3"
    );
    assert_eq!(d[0]["rolloutState"], "IN_PROGRESS");
    assert_eq!(
        (d[0]["runningCount"].as_u64(), d[0]["pendingCount"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        d[1]["taskDefinition"].as_str().unwrap().rsplit(':').next(),
        Some("2")
    );
    assert_eq!(v["deploymentConfiguration"]["maximumPercent"], 200);
    assert_eq!(v["deploymentConfiguration"]["minimumHealthyPercent"], 100);
    assert_eq!(
        v["deploymentConfiguration"]["deploymentCircuitBreaker"]["enable"],
        false
    );
    assert_eq!(v["healthCheckGracePeriodSeconds"], 20);
}

#[test]
fn describe_tasks_has_the_eni_attachment_and_stop_fields() {
    let registry = Registry::in_memory("us-east-1");
    let mut stopped = task("0123456789abcdef0123456789abcdef");
    stopped.desired_status = DesiredStatus::Stopped;
    stopped.last_status = LastStatus::Stopped;
    stopped.stopped_reason = Some("Task stopped by user".into());
    stopped.stop_code = Some(StopCode::UserInitiated);
    stopped.exit_code = Some(0);
    stopped.stopping_at = Some("2026-12-02T00:01:00Z".into());
    stopped.stopped_at = Some("2026-12-02T00:01:02Z".into());
    let t = render::task(&registry, &config(), &stopped);
    let v = serde_json::to_value(&t).unwrap();
    assert_eq!(
        v["taskArn"],
        "arn:aws:ecs:us-east-1:000000000000:task/flask-app-cluster/0123456789abcdef0123456789abcdef"
    );
    assert_eq!(v["lastStatus"], "STOPPED");
    assert_eq!(v["desiredStatus"], "STOPPED");
    assert_eq!(v["stopCode"], "UserInitiated");
    assert_eq!(v["stoppedReason"], "Task stopped by user");
    assert_eq!(v["group"], "service:flask-app-service");
    assert_eq!(v["startedBy"], "ecs-svc/1");
    assert_eq!(
        (v["cpu"].as_str(), v["memory"].as_str()),
        (Some("256"), Some("512"))
    );
    assert_eq!(v["availabilityZone"], "us-east-1a");
    assert_eq!(v["healthStatus"], "UNKNOWN");
    assert_eq!(v["stoppedAt"], 1_796_169_662.0);
    let a = &v["attachments"][0];
    assert_eq!(a["type"], "ElasticNetworkInterface");
    let detail = |name: &str| {
        a["details"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .map(|d| d["value"].clone())
    };
    assert!(
        detail("subnetId")
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("subnet-")
    );
    assert!(
        detail("networkInterfaceId")
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("eni-")
    );
    assert_eq!(detail("privateIPv4Address").unwrap(), "10.0.3.5");
    assert_eq!(
        detail("privateDnsName").unwrap(),
        "ip-10-0-3-5.ec2.internal"
    );
    let c = &v["containers"][0];
    assert_eq!(c["name"], "flask-app");
    assert_eq!(c["exitCode"], 0);
    assert_eq!(c["lastStatus"], "STOPPED");
    assert_eq!(c["networkInterfaces"][0]["privateIpv4Address"], "10.0.3.5");
    assert_eq!(c["networkInterfaces"][0]["attachmentId"], a["id"]);
    // The same task renders the same ids (ENI, attachment, container ARN).
    let again = serde_json::to_value(render::task(&registry, &config(), &stopped)).unwrap();
    assert_eq!(again["containers"][0]["containerArn"], c["containerArn"]);
}

#[test]
fn a_pending_task_has_no_started_at_and_no_stop_fields() {
    let registry = Registry::in_memory("us-east-1");
    let mut pending = task("ab");
    pending.last_status = LastStatus::Pending;
    let v = serde_json::to_value(render::task(&registry, &config(), &pending)).unwrap();
    for absent in [
        "startedAt",
        "stopCode",
        "stoppedAt",
        "stoppedReason",
        "stoppingAt",
    ] {
        assert!(v.get(absent).is_none(), "{absent} present");
    }
    assert_eq!(v["containers"][0]["lastStatus"], "RUNNING");
}

#[test]
fn task_definitions_never_show_secret_values() {
    let registry = Registry::in_memory("us-east-1");
    let config = config();
    let td = crate::ecs::TaskDefinitions::from_config(&config)
        .get("flask-app-task", Some(1))
        .unwrap();
    let lookup = |s: &Segment| match s {
        Segment::Literal(t) => Some(t.clone()),
        Segment::Rds {
            attribute: RdsAttr::Password,
            ..
        } => Some("hunter2".into()),
        Segment::Rds { .. } => Some("flask-crud-db".into()),
        Segment::Secret(_) => Some("s3cr3t".into()),
    };
    let v = serde_json::to_value(render::task_definition(&registry, &td, lookup)).unwrap();
    let text = v.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("s3cr3t"),
        "{text}"
    );
    assert_eq!(v["family"], "flask-app-task");
    assert_eq!(v["revision"], 1);
    assert_eq!(v["status"], "ACTIVE");
    assert_eq!(v["networkMode"], "awsvpc");
    assert_eq!(v["requiresCompatibilities"][0], "FARGATE");
    assert_eq!(
        (v["cpu"].as_str(), v["memory"].as_str()),
        (Some("256"), Some("512"))
    );
    let c = &v["containerDefinitions"][0];
    assert_eq!(c["portMappings"][0]["containerPort"], 8000);
    assert_eq!(c["logConfiguration"]["logDriver"], "awslogs");
    assert_eq!(
        c["logConfiguration"]["options"]["awslogs-group"],
        "/ecs/flask-app"
    );
    assert_eq!(
        c["logConfiguration"]["options"]["awslogs-region"],
        "us-east-1"
    );
    assert_eq!(
        c["logConfiguration"]["options"]["awslogs-stream-prefix"],
        "ecs"
    );
    let secrets: Vec<&str> = c["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(secrets, ["DATABASE_URL", "SECRET_KEY"]);
    assert_eq!(
        c["secrets"][0]["valueFrom"],
        "arn:aws:secretsmanager:us-east-1:000000000000:secret:flask-app/database-url"
    );
}

#[test]
fn clusters_count_services_and_tasks() {
    let registry = Registry::in_memory("us-east-1");
    let mut s = service();
    s.tasks.push(TaskStatus {
        last_status: LastStatus::Pending,
        ..task("b")
    });
    let v = serde_json::to_value(render::cluster(&registry, "flask-app-cluster", &[s])).unwrap();
    assert_eq!(v["status"], "ACTIVE");
    assert_eq!(v["clusterName"], "flask-app-cluster");
    assert_eq!(
        (
            v["runningTasksCount"].as_u64(),
            v["pendingTasksCount"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(v["activeServicesCount"], 1);
    assert_eq!(v["registeredContainerInstancesCount"], 0);
}
