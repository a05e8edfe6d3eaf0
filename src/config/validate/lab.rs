//! `[lab]`.

use std::path::PathBuf;

use super::super::model::{LabSettings, TimingProfile};
use super::super::{defaults, suggest, wire};
use super::ctx::{Ctx, q};

/// Docker names are built as `<lab>-<resource>`; keep the prefix short and DNS-safe.
const MAX_NAME_LEN: usize = 32;

pub fn lab(cx: &mut Ctx, lab: &wire::Lab) -> LabSettings {
    if let Err(why) = check_name(&lab.name) {
        cx.bad("lab.name", q(&lab.name), why);
    }
    let start_timeout = cx.duration(
        "lab.start-timeout",
        lab.start_timeout.as_deref(),
        defaults::START_TIMEOUT,
    );
    if start_timeout.is_zero() {
        cx.bad(
            "lab.start-timeout",
            q(lab.start_timeout.as_deref().unwrap_or_default()),
            "must be more than 0s",
        );
    }
    LabSettings {
        name: lab.name.clone(),
        state_dir: lab.state_dir.as_deref().map(|dir| state_dir(cx, dir)),
        start_timeout,
        profile: profile(cx, lab.profile.as_deref()),
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let rule = "a lab name is lowercase letters, digits and hyphens, starting with a letter";
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("must start with a lowercase letter ({rule})"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!("`{c}` is not allowed ({rule})"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "is {} characters; at most {MAX_NAME_LEN} (it prefixes every Docker name)",
            name.len()
        ));
    }
    Ok(())
}

/// `~/` is expanded with `$HOME`; a relative path is taken from the config's directory.
fn state_dir(cx: &Ctx, dir: &str) -> PathBuf {
    match (dir.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => cx.resolve(dir),
    }
}

fn profile(cx: &mut Ctx, value: Option<&str>) -> TimingProfile {
    match value {
        None | Some("aws") => TimingProfile::Aws,
        Some("fast") => TimingProfile::Fast,
        Some(other) => {
            let hint = suggest::hint(other, "profiles", ["aws", "fast"]);
            cx.bad(
                "lab.profile",
                q(other),
                format!("must be \"aws\" or \"fast\"; {hint}"),
            );
            TimingProfile::Aws
        }
    }
}
