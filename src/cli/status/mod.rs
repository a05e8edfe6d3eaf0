//! `tierlab status [--json] [--watch]`: asks the running `up` for the lab's state (typed as
//! [`LabStatus`]); without one, says so and lists what Docker still holds of the lab.

mod report;
#[cfg(test)]
pub(crate) mod sample;
mod table;
mod watch;

use std::time::Duration;

use crate::config::Config;
use crate::control::{self, ControlError};
use crate::error::Error;
use crate::lab::LabStatus;
use crate::state::StateDir;

use report::StatusReport;

/// `tierlab status`: once as a table or JSON, or, with `watch`, a table redrawn every interval.
pub async fn run(config: &Config, json: bool, watch: Option<Duration>) -> Result<(), Error> {
    match watch {
        Some(interval) => watch::run(config, interval).await,
        None => print_report(config, poll(config).await?, json).await,
    }
}

/// One look at the lab's control endpoint.
#[derive(Debug)]
enum Poll {
    /// The running `up` answered.
    Status(Box<LabStatus>),
    /// No `up` has a control file for the lab.
    NoControlFile,
    /// A control file, but nothing answers at its address (a stopping or killed `up`).
    NoAnswer(ControlError),
}

/// Asks the lab's `up`, if its control file names one. An endpoint that answers with an error
/// or a status this version cannot read is an error: a lab runs there, and `status` must not
/// claim otherwise.
async fn poll(config: &Config) -> Result<Poll, Error> {
    let state = StateDir::resolve(config.lab.state_dir.as_deref());
    let Some(file) = control::read_control_file(&state.control_file(&config.lab.name)) else {
        return Ok(Poll::NoControlFile);
    };
    match control::status(&file).await {
        Ok(status) => Ok(Poll::Status(Box::new(status))),
        Err(error @ ControlError::Request { .. }) => Ok(Poll::NoAnswer(error)),
        Err(error) => Err(error.into()),
    }
}

/// Prints what `poll` found: the running lab, or the leftovers of one that is not running.
async fn print_report(config: &Config, poll: Poll, json: bool) -> Result<(), Error> {
    let report = match poll {
        Poll::Status(status) => StatusReport::running(*status),
        Poll::NoControlFile | Poll::NoAnswer(_) => {
            StatusReport::NotRunning(report::stopped(config).await?)
        }
    };
    if json {
        let text = serde_json::to_string_pretty(&report).expect("status serialises");
        println!("{text}");
    } else {
        print!("{}", table::render_report(&report));
    }
    Ok(())
}
