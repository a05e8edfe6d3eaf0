//! The AWS API of a running lab: one loopback HTTP endpoint that answers the AWS CLI, boto3 and
//! the SDKs as AWS does, from the live lab.
//!
//! Map:
//! - [`dispatch`]: `X-Amz-Target` → JSON 1.1 service, else `Action=` → Query service (by the
//!   SigV4 credential scope); renders answers and errors in the protocol's shape.
//! - [`query`] (Query-protocol forms), [`xml`] (escaping writer, envelopes, error documents),
//!   [`json`] (JSON 1.1 inputs, errors, epoch timestamps), [`error`] ([`ApiError`]).
//! - [`server`]: the loopback HTTP server (body limit, auth, one log line per call).
//! - [`sigv4`]: verification of AWS Signature V4; [`credentials`]: the lab's own key pair.
//! - [`context`]: [`ApiContext`], the lab as the operations see it.
//! - Services, one entry point each (`call`): [`ecs`], [`logs`], [`autoscaling`],
//!   [`secretsmanager`], [`ssm`] (JSON 1.1); [`elbv2`], [`rds`],
//!   [`ec2`], [`sts`] (Query).

pub mod autoscaling;
pub mod context;
pub mod credentials;
pub mod dispatch;
pub mod ec2;
pub mod ecs;
pub mod elbv2;
pub mod error;
pub mod json;
pub mod logs;
pub mod paging;
pub mod query;
pub mod rds;
pub mod secretsmanager;
pub mod server;
pub mod sigv4;
pub mod ssm;
pub mod sts;
pub mod xml;

pub use context::ApiContext;
pub use credentials::AwsCredentials;
pub use error::ApiError;
