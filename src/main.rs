//! The `tierlab` binary: parse arguments, set up logging, run the command, map errors to exit
//! codes (0 ok, 2 usage, 64 bad config, 1 anything else) with the whole error chain printed.

use clap::Parser;
use tracing_subscriber::EnvFilter;

use tierlab::cli::{Cli, run};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_env("TIERLAB_LOG")
        .unwrap_or_else(|_| EnvFilter::new("tierlab=info,warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    if let Err(error) = run(cli).await {
        eprintln!("error: {}", tierlab::error::chain(&error));
        std::process::exit(error.exit_code());
    }
}
