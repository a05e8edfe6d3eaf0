//! `tierlab up`: start the lab in the foreground until Ctrl-C, SIGTERM or `tierlab down`.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::config;
use crate::control::{self, ControlError};
use crate::error::Error;
use crate::lab::{Lab, LogProgress, Progress, StartOptions};
use crate::state::StateDir;

use super::progress::Spinners;

pub async fn run(file: &Path) -> Result<(), Error> {
    let config = config::load(file)?;
    let state = StateDir::resolve(config.lab.state_dir.as_deref());
    let control_file = state.control_file(&config.lab.name);
    refuse_if_running(&control_file, &config.lab.name).await?;

    let progress: Arc<dyn Progress> = if std::io::stderr().is_terminal() {
        Arc::new(Spinners::new())
    } else {
        Arc::new(LogProgress)
    };
    let stop = CancellationToken::new();
    spawn_signal_watch(stop.clone());

    let started = std::time::Instant::now();
    // The signals' token is the root of the lab's task tree: Ctrl-C, SIGTERM, SIGHUP and
    // `POST /shutdown` all cancel it. An interrupt during the start removes what it made.
    let options = StartOptions {
        progress,
        ..Default::default()
    };
    let lab = match Lab::start(config, options, stop.clone()).await {
        Ok(lab) => lab,
        Err(Error::Interrupted { lab }) => {
            eprintln!("interrupted while starting lab `{lab}`; cleaned up");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let (tracker, cancel) = lab.tasks().group("control endpoint");
    let control = control::serve(lab.view(), &control_file, stop.clone(), &tracker, cancel).await?;
    tracing::debug!(address = %control.address, "control endpoint listening");
    print_ready(&lab, started.elapsed(), control.address);

    stop.cancelled().await;
    eprintln!("stopping lab `{}` ...", lab.config().lab.name);
    let databases = !lab.config().databases.is_empty();
    let stopped = lab.shutdown().await;
    // Removing the control file last tells a waiting `tierlab down` that everything is gone.
    drop(control);
    stopped?;
    if databases {
        eprintln!("stopped; data volumes kept (remove them with `tierlab down --volumes`)");
    } else {
        eprintln!("stopped");
    }
    Ok(())
}

/// Another `up` of the same lab would fight this one over the same containers.
async fn refuse_if_running(control_file: &Path, lab: &str) -> Result<(), Error> {
    let Some(existing) = control::read_control_file(control_file) else {
        return Ok(());
    };
    match control::request(&existing, http::Method::GET, "/status").await {
        // Something answered there, even if it refused us: a lab is running.
        Ok(_) | Err(ControlError::Answered { .. }) => Err(Error::Control(ControlError::Request {
            addr: existing.address,
            message: format!(
                "lab `{lab}` is already up (pid {}); stop it with Ctrl-C there or `tierlab down`",
                existing.pid
            ),
        })),
        // Nothing listens there: a stale file from a crashed run.
        Err(_) => {
            let _ = std::fs::remove_file(control_file);
            Ok(())
        }
    }
}

fn spawn_signal_watch(stop: CancellationToken) {
    tokio::spawn(async move {
        // SIGHUP too: closing the terminal `up` runs in must not orphan the lab.
        let (mut term, mut hangup) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(term), Ok(hangup)) => (term, hangup),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!("cannot watch SIGTERM/SIGHUP: {e}; only Ctrl-C stops the lab");
                let _ = tokio::signal::ctrl_c().await;
                stop.cancel();
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = hangup.recv() => {}
        }
        stop.cancel();
    });
}

fn print_ready(lab: &Lab, took: std::time::Duration, control: std::net::SocketAddr) {
    let status = lab.status();
    println!();
    println!("lab `{}` is up ({:.1}s)", status.lab, took.as_secs_f64());
    for alb in &status.load_balancers {
        for listener in &alb.listeners {
            println!(
                "  {:<5} {}  ({})",
                listener.protocol, listener.url, alb.name
            );
        }
    }
    for service in &status.services {
        println!(
            "  service {}: {}/{} tasks running",
            service.name, service.running_count, service.desired_count
        );
    }
    for db in &status.databases {
        println!(
            "  database {} ({} {}): {}",
            db.identifier, db.engine, db.engine_version, db.status
        );
    }
    if let Some(aws) = &status.aws {
        println!(
            "  AWS API {}  (`eval \"$(tierlab env)\"`, then the AWS CLI)",
            aws.endpoint_url
        );
    }
    if status.load_balancers.iter().any(|a| a.https_url.is_some()) {
        println!(
            "  CA certificate: {}  (`tierlab ca` shows how to trust it)",
            lab.ca_cert_path().display()
        );
    }
    println!(
        "  dashboard {}  (`tierlab dashboard` opens it signed in)",
        crate::dashboard::url(control)
    );
    println!(
        "Ctrl-C stops the lab. In another terminal: `tierlab status -w`, `tierlab events -f`, `tierlab logs -f`."
    );
}
