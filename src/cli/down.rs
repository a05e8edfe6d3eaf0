//! `tierlab down`: stop a running `up` if there is one, then remove everything with the lab's
//! labels.

use std::time::Duration;

use crate::config::Config;
use crate::control;
use crate::docker::DockerClient;
use crate::error::Error;
use crate::lab::remove_lab;
use crate::state::StateDir;

/// How long `down` waits for a running `up` to stop its lab.
const UP_STOP_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn run(config: &Config, volumes: bool) -> Result<(), Error> {
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
    Ok(())
}
