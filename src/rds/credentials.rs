//! How a DB node gets its passwords: as files, never as environment values. Anything in a
//! container's `Config.Env` is printed by `docker inspect` to whoever may talk to the engine,
//! so a node is created with the image contract's `_FILE` variables
//! (`MYSQL_ROOT_PASSWORD_FILE`, `MYSQL_PASSWORD_FILE`, which the official `mysql` image and
//! tierlab's own read on first start) and the files are copied in through the engine's archive
//! API before it starts, mode 0400, owned by the image's `mysql` user (the server reads them
//! after dropping root). tierlab's own shells in the node (`docker exec`, as root: `sql`,
//! `copy`, `backups::restore`) read root's password from [`ROOT_PASSWORD_FILE`] into `MYSQL_PWD`.

use crate::docker::{ContainerFile, ContainerSpec, DockerClient, DockerError};

/// Root's password in every node.
pub const ROOT_PASSWORD_FILE: &str = "/run/tierlab/rds/root-password";
/// The master user's password in every node.
pub const MASTER_PASSWORD_FILE: &str = "/run/tierlab/rds/master-password";

/// The two passwords of an instance; never printed.
#[derive(Clone)]
pub struct NodePasswords {
    pub root: String,
    pub master: String,
}

impl std::fmt::Debug for NodePasswords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodePasswords(<redacted>)")
    }
}

/// The environment entries that name the password files (in place of the values).
pub fn file_env() -> Vec<(String, String)> {
    vec![
        ("MYSQL_ROOT_PASSWORD_FILE".into(), ROOT_PASSWORD_FILE.into()),
        ("MYSQL_PASSWORD_FILE".into(), MASTER_PASSWORD_FILE.into()),
    ]
}

/// The uid and gid of the image's `mysql` user, from its `/etc/passwd`; root when it has none
/// (the server then runs as root too).
pub fn mysql_owner(passwd: &str) -> (u64, u64) {
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && f[0] == "mysql")
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .unwrap_or((0, 0))
}

/// Creates and starts a node from `spec` with `passwords` as its files; a node that fails to
/// start is removed again.
pub async fn run_node(
    docker: &DockerClient,
    spec: &ContainerSpec,
    passwords: &NodePasswords,
) -> Result<String, DockerError> {
    docker
        .run_container_prepared(spec, |id| async move {
            let passwd = docker
                .read_file(&id, "/etc/passwd")
                .await?
                .unwrap_or_default();
            let (uid, gid) = mysql_owner(&String::from_utf8_lossy(&passwd));
            let file = |path: &str, value: &str| ContainerFile {
                path: path.into(),
                uid,
                gid,
                mode: 0o400,
                contents: value.as_bytes().to_vec(),
            };
            Ok::<_, DockerError>(vec![
                file(ROOT_PASSWORD_FILE, &passwords.root),
                file(MASTER_PASSWORD_FILE, &passwords.master),
            ])
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_belong_to_the_images_mysql_user() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nmysql:x:101:102:MariaDB Server:/nonexistent:/bin/false\n";
        assert_eq!(mysql_owner(passwd), (101, 102));
        assert_eq!(mysql_owner("root:x:0:0::/root:/bin/sh\n"), (0, 0));
        assert_eq!(mysql_owner(""), (0, 0));
    }

    #[test]
    fn the_environment_names_files_and_holds_no_password() {
        let env = file_env();
        assert!(
            env.iter()
                .all(|(k, v)| k.ends_with("_FILE") && v.starts_with("/run/"))
        );
        assert_eq!(
            format!(
                "{:?}",
                NodePasswords {
                    root: "r00t".into(),
                    master: "m".into()
                }
            ),
            "NodePasswords(<redacted>)"
        );
    }
}
