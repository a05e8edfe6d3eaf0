//! `tierlab db ...`: the lab's DB instances from the command line. Each subcommand is one
//! variant of [`DbCommand`] and one arm of [`run`].
//!
//! - `db shell [ID]`: the reference's "connect to the RDS database from the bastion host" in one
//!   step: `ssh -t` to the bastion, then `mysql -h ENDPOINT -u USER DB`. The master password goes
//!   in `MYSQL_PWD` through ssh's `SetEnv` (the server's sshd accepts only that variable), from
//!   an ssh config file of mode 0600 that exists only while the session runs. So it is never on
//!   a command line (`ps` on either side shows none), never typed, and never in a log; the
//!   client reads it from its environment, which only its own user (ec2-user) and root can read.
//! - `db backups [ID] [--json]`: the snapshots and automated backups (see `cli::backups`).
//! - `db tunnel [ID] [--port 13306]`: `ssh -N -L 127.0.0.1:PORT:ENDPOINT:3306` through the
//!   bastion, for GUI clients on this machine.

use clap::Subcommand;

use crate::config::Config;
use crate::error::Error;
use crate::lab::{DatabaseStatus, LabStatus};
use crate::state::StateDir;

use super::ssh::{self as bastion_ssh, Session};

/// Local port of `db tunnel` when `--port` is not given (MySQL's 3306 is often taken locally).
pub const TUNNEL_PORT: u16 = 13306;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// A MySQL shell on a DB instance, through the bastion (the password is passed for you,
    /// never shown or put on a command line).
    Shell {
        /// The DB instance identifier (default: the only one).
        id: Option<String>,
    },
    /// Forward a local port to a DB instance through the bastion, for GUI clients.
    Tunnel {
        /// The DB instance identifier (default: the only one).
        id: Option<String>,
        /// The local port, on 127.0.0.1.
        #[arg(long, default_value_t = TUNNEL_PORT)]
        port: u16,
    },
    /// List the snapshots and automated backups (of one instance, or all): id, type, instance,
    /// time, size and the GTID position a point-in-time restore starts from. Read from the
    /// state directory: works whether or not the lab runs.
    Backups {
        /// Only this DB instance's.
        id: Option<String>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Fail a Multi-AZ instance over to its standby (as `aws rds reboot-db-instance
    /// --force-failover`) and wait until it is available in the other AZ.
    Failover {
        /// The DB instance identifier (default: the only one).
        id: Option<String>,
    },
}

pub async fn run(config: &Config, command: DbCommand) -> Result<(), Error> {
    // Read from the state directory: no running lab needed.
    if let DbCommand::Backups { id, json } = &command {
        return super::backups::run(config, id.as_deref(), *json);
    }
    let status = super::running::status(config).await?;
    if let DbCommand::Failover { id } = &command {
        let db = status.database(id.as_deref())?;
        return super::failover::run(config, &db.identifier).await;
    }
    let state = StateDir::resolve(config.lab.state_dir.as_deref());
    let session = match command {
        DbCommand::Backups { .. } => unreachable!("answered before the lab is asked"),
        DbCommand::Failover { .. } => unreachable!("answered before a session is made"),
        DbCommand::Shell { id } => shell(&status, &state, id.as_deref())?,
        DbCommand::Tunnel { id, port } => {
            let (session, hint) = tunnel(&status, &state, id.as_deref(), port)?;
            eprintln!("{hint}");
            session
        }
    };
    bastion_ssh::exec(&session)
}

/// The session of `db shell [ID]`.
pub fn shell(status: &LabStatus, state: &StateDir, id: Option<&str>) -> Result<Session, Error> {
    let db = status.database(id)?;
    let (user, db_name) = credentials_of(db);
    let bastion = status.bastion_reaching(&db.identifier)?;
    let password = std::fs::read_to_string(
        state.secret_path(&status.lab, &format!("{}-master-password", db.identifier)),
    )
    .map_err(|e| {
        Error::Usage(format!(
            "cannot read the master password of `{}` from the state directory: {e}",
            db.identifier
        ))
    })?;
    remove_stale_shell_configs(&crate::bastion::ssh::ssh_dir(state, &status.lab));
    let file = format!("db-shell-{}-{}.config", db.identifier, std::process::id());
    let config_path = bastion_ssh::write_config(
        status,
        state,
        bastion,
        &file,
        &[("MYSQL_PWD", password.trim())],
    )?;
    let mut args = vec!["-t".to_string()];
    args.extend(bastion_ssh::base_args(&config_path, bastion));
    args.push(format!(
        "mysql -h {} -P {} -u {user} {db_name}",
        db.endpoint, db.port
    ));
    Ok(Session {
        args,
        remove_after: Some(config_path),
    })
}

/// Removes the password-holding config files of `db shell` sessions whose process is gone (one
/// killed before it could remove its own).
fn remove_stale_shell_configs(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = shell_config_pid(&name) else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks that the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The pid in `db-shell-<id>-<pid>.config`.
fn shell_config_pid(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("db-shell-")?.strip_suffix(".config")?;
    rest.rsplit_once('-')?.1.parse().ok()
}

/// The session of `db tunnel [ID] [--port N]`, and what to tell the user.
pub fn tunnel(
    status: &LabStatus,
    state: &StateDir,
    id: Option<&str>,
    port: u16,
) -> Result<(Session, String), Error> {
    let db = status.database(id)?;
    let bastion = status.bastion_reaching(&db.identifier)?;
    let config_path = bastion_ssh::write_config(
        status,
        state,
        bastion,
        &format!("{}.config", bastion.name),
        &[],
    )?;
    let mut args = crate::lab::db_access::forward_args(port, db);
    args.extend(bastion_ssh::base_args(&config_path, bastion));
    let (user, _) = credentials_of(db);
    let secret = state.secret_path(&status.lab, &format!("{}-master-password", db.identifier));
    let hint = format!(
        "tunnel to {id} ({endpoint}:{db_port}) through bastion {bastion} on 127.0.0.1:{port}; Ctrl-C ends it.\n\
         connect with: mysql -h 127.0.0.1 -P {port} -u {user} -p   (password: {secret})",
        id = db.identifier,
        endpoint = db.endpoint,
        db_port = db.port,
        bastion = bastion.name,
        secret = secret.display(),
    );
    Ok((
        Session {
            args,
            remove_after: None,
        },
        hint,
    ))
}

/// Master user name and database name of the instance, as the running lab reports them (an
/// instance created at run time has its source's).
fn credentials_of(db: &DatabaseStatus) -> (String, String) {
    (db.master_username.clone(), db.db_name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, StateDir, LabStatus) {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(dir.path());
        state
            .secret("flask-app", "flask-crud-db-master-password")
            .unwrap();
        (dir, state, crate::cli::status::sample::lab_status())
    }

    #[test]
    fn the_shell_passes_the_password_in_a_0600_file_never_on_the_command_line() {
        let (_dir, state, status) = setup();
        let session = shell(&status, &state, None).unwrap();
        let password = state
            .secret("flask-app", "flask-crud-db-master-password")
            .unwrap();
        assert!(session.args.iter().all(|a| !a.contains(&password)));
        assert_eq!(session.args[0], "-t");
        assert_eq!(
            session.args.last().unwrap(),
            "mysql -h flask-crud-db -P 3306 -u admin flaskcrud"
        );
        let file = session.remove_after.clone().unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(&format!("SetEnv MYSQL_PWD=\"{password}\"")));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn config_files_of_ended_shells_are_found_by_their_pid() {
        assert_eq!(
            shell_config_pid("db-shell-flask-crud-db-4242.config"),
            Some(4242)
        );
        assert_eq!(shell_config_pid("flask-bastion-host.config"), None);
        let dir = tempfile::tempdir().unwrap();
        let mine = dir
            .path()
            .join(format!("db-shell-x-{}.config", std::process::id()));
        // pid_max is at most 2^22: this one cannot run.
        let dead = dir.path().join("db-shell-x-2147483646.config");
        std::fs::write(&mine, "").unwrap();
        std::fs::write(&dead, "").unwrap();
        remove_stale_shell_configs(dir.path());
        assert!(mine.exists() && !dead.exists());
    }

    #[test]
    fn the_tunnel_forwards_a_loopback_port_to_the_endpoint() {
        let (_dir, state, status) = setup();
        let (session, hint) = tunnel(&status, &state, None, 13306).unwrap();
        assert!(
            session
                .args
                .contains(&"127.0.0.1:13306:flask-crud-db:3306".to_string())
        );
        assert!(session.args.contains(&"-N".to_string()));
        assert!(
            hint.contains("mysql -h 127.0.0.1 -P 13306 -u admin -p"),
            "{hint}"
        );
    }

    #[test]
    fn no_bastion_reaching_the_database_says_which_rule_is_missing() {
        let (_dir, state, mut status) = setup();
        status.bastions[0].databases.clear();
        let e = shell(&status, &state, None).unwrap_err().to_string();
        assert!(
            e.contains("no bastion may reach `flask-crud-db` now"),
            "{e}"
        );
        let e = shell(&status, &state, Some("nope"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("DBInstance nope not found"), "{e}");
    }
}
