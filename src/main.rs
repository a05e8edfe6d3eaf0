//! The `tierlab` binary: parse arguments, set up logging, run the command, map errors to exit
//! codes (0 ok, 2 usage, 64 bad config, 1 anything else) with the whole error chain printed.

use clap::Parser;
use tracing_subscriber::EnvFilter;

use tierlab::cli::{Cli, run};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_env("TIERLAB_LOG").unwrap_or_else(|_| EnvFilter::new("tierlab=info,warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).init();
    if let Err(error) = run(cli).await {
        eprintln!("error: {}", chain(&error));
        std::process::exit(error.exit_code());
    }
}

/// The error and its sources, joined as "outer: inner: root".
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
