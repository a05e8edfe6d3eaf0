//! Physical copies of a DB node with `mariadb-backup`: what a Multi-AZ standby and a read replica
//! are built from (RDS builds both from a snapshot of the source), and what a snapshot holds.
//!
//! [`take`] runs in the source node's container, which keeps serving: `mariadb-backup --backup`
//! into the lab's RDS storage (mounted at [`STORAGE_MOUNT`] in every DB container), then
//! `--prepare` there too (the source has the server's configuration, encryption plugin
//! included), so a stored copy is consistent data files plus the GTID position it is consistent
//! at. [`restore_into_volume`] copies one into an empty volume (`--copy-back`, owned by `mysql`)
//! in a short-lived container that runs nothing else; a server started on that volume starts
//! from exactly that position.

use std::path::{Path, PathBuf};

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::CreateContainerOptions;

use crate::docker::{DockerClient, DockerError, labels};

use super::STORAGE_MOUNT;

/// The restore container's longest life: it is removed as soon as the copy is in, and if
/// tierlab dies meanwhile it exits by itself (and the orphan sweep removes it).
const JOB_LIFETIME_SECS: u32 = 600;

/// Backup then prepare, in the source container; `$1` port, `$2` directory under the storage.
/// The password comes from root's password file in the container (never from an argument).
const TAKE: &str = r#"set -e
dir="/tierlab/rds/$2"; log="/tmp/tierlab-copy-$$.log"
rm -rf "$dir"; mkdir -p "$(dirname "$dir")"
export MYSQL_PWD="$(cat /run/tierlab/rds/root-password)"
if ! mariadb-backup --backup --user=root --host=127.0.0.1 --port="$1" --target-dir="$dir" >"$log" 2>&1; then
  tail -n 15 "$log" >&2; rm -rf "$dir" "$log"; exit 1
fi
if ! mariadb-backup --prepare --target-dir="$dir" >"$log" 2>&1; then
  tail -n 15 "$log" >&2; rm -rf "$dir" "$log"; exit 1
fi
rm -f "$log"
cat "$dir/xtrabackup_binlog_info" 2>/dev/null || true
"#;

/// Copy-back into the (empty) data directory; `$1` directory under the storage.
const RESTORE: &str = r#"set -e
dir="/tierlab/rds/$1"; log="/tmp/tierlab-restore.log"
[ -d "$dir" ] || { echo "no copy at $dir" >&2; exit 1; }
if [ -n "$(ls -A /var/lib/mysql)" ]; then echo "the volume is not empty" >&2; exit 1; fi
if ! mariadb-backup --copy-back --target-dir="$dir" --datadir=/var/lib/mysql >"$log" 2>&1; then
  tail -n 15 "$log" >&2; exit 1
fi
chown -R mysql:mysql /var/lib/mysql
"#;

/// Errors of taking or restoring a copy.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("mariadb-backup in container {container} failed: {message}")]
    Backup { container: String, message: String },
    #[error("restoring copy `{copy}` into volume `{volume}` failed: {message}")]
    Restore {
        copy: String,
        volume: String,
        message: String,
    },
    #[error("copy of a DB node")]
    Docker(#[from] DockerError),
}

/// A consistent physical copy in the lab's RDS storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// Where it is under the storage, e.g. `seeds/flask-crud-db-standby`.
    pub relative: String,
    /// The same on the host (under [`super::storage_dir`]).
    pub dir: PathBuf,
    /// The GTID position the copy is consistent at (`gtid_slave_pos` of a replica started on
    /// it; empty when the source had written no GTID yet).
    pub gtid: String,
    /// The binary log file and position at that point, as `mariadb-backup` reported them.
    pub binlog_file: String,
    pub binlog_position: u64,
}

impl Seed {
    /// The copy's directory inside a DB container.
    pub fn container_dir(&self) -> String {
        format!("{STORAGE_MOUNT}/{}", self.relative)
    }

    /// Deletes the copy (a seed is temporary once its node runs).
    pub fn remove(&self) -> std::io::Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Takes a physical copy of the node in `container` (engine on `port`) into `relative` under the
/// lab's RDS storage `storage` (host path), replacing what was there. The node keeps serving;
/// `mariadb-backup` blocks commits only for the instant it records the position.
pub async fn take(
    docker: &DockerClient,
    container: &str,
    port: u16,
    storage: &Path,
    relative: &str,
) -> Result<Seed, CopyError> {
    let port_arg = port.to_string();
    let output = docker
        .exec_with_input(
            container,
            &["sh", "-c", TAKE, "sh", &port_arg, relative],
            b"",
        )
        .await?;
    if output.exit_code != 0 {
        return Err(CopyError::Backup {
            container: container.chars().take(12).collect(),
            message: output.stderr.trim().to_string(),
        });
    }
    let (binlog_file, binlog_position, gtid) = parse_binlog_info(&output.stdout);
    Ok(Seed {
        relative: relative.to_string(),
        dir: storage.join(relative),
        gtid,
        binlog_file,
        binlog_position,
    })
}

/// `xtrabackup_binlog_info`: `<file>\t<position>\t<gtid>` (the GTID is absent when the source
/// had none; several domains are comma-separated).
pub fn parse_binlog_info(text: &str) -> (String, u64, String) {
    let mut fields = text.split_whitespace();
    let file = fields.next().unwrap_or_default().to_string();
    let position = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let gtid = fields.collect::<Vec<_>>().join("");
    (file, position, gtid)
}

/// What to restore, and where.
#[derive(Debug, Clone)]
pub struct Restore<'a> {
    /// The lab (for the labels of the volume and of the short-lived container).
    pub lab: &'a str,
    /// The instance the volume is for (label `tierlab.resource`).
    pub identifier: &'a str,
    /// The DB image (it has `mariadb-backup`).
    pub image: &'a str,
    /// The lab's RDS storage on the host, mounted at [`STORAGE_MOUNT`].
    pub storage: &'a Path,
    /// The volume to create and fill; it must not exist yet or be empty.
    pub volume: &'a str,
}

/// Creates `restore.volume` (labelled as the instance's data volume) and copies `seed` into it,
/// owned by the server's user. A server started on the volume starts at `seed.gtid`.
pub async fn restore_into_volume(
    docker: &DockerClient,
    seed: &Seed,
    restore: &Restore<'_>,
) -> Result<(), CopyError> {
    docker
        .ensure_volume(
            restore.volume,
            labels::of(
                restore.lab,
                labels::Role::DatabaseVolume,
                restore.identifier,
            ),
        )
        .await?;
    let job = start_job(docker, restore).await?;
    let result = docker
        .exec_with_input(&job, &["sh", "-c", RESTORE, "sh", &seed.relative], b"")
        .await;
    let _ = docker.remove_container(&job, true).await;
    let output = result?;
    if output.exit_code != 0 {
        return Err(CopyError::Restore {
            copy: seed.relative.clone(),
            volume: restore.volume.to_string(),
            message: output.stderr.trim().to_string(),
        });
    }
    Ok(())
}

/// A container that only waits (no network at all), with the volume and the storage mounted,
/// to run the restore in.
async fn start_job(docker: &DockerClient, restore: &Restore<'_>) -> Result<String, DockerError> {
    let name = format!("{}-restore", restore.volume);
    // A leftover of an interrupted restore would hold the name.
    docker.remove_container(&name, true).await?;
    let mut job_labels = labels::of(restore.lab, labels::Role::DatabaseJob, restore.identifier);
    job_labels.insert("tierlab.job".into(), "restore".into());
    let body = ContainerCreateBody {
        image: Some(restore.image.to_string()),
        entrypoint: Some(vec!["sleep".into()]),
        cmd: Some(vec![JOB_LIFETIME_SECS.to_string()]),
        labels: Some(job_labels),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            mounts: Some(vec![
                Mount {
                    target: Some("/var/lib/mysql".into()),
                    source: Some(restore.volume.to_string()),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                },
                Mount {
                    target: Some(STORAGE_MOUNT.into()),
                    source: Some(restore.storage.display().to_string()),
                    typ: Some(MountType::BIND),
                    ..Default::default()
                },
            ]),
            auto_remove: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptions {
        name: Some(name.clone()),
        ..Default::default()
    };
    let api = docker.bollard();
    let created = api
        .create_container(Some(options), body)
        .await
        .map_err(DockerError::op("create container", &name))?;
    if let Err(e) = api
        .start_container(
            &created.id,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
    {
        let _ = docker.remove_container(&created.id, true).await;
        return Err(DockerError::op("start container", &name)(e));
    }
    Ok(created.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binlog_info_gives_file_position_and_gtid() {
        assert_eq!(
            parse_binlog_info("mysql-bin.000002\t1234\t0-1-17\n"),
            ("mysql-bin.000002".into(), 1234, "0-1-17".into())
        );
        assert_eq!(
            parse_binlog_info("mysql-bin.000002\t1234\t0-1-17,1-2-3\n"),
            ("mysql-bin.000002".into(), 1234, "0-1-17,1-2-3".into())
        );
        assert_eq!(
            parse_binlog_info("mysql-bin.000001\t330\n"),
            ("mysql-bin.000001".into(), 330, String::new())
        );
        assert_eq!(parse_binlog_info(""), (String::new(), 0, String::new()));
    }

    #[test]
    fn a_seed_lives_under_the_storage_mount() {
        let seed = Seed {
            relative: "seeds/db-standby".into(),
            dir: PathBuf::from("/state/labs/l/rds/seeds/db-standby"),
            gtid: "0-1-5".into(),
            binlog_file: "mysql-bin.000001".into(),
            binlog_position: 4,
        };
        assert_eq!(seed.container_dir(), "/tierlab/rds/seeds/db-standby");
    }
}
