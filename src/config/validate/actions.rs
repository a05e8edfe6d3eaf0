//! Listener actions (default actions and rule actions): forward (one target group or several by
//! weight), redirect and fixed-response, each with ALB's limits.

use std::time::Duration;

use super::super::model::{
    Action, FixedResponse, ListenerProtocol, Redirect, RedirectStatus, WeightedForward,
    WeightedTargetGroup,
};
use super::super::wire;
use super::ctx::{Ctx, q};
use super::listeners::TargetGroups;

/// ALB's `TargetGroupStickinessConfig.DurationSeconds` range (1 s to 7 days).
const GROUP_STICKINESS: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(7 * 86400);
/// Weights of a weighted forward.
const WEIGHTS: std::ops::RangeInclusive<i64> = 0..=999;
/// A weighted forward names at most this many groups (ALB's limit).
const MAX_WEIGHTED_GROUPS: usize = 5;
/// The content types ALB's fixed-response action accepts.
pub const FIXED_CONTENT_TYPES: [&str; 5] = [
    "text/plain",
    "text/css",
    "text/html",
    "application/javascript",
    "application/json",
];
/// ALB's limit on `MessageBody`.
const MAX_MESSAGE_BODY: usize = 1024;

/// Which action types each key belongs to, for "`x` belongs to ..." messages.
const KEYS: [(&str, &str); 11] = [
    ("target-group", "forward"),
    ("target-groups", "forward"),
    ("group-stickiness", "forward"),
    ("protocol", "redirect"),
    ("port", "redirect"),
    ("host", "redirect"),
    ("path", "redirect"),
    ("query", "redirect"),
    ("status-code", "redirect or fixed-response"),
    ("content-type", "fixed-response"),
    ("message-body", "fixed-response"),
];

/// Checks one action at `at`; `listener` is the protocol and port it serves (for redirects).
pub fn action(
    cx: &mut Ctx,
    at: &str,
    a: &wire::Action,
    listener: (ListenerProtocol, u16),
    target_groups: &TargetGroups,
) -> Action {
    let kind = a.kind.as_str();
    if !matches!(kind, "forward" | "redirect" | "fixed-response") {
        cx.bad(
            &format!("{at}.type"),
            q(kind),
            "must be \"forward\", \"redirect\" or \"fixed-response\"",
        );
        return Action::Forward {
            target_group: String::new(),
        };
    }
    foreign_keys(cx, at, a, kind);
    match kind {
        "forward" => forward(cx, at, a, target_groups),
        "redirect" => Action::Redirect(redirect(cx, at, a, listener)),
        _ => Action::FixedResponse(fixed_response(cx, at, a)),
    }
}

/// Reports keys set on `a` that belong to another action type.
fn foreign_keys(cx: &mut Ctx, at: &str, a: &wire::Action, kind: &str) {
    let set = [
        a.target_group.is_some(),
        a.target_groups.is_some(),
        a.group_stickiness.is_some(),
        a.protocol.is_some(),
        a.port.is_some(),
        a.host.is_some(),
        a.path.is_some(),
        a.query.is_some(),
        a.status_code.is_some(),
        a.content_type.is_some(),
        a.message_body.is_some(),
    ];
    for ((key, owner), set) in KEYS.iter().zip(set) {
        if set && !owner.split(" or ").any(|o| o == kind) {
            cx.table(
                at,
                format!("`{key}` belongs to a {owner} action, not a {kind} action"),
            );
        }
    }
}

fn forward(cx: &mut Ctx, at: &str, a: &wire::Action, target_groups: &TargetGroups) -> Action {
    match (&a.target_group, &a.target_groups) {
        (Some(tg), None) => {
            if a.group_stickiness.is_some() {
                cx.table(
                    at,
                    "`group-stickiness` needs `target-groups` (several groups by weight)",
                );
            }
            let key = format!("{at}.target-group");
            cx.exists(&key, "target group", tg, target_groups.keys());
            Action::Forward {
                target_group: tg.clone(),
            }
        }
        (None, Some(groups)) => Action::WeightedForward(weighted(cx, at, a, groups, target_groups)),
        (Some(_), Some(_)) => {
            cx.table(at, "give `target-group` or `target-groups`, not both");
            Action::Forward {
                target_group: String::new(),
            }
        }
        (None, None) => {
            cx.table(at, "a forward action needs `target-group`");
            Action::Forward {
                target_group: String::new(),
            }
        }
    }
}

/// `target-groups = [{ name, weight }]`: 1..=5 distinct groups, weights 0..=999, not all zero.
fn weighted(
    cx: &mut Ctx,
    at: &str,
    a: &wire::Action,
    groups: &[wire::WeightedTargetGroup],
    target_groups: &TargetGroups,
) -> WeightedForward {
    let key = format!("{at}.target-groups");
    if groups.is_empty() || groups.len() > MAX_WEIGHTED_GROUPS {
        cx.table(
            &key,
            format!("must list between 1 and {MAX_WEIGHTED_GROUPS} target groups"),
        );
    }
    let mut out: Vec<WeightedTargetGroup> = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let item = format!("{key}[{i}]");
        cx.exists(
            &format!("{item}.name"),
            "target group",
            &g.name,
            target_groups.keys(),
        );
        if out.iter().any(|o| o.name == g.name) {
            cx.bad(
                &format!("{item}.name"),
                q(&g.name),
                "is listed twice in this forward action",
            );
        }
        let weight = cx.int_in(&format!("{item}.weight"), g.weight, WEIGHTS);
        out.push(WeightedTargetGroup {
            name: g.name.clone(),
            weight: weight.unwrap_or(0),
        });
    }
    if !groups.is_empty() && groups.iter().all(|g| g.weight == 0) {
        cx.table(&key, "at least one target group needs a weight above 0");
    }
    let stickiness = a.group_stickiness.as_deref().map(|text| {
        let skey = format!("{at}.group-stickiness");
        let d = cx.duration(&skey, Some(text), Duration::from_secs(3600));
        if !GROUP_STICKINESS.contains(&d) {
            cx.bad(&skey, q(text), "must be between 1s and 7d");
        }
        d
    });
    WeightedForward {
        target_groups: out,
        stickiness,
    }
}

fn redirect(
    cx: &mut Ctx,
    at: &str,
    a: &wire::Action,
    (from, from_port): (ListenerProtocol, u16),
) -> Redirect {
    let protocol = a.protocol.as_deref().and_then(|p| match p {
        "HTTP" => Some(ListenerProtocol::Http),
        "HTTPS" => Some(ListenerProtocol::Https),
        other => {
            cx.bad(
                &format!("{at}.protocol"),
                q(other),
                "must be \"HTTP\" or \"HTTPS\"",
            );
            None
        }
    });
    if from == ListenerProtocol::Https && protocol == Some(ListenerProtocol::Http) {
        cx.bad(
            &format!("{at}.protocol"),
            q("HTTP"),
            "an HTTPS listener may not redirect to HTTP (ALB refuses the downgrade)",
        );
    }
    let port = a.port.map(|p| cx.port(&format!("{at}.port"), p));
    let status = match a.status_code.as_deref() {
        Some("HTTP_301") => RedirectStatus::Permanent301,
        Some("HTTP_302") => RedirectStatus::Found302,
        Some(other) => {
            cx.bad(
                &format!("{at}.status-code"),
                q(other),
                "must be \"HTTP_301\" or \"HTTP_302\"",
            );
            RedirectStatus::Found302
        }
        None => {
            cx.table(
                at,
                "a redirect action needs `status-code` (\"HTTP_301\" or \"HTTP_302\")",
            );
            RedirectStatus::Found302
        }
    };
    template_parts(cx, at, a);
    let same_protocol = protocol.is_none_or(|p| p == from);
    let same_port = port.is_none_or(|p| p == from_port);
    let rewrites = a.host.is_some() || a.path.is_some() || a.query.is_some();
    if same_protocol && same_port && !rewrites {
        cx.table(
            at,
            "this redirect changes neither protocol, port, host, path nor query, so it would loop",
        );
    }
    Redirect {
        protocol,
        host: a.host.clone(),
        port,
        path: a.path.clone(),
        query: a.query.clone(),
        status,
    }
}

/// `host`, `path` and `query` of a redirect: ALB's shape rules and known `#{...}` placeholders.
fn template_parts(cx: &mut Ctx, at: &str, a: &wire::Action) {
    const PLACEHOLDERS: [&str; 5] = ["#{protocol}", "#{host}", "#{port}", "#{path}", "#{query}"];
    let parts = [("host", &a.host), ("path", &a.path), ("query", &a.query)];
    for (key, value) in parts {
        let Some(text) = value else { continue };
        let at_key = format!("{at}.{key}");
        let mut rest = text.as_str();
        while let Some(i) = rest.find("#{") {
            let tail = &rest[i..];
            match PLACEHOLDERS.iter().find(|p| tail.starts_with(**p)) {
                Some(p) => rest = &tail[p.len()..],
                None => {
                    cx.bad(&at_key, q(text), "unknown placeholder; use #{protocol}, #{host}, #{port}, #{path} or #{query}");
                    break;
                }
            }
        }
        let bad = match key {
            "host" if text.is_empty() => Some("must not be empty"),
            "path" if !text.starts_with('/') => Some("must start with `/`"),
            "query" if text.starts_with('?') => Some("is written without the leading `?`"),
            _ if text.len() > 128 => Some("must be at most 128 characters"),
            _ => None,
        };
        if let Some(why) = bad {
            cx.bad(&at_key, q(text), why);
        }
    }
}

/// `status-code = "503"` (2XX-5XX), `content-type` from ALB's list, `message-body` <= 1024 bytes.
fn fixed_response(cx: &mut Ctx, at: &str, a: &wire::Action) -> FixedResponse {
    let status = match a.status_code.as_deref() {
        None => {
            cx.table(
                at,
                "a fixed-response action needs `status-code` (e.g. \"503\")",
            );
            503
        }
        Some(text) => match text.parse::<u16>() {
            Ok(code)
                if (200..=599).contains(&code)
                    && !(300..400).contains(&code)
                    && text.len() == 3 =>
            {
                code
            }
            _ => {
                cx.bad(
                    &format!("{at}.status-code"),
                    q(text),
                    "must be a 2XX, 4XX or 5XX HTTP status code, e.g. \"503\" (use a redirect action for 3XX)",
                );
                503
            }
        },
    };
    if let Some(ct) = &a.content_type
        && !FIXED_CONTENT_TYPES.contains(&ct.as_str())
    {
        let allowed = FIXED_CONTENT_TYPES.join(", ");
        cx.bad(
            &format!("{at}.content-type"),
            q(ct),
            format!("must be one of {allowed}"),
        );
    }
    let body = a.message_body.clone().unwrap_or_default();
    if body.len() > MAX_MESSAGE_BODY {
        cx.bad(
            &format!("{at}.message-body"),
            format!("({} bytes)", body.len()),
            format!("must be at most {MAX_MESSAGE_BODY} bytes"),
        );
    }
    FixedResponse {
        status,
        content_type: a.content_type.clone(),
        body,
    }
}
