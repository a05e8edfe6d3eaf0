//! DescribeEvents: the DB instances' events (see `rds::events`), as RDS lists them.

use std::time::{Duration, SystemTime};

use crate::api::query::Params;
use crate::api::xml::{Xml, timestamp};
use crate::api::{ApiContext, ApiError};
use crate::rds::RdsEvent;

use super::page;

/// How far back events go when neither `StartTime` nor `Duration` is given (RDS: one hour).
const DEFAULT_DURATION_MINUTES: u64 = 60;

pub fn describe_events(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let source_type = params.get("SourceType");
    let source = params.get("SourceIdentifier");
    if source.is_some() && source_type.is_none() {
        return Err(ApiError::new(
            "InvalidParameterCombination",
            "If SourceIdentifier is supplied, SourceType must also be provided.",
        ));
    }
    let (start, end) = window(
        SystemTime::now(),
        time(params, "StartTime")?,
        time(params, "EndTime")?,
        params.parse_u32("Duration")?,
    );
    let categories = params.list("EventCategories.EventCategory");
    // DB instances keep their events and their snapshots' (source type `db-snapshot`).
    let mut events: Vec<(SystemTime, RdsEvent)> = ctx
        .lab
        .databases()
        .into_iter()
        .flat_map(|db| db.observed().events.iter().cloned().collect::<Vec<_>>())
        .filter(|e| source_type.is_none_or(|t| t == e.source_type))
        .filter(|e| source.is_none_or(|s| s == e.source_identifier))
        .filter_map(|e| Some((humantime::parse_rfc3339_weak(&e.date).ok()?, e)))
        .filter(|(t, _)| *t >= start && *t <= end)
        .filter(|(_, e)| {
            categories.is_empty() || e.event_categories.iter().any(|c| categories.contains(c))
        })
        .collect();
    events.sort_by_key(|(t, _)| *t);
    let (events, marker) = page(events, params)?;
    let mut x = Xml::new();
    x.list("Events", "Event", &events, |x, (date, e)| {
        let arn = if e.source_type == "db-snapshot" {
            super::snapshots::snapshot_arn(ctx, &e.source_identifier)
        } else {
            ctx.registry.db_arn(&e.source_identifier)
        };
        render_event(x, e, *date, &arn);
    });
    x.opt("Marker", marker);
    Ok(x)
}

/// The time range asked for: `EndTime` (default now) back to `StartTime`, or `Duration`
/// minutes (default 60) before the end.
pub fn window(
    now: SystemTime,
    start: Option<SystemTime>,
    end: Option<SystemTime>,
    duration_minutes: Option<u32>,
) -> (SystemTime, SystemTime) {
    let end = end.unwrap_or(now);
    let minutes = duration_minutes.map_or(DEFAULT_DURATION_MINUTES, u64::from);
    let start = start.unwrap_or_else(|| end - Duration::from_secs(minutes * 60));
    (start, end)
}

fn time(params: &Params, key: &str) -> Result<Option<SystemTime>, ApiError> {
    params
        .get(key)
        .map(|v| {
            humantime::parse_rfc3339_weak(v).map_err(|_| {
                ApiError::new(
                    "InvalidParameterValue",
                    format!("Invalid value {v} for {key}: not an ISO 8601 timestamp"),
                )
            })
        })
        .transpose()
}

/// The members of an `<Event>`.
pub fn render_event(x: &mut Xml, e: &RdsEvent, date: SystemTime, arn: &str) {
    x.leaf("SourceIdentifier", &e.source_identifier)
        .leaf("SourceType", &e.source_type)
        .leaf("Message", &e.message)
        .open("EventCategories");
    // A list of strings: each member element holds the text itself.
    for category in &e.event_categories {
        x.leaf("EventCategory", category);
    }
    x.close("EventCategories")
        .leaf("Date", timestamp(date))
        .leaf("SourceArn", arn);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rds::EventKind;

    #[test]
    fn the_window_defaults_to_the_last_hour() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100_000);
        assert_eq!(
            window(now, None, None, None),
            (now - Duration::from_secs(3600), now)
        );
        assert_eq!(
            window(now, None, None, Some(5)).0,
            now - Duration::from_secs(300)
        );
        let start = now - Duration::from_secs(10);
        assert_eq!(window(now, Some(start), None, Some(5)), (start, now));
    }

    #[test]
    fn events_render_as_rds_writes_them() {
        let e = RdsEvent::new("db", &EventKind::Restarted, "2026-12-02T00:00:00Z".into());
        let date = humantime::parse_rfc3339("2026-12-02T00:00:00Z").unwrap();
        let mut x = Xml::new();
        render_event(&mut x, &e, date, "arn:aws:rds:us-east-1:000000000000:db:db");
        assert_eq!(
            x.as_str(),
            "<SourceIdentifier>db</SourceIdentifier><SourceType>db-instance</SourceType>\
             <Message>DB instance restarted.</Message>\
             <EventCategories><EventCategory>availability</EventCategory></EventCategories>\
             <Date>2026-12-02T00:00:00.000Z</Date>\
             <SourceArn>arn:aws:rds:us-east-1:000000000000:db:db</SourceArn>"
        );
    }
}
