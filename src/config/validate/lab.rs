//! `[lab]`.

use std::path::PathBuf;

use super::super::model::{ApiAuth, LabSettings, LoadBalancer, MetricTiming, TimingProfile};
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
        region: region(cx, lab.region.as_deref()),
        api_port: api_port(cx, lab.api_port),
        api_auth: api_auth(cx, lab.api_auth.as_deref()),
        // As `failover`: seconds unless the file asks for AWS's timing explicitly.
        metric_timing: if lab.profile.as_deref() == Some("aws") {
            MetricTiming::Aws
        } else {
            MetricTiming::Fast
        },
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

fn region(cx: &mut Ctx, value: Option<&str>) -> String {
    let Some(region) = value else {
        return defaults::REGION.to_string();
    };
    if !looks_like_region(region) {
        cx.bad(
            "lab.region",
            q(region),
            "must look like an AWS region (e.g. \"us-east-1\", \"eu-west-2\", \"us-gov-west-1\")",
        );
    }
    region.to_string()
}

/// `<area>-<direction...>-<n>`: two letters, one to three lowercase words, a number.
fn looks_like_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let word = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    parts.len() >= 3
        && parts.len() <= 5
        && parts[0].len() == 2
        && word(&parts[0])
        && parts[1..parts.len() - 1].iter().all(word)
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn api_port(cx: &mut Ctx, value: Option<i64>) -> u16 {
    let Some(port) = value else {
        return defaults::API_PORT;
    };
    cx.int_in("lab.api-port", port, 0..=65535)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(defaults::API_PORT)
}

fn api_auth(cx: &mut Ctx, value: Option<&str>) -> ApiAuth {
    match value {
        None | Some("sigv4") => ApiAuth::SigV4,
        Some("none") => ApiAuth::None,
        Some(other) => {
            let hint = suggest::hint(other, "values", ["sigv4", "none"]);
            cx.bad(
                "lab.api-auth",
                q(other),
                format!("must be \"sigv4\" (the lab's own credentials) or \"none\" (any); {hint}"),
            );
            ApiAuth::SigV4
        }
    }
}

/// The AWS API's port must not be one a load balancer listens on (listener or `metrics-port`),
/// or one of them fails to bind at `up`.
pub fn api_port_clashes<'a>(
    cx: &mut Ctx,
    lab: &LabSettings,
    load_balancers: impl IntoIterator<Item = &'a LoadBalancer>,
) {
    if lab.api_port == 0 {
        return;
    }
    for lb in load_balancers {
        let listeners = lb
            .listeners
            .iter()
            .map(|l| (l.bind.port(), "the port of a listener"));
        let metrics = lb.metrics_port.map(|p| (p, "the metrics-port"));
        if let Some((_, what)) = listeners.chain(metrics).find(|(p, _)| *p == lab.api_port) {
            cx.bad(
                "lab.api-port",
                lab.api_port.to_string(),
                format!(
                    "is also {what} of load balancer `{}`; choose another port (or 0 for any free one)",
                    lb.name
                ),
            );
        }
    }
}
