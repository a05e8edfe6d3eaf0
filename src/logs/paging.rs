//! GetLogEvents' paging, as CloudWatch Logs does it.
//!
//! A page holds at most `limit` events (default and maximum 10,000) and at most 1 MB. Without a
//! token the page is the stream's newest events, or its oldest with `startFromHead`; either
//! way the events come oldest first. Every answer carries two tokens: `nextForwardToken`
//! (the events after this page) and `nextBackwardToken` (the events before it). At either end
//! of the stream the token given comes back unchanged, which is how clients (and the CLI's
//! paginator) know to stop.
//!
//! Tokens are `f/<n>` and `b/<n>` as AWS spells them; `<n>` is a position in the stream
//! ([`super::LogEvent::ordinal`]), which names the same place however the stream grows.

use std::fmt;

use super::LogEvent;

/// Events per page when the caller gives no `limit` (also the largest allowed).
pub const DEFAULT_LIMIT: u32 = 10_000;
/// Bytes per page, counted as [`LogEvent::size`].
pub const MAX_PAGE_BYTES: usize = 1_048_576;

/// Where a page starts: forward from a position, or backward from one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The events at and after this position (`f/<n>`).
    Forward(u64),
    /// The events before this position (`b/<n>`).
    Backward(u64),
}

/// A token that is not one this store gave out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The specified nextToken is invalid.")]
pub struct TokenError;

impl Position {
    /// Reads an `f/<n>` or `b/<n>` token.
    pub fn parse(token: &str) -> Result<Position, TokenError> {
        let (dir, n) = token.split_once('/').ok_or(TokenError)?;
        let n: u64 = n.parse().map_err(|_| TokenError)?;
        match dir {
            "f" => Ok(Position::Forward(n)),
            "b" => Ok(Position::Backward(n)),
            _ => Err(TokenError),
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Forward(n) => write!(f, "f/{n}"),
            Position::Backward(n) => write!(f, "b/{n}"),
        }
    }
}

/// The inputs of GetLogEvents that choose the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// Inclusive, ms since the epoch.
    pub start_time: Option<i64>,
    /// Exclusive, ms since the epoch.
    pub end_time: Option<i64>,
    /// At most this many events ([`DEFAULT_LIMIT`] when `None`).
    pub limit: Option<u32>,
    pub start_from_head: bool,
    pub token: Option<Position>,
}

/// One page of events, oldest first, with the two tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<'a> {
    pub events: Vec<&'a LogEvent>,
    pub next_forward: Position,
    pub next_backward: Position,
}

/// The page of `events` (a whole stream, in order) that `req` asks for.
pub fn page<'a>(events: &'a [LogEvent], req: &PageRequest) -> Page<'a> {
    let limit = req.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, DEFAULT_LIMIT) as usize;
    let in_range = |e: &&LogEvent| {
        req.start_time.is_none_or(|t| e.timestamp >= t)
            && req.end_time.is_none_or(|t| e.timestamp < t)
    };
    let end = events.last().map_or(0, |e| e.ordinal + 1);
    let position = req.token.unwrap_or(if req.start_from_head {
        Position::Forward(0)
    } else {
        Position::Backward(end)
    });
    let taken: Vec<&LogEvent> = match position {
        Position::Forward(from) => take_within(
            events.iter().filter(|e| e.ordinal >= from).filter(in_range),
            limit,
        ),
        Position::Backward(before) => {
            let mut back = take_within(
                events
                    .iter()
                    .rev()
                    .filter(|e| e.ordinal < before)
                    .filter(in_range),
                limit,
            );
            back.reverse();
            back
        }
    };
    let anchor = match position {
        Position::Forward(n) | Position::Backward(n) => n,
    };
    let (next_forward, next_backward) = match (taken.first(), taken.last()) {
        (Some(first), Some(last)) => (
            Position::Forward(last.ordinal + 1),
            Position::Backward(first.ordinal),
        ),
        _ => (Position::Forward(anchor), Position::Backward(anchor)),
    };
    Page {
        events: taken,
        next_forward,
        next_backward,
    }
}

/// The first events of `iter`, at most `limit` of them and at most [`MAX_PAGE_BYTES`] (always
/// at least one, so a single huge event cannot stall paging).
fn take_within<'a>(iter: impl Iterator<Item = &'a LogEvent>, limit: usize) -> Vec<&'a LogEvent> {
    let mut bytes = 0;
    let mut out = Vec::new();
    for event in iter {
        bytes += event.size();
        if out.len() == limit || (bytes > MAX_PAGE_BYTES && !out.is_empty()) {
            break;
        }
        out.push(event);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(n: u64) -> Vec<LogEvent> {
        (0..n)
            .map(|i| LogEvent {
                ordinal: i,
                timestamp: 1000 + i as i64 * 10,
                message: format!("line {i}"),
                ingestion_time: 1000 + i as i64 * 10,
            })
            .collect()
    }

    fn ordinals(page: &Page) -> Vec<u64> {
        page.events.iter().map(|e| e.ordinal).collect()
    }

    fn req(limit: u32, start_from_head: bool, token: Option<&str>) -> PageRequest {
        PageRequest {
            limit: Some(limit),
            start_from_head,
            token: token.map(|t| Position::parse(t).unwrap()),
            ..Default::default()
        }
    }

    #[test]
    fn tokens_read_and_print_as_aws_spells_them() {
        assert_eq!(Position::parse("f/12"), Ok(Position::Forward(12)));
        assert_eq!(Position::parse("b/0"), Ok(Position::Backward(0)));
        assert_eq!(Position::Forward(7).to_string(), "f/7");
        for bad in ["", "x/1", "f/", "f/-1", "12", "f/1/2"] {
            assert_eq!(Position::parse(bad), Err(TokenError), "{bad}");
        }
    }

    #[test]
    fn without_a_token_the_newest_events_come_oldest_first() {
        let events = stream(10);
        let page = page(&events, &req(3, false, None));
        assert_eq!(ordinals(&page), [7, 8, 9]);
        assert_eq!(page.next_forward.to_string(), "f/10");
        assert_eq!(page.next_backward.to_string(), "b/7");
    }

    #[test]
    fn start_from_head_gives_the_oldest() {
        let events = stream(10);
        let page = page(&events, &req(4, true, None));
        assert_eq!(ordinals(&page), [0, 1, 2, 3]);
        assert_eq!(page.next_forward.to_string(), "f/4");
        assert_eq!(page.next_backward.to_string(), "b/0");
    }

    #[test]
    fn forward_tokens_page_to_the_end_and_then_come_back_unchanged() {
        let events = stream(10);
        let mut token = "f/0".to_string();
        let mut seen = Vec::new();
        loop {
            let p = page(&events, &req(4, true, Some(&token)));
            seen.extend(ordinals(&p));
            let next = p.next_forward.to_string();
            if next == token {
                assert!(p.events.is_empty());
                break;
            }
            token = next;
        }
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        // New lines appended later are found from the same token.
        let grown = stream(12);
        assert_eq!(
            ordinals(&page(&grown, &req(4, true, Some(&token)))),
            [10, 11]
        );
    }

    #[test]
    fn backward_tokens_page_to_the_head_and_then_come_back_unchanged() {
        let events = stream(10);
        let first = page(&events, &req(4, false, None));
        let second = page(
            &events,
            &req(4, false, Some(&first.next_backward.to_string())),
        );
        assert_eq!(ordinals(&second), [2, 3, 4, 5]);
        let third = page(
            &events,
            &req(4, false, Some(&second.next_backward.to_string())),
        );
        assert_eq!(ordinals(&third), [0, 1]);
        assert_eq!(third.next_backward.to_string(), "b/0");
        let head = page(&events, &req(4, false, Some("b/0")));
        assert!(head.events.is_empty());
        assert_eq!(head.next_backward.to_string(), "b/0");
        // Forward from a backward page continues right after it.
        assert_eq!(third.next_forward.to_string(), "f/2");
    }

    #[test]
    fn the_time_range_is_start_inclusive_end_exclusive() {
        let events = stream(10); // timestamps 1000, 1010, ..., 1090
        let r = PageRequest {
            start_time: Some(1020),
            end_time: Some(1050),
            start_from_head: true,
            ..Default::default()
        };
        assert_eq!(ordinals(&page(&events, &r)), [2, 3, 4]);
    }

    #[test]
    fn a_page_stops_at_one_megabyte_but_holds_at_least_one_event() {
        let big = "x".repeat(400_000);
        let events: Vec<LogEvent> = (0..5)
            .map(|i| LogEvent {
                ordinal: i,
                timestamp: i as i64,
                message: big.clone(),
                ingestion_time: 0,
            })
            .collect();
        let p = page(&events, &req(100, true, None));
        assert_eq!(ordinals(&p), [0, 1]);
        let huge = vec![LogEvent {
            ordinal: 0,
            timestamp: 0,
            message: "y".repeat(2 * MAX_PAGE_BYTES),
            ingestion_time: 0,
        }];
        assert_eq!(page(&huge, &req(10, true, None)).events.len(), 1);
    }

    #[test]
    fn an_empty_stream_answers_with_position_zero() {
        let p = page(&[], &PageRequest::default());
        assert!(p.events.is_empty());
        assert_eq!(
            (p.next_forward.to_string(), p.next_backward.to_string()),
            ("f/0".into(), "b/0".into())
        );
    }
}
