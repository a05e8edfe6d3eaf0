//! The Application Load Balancer, in process.
//!
//! - [`tls`]: the local CA (created once, trusted once) and rustls configs of HTTPS listeners.
//! - [`health`]: AWS's target health states and reason codes; the pure state machine.
//! - [`target_group`]: registered targets, lock-free round robin, fail-open.
//! - [`checker`]: active HTTP health checks feeding the state machine.
//! - [`headers`]: hop-by-hop removal, `X-Forwarded-*` modes, head limits, redirect `Location`.
//! - [`trace_id`]: `X-Amzn-Trace-Id` created or extended as ALB does.
//! - [`failover`]: what a failed attempt means, and whether to retry it elsewhere.
//! - [`body`]: streamed request/response bodies that retries, draining and outcomes need.
//! - [`outcome`]: [`RequestOutcome`] of every request, for access logs and metrics.
//! - [`websocket`]: `Upgrade` pass-through.
//! - [`proxy`]: forwarding with streamed bodies; 502/503/504 as ALB answers them; failover.
//! - [`listener`]: accept, TLS, HTTP/1.1 + HTTP/2, graceful stop.
//! - [`load_balancer`]: [`LoadBalancerHandle::start`] wires a config's listeners together.

#![warn(missing_docs)]

pub mod body;
pub mod checker;
mod error;
pub mod failover;
pub mod headers;
pub mod health;
pub mod listener;
pub mod load_balancer;
pub mod outcome;
pub mod proxy;
pub mod target_group;
pub mod tls;
pub mod trace_id;
mod websocket;

pub use error::AlbError;
pub use health::{CheckOutcome, HealthMachine, Reason, ReasonCode, TargetState, Transition};
pub use load_balancer::{ListenerEndpoint, LoadBalancerHandle};
pub use outcome::{OutcomeSink, RequestOutcome};
pub use target_group::{TargetDescription, TargetGroupHandle};
pub use tls::{LeafCertificate, LocalCa};
