//! `[task-definitions.NAME]`: Fargate sizes and the container.

use std::collections::BTreeMap;

use super::super::env_ref::{self, Segment};
use super::super::model::{ContainerDefinition, TaskDefinition};
use super::super::{defaults, path, wire};
use super::ctx::{Ctx, q};

/// Fargate's most `stopTimeout`.
const MAX_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

pub fn task_definition(
    cx: &mut Ctx,
    family: &str,
    td: &wire::TaskDefinition,
    instances: &[String],
    region: &str,
) -> TaskDefinition {
    let at = path::join("task-definitions", family);
    check_size(cx, &at, td.cpu, td.memory);
    let c = &td.container;
    let cat = format!("{at}.container");
    for (key, value) in [("name", &c.name), ("image", &c.image)] {
        if value.trim().is_empty() {
            cx.bad(&format!("{cat}.{key}"), q(value), "must not be empty");
        }
    }
    let container = ContainerDefinition {
        name: c.name.clone(),
        image: c.image.clone(),
        build: cx.build_dir(&format!("{cat}.build"), c.build.as_deref()),
        container_port: cx.port(&format!("{cat}.port"), c.port),
        command: command(cx, &format!("{cat}.command"), c.command.as_deref()),
        environment: environment(cx, &format!("{cat}.environment"), &c.environment, instances),
        secrets: super::secrets::container_secrets(
            cx,
            &format!("{cat}.secrets"),
            &c.secrets,
            &c.environment,
            region,
        ),
        log_group: c
            .log_group
            .clone()
            .unwrap_or_else(|| defaults::log_group(family)),
        log_stream_prefix: c
            .log_stream_prefix
            .clone()
            .unwrap_or_else(|| defaults::LOG_STREAM_PREFIX.to_string()),
        stop_timeout: c.stop_timeout.as_deref().map(|text| {
            let key = format!("{cat}.stop-timeout");
            let timeout = cx.duration(&key, Some(text), MAX_STOP_TIMEOUT);
            if timeout.is_zero() || timeout > MAX_STOP_TIMEOUT {
                cx.bad(
                    &key,
                    q(text),
                    "must be more than 0s and at most 120s (Fargate's bound)",
                );
            }
            timeout
        }),
    };
    TaskDefinition {
        family: family.to_string(),
        cpu: u32::try_from(td.cpu).unwrap_or(0),
        memory_mib: u32::try_from(td.memory).unwrap_or(0),
        container,
    }
}

/// `command`, as ECS takes it: a non-empty list whose first element (the program) is not blank.
fn command(cx: &mut Ctx, at: &str, command: Option<&[String]>) -> Option<Vec<String>> {
    let command = command?;
    match command.first() {
        None => cx.bad(
            at,
            "[]".to_string(),
            "must name a program, e.g. [\"sh\", \"-c\", \"exit 1\"]; leave the key out to keep the image's CMD",
        ),
        Some(program) if program.trim().is_empty() => {
            cx.bad(at, q(program), "the program (first element) must not be blank")
        }
        Some(_) => {}
    }
    Some(command.to_vec())
}

/// A shell-style identifier: letters, digits, `_`, not starting with a digit.
pub fn is_variable_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Fargate's valid memory (MiB) for a CPU value, or `None` if the CPU value is not one of Fargate's.
pub fn fargate_memory(cpu: i64) -> Option<Vec<i64>> {
    let steps = |lo: i64, hi: i64| (lo..=hi).step_by(1024).collect();
    match cpu {
        256 => Some(vec![512, 1024, 2048]),
        512 => Some(steps(1024, 4096)),
        1024 => Some(steps(2048, 8192)),
        2048 => Some(steps(4096, 16384)),
        4096 => Some(steps(8192, 30720)),
        _ => None,
    }
}

fn check_size(cx: &mut Ctx, at: &str, cpu: i64, memory: i64) {
    let Some(allowed) = fargate_memory(cpu) else {
        cx.bad(
            &format!("{at}.cpu"),
            cpu.to_string(),
            "Fargate CPU must be 256, 512, 1024, 2048 or 4096 (units of 1/1024 vCPU)",
        );
        return;
    };
    if !allowed.contains(&memory) {
        let shown = match allowed.as_slice() {
            [a, b, c] => format!("{a}, {b} or {c}"),
            _ => format!(
                "{} to {} in steps of 1024",
                allowed[0],
                allowed[allowed.len() - 1]
            ),
        };
        cx.bad(
            &format!("{at}.memory"),
            memory.to_string(),
            format!("with cpu = {cpu}, Fargate allows memory {shown} (MiB)"),
        );
    }
}

/// Names must be shell-style identifiers; values' `${...}` placeholders must parse and name a
/// DB instance the config starts (a database or one of its read replicas).
fn environment(
    cx: &mut Ctx,
    at: &str,
    env: &BTreeMap<String, String>,
    instances: &[String],
) -> BTreeMap<String, String> {
    for (name, value) in env {
        let key = path::join(at, name);
        if !is_variable_name(name) {
            cx.bad(&key, q(value), format!("`{name}` is not a valid variable name (letters, digits, `_`; not starting with a digit)"));
        }
        match env_ref::parse(value) {
            Err(why) => cx.bad(&key, q(value), why),
            Ok(segments) => {
                for seg in &segments {
                    if let Segment::Rds { identifier, .. } = seg {
                        cx.exists_in(&key, q(value), "database", identifier, instances);
                    }
                }
            }
        }
    }
    env.clone()
}
