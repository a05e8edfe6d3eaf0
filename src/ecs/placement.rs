//! Where a service's tasks go, as ECS spreads Fargate tasks: evenly over the availability zones
//! of the service's subnets, never into a zone that is down, and back to an even spread after a
//! zone returns (`availabilityZoneRebalancing`). Pure: the controller counts, this decides.

use std::collections::{BTreeMap, BTreeSet};

/// One subnet the service may use, with its zone and how many of the service's live tasks
/// (launched, not being stopped) run there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetLoad<'a> {
    pub subnet: &'a str,
    pub zone: &'a str,
    pub tasks: u32,
}

/// The subnet for a new task: in the zone (among those up) with the fewest tasks, then the
/// subnet of that zone with the fewest; ties go to the order the service lists its subnets.
/// `None` when every zone of the service is down.
///
/// A replacement for a task that died thus goes back to the zone it left (which now has the
/// fewest), as ECS replaces tasks to keep the spread.
pub fn choose_subnet<'a>(subnets: &[SubnetLoad<'a>], down: &BTreeSet<String>) -> Option<&'a str> {
    let per_zone = tasks_per_zone(subnets, down);
    let (zone, _) = per_zone
        .iter()
        .min_by_key(|(zone, count)| (**count, first_index(subnets, zone)))?;
    subnets
        .iter()
        .enumerate()
        .filter(|(_, s)| s.zone == *zone)
        .min_by_key(|(i, s)| (s.tasks, *i))
        .map(|(_, s)| s.subnet)
}

/// A spread to even out: `from` has at least two tasks more than `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imbalance {
    pub from: String,
    pub to: String,
}

/// Whether the service's tasks are unevenly spread over its zones that are up (a difference of
/// two or more between the fullest and the emptiest zone; one is as even as an odd count gets).
/// Nothing to do while a zone of the service is down: its tasks are meant to be elsewhere.
pub fn imbalance(subnets: &[SubnetLoad<'_>], down: &BTreeSet<String>) -> Option<Imbalance> {
    if subnets.iter().any(|s| down.contains(s.zone)) {
        return None;
    }
    let per_zone = tasks_per_zone(subnets, down);
    let order = |zone: &&str| first_index(subnets, zone);
    let (fullest, most) = per_zone
        .iter()
        .max_by_key(|(zone, count)| (**count, std::cmp::Reverse(order(zone))))?;
    let (emptiest, least) = per_zone
        .iter()
        .min_by_key(|(zone, count)| (**count, order(zone)))?;
    (most - least >= 2).then(|| Imbalance {
        from: fullest.to_string(),
        to: emptiest.to_string(),
    })
}

/// Tasks per zone, for the zones of `subnets` that are up (zones with none count zero).
pub fn tasks_per_zone<'a>(
    subnets: &[SubnetLoad<'a>],
    down: &BTreeSet<String>,
) -> BTreeMap<&'a str, u32> {
    let mut per_zone = BTreeMap::new();
    for s in subnets.iter().filter(|s| !down.contains(s.zone)) {
        *per_zone.entry(s.zone).or_insert(0) += s.tasks;
    }
    per_zone
}

/// ECS's account of a spread, as its rebalancing events word it: "2 tasks in us-east-1a and 0
/// tasks in us-east-1b".
pub fn describe_spread(per_zone: &BTreeMap<&str, u32>) -> String {
    let parts: Vec<String> = per_zone
        .iter()
        .map(|(zone, count)| format!("{count} tasks in {zone}"))
        .collect();
    match parts.as_slice() {
        [] => "no tasks".to_string(),
        [one] => one.clone(),
        [first, second] => format!("{first} and {second}"),
        [rest @ .., last] => format!("{}, and {last}", rest.join(", ")),
    }
}

/// A rebalancing under way: move tasks from `from` to `to`, for a service whose desired count
/// was `desired` when it began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebalancing {
    pub from: String,
    pub to: String,
    pub desired: u32,
    /// The service runs one task more than desired (the new one, in the emptiest zone) until
    /// it is healthy and one in the fullest zone is stopped.
    pub surge: bool,
}

/// What the controller sees when it considers rebalancing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebalanceView<'a> {
    /// `availabilityZoneRebalancing` is ENABLED.
    pub enabled: bool,
    /// A deployment is in progress (it places tasks itself; ECS does not rebalance meanwhile).
    pub deploying: bool,
    /// Every live task is healthy.
    pub settled: bool,
    /// Some task is being stopped (draining): no new rebalancing begins meanwhile.
    pub stopping: bool,
    /// Live tasks (launched, not being stopped).
    pub live: u32,
    pub desired: u32,
    pub subnets: &'a [SubnetLoad<'a>],
    pub down: &'a BTreeSet<String>,
}

/// The next step of rebalancing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebalanceStep {
    Nothing,
    /// The spread is uneven: begin (`SERVICE_REBALANCING_STARTED`). While it runs, the service
    /// keeps one task more than desired (the new one goes to the emptiest zone by placement).
    Begin(Rebalancing),
    /// The extra task is healthy: stop one in the fullest zone (and end the surge).
    StopOneIn(String),
    /// Still uneven after a move: run one task more again.
    Surge,
    /// Even again (`SERVICE_REBALANCING_COMPLETED`).
    Complete,
    /// Something else took over (a deployment, a zone went down, the desired count changed):
    /// stop rebalancing; the extra task, if any, is scaled in as usual.
    Abandon,
}

/// ECS's `availabilityZoneRebalancing` as one decision per round: start one task in the emptiest
/// zone, once it is healthy stop one in the fullest, until the spread is even. Tasks are started
/// before others are stopped, so the service never runs fewer than its desired count.
pub fn rebalance_step(state: Option<&Rebalancing>, view: &RebalanceView<'_>) -> RebalanceStep {
    let zone_down = view.subnets.iter().any(|s| view.down.contains(s.zone));
    let Some(state) = state else {
        if !view.enabled
            || view.deploying
            || !view.settled
            || view.stopping
            || view.live != view.desired
        {
            return RebalanceStep::Nothing;
        }
        return match imbalance(view.subnets, view.down) {
            Some(Imbalance { from, to }) => RebalanceStep::Begin(Rebalancing {
                from,
                to,
                desired: view.desired,
                surge: true,
            }),
            None => RebalanceStep::Nothing,
        };
    };
    if !view.enabled || view.deploying || zone_down || view.desired != state.desired {
        return RebalanceStep::Abandon;
    }
    if !view.settled {
        return RebalanceStep::Nothing;
    }
    if state.surge {
        if view.live <= view.desired {
            // The extra task is not launched yet.
            return RebalanceStep::Nothing;
        }
        let per_zone = tasks_per_zone(view.subnets, view.down);
        let fullest = per_zone
            .iter()
            .max_by_key(|(zone, count)| (**count, **zone == state.from))
            .map(|(zone, _)| zone.to_string())
            .unwrap_or_else(|| state.from.clone());
        return RebalanceStep::StopOneIn(fullest);
    }
    if view.live != view.desired {
        return RebalanceStep::Nothing;
    }
    match imbalance(view.subnets, view.down) {
        None => RebalanceStep::Complete,
        // The next extra task goes in (placement picks the emptiest zone).
        Some(_) => RebalanceStep::Surge,
    }
}

fn first_index(subnets: &[SubnetLoad<'_>], zone: &str) -> usize {
    subnets
        .iter()
        .position(|s| s.zone == zone)
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load<'a>(spec: &[(&'a str, &'a str, u32)]) -> Vec<SubnetLoad<'a>> {
        spec.iter()
            .map(|&(subnet, zone, tasks)| SubnetLoad {
                subnet,
                zone,
                tasks,
            })
            .collect()
    }

    fn down(zones: &[&str]) -> BTreeSet<String> {
        zones.iter().map(|z| z.to_string()).collect()
    }

    #[test]
    fn new_tasks_alternate_over_the_zones() {
        let none = down(&[]);
        let empty = load(&[("app-1a", "a", 0), ("app-1b", "b", 0)]);
        assert_eq!(choose_subnet(&empty, &none), Some("app-1a"));
        let one = load(&[("app-1a", "a", 1), ("app-1b", "b", 0)]);
        assert_eq!(choose_subnet(&one, &none), Some("app-1b"));
        let two = load(&[("app-1a", "a", 1), ("app-1b", "b", 1)]);
        assert_eq!(choose_subnet(&two, &none), Some("app-1a"));
    }

    #[test]
    fn a_replacement_goes_back_to_the_zone_that_lost_a_task() {
        let after_b_lost_one = load(&[("app-1a", "a", 2), ("app-1b", "b", 1)]);
        assert_eq!(choose_subnet(&after_b_lost_one, &down(&[])), Some("app-1b"));
    }

    #[test]
    fn a_zone_that_is_down_gets_nothing() {
        let spread = load(&[("app-1a", "a", 0), ("app-1b", "b", 3)]);
        assert_eq!(choose_subnet(&spread, &down(&["a"])), Some("app-1b"));
        assert_eq!(choose_subnet(&spread, &down(&["a", "b"])), None);
    }

    #[test]
    fn within_a_zone_the_emptiest_subnet() {
        let spread = load(&[("x-1a", "a", 2), ("y-1a", "a", 1), ("z-1b", "b", 5)]);
        assert_eq!(choose_subnet(&spread, &down(&[])), Some("y-1a"));
    }

    #[test]
    fn two_more_in_one_zone_is_an_imbalance_one_is_not() {
        let none = down(&[]);
        let even = load(&[("app-1a", "a", 2), ("app-1b", "b", 1)]);
        assert_eq!(imbalance(&even, &none), None);
        let uneven = load(&[("app-1a", "a", 0), ("app-1b", "b", 2)]);
        assert_eq!(
            imbalance(&uneven, &none),
            Some(Imbalance {
                from: "b".into(),
                to: "a".into()
            })
        );
    }

    #[test]
    fn no_rebalancing_while_a_zone_is_down() {
        let moved = load(&[("app-1a", "a", 0), ("app-1b", "b", 2)]);
        assert_eq!(imbalance(&moved, &down(&["a"])), None);
    }

    fn view<'a>(
        subnets: &'a [SubnetLoad<'a>],
        down: &'a BTreeSet<String>,
        live: u32,
        settled: bool,
    ) -> RebalanceView<'a> {
        RebalanceView {
            enabled: true,
            deploying: false,
            settled,
            stopping: false,
            live,
            desired: 2,
            subnets,
            down,
        }
    }

    #[test]
    fn rebalancing_starts_one_then_stops_one_until_even() {
        let none = down(&[]);
        // After an outage of a: both tasks in b.
        let moved = load(&[("app-1a", "a", 0), ("app-1b", "b", 2)]);
        let begin = rebalance_step(None, &view(&moved, &none, 2, true));
        let mut state = Rebalancing {
            from: "b".into(),
            to: "a".into(),
            desired: 2,
            surge: true,
        };
        assert_eq!(begin, RebalanceStep::Begin(state.clone()));
        // The extra task is not launched yet, or not healthy yet: wait.
        assert_eq!(
            rebalance_step(Some(&state), &view(&moved, &none, 2, true)),
            RebalanceStep::Nothing
        );
        let surged = load(&[("app-1a", "a", 1), ("app-1b", "b", 2)]);
        assert_eq!(
            rebalance_step(Some(&state), &view(&surged, &none, 3, false)),
            RebalanceStep::Nothing
        );
        // Healthy: one goes from the fullest zone.
        assert_eq!(
            rebalance_step(Some(&state), &view(&surged, &none, 3, true)),
            RebalanceStep::StopOneIn("b".into())
        );
        state.surge = false;
        let even = load(&[("app-1a", "a", 1), ("app-1b", "b", 1)]);
        assert_eq!(
            rebalance_step(Some(&state), &view(&even, &none, 2, true)),
            RebalanceStep::Complete
        );
    }

    #[test]
    fn a_spread_still_uneven_after_a_move_surges_again() {
        let none = down(&[]);
        let state = Rebalancing {
            from: "b".into(),
            to: "a".into(),
            desired: 4,
            surge: false,
        };
        let after_one_move = load(&[("app-1a", "a", 1), ("app-1b", "b", 3)]);
        let mut seen = view(&after_one_move, &none, 4, true);
        seen.desired = 4;
        assert_eq!(rebalance_step(Some(&state), &seen), RebalanceStep::Surge);
    }

    #[test]
    fn no_rebalancing_unless_settled_enabled_and_not_deploying() {
        let none = down(&[]);
        let moved = load(&[("app-1a", "a", 0), ("app-1b", "b", 2)]);
        assert_eq!(
            rebalance_step(None, &view(&moved, &none, 2, false)),
            RebalanceStep::Nothing
        );
        let mut disabled = view(&moved, &none, 2, true);
        disabled.enabled = false;
        assert_eq!(rebalance_step(None, &disabled), RebalanceStep::Nothing);
        let mut deploying = view(&moved, &none, 2, true);
        deploying.deploying = true;
        assert_eq!(rebalance_step(None, &deploying), RebalanceStep::Nothing);
    }

    #[test]
    fn rebalancing_is_abandoned_when_something_else_takes_over() {
        let state = Rebalancing {
            from: "b".into(),
            to: "a".into(),
            desired: 2,
            surge: true,
        };
        let moved = load(&[("app-1a", "a", 0), ("app-1b", "b", 2)]);
        let a_down = down(&["a"]);
        assert_eq!(
            rebalance_step(Some(&state), &view(&moved, &a_down, 2, true)),
            RebalanceStep::Abandon
        );
        let none = down(&[]);
        let mut scaled = view(&moved, &none, 2, true);
        scaled.desired = 4;
        assert_eq!(
            rebalance_step(Some(&state), &scaled),
            RebalanceStep::Abandon
        );
    }

    #[test]
    fn the_spread_reads_as_ecs_words_it() {
        let spread = load(&[("app-1a", "us-east-1a", 0), ("app-1b", "us-east-1b", 2)]);
        assert_eq!(
            describe_spread(&tasks_per_zone(&spread, &down(&[]))),
            "0 tasks in us-east-1a and 2 tasks in us-east-1b"
        );
        let three = load(&[("1a", "a", 1), ("1b", "b", 1), ("1c", "c", 2)]);
        assert_eq!(
            describe_spread(&tasks_per_zone(&three, &down(&[]))),
            "1 tasks in a, 1 tasks in b, and 2 tasks in c"
        );
    }
}
