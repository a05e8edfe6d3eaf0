use super::*;

const HIGH: &str = "TargetTracking-service/c/s-AlarmHigh-1";
const LOW: &str = "TargetTracking-service/c/s-AlarmLow-1";

fn policy<'a>(name: &'a str, target: f64, datapoints: &'a [Option<f64>]) -> PolicyView<'a> {
    PolicyView {
        name,
        target_value: target,
        datapoints,
        scale_out_cooldown: Duration::from_secs(60),
        scale_in_cooldown: Duration::from_secs(60),
        disable_scale_in: false,
        high_alarm: HIGH,
        low_alarm: LOW,
    }
}

fn input<'a>(current: u32, policies: &'a [PolicyView<'a>], now: Instant) -> Input<'a> {
    Input {
        current,
        min: 2,
        max: 6,
        policies,
        history: History::default(),
        now,
        deployment_in_progress: false,
        scale_in_suspended: false,
        scale_out_suspended: false,
    }
}

fn points(value: f64, n: usize) -> Vec<Option<f64>> {
    vec![Some(value); n]
}

fn to(decision: Decision) -> Option<u32> {
    match decision {
        Decision::Scale { to, .. } => Some(to),
        Decision::Hold => None,
    }
}

#[test]
fn three_datapoints_above_the_target_scale_out_proportionally() {
    let now = Instant::now();
    let hot = points(100.0, 3);
    let p = [policy("cpu", 70.0, &hot)];
    let d = decide(&input(2, &p, now));
    assert_eq!(
        d,
        Decision::Scale {
            to: 3, // ceil(2 × 100 ÷ 70) = ceil(2.86)
            direction: Direction::Out,
            cause: format!("monitor alarm {HIGH} in state ALARM triggered policy cpu"),
            cooldown: Duration::from_secs(60),
        }
    );
    // Two datapoints are not enough.
    let p = [policy("cpu", 70.0, &hot[..2])];
    assert_eq!(decide(&input(2, &p, now)), Decision::Hold);
}

#[test]
fn new_capacity_stays_within_max_and_min() {
    let now = Instant::now();
    let very_hot = points(400.0, 3);
    let p = [policy("cpu", 50.0, &very_hot)];
    assert_eq!(to(decide(&input(4, &p, now))), Some(6));
    let idle = points(0.0, 15);
    let p = [policy("cpu", 70.0, &idle)];
    let d = decide(&input(6, &p, now));
    assert!(
        matches!(d, Decision::Scale { to: 2, direction: Direction::In, ref cause, .. } if cause.contains(LOW)),
        "{d:?}"
    );
}

#[test]
fn a_count_outside_the_bounds_is_brought_in_at_once() {
    let now = Instant::now();
    let p: [PolicyView; 0] = [];
    let d = decide(&input(1, &p, now));
    assert_eq!(
        d,
        Decision::Scale {
            to: 2,
            direction: Direction::Bounds,
            cause: "minimum capacity was set to 2".into(),
            cooldown: Duration::ZERO,
        }
    );
    assert_eq!(to(decide(&input(9, &p, now))), Some(6));
    assert_eq!(decide(&input(4, &p, now)), Decision::Hold);
}

#[test]
fn scale_in_needs_fifteen_low_datapoints_below_ninety_percent() {
    let now = Instant::now();
    let quiet = points(30.0, 15);
    let p = [policy("cpu", 70.0, &quiet[..14])];
    assert_eq!(decide(&input(4, &p, now)), Decision::Hold);
    let p = [policy("cpu", 70.0, &quiet)];
    assert_eq!(to(decide(&input(4, &p, now))), Some(2)); // ceil(4 × 30 ÷ 70) = 2
    // Between 90 % of the target and the target: neither alarm, nothing changes.
    let steady = points(65.0, 15);
    let p = [policy("cpu", 70.0, &steady)];
    assert_eq!(decide(&input(4, &p, now)), Decision::Hold);
}

#[test]
fn scale_out_cooldown_counts_the_capacity_it_added() {
    let t0 = Instant::now();
    let hot = points(100.0, 3);
    let p = [policy("cpu", 70.0, &hot)];
    let mut i = input(3, &p, t0 + Duration::from_secs(30));
    // 2 → 3 happened 30 s ago; the metric still says 100 % (the new task is not serving yet):
    // computed from 2 it asks for 3 again, which is not more than now.
    i.history.last_scale_out = Some(ScaleOutRecord {
        at: t0,
        from: 2,
        cooldown: Duration::from_secs(60),
    });
    assert_eq!(decide(&i), Decision::Hold);
    // A larger scale-out is not held back: 250 % from 2 is 8, capped at 6.
    let hotter = points(250.0, 3);
    let p2 = [policy("cpu", 70.0, &hotter)];
    let mut j = i.clone();
    j.policies = &p2;
    assert_eq!(to(decide(&j)), Some(6));
    // Once the cooldown has passed, the current capacity is the base: ceil(3 × 100 ÷ 70) = 5.
    i.now = t0 + Duration::from_secs(61);
    assert_eq!(to(decide(&i)), Some(5));
}

#[test]
fn scale_in_cooldown_blocks_scale_in_but_not_scale_out() {
    let t0 = Instant::now();
    let quiet = points(10.0, 15);
    let p = [policy("cpu", 70.0, &quiet)];
    let mut i = input(4, &p, t0 + Duration::from_secs(59));
    i.history.last_scale_in = Some((t0, Duration::from_secs(60)));
    assert_eq!(decide(&i), Decision::Hold);
    i.now = t0 + Duration::from_secs(60);
    assert_eq!(to(decide(&i)), Some(2));
    let hot = points(100.0, 3);
    let p = [policy("cpu", 70.0, &hot)];
    let mut i = input(4, &p, t0 + Duration::from_secs(1));
    i.history.last_scale_in = Some((t0, Duration::from_secs(60)));
    assert_eq!(to(decide(&i)), Some(6));
}

#[test]
fn scale_in_waits_while_a_deployment_is_in_progress() {
    let now = Instant::now();
    let quiet = points(10.0, 15);
    let p = [policy("cpu", 70.0, &quiet)];
    let mut i = input(4, &p, now);
    i.deployment_in_progress = true;
    assert_eq!(decide(&i), Decision::Hold);
    // Scale-out goes on.
    let hot = points(100.0, 3);
    let p = [policy("cpu", 70.0, &hot)];
    let mut i = input(4, &p, now);
    i.deployment_in_progress = true;
    assert_eq!(to(decide(&i)), Some(6));
}

#[test]
fn suspended_scaling_does_nothing_in_that_direction() {
    let now = Instant::now();
    let hot = points(100.0, 3);
    let p = [policy("cpu", 70.0, &hot)];
    let mut i = input(2, &p, now);
    i.scale_out_suspended = true;
    assert_eq!(decide(&i), Decision::Hold);
    let quiet = points(10.0, 15);
    let p = [policy("cpu", 70.0, &quiet)];
    let mut i = input(4, &p, now);
    i.scale_in_suspended = true;
    assert_eq!(decide(&i), Decision::Hold);
}

#[test]
fn with_several_policies_scale_out_wins_and_scale_in_needs_all() {
    let now = Instant::now();
    let (hot, quiet) = (points(100.0, 15), points(10.0, 15));
    // CPU wants out, memory wants in: out.
    let p = [policy("cpu", 70.0, &hot), policy("memory", 70.0, &quiet)];
    let d = decide(&input(3, &p, now));
    assert!(
        matches!(
            d,
            Decision::Scale {
                to: 5,
                direction: Direction::Out,
                ..
            }
        ),
        "{d:?}"
    );
    // The largest scale-out asked for wins.
    let hotter = points(200.0, 3);
    let p = [policy("cpu", 70.0, &hot), policy("requests", 70.0, &hotter)];
    let d = decide(&input(2, &p, now));
    assert!(
        matches!(d, Decision::Scale { to: 6, ref cause, .. } if cause.ends_with("policy requests")),
        "{d:?}"
    );
    // One policy content (between thresholds) blocks scale-in.
    let steady = points(65.0, 15);
    let p = [policy("cpu", 70.0, &quiet), policy("memory", 70.0, &steady)];
    assert_eq!(decide(&input(4, &p, now)), Decision::Hold);
    // Both low: the most conservative count (the larger) wins: ceil(5 × 10/70)=1→2, ceil(5 × 50/70)=4.
    let lowish = points(50.0, 15);
    let p = [policy("cpu", 70.0, &quiet), policy("memory", 70.0, &lowish)];
    assert_eq!(to(decide(&input(5, &p, now))), Some(4));
    // DisableScaleIn on one policy keeps the service from scaling in.
    let mut no_in = policy("memory", 70.0, &quiet);
    no_in.disable_scale_in = true;
    let p = [policy("cpu", 70.0, &quiet), no_in];
    assert_eq!(decide(&input(5, &p, now)), Decision::Hold);
}

#[test]
fn an_exact_multiple_adds_no_task() {
    let now = Instant::now();
    // 3 tasks at 140 % of a 70 target: exactly 6, no float noise makes it 7 (then capped).
    let hot = points(140.0, 3);
    let p = [policy("cpu", 70.0, &hot)];
    let mut i = input(3, &p, now);
    i.max = 10;
    assert_eq!(to(decide(&i)), Some(6));
}

#[test]
fn a_scale_out_within_the_cooldown_keeps_its_base() {
    let t0 = Instant::now();
    let cooldown = Duration::from_secs(5);
    let h = History::default().after(Direction::Out, t0, 2, cooldown);
    assert_eq!(h.last_scale_out.unwrap().from, 2);
    // 4 → 5 two seconds later (a larger scale-out): the cooldown restarts, its base stays 2.
    let t1 = t0 + Duration::from_secs(2);
    let h = h.after(Direction::Out, t1, 4, cooldown);
    assert_eq!(
        h.last_scale_out,
        Some(ScaleOutRecord {
            at: t1,
            from: 2,
            cooldown
        })
    );
    // So 104 % of a 50 % target still asks for ceil(2 × 104 ÷ 50) = 5: no third step yet.
    let hot = points(104.0, 3);
    let mut p = [policy("cpu", 50.0, &hot)];
    p[0].scale_out_cooldown = cooldown;
    let mut i = input(5, &p, t1 + Duration::from_secs(1));
    i.history = h;
    assert_eq!(decide(&i), Decision::Hold);
    // After the cooldown, from 5: ceil(5 × 104 ÷ 50) = 11, capped at 6.
    i.now = t1 + cooldown;
    assert_eq!(to(decide(&i)), Some(6));
    // Once the cooldown has passed, a new scale-out starts from its own capacity.
    let h = h.after(Direction::Out, t1 + cooldown, 5, cooldown);
    assert_eq!(h.last_scale_out.unwrap().from, 5);
    // Scale-ins record their cooldown; bounds changes record nothing.
    let h2 = h.after(Direction::In, t1, 6, Duration::from_secs(60));
    assert_eq!(h2.last_scale_in, Some((t1, Duration::from_secs(60))));
    assert_eq!(h2.after(Direction::Bounds, t1, 1, Duration::ZERO), h2);
}
