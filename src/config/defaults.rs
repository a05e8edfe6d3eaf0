//! Every default in one place. They are AWS's own, so that leaving a key out behaves as on AWS.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// ALB target group health check: `HealthCheckIntervalSeconds` default.
pub const HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(30);
/// `HealthCheckTimeoutSeconds` default for HTTP target groups of target type ip.
pub const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// `HealthyThresholdCount` default.
pub const HEALTHY_THRESHOLD: u32 = 5;
/// `UnhealthyThresholdCount` default.
pub const UNHEALTHY_THRESHOLD: u32 = 2;
/// `Matcher.HttpCode` default.
pub const HEALTH_CHECK_MATCHER: &str = "200";
/// `HealthCheckPath` default.
pub const HEALTH_CHECK_PATH: &str = "/";
/// Target group protocol when not given (the only one tierlab serves).
pub const TARGET_GROUP_PROTOCOL: &str = "HTTP";
/// Target type when not given (the only one tierlab supports: tasks register by address).
pub const TARGET_TYPE: &str = "ip";
/// `deregistration_delay.timeout_seconds` default.
pub const DEREGISTRATION_DELAY: Duration = Duration::from_secs(300);
/// ALB `idle_timeout.timeout_seconds` default.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long ALB waits for a connection to a target before answering 504 (fixed on AWS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Consecutive 5xx answers that eject a target (tierlab mode; 0 would disable).
pub const OUTLIER_CONSECUTIVE_5XX: u32 = 5;
/// Listeners bind loopback: the "internet" of this lab is this machine.
pub const LISTENER_BIND_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Host names of a certificate from the local CA when `certificate = {}`.
pub const CERTIFICATE_HOSTNAMES: [&str; 2] = ["localhost", "127.0.0.1"];
/// How long `up` waits for the database and the first healthy tasks.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);
/// `[lab] region` when not given (AWS's default region).
pub const REGION: &str = "us-east-1";
/// `[lab] api-port` when not given: the AWS API on 127.0.0.1:4600. Not LocalStack's 4566 (nor
/// its 4510-4559 range), so both can run side by side.
pub const API_PORT: u16 = 4600;
/// RDS engine version when not given.
pub const ENGINE_VERSION: &str = "8.0";
/// RDS MySQL port.
pub const DB_PORT: u16 = 3306;
/// RDS `BackupRetentionPeriod` default (1 day).
pub const BACKUP_RETENTION_DAYS: u32 = 1;
/// RDS `MultiAZ` default.
pub const MULTI_AZ: bool = false;
/// EC2 instance type of a bastion when not given (the reference's).
pub const INSTANCE_TYPE: &str = "t2.micro";
/// The bastion's image when not given (built from `images/bastion`).
pub const BASTION_IMAGE: &str = "tierlab/bastion:latest";
/// awslogs `awslogs-stream-prefix` as the ECS console sets it.
pub const LOG_STREAM_PREFIX: &str = "ecs";

/// awslogs `awslogs-group` as the ECS console sets it: `/ecs/<family>`.
pub fn log_group(family: &str) -> String {
    format!("/ecs/{family}")
}
