//! The `tierlab` command line: one library call per subcommand.

mod apply;
mod backups;
mod chaos;
mod chaos_run;
mod dashboard;
pub mod db;
mod deploy;
mod down;
mod ecs;
mod env;
pub(crate) mod events;
mod failover;
mod logs;
pub mod progress;
mod running;
pub mod ssh;
pub(crate) mod status;
mod table;
mod up;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{self, Config};
use crate::error::Error;

/// Default config file, as `docker compose` looks for its file in the current directory.
const DEFAULT_CONFIG: &str = "emulator.toml";

/// Run a faithful copy of the AWS three-tier reference architecture (ALB, ECS Fargate, RDS
/// MySQL) on this machine, offline.
#[derive(Debug, Parser)]
#[command(name = "tierlab", version, about, propagate_version = true)]
pub struct Cli {
    /// The topology file.
    #[arg(short = 'f', long = "file", value_name = "FILE", default_value = DEFAULT_CONFIG, env = "TIERLAB_CONFIG")]
    pub file: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// `tierlab chaos ...`: one fault sent to the running lab, or a scenario of them.
#[derive(Debug, clap::Subcommand)]
pub enum ChaosCommand {
    /// Run a scenario: a timed list of faults applied while clients request a path through
    /// the load balancer; then what the clients saw (requests, failures by kind, p99, time to
    /// recover per fault).
    Run {
        /// The scenario (TOML: duration, clients, path, [[fault]] at + chaos).
        file: std::path::PathBuf,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
    #[command(flatten)]
    Fault(crate::lab::Chaos),
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the lab in the foreground; Ctrl-C or SIGTERM stops it cleanly.
    Up,
    /// Remove the lab's containers and networks (and stop a running `up`).
    Down {
        /// Also delete the database volumes (the data). Snapshots and automated backups are
        /// kept unless `--snapshots` is given too.
        #[arg(long)]
        volumes: bool,
        /// Also delete the snapshots, automated backups and archived binary logs.
        #[arg(long)]
        snapshots: bool,
    },
    /// Show the load balancer, targets with health, tasks and databases.
    Status {
        /// Print JSON for scripts.
        #[arg(long, conflicts_with = "watch")]
        json: bool,
        /// Redraw the table every interval until Ctrl-C or the lab stops.
        #[arg(short = 'w', long)]
        watch: bool,
        /// How often `--watch` refreshes (e.g. `2s`, `500ms`).
        #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_interval, requires = "watch")]
        interval: std::time::Duration,
    },
    /// Print the tasks' logs, each line prefixed with its CloudWatch-style stream name.
    Logs {
        /// Keep printing new lines.
        #[arg(short = 'f', long)]
        follow: bool,
        /// Only this service (default: all).
        service: Option<String>,
    },
    /// Print the lab's events, newest last: services', DB instances' and target health changes.
    Events {
        /// Keep printing new events.
        #[arg(short = 'f', long)]
        follow: bool,
    },
    /// Set a service's desired count on the running lab (as `aws ecs update-service
    /// --desired-count`); it lasts until `down`, emulator.toml is not changed.
    Scale {
        /// The service (as named in emulator.toml).
        service: String,
        /// The new desired count.
        count: u32,
    },
    /// Roll out a new image to a service of the running lab, as a CI pipeline does with ECR and
    /// ECS: rebuild it (with --build), tag it by digest, register a task definition revision
    /// with it and update the service; the rolling deployment is followed until it completes
    /// or fails (and is rolled back, with the circuit breaker on).
    Deploy {
        /// The service (as named in emulator.toml; default: the only one).
        service: Option<String>,
        /// Rebuild the image from its build context first.
        #[arg(long)]
        build: bool,
    },
    /// Apply the changes made to emulator.toml since the lab started (or was last applied):
    /// a changed task definition becomes a new revision rolled out to its services; a
    /// service's count, deployment settings and auto scaling change in place; a secret
    /// declared anew is created. What only `up` builds (VPC, load balancers, databases, ...)
    /// is refused and named, and nothing changes. Deployments are followed until done.
    Apply {
        /// Only print what would change.
        #[arg(long)]
        dry_run: bool,
    },
    /// Stop a task of the running lab (as `aws ecs stop-task`): it drains, stops as "Task
    /// stopped by user" and its service starts a replacement.
    StopTask {
        /// The task id, a unique prefix of it (as `docker` takes one) or its ARN.
        task: String,
    },
    /// Log in to a bastion host with its key pair (as `ssh -i bastion-key.pem -p PORT
    /// ec2-user@127.0.0.1`, its host key checked), or run COMMAND on it.
    Ssh {
        /// The bastion (as named in emulator.toml; default: the only one).
        name: Option<String>,
        /// A command to run instead of a login shell (after `--`).
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// The lab's DB instances: a MySQL shell or a tunnel through the bastion.
    Db {
        #[command(subcommand)]
        command: db::DbCommand,
    },
    /// Chaos on the running lab, for demos and rehearsals (e.g. `tierlab chaos replica-lag
    /// flask-crud-db-replica 5s`).
    Chaos {
        #[command(subcommand)]
        chaos: ChaosCommand,
    },
    /// Open the running lab's dashboard in a browser, signed in (with no display, print the
    /// URL to open).
    Dashboard {
        /// Only print the URL.
        #[arg(long)]
        print_url: bool,
    },
    /// Print the running lab's AWS endpoint, region and credentials as shell exports:
    /// `eval "$(tierlab env)"`, then `aws elbv2 describe-load-balancers` etc.
    Env,
    /// Check the topology file and print a summary; changes nothing.
    Validate,
    /// Print the local certificate authority's path and how to trust it.
    Ca,
    /// The watchdog a running lab starts (internal): removes the lab's containers and networks
    /// if the process running it dies.
    #[command(hide = true)]
    Reap {
        #[arg(long)]
        lab: String,
        #[arg(long)]
        state_dir: PathBuf,
        #[arg(long)]
        parent_pid: u32,
        /// The lab is ephemeral: remove its volumes and state directory too.
        #[arg(long)]
        ephemeral: bool,
    },
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> Result<(), Error> {
    if cli.command.addresses_lab() {
        clear_stale_control_file(&cli.file);
    }
    match cli.command {
        Command::Up => up::run(&cli.file).await,
        Command::Down { volumes, snapshots } => {
            down::run(&load(&cli.file)?, volumes, snapshots).await
        }
        Command::Status {
            json,
            watch,
            interval,
        } => status::run(&load(&cli.file)?, json, watch.then_some(interval)).await,
        Command::Logs { follow, service } => {
            logs::run(&load(&cli.file)?, service.as_deref(), follow).await
        }
        Command::Events { follow } => events::run(&load(&cli.file)?, follow).await,
        Command::Env => env::run(&load(&cli.file)?).await,
        Command::Dashboard { print_url } => dashboard::run(&load(&cli.file)?, print_url).await,
        Command::Ssh { name, command } => {
            ssh::run(&load(&cli.file)?, name.as_deref(), &command).await
        }
        Command::Db { command } => db::run(&load(&cli.file)?, command).await,
        Command::Scale { service, count } => ecs::scale(&load(&cli.file)?, &service, count).await,
        Command::Deploy { service, build } => {
            deploy::deploy(&load(&cli.file)?, service.as_deref(), build).await
        }
        Command::Apply { dry_run } => apply::run(&load(&cli.file)?, dry_run).await,
        Command::StopTask { task } => ecs::stop_task(&load(&cli.file)?, &task).await,
        Command::Chaos {
            chaos: ChaosCommand::Fault(chaos),
        } => chaos::run(&load(&cli.file)?, &chaos).await,
        Command::Chaos {
            chaos: ChaosCommand::Run { file, json },
        } => chaos_run::run(&load(&cli.file)?, &file, json).await,
        Command::Validate => validate(&cli.file),
        Command::Ca => ca(&cli.file),
        Command::Reap {
            lab,
            state_dir,
            parent_pid,
            ephemeral,
        } => {
            let args = crate::lab::reaper::ReapArgs {
                lab,
                state_dir,
                parent_pid,
                ephemeral,
            };
            crate::lab::reaper::watch(args)
                .await
                .map_err(|e| Error::Run(crate::lab::RunError::Reaper(e)))
        }
    }
}

/// A `--interval`: a humantime duration, more than zero.
fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be more than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

impl Command {
    /// Whether the command is about the lab of the config (its running `up`, its containers):
    /// those check for a stale control file first.
    fn addresses_lab(&self) -> bool {
        !matches!(self, Command::Validate | Command::Ca | Command::Reap { .. })
    }
}

/// Before anything else: a control file left by an `up` that died is reported and removed.
/// (A config that does not load is left to the command, which reports it.)
fn clear_stale_control_file(file: &std::path::Path) {
    let Ok(config) = config::load(file) else {
        return;
    };
    let state = crate::state::StateDir::resolve(config.lab.state_dir.as_deref());
    let path = state.control_file(&config.lab.name);
    if let crate::control::stale::Found::Stale(why) = crate::control::stale::check(&path) {
        eprintln!(
            "found a stale control file of lab `{}` ({why}): removed {}",
            config.lab.name,
            path.display()
        );
    }
}

fn load(path: &std::path::Path) -> Result<Config, Error> {
    Ok(config::load(path)?)
}

fn validate(path: &std::path::Path) -> Result<(), Error> {
    let config = load(path)?;
    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
    println!(
        "{}: ok — lab `{}`: {} load balancer(s), {} target group(s), {} service(s), {} database(s), {} bastion(s)",
        path.display(),
        config.lab.name,
        config.load_balancers.len(),
        config.target_groups.len(),
        config.services.len(),
        config.databases.len(),
        config.bastions.len()
    );
    Ok(())
}

fn ca(path: &std::path::Path) -> Result<(), Error> {
    let configured = config::load(path).ok().and_then(|c| c.lab.state_dir);
    let state = crate::state::StateDir::resolve(configured.as_deref());
    let ca = crate::alb::LocalCa::load_or_create(&state.ca_dir())?;
    let cert = ca.cert_path();
    println!("tierlab's local CA certificate: {}", cert.display());
    println!();
    println!("Trust it once so browsers and curl accept the HTTPS listener:");
    println!(
        "  curl:           curl --cacert {} https://localhost:8443/",
        cert.display()
    );
    println!(
        "  Debian/Ubuntu:  sudo cp {} /usr/local/share/ca-certificates/tierlab.crt && sudo update-ca-certificates",
        cert.display()
    );
    println!(
        "  Fedora/RHEL:    sudo cp {} /etc/pki/ca-trust/source/anchors/tierlab.pem && sudo update-ca-trust",
        cert.display()
    );
    println!(
        "  macOS:          sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {}",
        cert.display()
    );
    println!(
        "  Firefox/Chrome on Linux use their own store: import it under Settings → Certificates → Authorities."
    );
    Ok(())
}
