//! A task definition's `secrets` → what its container gets, at each task launch.
//!
//! ECS's agent fetches each `valueFrom` when a task starts and hands the values to the
//! container runtime, which puts them in the process environment. Here the values must reach
//! the app's process without appearing in the container's configuration: anything in Docker's
//! `Config.Env` is printed by `docker inspect` to whoever may talk to the engine. So:
//!
//! 1. the values are resolved from the lab's store when the task launches (so
//!    `put-secret-value` followed by a new task — `--force-new-deployment`, a replaced task —
//!    rolls the new value out, as on ECS);
//! 2. the container is created with the image's own program wrapped by a launcher: entrypoint
//!    `/bin/sh -c '. FILE; exec "$@"' tierlab-launcher`, command = the image's `ENTRYPOINT` +
//!    `CMD` (or the task definition's `command`), read from the image, so the app starts exactly
//!    as it would (same argv, same PID 1 after `exec`);
//! 3. before it starts, [`SECRETS_FILE`] is copied in through the engine's archive API: `export
//!    NAME='value'` lines, mode 0400, owned by the user the image runs as (looked up in the
//!    container's own `/etc/passwd` and `/etc/group`, so a named `USER app` works);
//! 4. the launcher sources it and `exec`s the program, which has the variables in its
//!    environment, like ECS's.
//!
//! Why this and not another way: a bind mount of a host file would need the host's path inside
//! the engine's reach and leave the plaintext on the host disk; Docker's own secrets need swarm
//! mode; an env file given to `docker run --env-file` ends in `Config.Env` all the same. The
//! price: the image needs `/bin/sh` (Debian-, Alpine- and distro-based images have it; a
//! `scratch` image with `secrets` is refused at launch with that reason).

use crate::config::{ContainerSecret, TaskDefinition};
use crate::docker::{ContainerFile, ContainerSpec, DockerClient, DockerError, ImageRunConfig};
use crate::secrets::SecretStore;

/// Where the values are put in the container (its parents are created by the engine).
pub const SECRETS_FILE: &str = "/run/tierlab/task-secrets";
/// The launcher's script (`sh -c SCRIPT tierlab-launcher ARGV...`).
const LAUNCHER: &str = ". /run/tierlab/task-secrets && exec \"$@\"";
/// `$0` of the launcher (shows in `ps` only until the `exec`).
const LAUNCHER_NAME: &str = "tierlab-launcher";

/// Why a task with secrets could not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// A value could not be had (worded as the ECS agent's stop reason).
    #[error("ResourceInitializationError: unable to pull secrets or registry auth: {0}")]
    Secrets(String),
    /// The image cannot run the launcher.
    #[error("CannotStartContainerError: {0}")]
    Image(String),
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// Creates and starts the task's container: as it is without secrets, else with the values in
/// a 0400 file the launcher reads (see the module's notes). Returns the container id.
pub async fn run(
    docker: &DockerClient,
    spec: &ContainerSpec,
    task_def: &TaskDefinition,
    store: &SecretStore,
) -> Result<String, LaunchError> {
    let secrets = &task_def.container.secrets;
    if secrets.is_empty() {
        return Ok(docker.run_container(spec).await?);
    }
    let values = resolve(secrets, store)?;
    let image = docker.image_run_config(&spec.image).await?;
    let (entrypoint, cmd) =
        launch_argv(&image, task_def.container.command.as_deref()).map_err(LaunchError::Image)?;
    let mut spec = spec.clone();
    spec.entrypoint = Some(entrypoint);
    spec.cmd = Some(cmd);
    let contents = env_file(&values).map_err(LaunchError::Secrets)?;
    docker
        .run_container_prepared(&spec, |id| async move {
            let passwd = docker
                .read_file(&id, "/etc/passwd")
                .await?
                .unwrap_or_default();
            let group = docker
                .read_file(&id, "/etc/group")
                .await?
                .unwrap_or_default();
            let (uid, gid) = resolve_user(
                &image.user,
                &String::from_utf8_lossy(&passwd),
                &String::from_utf8_lossy(&group),
            )
            .map_err(LaunchError::Image)?;
            Ok::<_, LaunchError>(vec![ContainerFile {
                path: SECRETS_FILE.into(),
                uid,
                gid,
                mode: 0o400,
                contents,
            }])
        })
        .await
}

/// Each secret's value now, in the order of the task definition.
pub fn resolve(
    secrets: &[ContainerSecret],
    store: &SecretStore,
) -> Result<Vec<(String, String)>, LaunchError> {
    secrets
        .iter()
        .map(|s| {
            store
                .resolve(&s.reference)
                .map(|value| (s.name.clone(), value))
                .map_err(LaunchError::Secrets)
        })
        .collect()
}

/// The launcher's entrypoint and command: the image's program (or the task's `command` in
/// place of its `CMD`, as ECS's `command` does) after the launcher.
pub fn launch_argv(
    image: &ImageRunConfig,
    command: Option<&[String]>,
) -> Result<(Vec<String>, Vec<String>), String> {
    let mut argv = image.entrypoint.clone();
    argv.extend(command.map_or_else(|| image.cmd.clone(), <[String]>::to_vec));
    if argv.is_empty() {
        return Err("the image has neither ENTRYPOINT nor CMD and the task definition no command: nothing to start".into());
    }
    let entrypoint = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        LAUNCHER.to_string(),
        LAUNCHER_NAME.to_string(),
    ];
    Ok((entrypoint, argv))
}

/// `export NAME='value'` lines for `sh` (a `'` inside a value is written `'\''`).
pub fn env_file(values: &[(String, String)]) -> Result<Vec<u8>, String> {
    let mut out = String::new();
    for (name, value) in values {
        if value.contains('\0') {
            return Err(format!(
                "the value of {name} contains a NUL byte, which an environment variable cannot hold"
            ));
        }
        out.push_str(&format!(
            "export {name}='{}'\n",
            value.replace('\'', "'\\''")
        ));
    }
    Ok(out.into_bytes())
}

/// The uid and gid the image's `USER` (`""`, `name`, `uid`, `name:group`, `uid:gid`) runs as,
/// looked up in the image's `/etc/passwd` and `/etc/group` texts.
pub fn resolve_user(user: &str, passwd: &str, group: &str) -> Result<(u64, u64), String> {
    if user.is_empty() {
        return Ok((0, 0));
    }
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let entry = |table: &str, name: &str| {
        table
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 4 && f[0] == name)
            .map(|f| f.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    };
    let (uid, primary_gid) = match user_part.parse::<u64>() {
        Ok(uid) => {
            let gid = passwd
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() >= 4 && f[2] == user_part)
                .and_then(|f| f[3].parse().ok())
                .unwrap_or(uid);
            (uid, gid)
        }
        Err(_) => {
            let f = entry(passwd, user_part).ok_or_else(|| {
                format!("the image's USER `{user_part}` is not in its /etc/passwd")
            })?;
            let uid = f[2]
                .parse()
                .map_err(|_| format!("bad uid for `{user_part}` in /etc/passwd"))?;
            let gid = f[3]
                .parse()
                .map_err(|_| format!("bad gid for `{user_part}` in /etc/passwd"))?;
            (uid, gid)
        }
    };
    let gid = match group_part {
        None => primary_gid,
        Some(g) => match g.parse::<u64>() {
            Ok(gid) => gid,
            Err(_) => entry(group, g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| format!("the image's USER group `{g}` is not in its /etc/group"))?,
        },
    };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/bash\napp:x:10001:10002::/nonexistent:/usr/sbin/nologin\n";
    const GROUP: &str = "root:x:0:\napp:x:10002:\nstaff:x:50:\n";

    #[test]
    fn the_image_user_is_found_by_name_or_number() {
        assert_eq!(resolve_user("", PASSWD, GROUP).unwrap(), (0, 0));
        assert_eq!(resolve_user("app", PASSWD, GROUP).unwrap(), (10001, 10002));
        assert_eq!(
            resolve_user("10001", PASSWD, GROUP).unwrap(),
            (10001, 10002)
        );
        assert_eq!(resolve_user("4242", PASSWD, GROUP).unwrap(), (4242, 4242));
        assert_eq!(
            resolve_user("app:staff", PASSWD, GROUP).unwrap(),
            (10001, 50)
        );
        assert_eq!(resolve_user("app:7", PASSWD, GROUP).unwrap(), (10001, 7));
        assert!(
            resolve_user("nobody", PASSWD, GROUP)
                .unwrap_err()
                .contains("`nobody`")
        );
        assert!(resolve_user("app:nogroup", PASSWD, GROUP).is_err());
    }

    #[test]
    fn the_launcher_runs_the_images_program_or_the_tasks_command() {
        let image = ImageRunConfig {
            entrypoint: vec!["/app/entrypoint.sh".into()],
            cmd: vec!["--workers".into(), "2".into()],
            user: "app".into(),
        };
        let (entrypoint, cmd) = launch_argv(&image, None).unwrap();
        assert_eq!(entrypoint[..2], ["/bin/sh", "-c"]);
        assert!(entrypoint[2].contains(SECRETS_FILE));
        assert_eq!(cmd, ["/app/entrypoint.sh", "--workers", "2"]);
        let command = ["python3".to_string(), "-V".to_string()];
        let (_, cmd) = launch_argv(&image, Some(&command)).unwrap();
        assert_eq!(cmd, ["/app/entrypoint.sh", "python3", "-V"]);
        assert!(launch_argv(&ImageRunConfig::default(), None).is_err());
    }

    #[test]
    fn values_are_quoted_for_sh() {
        let file = env_file(&[
            ("A".into(), "plain".into()),
            ("B".into(), "it's $HOME `x` \"q\"\nline2".into()),
        ])
        .unwrap();
        assert_eq!(
            String::from_utf8(file).unwrap(),
            "export A='plain'\nexport B='it'\\''s $HOME `x` \"q\"\nline2'\n"
        );
        assert!(env_file(&[("A".into(), "a\0b".into())]).is_err());
    }

    /// The file really gives `sh` back the exact values (the shell is the judge of quoting).
    #[test]
    fn sh_reads_the_values_back_exactly() {
        let values = vec![
            ("A".to_string(), "it's $HOME `id` \"q\" \\ end".to_string()),
            ("B".to_string(), "line1\nline2'".to_string()),
        ];
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("env");
        std::fs::write(&file, env_file(&values).unwrap()).unwrap();
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!(
                ". {} && printf '%s\\0%s' \"$A\" \"$B\"",
                file.display()
            ))
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text, format!("{}\0{}", values[0].1, values[1].1));
    }
}
