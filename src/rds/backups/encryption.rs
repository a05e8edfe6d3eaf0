//! `storage-encrypted = true`: MariaDB data-at-rest encryption, as RDS encrypts an instance's
//! storage, its automated backups and snapshots. The `file_key_management` plugin reads a key
//! kept in the state directory (`labs/<lab>/keys/<id>.key`, mode 0600, owned by the container's
//! `mysql` user so that only the server reads it), bind-mounted read-only into that instance's
//! container only (not in the RDS storage every DB container mounts). Tables, the redo log,
//! temporary files and the binary logs are encrypted; a snapshot keeps its own copy of the key,
//! so an instance restored from it can read it.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, LogsOptions, WaitContainerOptions};
use futures_util::StreamExt;
use rand::Rng;

use crate::docker::{BindMount, DockerClient, DockerError};
use crate::state::StateDir;

use super::BackupError;

/// Where the key and the server settings are mounted in the container.
pub const KEY_MOUNT: &str = "/etc/mysql/tierlab-encryption/keyfile";
pub const CNF_MOUNT: &str = "/etc/mysql/mariadb.conf.d/95-tierlab-encryption.cnf";

/// Read by the server and by `mariadb-backup` (group `[mysqld]`), so copies are taken and
/// prepared with the key too.
const CNF: &str = "# tierlab: storage-encrypted = true (RDS's --storage-encrypted)
[mysqld]
plugin_load_add = file_key_management
file_key_management_filename = /etc/mysql/tierlab-encryption/keyfile
file_key_management_encryption_algorithm = AES_CTR
innodb_encrypt_tables = ON
innodb_encrypt_log = ON
innodb_encrypt_temporary_tables = ON
innodb_encryption_threads = 2
encrypt_binlog = ON
encrypt_tmp_files = ON
";

fn keys_dir(state: &StateDir, lab: &str) -> PathBuf {
    state.lab_dir(lab).join("keys")
}

/// The key file of an instance (or of a snapshot: `snapshot.<id>`).
pub fn key_path(state: &StateDir, lab: &str, owner: &str) -> PathBuf {
    keys_dir(state, lab).join(format!("{owner}.key"))
}

/// `1;<64 hex digits>`: key id 1, a 256-bit key, as `file_key_management` reads it.
fn new_key() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!("1;{}\n", hex::encode(bytes))
}

/// The mounts an encrypted instance's container needs: its key (created on first use) and the
/// server settings.
pub async fn mounts(
    docker: &DockerClient,
    state: &StateDir,
    lab: &str,
    identifier: &str,
    image: &str,
) -> Result<Vec<BindMount>, BackupError> {
    let dir = keys_dir(state, lab);
    crate::state::create_private_dir(&dir).map_err(BackupError::Secret)?;
    let key = key_path(state, lab, identifier);
    if !key.exists() {
        crate::state::write_private_file(&key, new_key().as_bytes())
            .map_err(BackupError::Secret)?;
    }
    let (uid, gid) = mysql_user(docker, image).await?;
    std::os::unix::fs::chown(&key, Some(uid), Some(gid)).map_err(|source| {
        BackupError::Secret(crate::state::StateError {
            path: key.clone(),
            action: "give the key to the container's mysql user",
            source,
        })
    })?;
    let cnf = dir.join("encryption.cnf");
    std::fs::write(&cnf, CNF)
        .and_then(|()| std::fs::set_permissions(&cnf, std::fs::Permissions::from_mode(0o644)))
        .map_err(|source| {
            BackupError::Secret(crate::state::StateError {
                path: cnf.clone(),
                action: "write the encryption settings",
                source,
            })
        })?;
    Ok(vec![
        BindMount {
            source: key,
            target: KEY_MOUNT.into(),
            read_only: true,
        },
        BindMount {
            source: cnf,
            target: CNF_MOUNT.into(),
            read_only: true,
        },
    ])
}

/// Copies the key of `from` to `to` (an instance's to its snapshot's, a snapshot's to the
/// instance restored from it). Nothing to copy when `from` has no key.
pub fn copy_key(state: &StateDir, lab: &str, from: &str, to: &str) -> Result<(), BackupError> {
    let source = key_path(state, lab, from);
    let Ok(key) = std::fs::read(&source) else {
        return Ok(());
    };
    crate::state::write_private_file(&key_path(state, lab, to), &key).map_err(BackupError::Secret)
}

/// The uid and gid of `mysql` in `image`: a container that runs `id` and exits.
async fn mysql_user(docker: &DockerClient, image: &str) -> Result<(u32, u32), BackupError> {
    let out = run_once(docker, image, "echo $(id -u mysql) $(id -g mysql)").await?;
    let mut ids = out.split_whitespace().filter_map(|n| n.parse::<u32>().ok());
    match (ids.next(), ids.next()) {
        (Some(uid), Some(gid)) => Ok((uid, gid)),
        _ => Err(BackupError::Archive {
            identifier: image.to_string(),
            message: format!("cannot tell the mysql user's ids from `{}`", out.trim()),
        }),
    }
}

/// Runs `script` with `sh -c` in a network-less container of `image`; its standard output.
async fn run_once(docker: &DockerClient, image: &str, script: &str) -> Result<String, DockerError> {
    let api = docker.bollard();
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec!["sh".into(), "-c".into(), script.into()]),
        cmd: Some(Vec::new()),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = api
        .create_container(None::<CreateContainerOptions>, body)
        .await
        .map_err(DockerError::op("create container of", image))?;
    let id = created.id;
    let result = async {
        api.start_container(
            &id,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .map_err(DockerError::op("start container", &id))?;
        let mut wait = api.wait_container(&id, None::<WaitContainerOptions>);
        while let Some(step) = wait.next().await {
            if step.is_err() {
                break;
            }
        }
        let options = LogsOptions {
            stdout: true,
            ..Default::default()
        };
        let mut logs = api.logs(&id, Some(options));
        let mut out = String::new();
        while let Some(chunk) = logs.next().await {
            let chunk = chunk.map_err(DockerError::op("read logs of", &id))?;
            out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        Ok(out)
    }
    .await;
    let _ = docker.remove_container(&id, true).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_256_bit_hex_with_id_1() {
        let key = new_key();
        let (id, hex) = key.trim().split_once(';').unwrap();
        assert_eq!(id, "1");
        assert_eq!(hex.len(), 64);
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(new_key(), key);
    }

    #[test]
    fn a_key_travels_to_a_snapshot_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(dir.path());
        crate::state::create_private_dir(&keys_dir(&state, "lab")).unwrap();
        crate::state::write_private_file(&key_path(&state, "lab", "db"), b"1;ab\n").unwrap();
        copy_key(&state, "lab", "db", "snapshot.s1").unwrap();
        let copied = key_path(&state, "lab", "snapshot.s1");
        assert_eq!(std::fs::read(&copied).unwrap(), b"1;ab\n");
        let mode = std::fs::metadata(&copied).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        copy_key(&state, "lab", "none", "x").unwrap();
        assert!(!key_path(&state, "lab", "x").exists());
    }
}
