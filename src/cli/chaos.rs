//! `tierlab chaos KIND ARGS`: chaos on the running lab, sent to its control endpoint (`POST
//! /chaos`), which applies it as `crate::lab::LabView::chaos` does. The kinds are the variants of
//! [`Chaos`]; clap reads them from the same enum, so a new kind needs nothing here.

use crate::config::Config;
use crate::error::Error;
use crate::lab::Chaos;

/// Sends `chaos` to the running lab and prints what it did.
pub async fn run(config: &Config, chaos: &Chaos) -> Result<(), Error> {
    let file = super::running::control_file(config)?;
    let message = crate::control::chaos_request(&file, chaos)
        .await
        .map_err(|e| Error::Usage(crate::error::chain(&e).to_string()))?;
    println!("{message}");
    Ok(())
}
