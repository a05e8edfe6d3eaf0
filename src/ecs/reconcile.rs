//! The service scheduler's decision, apart from any I/O: given the desired count, the
//! deployment's bounds and what is observed of each task, which tasks to stop and how many of
//! the PRIMARY deployment's tasks to launch. A rolling deployment is this same decision with
//! tasks of older deployments present.

/// What the controller observes of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedTask {
    pub task_id: String,
    /// Launch order; larger is newer.
    pub launched: u64,
    pub phase: Phase,
    /// The task belongs to the PRIMARY deployment (else to an older, ACTIVE one, to replace).
    pub primary: bool,
}

/// The bounds of one round: ECS's desired count and `deploymentConfiguration` percentages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub desired: u32,
    pub minimum_healthy_percent: u32,
    pub maximum_percent: u32,
    /// The PRIMARY deployment may launch tasks (not once its circuit breaker tripped).
    pub launch: bool,
}

impl Bounds {
    /// Bounds with ECS's defaults (100 / 200) that may launch.
    pub fn new(desired: u32) -> Bounds {
        Bounds {
            desired,
            minimum_healthy_percent: 100,
            maximum_percent: 200,
            launch: true,
        }
    }

    /// Healthy tasks to keep while replacing: the minimum percent of desired, rounded up.
    pub fn min_healthy(&self) -> u32 {
        (self.desired * self.minimum_healthy_percent).div_ceil(100)
    }

    /// Most tasks RUNNING or PENDING: the maximum percent of desired, rounded down (never less
    /// than the desired count, which would leave no room to reach it).
    pub fn max_tasks(&self) -> u32 {
        (self.desired * self.maximum_percent / 100).max(self.desired)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Container running, target not yet healthy (ECS `PENDING`/`ACTIVATING`).
    Starting,
    /// Container running and, with a load balancer, its target healthy (ECS `RUNNING`).
    Healthy,
    /// The load balancer marked the target unhealthy.
    Unhealthy,
    /// The container exited or disappeared.
    Exited { exit_code: Option<i64> },
}

/// Why a task is stopped (shown, in ECS's words, as the task's `stoppedReason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    EssentialContainerExited {
        exit_code: Option<i64>,
    },
    FailedElbHealthChecks,
    /// The desired count went down.
    ScaledIn,
    /// `stop-task`: the reason given, else ECS's "Task stopped by user".
    UserInitiated {
        reason: String,
    },
}

/// ECS's `stoppedReason` of a task that `stop-task` stopped without a reason.
pub const STOPPED_BY_USER: &str = "Task stopped by user";

impl StopReason {
    /// A user's stop with `reason` (ECS's default wording when none is given).
    pub fn user(reason: Option<&str>) -> StopReason {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        StopReason::UserInitiated {
            reason: reason.unwrap_or(STOPPED_BY_USER).to_string(),
        }
    }

    /// The task's `stoppedReason`, as ECS words it; a scale-in names the service's deployment.
    pub fn stopped_reason(&self, deployment_id: &str) -> String {
        match self {
            StopReason::EssentialContainerExited {
                exit_code: Some(code),
            } => format!("Essential container in task exited (exit code {code})"),
            StopReason::EssentialContainerExited { exit_code: None } => {
                "Essential container in task exited".to_string()
            }
            StopReason::FailedElbHealthChecks => "Task failed ELB health checks".to_string(),
            StopReason::ScaledIn => {
                format!("Scaling activity initiated by (deployment {deployment_id})")
            }
            StopReason::UserInitiated { reason } => reason.clone(),
        }
    }

    /// Whether the stop says nothing about the task's health (the launch throttle ignores it).
    pub fn is_deliberate(&self) -> bool {
        matches!(
            self,
            StopReason::ScaledIn | StopReason::UserInitiated { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Stop { task_id: String, reason: StopReason },
    Launch { count: u32 },
}

/// Stops dead and unhealthy tasks; trims the PRIMARY deployment's excess (newest, not-yet-healthy
/// first); stops tasks of older deployments as far as `min_healthy` allows (not-yet-healthy ones
/// at once, then the oldest); launches PRIMARY tasks up to the desired count within
/// `max_tasks`. Replacements are launched in the same round as the stops, as ECS does for a task
/// that dies. Tasks being stopped count neither as healthy nor against the maximum: they are out
/// of the load balancer already.
pub fn decide(bounds: &Bounds, tasks: &[ObservedTask]) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut stop = |task: &ObservedTask, reason: StopReason| {
        actions.push(Action::Stop {
            task_id: task.task_id.clone(),
            reason,
        })
    };
    let (mut primary, mut old): (Vec<&ObservedTask>, Vec<&ObservedTask>) = (Vec::new(), Vec::new());
    for task in tasks {
        match &task.phase {
            Phase::Exited { exit_code } => stop(
                task,
                StopReason::EssentialContainerExited {
                    exit_code: *exit_code,
                },
            ),
            Phase::Unhealthy => stop(task, StopReason::FailedElbHealthChecks),
            Phase::Starting | Phase::Healthy if task.primary => primary.push(task),
            Phase::Starting | Phase::Healthy => old.push(task),
        }
    }
    // Keep healthy and older tasks; stop starting ones and the newest first.
    primary.sort_by_key(|t| (t.phase == Phase::Healthy, std::cmp::Reverse(t.launched)));
    let excess = primary.len().saturating_sub(bounds.desired as usize);
    for task in primary.drain(..excess) {
        stop(task, StopReason::ScaledIn);
    }
    // Older deployments: not-yet-healthy tasks serve nobody; healthy ones go (oldest first)
    // while enough healthy tasks remain.
    old.sort_by_key(|t| (t.phase == Phase::Healthy, t.launched));
    let mut healthy_now = primary
        .iter()
        .chain(&old)
        .filter(|t| t.phase == Phase::Healthy)
        .count() as u32;
    let mut old_kept = 0u32;
    for task in old {
        if task.phase != Phase::Healthy {
            stop(task, StopReason::ScaledIn);
        } else if healthy_now > bounds.min_healthy() {
            healthy_now -= 1;
            stop(task, StopReason::ScaledIn);
        } else {
            old_kept += 1;
        }
    }
    let live = primary.len() as u32 + old_kept;
    let missing = bounds.desired.saturating_sub(primary.len() as u32);
    let room = bounds.max_tasks().saturating_sub(live);
    let count = missing.min(room);
    if bounds.launch && count > 0 {
        actions.push(Action::Launch { count });
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, launched: u64, phase: Phase) -> ObservedTask {
        ObservedTask {
            task_id: id.into(),
            launched,
            phase,
            primary: true,
        }
    }

    fn decide(desired: u32, tasks: &[ObservedTask]) -> Vec<Action> {
        super::decide(&Bounds::new(desired), tasks)
    }

    #[test]
    fn launches_up_to_the_desired_count() {
        assert_eq!(decide(2, &[]), vec![Action::Launch { count: 2 }]);
        let one = [task("a", 1, Phase::Starting)];
        assert_eq!(decide(2, &one), vec![Action::Launch { count: 1 }]);
    }

    #[test]
    fn steady_state_does_nothing() {
        let tasks = [task("a", 1, Phase::Healthy), task("b", 2, Phase::Starting)];
        assert_eq!(decide(2, &tasks), vec![]);
    }

    #[test]
    fn a_dead_task_is_stopped_and_replaced_in_the_same_round() {
        let tasks = [
            task("a", 1, Phase::Healthy),
            task(
                "b",
                2,
                Phase::Exited {
                    exit_code: Some(137),
                },
            ),
        ];
        assert_eq!(
            decide(2, &tasks),
            vec![
                Action::Stop {
                    task_id: "b".into(),
                    reason: StopReason::EssentialContainerExited {
                        exit_code: Some(137)
                    }
                },
                Action::Launch { count: 1 },
            ]
        );
    }

    #[test]
    fn an_unhealthy_task_is_replaced() {
        let tasks = [task("a", 1, Phase::Unhealthy), task("b", 2, Phase::Healthy)];
        assert_eq!(
            decide(2, &tasks),
            vec![
                Action::Stop {
                    task_id: "a".into(),
                    reason: StopReason::FailedElbHealthChecks
                },
                Action::Launch { count: 1 },
            ]
        );
    }

    #[test]
    fn scale_in_stops_starting_then_newest_tasks() {
        let tasks = [
            task("old", 1, Phase::Healthy),
            task("new", 3, Phase::Healthy),
            task("starting", 2, Phase::Starting),
        ];
        let stopped: Vec<_> = decide(1, &tasks)
            .into_iter()
            .map(|a| match a {
                Action::Stop {
                    task_id,
                    reason: StopReason::ScaledIn,
                } => task_id,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(stopped, vec!["starting", "new"]);
    }

    #[test]
    fn desired_zero_stops_everything_live() {
        let tasks = [task("a", 1, Phase::Healthy)];
        assert_eq!(
            decide(0, &tasks),
            vec![Action::Stop {
                task_id: "a".into(),
                reason: StopReason::ScaledIn
            }]
        );
    }

    fn old(id: &str, launched: u64, phase: Phase) -> ObservedTask {
        ObservedTask {
            primary: false,
            ..task(id, launched, phase)
        }
    }

    fn stops(actions: &[Action]) -> Vec<&str> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Stop { task_id, .. } => Some(task_id.as_str()),
                Action::Launch { .. } => None,
            })
            .collect()
    }

    fn launches(actions: &[Action]) -> u32 {
        actions
            .iter()
            .map(|a| match a {
                Action::Launch { count } => *count,
                Action::Stop { .. } => 0,
            })
            .sum()
    }

    #[test]
    fn bounds_round_as_ecs_does() {
        let b = |desired, min, max| Bounds {
            desired,
            minimum_healthy_percent: min,
            maximum_percent: max,
            launch: true,
        };
        assert_eq!(
            (b(2, 100, 200).min_healthy(), b(2, 100, 200).max_tasks()),
            (2, 4)
        );
        // 50 % of 3 is 1.5: at least 2 stay healthy (up), at most 4 run at 150 % (down).
        assert_eq!(
            (b(3, 50, 150).min_healthy(), b(3, 50, 150).max_tasks()),
            (2, 4)
        );
        assert_eq!(
            (b(1, 0, 100).min_healthy(), b(1, 0, 100).max_tasks()),
            (0, 1)
        );
    }

    /// The default 2-task service at 100 / 200, driven round by round like the controller: the
    /// new tasks start first, the old ones stop only once new ones are healthy, and the healthy
    /// count never drops below 2 nor the live count exceeds 4.
    #[test]
    fn rolling_deployment_at_100_200_starts_new_tasks_before_stopping_old_ones() {
        let bounds = Bounds::new(2);
        let mut tasks = vec![old("o1", 1, Phase::Healthy), old("o2", 2, Phase::Healthy)];
        let first = super::decide(&bounds, &tasks);
        assert_eq!((stops(&first), launches(&first)), (vec![], 2));
        tasks.push(task("n1", 3, Phase::Starting));
        tasks.push(task("n2", 4, Phase::Starting));
        // Nothing to do while the new tasks start.
        assert_eq!(super::decide(&bounds, &tasks), vec![]);
        // One new task healthy: one old task may go.
        tasks[2].phase = Phase::Healthy;
        let third = super::decide(&bounds, &tasks);
        assert_eq!((stops(&third), launches(&third)), (vec!["o1"], 0));
        tasks.remove(0);
        tasks[2].phase = Phase::Healthy;
        let fourth = super::decide(&bounds, &tasks);
        assert_eq!((stops(&fourth), launches(&fourth)), (vec!["o2"], 0));
        tasks.remove(0);
        assert_eq!(super::decide(&bounds, &tasks), vec![]);
    }

    #[test]
    fn rolling_deployment_at_50_100_stops_before_it_starts() {
        let bounds = Bounds {
            minimum_healthy_percent: 50,
            maximum_percent: 100,
            ..Bounds::new(2)
        };
        let tasks = [old("o1", 1, Phase::Healthy), old("o2", 2, Phase::Healthy)];
        let actions = super::decide(&bounds, &tasks);
        // One old task goes (1 healthy stays), one new one takes its place.
        assert_eq!((stops(&actions), launches(&actions)), (vec!["o1"], 1));
    }

    #[test]
    fn old_tasks_that_are_not_healthy_go_at_once() {
        let tasks = [
            old("o1", 1, Phase::Healthy),
            old("o2", 2, Phase::Starting),
            task("n1", 3, Phase::Starting),
        ];
        let actions = decide(1, &tasks);
        assert_eq!((stops(&actions), launches(&actions)), (vec!["o2"], 0));
    }

    /// A deployment whose circuit breaker tripped launches nothing more, and the old tasks keep
    /// serving (they are the only healthy ones).
    #[test]
    fn a_failed_deployment_launches_nothing_and_keeps_the_old_tasks() {
        let bounds = Bounds {
            launch: false,
            ..Bounds::new(2)
        };
        let tasks = [old("o1", 1, Phase::Healthy), old("o2", 2, Phase::Healthy)];
        assert_eq!(super::decide(&bounds, &tasks), vec![]);
    }

    #[test]
    fn stop_reasons_read_like_ecs() {
        let exited = StopReason::EssentialContainerExited {
            exit_code: Some(137),
        };
        assert_eq!(
            exited.stopped_reason("ecs-svc/1"),
            "Essential container in task exited (exit code 137)"
        );
        assert_eq!(
            StopReason::ScaledIn.stopped_reason("ecs-svc/1234567890123456789"),
            "Scaling activity initiated by (deployment ecs-svc/1234567890123456789)"
        );
        assert_eq!(
            StopReason::user(None).stopped_reason("-"),
            "Task stopped by user"
        );
        assert_eq!(
            StopReason::user(Some("  ")).stopped_reason("-"),
            "Task stopped by user"
        );
        assert_eq!(
            StopReason::user(Some("rotating")).stopped_reason("-"),
            "rotating"
        );
        assert!(StopReason::user(None).is_deliberate() && StopReason::ScaledIn.is_deliberate());
        assert!(!StopReason::FailedElbHealthChecks.is_deliberate());
    }
}
