//! Task definition → container spec. Pure: no Docker calls.

use crate::config::{Config, Service, TaskDefinition};
use crate::docker::{ContainerSpec, labels};
use crate::vpc;

/// Docker name of a task's container: lab, service and the start of the task id.
pub fn container_name(lab: &str, service: &str, task_id: &str) -> String {
    format!(
        "tierlab-{lab}-{service}-{}",
        &task_id[..task_id.len().min(12)]
    )
}

/// CloudWatch log stream of a task, as the awslogs driver names it: `prefix/container/task-id`.
pub fn log_stream(task_def: &TaskDefinition, task_id: &str) -> String {
    let c = &task_def.container;
    format!("{}/{}/{}", c.log_stream_prefix, c.name, task_id)
}

/// The container of one task of `service`, placed in `subnet`, with its environment already
/// resolved.
pub fn container_spec(
    config: &Config,
    service: &Service,
    task_def: &TaskDefinition,
    task_id: &str,
    subnet: &str,
    mut env: Vec<(String, String)>,
) -> ContainerSpec {
    let lab = &config.lab.name;
    let mut task_labels = labels::of(lab, labels::Role::Task, &service.name);
    task_labels.insert(labels::TASK_ID.into(), task_id.to_string());
    task_labels.insert(labels::SUBNET.into(), subnet.to_string());
    // What the app may want to know about itself (the reference app shows it in /api/info).
    env.push(("TIERLAB_TASK_ID".into(), task_id.to_string()));
    env.push(("TIERLAB_SERVICE".into(), service.name.clone()));
    env.push(("TIERLAB_CLUSTER".into(), service.cluster.clone()));
    env.push(("TIERLAB_SUBNET".into(), subnet.to_string()));
    ContainerSpec {
        name: container_name(lab, &service.name, task_id),
        image: task_def.container.image.clone(),
        hostname: Some(format!("ip-{}", &task_id[..task_id.len().min(12)])),
        env,
        entrypoint: None,
        cmd: task_def.container.command.clone(),
        labels: task_labels,
        networks: vpc::task_networks(config, service, subnet),
        publish: Some(task_def.container.container_port),
        cpu_units: Some(task_def.cpu),
        memory_mib: Some(task_def.memory_mib),
        volume: None,
        binds: Vec::new(),
        dns: None,
    }
}

/// A new task id: 32 hex digits, the shape of ECS task ids.
pub fn new_task_id() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
