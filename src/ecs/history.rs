//! What a service keeps of its past, apart from any I/O: stopped tasks (for `describe-tasks`-like
//! status, newest kept, bounded by count and age as ECS keeps them about an hour) and the log
//! stream files of stopped tasks (bounded per service, so a crash loop cannot fill the disk).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

/// Stopped tasks listed per service, newest kept.
pub const STOPPED_TASKS_KEPT: usize = 10;
/// ECS shows a stopped task for about an hour.
pub const STOPPED_TASK_MAX_AGE: Duration = Duration::from_secs(60 * 60);
/// Log stream files of stopped tasks kept per service; older ones are deleted. More than the
/// stopped tasks listed, so every listed stopped task still has its logs.
pub const STOPPED_LOG_FILES_KEPT: usize = 20;

/// How many of the oldest entries to drop from a list of stop times (oldest first) so that at
/// most `keep` remain and none is older than `max_age` at `now`.
pub fn stopped_to_drop(
    stopped_at: &[Instant],
    now: Instant,
    keep: usize,
    max_age: Duration,
) -> usize {
    let by_count = stopped_at.len().saturating_sub(keep);
    let by_age = stopped_at
        .iter()
        .take_while(|at| now.saturating_duration_since(**at) > max_age)
        .count();
    by_count.max(by_age)
}

/// Which log files of stopped tasks (oldest first) to delete so that at most `keep` remain; a
/// file a running task writes is never chosen.
pub fn logs_to_delete(
    stopped: &[PathBuf],
    running: &HashSet<PathBuf>,
    keep: usize,
) -> Vec<PathBuf> {
    let candidates: Vec<&PathBuf> = stopped.iter().filter(|p| !running.contains(*p)).collect();
    let excess = candidates.len().saturating_sub(keep);
    candidates.into_iter().take(excess).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn stopped_tasks_are_bounded_by_count_newest_kept() {
        let t0 = Instant::now();
        let times: Vec<Instant> = (0..15).map(|i| t0 + i * Duration::from_secs(1)).collect();
        assert_eq!(stopped_to_drop(&times, t0 + MIN, 10, 60 * MIN), 5);
        assert_eq!(stopped_to_drop(&times[..3], t0 + MIN, 10, 60 * MIN), 0);
        assert_eq!(stopped_to_drop(&[], t0, 10, 60 * MIN), 0);
    }

    #[test]
    fn stopped_tasks_older_than_the_max_age_go() {
        let t0 = Instant::now();
        let times = [t0, t0 + 30 * MIN, t0 + 50 * MIN];
        assert_eq!(stopped_to_drop(&times, t0 + 70 * MIN, 10, 60 * MIN), 1);
        assert_eq!(stopped_to_drop(&times, t0 + 200 * MIN, 10, 60 * MIN), 3);
        assert_eq!(stopped_to_drop(&times, t0 + 60 * MIN, 10, 60 * MIN), 0);
    }

    #[test]
    fn oldest_stopped_logs_are_deleted_beyond_the_bound() {
        let paths: Vec<PathBuf> = (0..5).map(|i| PathBuf::from(format!("{i}.log"))).collect();
        let none = HashSet::new();
        assert_eq!(
            logs_to_delete(&paths, &none, 3),
            vec![PathBuf::from("0.log"), PathBuf::from("1.log")]
        );
        assert!(logs_to_delete(&paths, &none, 5).is_empty());
    }

    #[test]
    fn a_running_tasks_log_is_never_deleted() {
        let paths: Vec<PathBuf> = (0..4).map(|i| PathBuf::from(format!("{i}.log"))).collect();
        let running = HashSet::from([PathBuf::from("0.log")]);
        assert_eq!(
            logs_to_delete(&paths, &running, 1),
            vec![PathBuf::from("1.log"), PathBuf::from("2.log")]
        );
        assert!(
            logs_to_delete(&paths, &running, 0)
                .iter()
                .all(|p| p != "0.log")
        );
    }
}
