//! FilterLogEvents over several streams of a group: the matching events of every stream,
//! interleaved by time (as CloudWatch always does now; `interleaved` is deprecated), a page at a
//! time.
//!
//! The token names the last event returned, by its place in that order (timestamp, stream,
//! position in the stream); the next page is what comes after it, so streams that grow in the
//! meantime are picked up where they belong.

use std::cmp::Ordering;

use super::filter::FilterPattern;
use super::line::LogEvent;
use super::paging::{DEFAULT_LIMIT, MAX_PAGE_BYTES, TokenError};

/// The inputs of FilterLogEvents that choose the events.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// Inclusive, ms since the epoch.
    pub start_time: Option<i64>,
    /// Exclusive, ms since the epoch (as GetLogEvents' `endTime`).
    pub end_time: Option<i64>,
    pub pattern: FilterPattern,
    /// At most this many events ([`DEFAULT_LIMIT`] when `None`).
    pub limit: Option<u32>,
    pub token: Option<String>,
}

/// One matching event with its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<'a> {
    pub stream: &'a str,
    pub event: &'a LogEvent,
}

impl Found<'_> {
    /// A 56-digit id, unique in the group, as CloudWatch's `eventId`s look: the timestamp, a
    /// hash of the stream's name and the event's position in it.
    pub fn event_id(&self) -> String {
        format!(
            "{:020}{:018}{:018}",
            self.event.timestamp.max(0),
            crate::alb::arn::fnv1a(self.stream.bytes()) % 1_000_000_000_000_000_000,
            self.event.ordinal
        )
    }

    fn key(&self) -> (i64, &str, u64) {
        (self.event.timestamp, self.stream, self.event.ordinal)
    }
}

/// A page of matching events and the token for the next one (`None`: nothing more matched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matches<'a> {
    pub events: Vec<Found<'a>>,
    pub next_token: Option<String>,
}

/// The page of `streams` (name, events in order) that `req` asks for.
pub fn search<'a>(
    streams: &'a [(String, Vec<LogEvent>)],
    req: &SearchRequest,
) -> Result<Matches<'a>, TokenError> {
    let after = req.token.as_deref().map(parse_token).transpose()?;
    let limit = req.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, DEFAULT_LIMIT) as usize;
    let mut all: Vec<Found<'a>> = streams
        .iter()
        .flat_map(|(name, events)| {
            events.iter().map(move |event| Found {
                stream: name,
                event,
            })
        })
        .filter(|f| req.start_time.is_none_or(|t| f.event.timestamp >= t))
        .filter(|f| req.end_time.is_none_or(|t| f.event.timestamp < t))
        .filter(|f| match &after {
            Some((t, s, o)) => f.key().cmp(&(*t, s.as_str(), *o)) == Ordering::Greater,
            None => true,
        })
        .filter(|f| req.pattern.matches(&f.event.message))
        .collect();
    all.sort_by(|a, b| a.key().cmp(&b.key()));
    let mut bytes = 0;
    let mut taken = 0;
    for f in &all {
        bytes += f.event.size();
        if taken == limit || (bytes > MAX_PAGE_BYTES && taken > 0) {
            break;
        }
        taken += 1;
    }
    let more = taken < all.len();
    all.truncate(taken);
    let next_token = more.then(|| token_after(all.last().expect("a page before more events")));
    Ok(Matches {
        events: all,
        next_token,
    })
}

fn token_after(f: &Found) -> String {
    format!("{}/{}/{}", f.event.timestamp, f.event.ordinal, f.stream)
}

fn parse_token(token: &str) -> Result<(i64, String, u64), TokenError> {
    let mut parts = token.splitn(3, '/');
    let t = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or(TokenError)?;
    let o = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or(TokenError)?;
    let s = parts.next().filter(|s| !s.is_empty()).ok_or(TokenError)?;
    Ok((t, s.to_string(), o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ordinal: u64, timestamp: i64, message: &str) -> LogEvent {
        LogEvent {
            ordinal,
            timestamp,
            message: message.into(),
            ingestion_time: timestamp,
        }
    }

    fn streams() -> Vec<(String, Vec<LogEvent>)> {
        vec![
            (
                "s/a".into(),
                vec![
                    ev(0, 10, "GET /items 200"),
                    ev(1, 30, "POST /items 201"),
                    ev(2, 50, "GET /health 200"),
                ],
            ),
            (
                "s/b".into(),
                vec![
                    ev(0, 20, "GET /items 200"),
                    ev(1, 30, "GET /items 500"),
                    ev(2, 40, "boot"),
                ],
            ),
        ]
    }

    fn seen(m: &Matches) -> Vec<(String, u64)> {
        m.events
            .iter()
            .map(|f| (f.stream.to_string(), f.event.ordinal))
            .collect()
    }

    fn request(pattern: &str, limit: Option<u32>, token: Option<String>) -> SearchRequest {
        SearchRequest {
            pattern: FilterPattern::parse(pattern).unwrap(),
            limit,
            token,
            ..Default::default()
        }
    }

    #[test]
    fn streams_are_interleaved_by_time() {
        let streams = streams();
        let m = search(&streams, &request("GET", None, None)).unwrap();
        let order: Vec<i64> = m.events.iter().map(|f| f.event.timestamp).collect();
        assert_eq!(order, [10, 20, 30, 50]);
        assert_eq!(m.next_token, None);
    }

    #[test]
    fn pages_follow_the_token_without_repeating_or_skipping() {
        let streams = streams();
        let mut token = None;
        let mut all = Vec::new();
        loop {
            let m = search(&streams, &request("", Some(2), token.clone())).unwrap();
            all.extend(seen(&m));
            match m.next_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(all.len(), 6);
        // Equal timestamps are ordered by stream name.
        assert_eq!(all[2], ("s/a".to_string(), 1));
        assert_eq!(all[3], ("s/b".to_string(), 1));
        assert!(search(&streams, &request("", None, Some("junk".into()))).is_err());
    }

    #[test]
    fn the_time_range_and_pattern_narrow_the_search() {
        let streams = streams();
        let mut r = request("GET -health", None, None);
        r.start_time = Some(20);
        r.end_time = Some(50);
        let m = search(&streams, &r).unwrap();
        assert_eq!(seen(&m), [("s/b".to_string(), 0), ("s/b".to_string(), 1)]);
    }

    #[test]
    fn event_ids_are_56_digits_and_unique() {
        let streams = streams();
        let m = search(&streams, &request("", None, None)).unwrap();
        let mut ids: Vec<String> = m.events.iter().map(Found::event_id).collect();
        assert!(
            ids.iter()
                .all(|id| id.len() == 56 && id.bytes().all(|b| b.is_ascii_digit()))
        );
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 6);
    }
}
