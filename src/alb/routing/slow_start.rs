//! Slow start: a target that has just become healthy gets a share of requests that grows
//! linearly from almost nothing to its full share over the group's `slow-start` duration.

/// The weight of a target out of slow start.
pub const FULL: f64 = 1.0;
/// The weight at the very start of the ramp: small but not zero, so a lone new target can
/// still be chosen and the ramp is visible from the first second.
pub const MIN: f64 = 0.01;

/// A target's weight `now_us`, given when it became healthy and the ramp length (0 = off).
pub fn weight(healthy_since_us: Option<u64>, now_us: u64, slow_start_us: u64) -> f64 {
    let Some(since) = healthy_since_us else {
        return FULL;
    };
    if slow_start_us == 0 {
        return FULL;
    }
    let elapsed = now_us.saturating_sub(since);
    if elapsed >= slow_start_us {
        return FULL;
    }
    (elapsed as f64 / slow_start_us as f64).max(MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_between_min_and_full() {
        assert_eq!(weight(Some(1000), 1000, 0), FULL, "off");
        assert_eq!(weight(None, 5, 30_000), FULL, "no healthy time known");
        assert_eq!(weight(Some(1000), 1000, 30_000), MIN);
        assert!((weight(Some(1000), 16_000, 30_000) - 0.5).abs() < 1e-9);
        assert_eq!(weight(Some(1000), 31_000, 30_000), FULL);
        assert_eq!(weight(Some(5000), 1000, 30_000), MIN, "clock before since");
    }
}
