//! `tierlab down`: stop a running `up` if there is one, then remove everything with the lab's
//! labels.

use std::time::Duration;

use crate::config::Config;
use crate::control;
use crate::docker::DockerClient;
use crate::error::Error;
use crate::lab::remove_lab;
use crate::rds::backups::{SnapshotType, Store, snapshot};
use crate::state::StateDir;

/// How long `down` waits for a running `up` to stop its lab.
const UP_STOP_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn run(config: &Config, volumes: bool, snapshots: bool) -> Result<(), Error> {
    let lab = &config.lab.name;
    let state = StateDir::resolve(config.lab.state_dir.as_deref());
    let control_file = state.control_file(lab);
    if let Some(running) = control::read_control_file(&control_file)
        && control::request(&running, http::Method::POST, "/shutdown")
            .await
            .is_ok()
    {
        eprintln!(
            "asked the running `tierlab up` (pid {}) to stop ...",
            running.pid
        );
        let deadline = tokio::time::Instant::now() + UP_STOP_TIMEOUT;
        while control_file.exists() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let docker = DockerClient::connect().await?;
    let removed = remove_lab(&docker, lab, volumes).await?;
    println!(
        "lab `{lab}`: removed {} container(s), {} network(s){}",
        removed.containers,
        removed.networks,
        if volumes {
            format!(", {} volume(s)", removed.volumes)
        } else {
            "; data volumes kept (--volumes removes them)".into()
        }
    );
    backups(&state, lab, snapshots)
}

/// Snapshots, automated backups and archived logs live in the state directory: kept (and said
/// so) unless `--snapshots`.
fn backups(state: &StateDir, lab: &str, delete: bool) -> Result<(), Error> {
    let store = Store::at(crate::rds::storage_dir(state, lab));
    let all = store.snapshots();
    let archived = std::fs::read_dir(store.root().join("binlogs"))
        .map(|d| d.count())
        .unwrap_or(0);
    if all.is_empty() && archived == 0 {
        return Ok(());
    }
    if delete {
        for s in &all {
            snapshot::delete(&store, state, lab, &s.id).map_err(crate::rds::RdsError::from)?;
        }
        for dir in ["snapshots", "binlogs"] {
            let path = store.root().join(dir);
            if let Err(e) = std::fs::remove_dir_all(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                eprintln!("could not remove {}: {e}", path.display());
            }
        }
        println!(
            "lab `{lab}`: deleted {} snapshot(s) and the archived binary logs of {archived} instance(s)",
            all.len()
        );
    } else {
        let automated = all
            .iter()
            .filter(|s| s.kind == SnapshotType::Automated)
            .count();
        println!(
            "lab `{lab}`: kept {} manual snapshot(s), {automated} automated backup(s) and the archived binary logs of {archived} instance(s) in {} (`tierlab db backups` lists them; --snapshots deletes them)",
            all.len() - automated,
            store.root().display()
        );
    }
    Ok(())
}
