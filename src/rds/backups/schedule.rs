//! When automated backups run: RDS takes a first backup as soon as backups are on, then one a
//! day in the backup window, and ships the binary logs every 5 minutes (so
//! `LatestRestorableTime` trails by about 5 minutes). The `fast` profile shrinks that so a demo
//! sees it: a backup every few minutes, the logs every 10 s, and a "day" of retention as long
//! as one backup interval.

use std::time::Duration;

use crate::config::TimingProfile;

use super::window::BackupWindow;

/// RDS ships transaction logs every 5 minutes.
pub const AWS_ARCHIVE_EVERY: Duration = Duration::from_secs(5 * 60);
/// `fast`: the logs every 10 s.
pub const FAST_ARCHIVE_EVERY: Duration = Duration::from_secs(10);
/// `fast`: a backup every 3 minutes (and a retention "day" as long).
pub const FAST_BACKUP_EVERY: Duration = Duration::from_secs(3 * 60);
const DAY: Duration = Duration::from_secs(86_400);

/// How often an instance is backed up and its logs archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub backups: Cadence,
    pub archive_every: Duration,
    /// How long one day of `backup-retention-period` lasts.
    pub day: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Once a day, at the start of the window (AWS).
    Daily(BackupWindow),
    /// At a fixed interval (`fast`).
    Every(Duration),
}

impl Schedule {
    /// The schedule of `profile` for an instance whose backup window is `window`.
    pub fn for_profile(profile: TimingProfile, window: BackupWindow) -> Schedule {
        match profile {
            TimingProfile::Aws => Schedule {
                backups: Cadence::Daily(window),
                archive_every: AWS_ARCHIVE_EVERY,
                day: DAY,
            },
            TimingProfile::Fast => Schedule {
                backups: Cadence::Every(FAST_BACKUP_EVERY),
                archive_every: FAST_ARCHIVE_EVERY,
                day: FAST_BACKUP_EVERY,
            },
        }
    }

    /// When the next automated backup is due (Unix seconds), after the last one (`None`: there
    /// is none yet, so now, as RDS backs up an instance when backups are turned on).
    pub fn next_backup(&self, last: Option<u64>, now: u64) -> u64 {
        let Some(last) = last else {
            return now;
        };
        match self.backups {
            Cadence::Daily(window) => window.next_start_after(last),
            Cadence::Every(every) => last + every.as_secs(),
        }
    }

    /// How long `retention_days` of retention lasts.
    pub fn retention(&self, retention_days: u32) -> Duration {
        self.day * retention_days
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> BackupWindow {
        BackupWindow::parse("03:00-03:30").unwrap()
    }

    #[test]
    fn aws_backs_up_daily_in_the_window_and_ships_logs_every_5_minutes() {
        let s = Schedule::for_profile(TimingProfile::Aws, window());
        assert_eq!(s.archive_every, Duration::from_secs(300));
        let midnight = 20_000 * 86_400;
        let now = midnight + 14 * 3600;
        assert_eq!(s.next_backup(None, now), now, "the first backup at once");
        assert_eq!(
            s.next_backup(Some(now), now + 1),
            midnight + 86_400 + 3 * 3600,
            "then tomorrow's window"
        );
        assert_eq!(s.retention(7), Duration::from_secs(7 * 86_400));
    }

    #[test]
    fn fast_backs_up_every_few_minutes_and_ships_logs_every_10_s() {
        let s = Schedule::for_profile(TimingProfile::Fast, window());
        assert_eq!(s.archive_every, Duration::from_secs(10));
        assert_eq!(s.next_backup(Some(1000), 1001), 1000 + 180);
        assert_eq!(s.next_backup(None, 5), 5);
        assert_eq!(s.retention(2), Duration::from_secs(360));
        assert_eq!(s.retention(0), Duration::ZERO);
    }
}
