//! Finding the running lab from the CLI: its control file, its status, and what a client of its
//! AWS API needs (endpoint, region, the lab's key pair). One place, so `env`, `scale`,
//! `stop-task` and `events` say "not running" the same way.

use crate::api::credentials::AwsCredentials;
use crate::config::Config;
use crate::control::{self, ControlFile};
use crate::error::Error;
use crate::lab::{AwsStatus, LabStatus};
use crate::state::StateDir;

/// "lab `x` is not running (why); start it with `tierlab up`".
fn not_running(lab: &str, why: impl std::fmt::Display) -> Error {
    Error::Usage(format!(
        "lab `{lab}` is not running ({why}); start it with `tierlab up`"
    ))
}

/// The control file of the running `up` of `config`'s lab.
pub fn control_file(config: &Config) -> Result<ControlFile, Error> {
    let lab = &config.lab.name;
    let path = StateDir::resolve(config.lab.state_dir.as_deref()).control_file(lab);
    control::read_control_file(&path)
        .ok_or_else(|| not_running(lab, format_args!("no control file at {}", path.display())))
}

/// The running lab's status, as the one typed model.
pub async fn status(config: &Config) -> Result<LabStatus, Error> {
    status_from(config, &control_file(config)?).await
}

/// [`status`], from a control file already read (a command that keeps asking).
pub async fn status_from(config: &Config, file: &ControlFile) -> Result<LabStatus, Error> {
    control::status(file)
        .await
        .map_err(|e| not_running(&config.lab.name, crate::error::chain(&e)))
}

/// The running lab's AWS endpoint and region, and its key pair from the state directory.
pub async fn aws_access(config: &Config) -> Result<(AwsStatus, AwsCredentials), Error> {
    let lab = &config.lab.name;
    let aws = status(config)
        .await?
        .aws
        .ok_or_else(|| not_running(lab, "it runs no AWS API"))?;
    let state = StateDir::resolve(config.lab.state_dir.as_deref());
    let credentials = AwsCredentials::load(&state, lab)?
        .ok_or_else(|| not_running(lab, "it has no AWS credentials in its state directory"))?;
    Ok((aws, credentials))
}
