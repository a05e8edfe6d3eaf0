//! How the host reaches a DB instance: the instance a command means (by identifier, or the
//! only one), the bastion whose security groups let it in now, and the `ssh` arguments of a
//! tunnel through it. Shared by `tierlab db shell` / `db tunnel` and the harness's
//! `Lab::mysql`, so both go the same way: only ever to 127.0.0.1 on the host.

use crate::bastion::BastionStatus;
use crate::error::Error;

use super::{DatabaseStatus, LabStatus};

impl LabStatus {
    /// The instance `id`, or the only one.
    pub fn database(&self, id: Option<&str>) -> Result<&DatabaseStatus, Error> {
        let status = self;
        let ids = || {
            let all: Vec<&str> = status
                .databases
                .iter()
                .map(|d| d.identifier.as_str())
                .collect();
            all.join(", ")
        };
        match id {
            Some(id) => status
                .databases
                .iter()
                .find(|d| d.identifier == id)
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "DBInstanceNotFound: DBInstance {id} not found (instances: {})",
                        ids()
                    ))
                }),
            None => match status.databases.as_slice() {
                [only] => Ok(only),
                [] => Err(Error::Usage(format!(
                    "lab `{}` has no DB instance",
                    status.lab
                ))),
                _ => Err(Error::Usage(format!(
                    "lab `{}` has several DB instances; name one: {}",
                    status.lab,
                    ids()
                ))),
            },
        }
    }

    /// A bastion whose security groups let it reach `id` now.
    pub fn bastion_reaching(&self, id: &str) -> Result<&BastionStatus, Error> {
        let status = self;
        status
        .bastions
        .iter()
        .find(|b| b.databases.iter().any(|d| d == id))
        .ok_or_else(|| {
            Error::Usage(if status.bastions.is_empty() {
                format!(
                    "lab `{}` has no bastion to reach `{id}` through; add a [bastions.NAME] table (see emulator.toml)",
                    status.lab
                )
            } else {
                format!(
                    "no bastion may reach `{id}` now: its security groups have no ingress rule for the bastion's \
                     (e.g. `aws ec2 authorize-security-group-ingress --group-id <db-sg id> --protocol tcp --port 3306 --source-group <bastion-sg id>`)"
                )
            })
        })
    }
}

/// `ssh` options of a tunnel from 127.0.0.1:`port` to `db`'s endpoint, resolved by the bastion
/// (the endpoint follows a failover); the bastion's `-F CONFIG NAME` come after them.
pub fn forward_args(port: u16, db: &DatabaseStatus) -> Vec<String> {
    vec![
        "-N".to_string(),
        "-o".into(),
        "ExitOnForwardFailure=yes".into(),
        "-L".into(),
        format!("127.0.0.1:{port}:{}:{}", db.endpoint, db.port),
    ]
}
