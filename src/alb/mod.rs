//! The Application Load Balancer, in process.
//!
//! - [`tls`]: the local CA (created once, trusted once) and rustls configs of HTTPS listeners.
//! - [`health`]: AWS's target health states and reason codes; the pure state machine.
//! - [`target_group`]: registered targets, their in-flight counts, draining, passive ejection;
//!   its live [`settings`] (validated `modify-target-group(-attributes)`), and [`ip_targets`]:
//!   targets as the AWS API names them (a task's private IP) and where tierlab reaches them.
//! - [`checker`]: active HTTP health checks feeding the state machine.
//! - [`headers`]: hop-by-hop removal, `X-Forwarded-*` modes, head limits.
//! - [`trace_id`]: `X-Amzn-Trace-Id` created or extended as ALB does.
//! - [`failover`]: what a failed attempt means, whose fault it is, whether to retry it elsewhere.
//! - [`body`]: the request body sent to targets, given back whole for a retry; how the client's
//!   side of it went (whole, malformed, abandoned, stalled).
//! - [`pool`]: pooled keep-alive HTTP/1.1 connections to targets, lock-free; [`chunked`]: the
//!   chunked body decoder both directions use.
//! - [`websocket`]: `Upgrade` pass-through.
//! - [`proxy`]: forwarding with streamed bodies; 400/502/503/504 as ALB answers them; failover.
//! - [`rules`]: listener rules (conditions, priorities) and their actions.
//! - [`routing`]: target selection (algorithms, slow start, stickiness, weighted forward).
//! - [`listener`]: accept, TLS, HTTP/1.1 + HTTP/2, graceful stop; [`http1`]: tierlab's own
//!   HTTP/1.1 server side (hyper's serves HTTP/2); [`request_body`]: a client's request body
//!   whichever version it came in.
//! - [`limits`]: caps on client connections (per load balancer, per process from
//!   `RLIMIT_NOFILE`); [`deadlines`]: first-byte and idle deadlines of a client connection.
//! - [`local_error`]: tierlab's own shortages (descriptors, buffers, ports), never a target's.
//! - [`memory`]: free memory handed back to the system once a connection storm is over.
//! - [`metrics`]: CloudWatch's `AWS/ApplicationELB` metrics in Prometheus text format.
//! - [`access_log`]: ALB access log lines and the background writer of their files.
//! - [`observe`]: the per-request hook feeding both (the proxy reports each forward as a
//!   [`observe::TargetOutcome`]); [`arn`]: fake but well-formed AWS ids.
//! - [`bind`]: why a socket could not be bound, and the key that fixes it.
//! - [`sni`]: picking an HTTPS listener's certificate by SNI.
//! - [`load_balancer`]: [`LoadBalancerHandle::start`] wires a config's listeners together.
//! - [`data_plane`]: the threads that serve clients, one single-threaded runtime per core;
//!   [`reuseport`]: each listener's sockets, one per thread on one port.

#![warn(missing_docs)]

pub mod access_log;
pub mod arn;
pub mod bind;
pub mod body;
pub mod checker;
pub(crate) mod chunked;
pub mod counter;
pub mod data_plane;
pub mod deadlines;
mod error;
pub mod failover;
pub mod headers;
pub mod health;
pub mod host;
pub mod http1;
pub mod ip_targets;
pub mod limits;
pub mod listener;
pub mod load_balancer;
pub mod local_error;
pub mod memory;
pub mod metrics;
pub mod metrics_endpoint;
pub mod observe;
pub mod pool;
pub mod proxy;
pub mod request_body;
pub mod reuseport;
pub mod routing;
pub mod rules;
pub mod settings;
pub mod sni;
pub mod target_group;
pub mod throttle;
pub mod tls;
pub mod toxics;
pub mod trace_id;
mod websocket;

pub use error::AlbError;
pub use health::{CheckOutcome, HealthMachine, Reason, ReasonCode, TargetState, Transition};
pub use load_balancer::{ListenerEndpoint, LoadBalancerHandle};
pub use metrics::LoadBalancerMetrics;
pub use target_group::{ConfigRef, TargetDescription, TargetGroupHandle};
pub use tls::{LeafCertificate, ListenerTls, LocalCa};
