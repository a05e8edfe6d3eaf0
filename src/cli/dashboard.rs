//! `tierlab dashboard`: opens the running lab's dashboard in a browser, signed in (the lab's
//! token in the URL, which the dashboard exchanges for a cookie). With a display, through
//! `xdg-open`; without one (SSH, CI), the URL is printed to open elsewhere on this machine.

use std::process::{Command, Stdio};

use crate::config::Config;
use crate::error::Error;

pub async fn run(config: &Config, print_only: bool) -> Result<(), Error> {
    let file = super::running::control_file(config)?;
    // Asked first, so a lab that stopped is reported instead of opening a dead page.
    super::running::status_from(config, &file).await?;
    let url = crate::dashboard::sign_in_url(file.address, &file.token);
    let display = std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty());
    if !print_only && display && open(&url) {
        eprintln!(
            "opened the dashboard of lab `{}` in your browser",
            config.lab.name
        );
        return Ok(());
    }
    eprintln!(
        "open this in a browser on this machine (it signs you in; keep it private, as the lab's token):"
    );
    println!("{url}");
    Ok(())
}

/// Hands `url` to the desktop's browser; false when `xdg-open` is missing or fails.
fn open(url: &str) -> bool {
    Command::new("xdg-open")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
