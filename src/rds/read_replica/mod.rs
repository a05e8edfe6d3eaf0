//! Read replicas: separate DB instances that replicate from a source instance asynchronously
//! by GTID, read-only, each with its own volume and endpoint, as RDS's
//! `create-db-instance-read-replica` makes them and `promote-read-replica` turns them into
//! standalone instances.
//!
//! - [`status`]: what `SHOW SLAVE STATUS` means for RDS (`replicating`/`error`/`stopped`,
//!   `ReplicaLag`, events), pure.
//! - [`settings`]: a replica's settings from its source's, pure.
//! - [`state`]: the last sample, shared by the instance's clones.
//! - [`role`]: the option file that keeps a replica read-only across restarts.
//! - [`ops`]: reading, delaying and promoting a replica's engine; [`sampler`]: the loop that
//!   samples its replication.
//! - [`metrics`]: `ReplicaLag` for the lab's Prometheus endpoint.

pub mod metrics;
pub mod ops;
pub mod role;
pub mod sampler;
pub mod settings;
pub mod state;
pub mod status;

pub use settings::replica_settings;
pub use state::ReplicaCell;
pub use status::{LAG_NOT_REPLICATING, ReplicaObserved, ReplicationState, SlaveStatus};
