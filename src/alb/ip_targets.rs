//! Targets as the AWS API names them (target type `ip`): a task is `Id` = its private IP,
//! `Port` = its container port, while tierlab reaches it at `127.0.0.1:<published port>`.
//! Static targets (the config's loopback addresses) are named by their own address.
//!
//! The host never connects to a container's address, so `register-targets` accepts only what
//! tierlab can reach: a running task of the lab (found by its private IP) on its container port,
//! or a loopback address. Everything here is pure over a snapshot of the lab's tasks
//! ([`TaskAddress`], built by the caller from the ECS services' statuses); the handle methods
//! validate a whole request before changing anything.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::target_group::{TargetDescription, TargetGroupHandle};

/// A running task of the lab: how the AWS API names it and where tierlab reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskAddress {
    /// The ECS task id (the id the task's target is registered under).
    pub task_id: String,
    /// Its private IP in its subnet (the ENI's address on AWS).
    pub private_ip: Ipv4Addr,
    /// The container port the target group sends to.
    pub container_port: u16,
    /// `127.0.0.1:<published port>`: where tierlab actually connects.
    pub host: SocketAddr,
    /// The Availability Zone of its subnet.
    pub availability_zone: Option<String>,
}

/// `Target` of the AWS API: `{Id, Port, AvailabilityZone}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsTarget {
    /// The IP address.
    pub id: String,
    /// The port.
    pub port: u16,
    /// Known for a task (its subnet's zone); `None` for a loopback target.
    pub availability_zone: Option<String>,
}

/// A target as a request names it (`Targets.member.N.Id`, `.Port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRequest {
    /// `Id`: an IP address for `ip` target groups.
    pub id: String,
    /// `Port`: the group's port when absent.
    pub port: Option<u16>,
}

/// Why a target in a request was refused (`InvalidTarget`, or `ValidationError` for an `Id`
/// that is not an IP address).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TargetError {
    /// `true`: `ValidationError`; `false`: `InvalidTarget`.
    pub validation: bool,
    /// The message.
    pub message: String,
}

impl TargetError {
    /// The code as the wire carries it.
    pub fn aws_code(&self) -> &'static str {
        if self.validation {
            "ValidationError"
        } else {
            "InvalidTarget"
        }
    }

    fn invalid(message: String) -> TargetError {
        TargetError {
            validation: false,
            message,
        }
    }
}

/// What a registered target is called on the AWS side: its task's private IP and container
/// port when `target_id` is a task of `tasks`, else its own address (a static target).
pub fn aws_identity(target_id: &str, host: SocketAddr, tasks: &[TaskAddress]) -> AwsTarget {
    match tasks.iter().find(|t| t.task_id == target_id) {
        Some(task) => AwsTarget {
            id: task.private_ip.to_string(),
            port: task.container_port,
            availability_zone: task.availability_zone.clone(),
        },
        None => AwsTarget {
            id: host.ip().to_string(),
            port: host.port(),
            availability_zone: None,
        },
    }
}

/// Where a registration request leads: the id to register under and the address to reach.
pub fn resolve_registration(
    request: &TargetRequest,
    group_port: u16,
    tasks: &[TaskAddress],
) -> Result<(String, SocketAddr), TargetError> {
    let ip = parse_ip(&request.id)?;
    let port = request.port.unwrap_or(group_port);
    if let Some(task) = tasks.iter().find(|t| IpAddr::V4(t.private_ip) == ip) {
        if port != task.container_port {
            return Err(TargetError::invalid(format!(
                "tierlab can reach task {} only on its container port {} (published on {}); \
                 port {port} of '{ip}' cannot be registered",
                task.task_id, task.container_port, task.host
            )));
        }
        return Ok((task.task_id.clone(), task.host));
    }
    if ip.is_loopback() {
        let addr = SocketAddr::new(ip, port);
        return Ok((addr.to_string(), addr));
    }
    Err(TargetError::invalid(format!(
        "The following targets are not reachable by tierlab and cannot be registered: '{ip}'. \
         tierlab can only reach the lab's running tasks (by their private IP and container port) \
         and loopback addresses; the host never connects to other container addresses"
    )))
}

fn parse_ip(id: &str) -> Result<IpAddr, TargetError> {
    id.parse().map_err(|_| TargetError {
        validation: true,
        message: format!(
            "The IP address '{id}' is not a valid IPv4 address; targets of target type 'ip' are IP addresses"
        ),
    })
}

/// The registered target (its id) that `request` names, matched by AWS identity. The port
/// defaults to the group's, as ELBv2's does.
pub fn resolve_deregistration(
    request: &TargetRequest,
    group_port: u16,
    registered: &[(String, SocketAddr)],
    tasks: &[TaskAddress],
) -> Result<String, TargetError> {
    let ip = parse_ip(&request.id)?;
    let port = request.port.unwrap_or(group_port);
    registered
        .iter()
        .find(|(id, host)| {
            let aws = aws_identity(id, *host, tasks);
            aws.id == ip.to_string() && aws.port == port
        })
        .map(|(id, _)| id.clone())
        .ok_or_else(|| {
            TargetError::invalid(format!(
                "The specified target does not exist or is not in the same VPC as the target group: '{ip}' port {port} is not registered"
            ))
        })
}

/// One row of `describe-target-health` as the AWS API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsTargetHealth {
    /// `Target`.
    pub target: AwsTarget,
    /// The health (state, reason code and description).
    pub health: TargetDescription,
}

impl TargetGroupHandle {
    /// `register-targets`: every target is resolved first; one that tierlab cannot reach
    /// refuses the whole request and registers nothing. Registering a registered target again
    /// changes nothing (as on AWS).
    pub fn register_targets(
        &self,
        requests: &[TargetRequest],
        tasks: &[TaskAddress],
    ) -> Result<(), TargetError> {
        let port = self.config().port;
        let resolved = requests
            .iter()
            .map(|r| resolve_registration(r, port, tasks))
            .collect::<Result<Vec<_>, _>>()?;
        for (id, addr) in resolved {
            // A draining target comes back (health starts over); a registered one stays as is.
            self.register(&id, addr);
        }
        Ok(())
    }

    /// `deregister-targets`: all targets must be registered, else nothing changes. Each leaves
    /// the rotation at once and drains (see [`TargetGroupHandle::deregister`]).
    pub fn deregister_targets(
        &self,
        requests: &[TargetRequest],
        tasks: &[TaskAddress],
    ) -> Result<(), TargetError> {
        let port = self.config().port;
        let registered: Vec<(String, SocketAddr)> = self
            .targets()
            .iter()
            .map(|t| (t.id().to_string(), t.addr()))
            .collect();
        let ids = requests
            .iter()
            .map(|r| resolve_deregistration(r, port, &registered, tasks))
            .collect::<Result<Vec<_>, _>>()?;
        for id in ids {
            self.deregister(&id);
        }
        Ok(())
    }

    /// `describe-target-health`: every registered and draining target under its AWS name.
    pub fn describe_aws(&self, tasks: &[TaskAddress]) -> Vec<AwsTargetHealth> {
        self.describe()
            .into_iter()
            .filter_map(|health| {
                let host = health.address?;
                Some(AwsTargetHealth {
                    target: aws_identity(&health.id, host, tasks),
                    health,
                })
            })
            .collect()
    }

    /// `describe-target-health --targets ...`: the named targets, in request order; one that
    /// is not registered shows `unused` / `Target.NotRegistered`, as on AWS.
    pub fn describe_aws_targets(
        &self,
        requests: &[TargetRequest],
        tasks: &[TaskAddress],
    ) -> Result<Vec<AwsTargetHealth>, TargetError> {
        let port = self.config().port;
        let all = self.describe_aws(tasks);
        requests
            .iter()
            .map(|r| {
                let ip = parse_ip(&r.id)?.to_string();
                let port = r.port.unwrap_or(port);
                let found = all
                    .iter()
                    .find(|row| row.target.id == ip && row.target.port == port);
                Ok(match found {
                    Some(row) => row.clone(),
                    None => AwsTargetHealth {
                        target: AwsTarget {
                            id: ip.clone(),
                            port,
                            availability_zone: tasks
                                .iter()
                                .find(|t| t.private_ip.to_string() == ip)
                                .and_then(|t| t.availability_zone.clone()),
                        },
                        health: self.describe_target(&format!("unregistered {ip}:{port}")),
                    },
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alb::TargetState;
    use crate::alb::target_group::tests::config;

    fn task(id: &str, ip: &str, host_port: u16) -> TaskAddress {
        TaskAddress {
            task_id: id.into(),
            private_ip: ip.parse().unwrap(),
            container_port: 8000,
            host: SocketAddr::from((Ipv4Addr::LOCALHOST, host_port)),
            availability_zone: Some("us-east-1a".into()),
        }
    }

    fn req(id: &str, port: Option<u16>) -> TargetRequest {
        TargetRequest {
            id: id.into(),
            port,
        }
    }

    #[test]
    fn a_task_is_named_by_its_private_ip_and_container_port() {
        let tasks = [task("abc", "10.0.3.7", 49153)];
        let aws = aws_identity("abc", tasks[0].host, &tasks);
        assert_eq!((aws.id.as_str(), aws.port), ("10.0.3.7", 8000));
        assert_eq!(aws.availability_zone.as_deref(), Some("us-east-1a"));
        let stat = aws_identity("127.0.0.1:9001", "127.0.0.1:9001".parse().unwrap(), &tasks);
        assert_eq!((stat.id.as_str(), stat.port), ("127.0.0.1", 9001));
    }

    #[test]
    fn registration_reaches_a_task_through_its_published_port() {
        let tasks = [task("abc", "10.0.3.7", 49153)];
        let (id, addr) = resolve_registration(&req("10.0.3.7", None), 8000, &tasks).unwrap();
        assert_eq!((id.as_str(), addr.port()), ("abc", 49153));
        assert!(addr.ip().is_loopback());
        let e = resolve_registration(&req("10.0.3.7", Some(9000)), 8000, &tasks).unwrap_err();
        assert_eq!(e.aws_code(), "InvalidTarget");
        let (id, _) = resolve_registration(&req("127.0.0.1", Some(9001)), 8000, &tasks).unwrap();
        assert_eq!(id, "127.0.0.1:9001", "a static target's id is its address");
    }

    #[test]
    fn an_address_no_task_has_is_refused_with_why() {
        let e = resolve_registration(&req("10.0.3.99", None), 8000, &[]).unwrap_err();
        assert_eq!(e.aws_code(), "InvalidTarget");
        assert!(e.message.contains("'10.0.3.99'"), "{}", e.message);
        assert!(
            e.message.contains("only reach the lab's running tasks"),
            "{}",
            e.message
        );
        let e = resolve_registration(&req("i-0123", None), 8000, &[]).unwrap_err();
        assert_eq!(e.aws_code(), "ValidationError");
    }

    #[test]
    fn a_bad_target_registers_nothing() {
        let tg = TargetGroupHandle::new(config());
        let tasks = [task("abc", "10.0.3.7", 49153)];
        let e = tg.register_targets(&[req("10.0.3.7", None), req("10.9.9.9", None)], &tasks);
        assert!(e.is_err());
        assert_eq!(tg.state_of("abc"), None);
        tg.register_targets(&[req("10.0.3.7", None)], &tasks)
            .unwrap();
        assert_eq!(tg.state_of("abc"), Some(TargetState::Initial));
        let rows = tg.describe_aws(&tasks);
        let ids: Vec<(String, u16)> = rows
            .iter()
            .map(|r| (r.target.id.clone(), r.target.port))
            .collect();
        assert!(ids.contains(&("10.0.3.7".into(), 8000)), "{ids:?}");
        assert!(
            ids.contains(&("127.0.0.1".into(), 9)),
            "static target {ids:?}"
        );
    }

    #[test]
    fn deregistration_names_the_aws_identity() {
        let tg = TargetGroupHandle::new(config());
        let tasks = [task("abc", "10.0.3.7", 49153)];
        tg.register("abc", tasks[0].host);
        let e = tg.deregister_targets(&[req("10.0.3.7", None), req("10.0.3.8", None)], &tasks);
        assert_eq!(e.unwrap_err().aws_code(), "InvalidTarget");
        assert!(tg.state_of("abc").is_some(), "nothing changed");
        tg.deregister_targets(&[req("10.0.3.7", Some(8000))], &tasks)
            .unwrap();
        assert_eq!(
            tg.state_of("abc"),
            None,
            "no requests in flight: gone at once"
        );
        tg.deregister_targets(&[req("127.0.0.1", Some(9))], &tasks)
            .unwrap();
        assert!(tg.describe().is_empty());
    }

    #[test]
    fn describing_an_unregistered_target_says_so() {
        let tg = TargetGroupHandle::new(config());
        let tasks = [task("abc", "10.0.3.7", 49153)];
        let rows = tg
            .describe_aws_targets(&[req("10.0.3.7", None)], &tasks)
            .unwrap();
        assert_eq!(rows[0].target.id, "10.0.3.7");
        assert_eq!(rows[0].health.state, TargetState::Unused);
        assert_eq!(
            rows[0].health.reason,
            Some(crate::alb::ReasonCode::NotRegistered)
        );
    }
}
