//! One stored line of a log stream file, read back as a CloudWatch event.
//!
//! The shipper asks Docker for timestamps, so every line starts with the RFC 3339 time (in
//! nanoseconds) at which the container wrote it: `2026-12-02T00:32:03.787815700Z <message>`.
//! CloudWatch keeps milliseconds since the epoch.

use std::time::{SystemTime, UNIX_EPOCH};

/// One event of a stream, as GetLogEvents returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Position in its stream (0 for the first line ever written); tokens are built on it, and
    /// streams only grow, so a position keeps naming the same event.
    pub ordinal: u64,
    /// When the container wrote the line, ms since the epoch.
    pub timestamp: i64,
    /// The line without its timestamp.
    pub message: String,
    /// When the line reached the store, ms since the epoch. The shipper follows the container's
    /// output as it is written, so this is the event's own timestamp (the lag is milliseconds
    /// and the file does not record it separately).
    pub ingestion_time: i64,
}

impl LogEvent {
    /// What the event counts for against GetLogEvents' 1 MB page: its UTF-8 message plus 26
    /// bytes, as CloudWatch counts a PutLogEvents batch.
    pub fn size(&self) -> usize {
        self.message.len() + 26
    }
}

/// Milliseconds since the epoch of `t` (negative before 1970).
pub fn epoch_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Splits a stored line into its timestamp (ms) and message; `None` for a line that does not
/// start with a timestamp (written by an older shipper, or cut mid-way).
pub fn parse(line: &str) -> Option<(i64, &str)> {
    let (stamp, message) = line.split_once(' ').unwrap_or((line, ""));
    let t = humantime::parse_rfc3339(stamp).ok()?;
    Some((epoch_ms(t), message))
}

/// Every event of a stream file's text. A line without a timestamp gets the one before it
/// (0 at the very start), so it stays in place when events are ordered by time.
pub fn events(text: &str) -> Vec<LogEvent> {
    let mut last = 0;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let (timestamp, message) = match parse(line) {
                Some((t, m)) => (t, m),
                None => (last, line),
            };
            last = timestamp;
            LogEvent {
                ordinal: i as u64,
                timestamp,
                message: message.to_string(),
                ingestion_time: timestamp,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_timestamps_become_milliseconds() {
        let (t, m) =
            parse("2026-12-02T00:32:03.787815700Z [2026-12-02 00:32:03 +0000] [1] [INFO] Starting")
                .unwrap();
        assert_eq!(t, 1_796_171_523_787);
        assert_eq!(m, "[2026-12-02 00:32:03 +0000] [1] [INFO] Starting");
        assert_eq!(
            parse("2026-12-02T00:32:03Z").unwrap(),
            (1_796_171_523_000, "")
        );
        assert_eq!(parse("no timestamp here"), None);
    }

    #[test]
    fn a_line_without_a_timestamp_takes_the_one_before() {
        let text = "2026-12-02T00:00:01.5Z first\n  continued\n2026-12-02T00:00:02Z second\n";
        let events = events(text);
        assert_eq!(events.len(), 3);
        assert_eq!(events[1].timestamp, events[0].timestamp);
        assert_eq!(events[1].message, "  continued");
        assert_eq!(events[2].ordinal, 2);
        assert_eq!(events[2].timestamp - events[0].timestamp, 500);
        assert_eq!(events[0].size(), "first".len() + 26);
    }
}
