//! The service scheduler's decision, apart from any I/O: given the desired count and what is
//! observed of each task, which tasks to stop and how many to launch.

/// What the controller observes of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedTask {
    pub task_id: String,
    /// Launch order; larger is newer.
    pub launched: u64,
    pub phase: Phase,
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

/// Stops dead and unhealthy tasks, trims the excess (newest, not-yet-healthy first) and launches
/// enough tasks to reach `desired`. Replacements are launched in the same round as the stops, as
/// ECS does for a task that dies.
pub fn decide(desired: u32, tasks: &[ObservedTask]) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut live: Vec<&ObservedTask> = Vec::new();
    for task in tasks {
        match &task.phase {
            Phase::Exited { exit_code } => actions.push(Action::Stop {
                task_id: task.task_id.clone(),
                reason: StopReason::EssentialContainerExited {
                    exit_code: *exit_code,
                },
            }),
            Phase::Unhealthy => actions.push(Action::Stop {
                task_id: task.task_id.clone(),
                reason: StopReason::FailedElbHealthChecks,
            }),
            Phase::Starting | Phase::Healthy => live.push(task),
        }
    }
    let live_count = live.len() as u32;
    if live_count > desired {
        // Keep healthy and older tasks; stop starting ones and the newest first.
        live.sort_by_key(|t| (t.phase == Phase::Healthy, std::cmp::Reverse(t.launched)));
        for task in live.iter().take((live_count - desired) as usize) {
            actions.push(Action::Stop {
                task_id: task.task_id.clone(),
                reason: StopReason::ScaledIn,
            });
        }
    } else if live_count < desired {
        actions.push(Action::Launch {
            count: desired - live_count,
        });
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
        }
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
