//! `preferred-backup-window`: the daily half hour (or more) in which RDS takes the automated
//! backup, as `hh24:mi-hh24:mi` in UTC, with RDS's rules (at least 30 minutes, no overlap with
//! the maintenance window) and RDS's default (a 30-minute window in an 8-hour block of the
//! region).

use std::fmt;

/// Minutes in a day.
const DAY_MIN: u32 = 24 * 60;
/// RDS: "Must be at least 30 minutes."
const MIN_LENGTH_MIN: u32 = 30;

/// A daily window in UTC: `[start, start + length)` minutes after midnight (it may wrap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupWindow {
    pub start_min: u32,
    pub length_min: u32,
}

impl BackupWindow {
    /// Parses and checks `hh24:mi-hh24:mi`; the message says what RDS requires.
    pub fn parse(text: &str) -> Result<BackupWindow, String> {
        let format =
            || "must be in the format hh24:mi-hh24:mi (UTC), e.g. \"03:00-03:30\"".to_string();
        let (from, to) = text.split_once('-').ok_or_else(format)?;
        let start = minutes(from).ok_or_else(format)?;
        let end = minutes(to).ok_or_else(format)?;
        let length = (end + DAY_MIN - start) % DAY_MIN;
        if length < MIN_LENGTH_MIN {
            return Err("must be at least 30 minutes".into());
        }
        let window = BackupWindow {
            start_min: start,
            length_min: length,
        };
        if window.overlaps(&maintenance_window()) {
            return Err(format!(
                "must not overlap the preferred maintenance window ({})",
                super::MAINTENANCE_WINDOW
            ));
        }
        Ok(window)
    }

    /// RDS's default: a 30-minute window in the region's 8-hour block, chosen from the
    /// instance's identifier (so it is the same on every run) and clear of the maintenance window.
    pub fn default_for(region: &str, identifier: &str) -> BackupWindow {
        let block_start = region_block_start(region);
        let slots = 8 * 60 / MIN_LENGTH_MIN; // 16 half hours
        let seed = crate::alb::arn::fnv1a(identifier.bytes());
        (0..slots)
            .map(|i| BackupWindow {
                start_min: (block_start + ((seed as u32 + i) % slots) * MIN_LENGTH_MIN) % DAY_MIN,
                length_min: MIN_LENGTH_MIN,
            })
            .find(|w| !w.overlaps(&maintenance_window()))
            .unwrap_or(BackupWindow {
                start_min: block_start,
                length_min: MIN_LENGTH_MIN,
            })
    }

    /// Whether the two daily windows share a minute.
    pub fn overlaps(&self, other: &BackupWindow) -> bool {
        let inside =
            |w: &BackupWindow, m: u32| (m + DAY_MIN - w.start_min) % DAY_MIN < w.length_min;
        inside(self, other.start_min) || inside(other, self.start_min)
    }

    /// The first start of the window strictly after `after` (Unix seconds).
    pub fn next_start_after(&self, after: u64) -> u64 {
        let day = u64::from(DAY_MIN) * 60;
        let midnight = after - after % day;
        let today = midnight + u64::from(self.start_min) * 60;
        if today > after { today } else { today + day }
    }
}

impl fmt::Display for BackupWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = (self.start_min + self.length_min) % DAY_MIN;
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start_min / 60,
            self.start_min % 60,
            end / 60,
            end % 60
        )
    }
}

/// The maintenance window tierlab reports (`sun:05:00-sun:05:30`), as a daily window: a daily
/// backup window that meets it on Sunday meets it every week.
fn maintenance_window() -> BackupWindow {
    BackupWindow {
        start_min: 5 * 60,
        length_min: 30,
    }
}

/// `hh24:mi` as minutes after midnight.
fn minutes(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// Start (UTC minutes) of the 8-hour block RDS picks default backup windows from, per the
/// "Backup window" table of the RDS User Guide; other regions use us-east-1's.
fn region_block_start(region: &str) -> u32 {
    let hour = match region {
        "us-east-1" | "us-east-2" => 3,
        "us-west-1" | "us-west-2" => 6,
        "eu-west-1" | "eu-west-2" => 22,
        "eu-central-1" => 20,
        "ap-northeast-1" => 13,
        "ap-southeast-1" | "ap-southeast-2" => 14,
        _ => 3,
    };
    hour * 60
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_as_rds_writes_them() {
        let w = BackupWindow::parse("03:00-03:30").unwrap();
        assert_eq!((w.start_min, w.length_min), (180, 30));
        assert_eq!(w.to_string(), "03:00-03:30");
        // Across midnight.
        let w = BackupWindow::parse("23:45-00:30").unwrap();
        assert_eq!((w.start_min, w.length_min), (23 * 60 + 45, 45));
        assert_eq!(w.to_string(), "23:45-00:30");
    }

    #[test]
    fn rds_rules_are_checked() {
        for bad in [
            "3:00-3:30",
            "03:00",
            "03:00-03:3x",
            "24:00-00:30",
            "03:60-04:30",
            "",
        ] {
            assert!(
                BackupWindow::parse(bad)
                    .unwrap_err()
                    .contains("hh24:mi-hh24:mi"),
                "{bad}"
            );
        }
        assert_eq!(
            BackupWindow::parse("03:00-03:29").unwrap_err(),
            "must be at least 30 minutes"
        );
        assert!(
            BackupWindow::parse("04:45-05:15")
                .unwrap_err()
                .contains("maintenance window")
        );
        assert!(
            BackupWindow::parse("04:30-05:00").is_ok(),
            "ends as maintenance begins"
        );
    }

    #[test]
    fn the_default_is_half_an_hour_in_the_regions_block_clear_of_maintenance() {
        for id in ["flask-crud-db", "a", "b", "c", "restored-1", "x-y-z"] {
            let w = BackupWindow::default_for("us-east-1", id);
            assert_eq!(w.length_min, 30);
            assert!((180..660).contains(&w.start_min), "{w}");
            assert!(!w.overlaps(&maintenance_window()), "{w}");
            assert_eq!(w, BackupWindow::default_for("us-east-1", id), "stable");
        }
        let w = BackupWindow::default_for("eu-west-1", "db");
        assert!(w.start_min >= 22 * 60 || w.start_min < 6 * 60, "{w}");
    }

    #[test]
    fn the_next_start_is_today_or_tomorrow() {
        let w = BackupWindow::parse("03:00-03:30").unwrap();
        let day = 86_400;
        let midnight = 20_000 * day;
        assert_eq!(w.next_start_after(midnight), midnight + 3 * 3600);
        assert_eq!(
            w.next_start_after(midnight + 3 * 3600),
            midnight + day + 3 * 3600
        );
        assert_eq!(
            w.next_start_after(midnight + 14 * 3600),
            midnight + day + 3 * 3600
        );
    }
}
