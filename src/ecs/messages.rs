//! Service event messages, worded as ECS words them (`describe-services` `events`).

/// "(service S) has started 2 tasks: (task a) (task b)."
pub fn started(service: &str, task_ids: &[String]) -> String {
    format!(
        "(service {service}) has started {} tasks: {}.",
        task_ids.len(),
        tasks(task_ids)
    )
}

/// "(service S) has stopped 2 running tasks: (task a) (task b)."
pub fn stopped(service: &str, task_ids: &[String]) -> String {
    format!(
        "(service {service}) has stopped {} running tasks: {}.",
        task_ids.len(),
        tasks(task_ids)
    )
}

/// "(service S) has reached a steady state."
pub fn steady(service: &str) -> String {
    format!("(service {service}) has reached a steady state.")
}

/// "(service S) (deployment ecs-svc/…) deployment completed."
pub fn deployment_completed(service: &str, deployment_id: &str) -> String {
    format!("(service {service}) (deployment {deployment_id}) deployment completed.")
}

/// "(service S) (deployment ecs-svc/…) deployment failed: tasks failed to start."
pub fn deployment_failed(service: &str, deployment_id: &str) -> String {
    format!(
        "(service {service}) (deployment {deployment_id}) deployment failed: tasks failed to start."
    )
}

/// "(service S) rolling back to deployment ecs-svc/…."
pub fn rolling_back(service: &str, to: &str) -> String {
    format!("(service {service}) rolling back to deployment {to}.")
}

/// "(service S) registered 2 targets in (target-group arn:…)"
pub fn registered_targets(service: &str, count: usize, target_group_arn: &str) -> String {
    format!("(service {service}) registered {count} targets in (target-group {target_group_arn})")
}

/// "(service S) deregistered 1 targets in (target-group arn:…)"
pub fn deregistered_targets(service: &str, count: usize, target_group_arn: &str) -> String {
    format!("(service {service}) deregistered {count} targets in (target-group {target_group_arn})")
}

/// "(service S, taskSet ecs-svc/…) has begun draining connections on 1 tasks."
pub fn draining(service: &str, deployment_id: &str, count: usize) -> String {
    format!(
        "(service {service}, taskSet {deployment_id}) has begun draining connections on {count} tasks."
    )
}

fn tasks(task_ids: &[String]) -> String {
    task_ids
        .iter()
        .map(|id| format!("(task {id})"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_ecs() {
        let one = vec!["abc".to_string()];
        assert_eq!(
            started("web", &one),
            "(service web) has started 1 tasks: (task abc)."
        );
        let two = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            stopped("web", &two),
            "(service web) has stopped 2 running tasks: (task a) (task b)."
        );
        assert_eq!(steady("web"), "(service web) has reached a steady state.");
        assert_eq!(
            deployment_completed("web", "ecs-svc/1"),
            "(service web) (deployment ecs-svc/1) deployment completed."
        );
        assert_eq!(
            deployment_failed("web", "ecs-svc/2"),
            "(service web) (deployment ecs-svc/2) deployment failed: tasks failed to start."
        );
        let tg = "arn:aws:elasticloadbalancing:us-east-1:0:targetgroup/tg/1";
        assert_eq!(
            registered_targets("web", 2, tg),
            format!("(service web) registered 2 targets in (target-group {tg})")
        );
        assert_eq!(
            deregistered_targets("web", 1, tg),
            format!("(service web) deregistered 1 targets in (target-group {tg})")
        );
        assert_eq!(
            draining("web", "ecs-svc/7", 1),
            "(service web, taskSet ecs-svc/7) has begun draining connections on 1 tasks."
        );
        assert_eq!(
            rolling_back("web", "ecs-svc/1"),
            "(service web) rolling back to deployment ecs-svc/1."
        );
    }
}
