//! tierlab runs a faithful copy of a classic AWS three-tier web architecture on one machine,
//! offline: an Application Load Balancer (in process), an ECS-Fargate-like service of app
//! containers, and an RDS-like MySQL-family database on an isolated Docker network.
//!
//! Map of the modules:
//! - [`config`]: `emulator.toml` → a validated, typed [`Config`] (errors name file, line, key, value).
//! - [`vpc`]: subnets and security groups → Docker networks and who is attached where.
//! - [`docker`]: a thin bollard wrapper (labels, networks, images, containers, events).
//! - [`alb`]: the load balancer: listeners, TLS (local CA, SNI), listener rules, routing,
//!   target groups and health checks, the proxy with retries, its upstream pool, access logs and
//!   metrics (map in `alb/mod.rs`).
//! - [`ecs`]: task definitions → containers; the service controller that keeps the desired count.
//! - [`autoscaling`]: Application Auto Scaling of the services (targets, target tracking, metrics).
//! - [`rds`]: the database instance: container, volume, readiness.
//! - [`bastion`]: the bastion host (SSH server in a public subnet), its key pair and ssh files.
//! - [`logs`]: the log store as CloudWatch Logs sees it (groups, streams, events, paging, filters).
//! - [`lab`]: [`Lab`] wires them together: start, endpoints, status, shutdown.
//! - [`harness`]: labs in test suites: `Lab::builder()` (isolated, parallel, reaped), an HTTPS
//!   client trusting the lab's CA, MySQL through the bastion tunnel, chaos, steady waits.
//! - [`api`]: the AWS API of a running lab (Query and JSON 1.1 protocols, SigV4), from the live lab.
//! - [`control`]: the loopback control endpoint that `tierlab status` asks a running `up`.
//! - [`dashboard`]: the live dashboard that endpoint serves to a browser (architecture, charts,
//!   events, buttons).
//! - [`secrets`]: the lab's Secrets Manager and Parameter Store (encrypted at rest, atomic writes).
//! - [`registry`]: ARNs and AWS-style ids of the lab's resources, kept across runs.
//! - [`state`]: the state directory (secrets, CA, logs).
//! - [`cli`]: the `tierlab` command line (one library call per subcommand).

pub mod alb;
pub mod api;
pub mod autoscaling;
pub mod bastion;
pub mod chaos;
pub mod cli;
pub mod config;
pub mod control;
pub mod dashboard;
pub mod docker;
pub mod ecs;
pub mod error;
pub mod harness;
pub mod lab;
pub mod logs;
pub mod loopback_http;
pub mod rds;
pub mod registry;
pub mod secrets;
pub mod state;
pub mod vpc;

pub use config::Config;
pub use error::Error;
pub use lab::Lab;
