//! The AWS API of a running lab, driven by the real AWS CLI (`scripts/aws-cli.sh`) as the
//! reference's commands drive AWS. One test binary; each module is one service (or concern),
//! each test starts its own lab.
//!
//! Run with the machine-wide Docker lock:
//! `flock /tmp/tierlab-docker.lock cargo test --locked --test aws_api -- --test-threads=1`.

#[path = "../lab_support/mod.rs"]
mod lab_support;
#[path = "../support/mod.rs"]
mod support;

mod auth;
mod ecs;
mod elbv2;
mod env;
mod logs_rds;
mod secrets;
