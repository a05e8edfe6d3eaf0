//! The two CloudWatch alarms Application Auto Scaling makes for each target tracking policy,
//! evaluated on the latest datapoints. Pure.
//!
//! For an ECS service AWS's managed alarms are: `AlarmHigh`, metric above the target for 3 of 3
//! datapoints; `AlarmLow`, metric below 90 % of the target for 15 of 15 datapoints. A missing
//! datapoint (no task reported) breaches neither: the alarm waits for data.

use serde::{Deserialize, Serialize};

/// Datapoints the high alarm evaluates (all must be above the target).
pub const HIGH_DATAPOINTS: usize = 3;
/// Datapoints the low alarm evaluates (all must be below [`LOW_THRESHOLD_RATIO`] × target).
pub const LOW_DATAPOINTS: usize = 15;
/// The low alarm's threshold as a share of the target value (ECS's scale-in margin).
pub const LOW_THRESHOLD_RATIO: f64 = 0.9;
/// Datapoints worth keeping: the longest window.
pub const DATAPOINTS_KEPT: usize = LOW_DATAPOINTS;

/// A CloudWatch alarm's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

/// Both alarms of one policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarms {
    pub high: AlarmState,
    pub low: AlarmState,
}

/// The alarms on `datapoints` (oldest first; `None` for a period without data) for `target`.
pub fn evaluate(datapoints: &[Option<f64>], target: f64) -> Alarms {
    Alarms {
        high: window(datapoints, HIGH_DATAPOINTS, |v| v > target),
        low: window(datapoints, LOW_DATAPOINTS, |v| {
            v < target * LOW_THRESHOLD_RATIO
        }),
    }
}

/// ALARM when the latest `n` datapoints all breach; OK when the window is full of data and one
/// does not; INSUFFICIENT_DATA while fewer than `n` exist or one of them is missing.
fn window(datapoints: &[Option<f64>], n: usize, breaches: impl Fn(f64) -> bool) -> AlarmState {
    if datapoints.len() < n {
        return AlarmState::InsufficientData;
    }
    let latest = &datapoints[datapoints.len() - n..];
    if latest.iter().any(Option::is_none) {
        return AlarmState::InsufficientData;
    }
    if latest.iter().flatten().all(|&v| breaches(v)) {
        AlarmState::Alarm
    } else {
        AlarmState::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AlarmState::*;

    fn points(values: &[f64]) -> Vec<Option<f64>> {
        values.iter().copied().map(Some).collect()
    }

    #[test]
    fn the_high_alarm_needs_three_of_three_above_the_target() {
        assert_eq!(
            evaluate(&points(&[90.0, 90.0]), 70.0).high,
            InsufficientData
        );
        assert_eq!(evaluate(&points(&[90.0, 90.0, 90.0]), 70.0).high, Alarm);
        assert_eq!(evaluate(&points(&[90.0, 60.0, 90.0, 90.0]), 70.0).high, Ok);
        assert_eq!(
            evaluate(&points(&[60.0, 90.0, 90.0, 90.0]), 70.0).high,
            Alarm
        );
        // At the target is not above it.
        assert_eq!(evaluate(&points(&[70.0, 70.0, 70.0]), 70.0).high, Ok);
    }

    #[test]
    fn the_low_alarm_needs_fifteen_of_fifteen_below_ninety_percent() {
        let low = [10.0; 15];
        assert_eq!(evaluate(&points(&low[..14]), 70.0).low, InsufficientData);
        assert_eq!(evaluate(&points(&low), 70.0).low, Alarm);
        // 63 is 90 % of 70: not below it, so no scale-in at 63..70.
        let mut near = [10.0; 15];
        near[7] = 63.0;
        assert_eq!(evaluate(&points(&near), 70.0).low, Ok);
        near[7] = 62.9;
        assert_eq!(evaluate(&points(&near), 70.0).low, Alarm);
    }

    #[test]
    fn a_missing_datapoint_is_insufficient_data() {
        let mut p = points(&[90.0, 90.0, 90.0]);
        p[1] = None;
        assert_eq!(evaluate(&p, 70.0).high, InsufficientData);
        p.extend(points(&[90.0, 90.0, 90.0]));
        assert_eq!(evaluate(&p, 70.0).high, Alarm);
    }
}
