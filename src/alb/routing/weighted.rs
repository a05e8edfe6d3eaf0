//! Weighted forward: a listener action that splits requests between target groups by weight,
//! optionally keeping a client on the group it first got (`AWSALBTG`).

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue};

use super::sticky;
use crate::alb::TargetGroupHandle;
use crate::config::ListenerProtocol;

/// The groups of one weighted forward action.
#[derive(Debug, Clone)]
pub struct WeightedGroups {
    /// Each group, its weight and its stickiness token.
    groups: Vec<(TargetGroupHandle, u32, u64)>,
    stickiness: Option<Duration>,
}

/// The group chosen for one request, and what the response must carry to keep the client there.
#[derive(Debug)]
pub struct GroupChoice<'a> {
    group: &'a TargetGroupHandle,
    token: u64,
    stickiness: Option<Duration>,
}

impl WeightedGroups {
    /// `groups` with their weights (0..=999, not all 0); `stickiness` keeps clients on a group.
    pub fn new(groups: Vec<(TargetGroupHandle, u32)>, stickiness: Option<Duration>) -> Self {
        WeightedGroups {
            groups: groups
                .into_iter()
                .map(|(g, w)| (g, w, rand::random()))
                .collect(),
            stickiness,
        }
    }

    /// The group for a request with `headers`: the sticky one when its cookie names a group
    /// that still has weight, else one drawn by weight.
    pub fn choose(&self, headers: &HeaderMap) -> GroupChoice<'_> {
        let sticky = self
            .stickiness
            .and_then(|_| sticky::token(headers, sticky::GROUP_COOKIE, sticky::GROUP_CORS_COOKIE))
            .and_then(|t| {
                self.groups
                    .iter()
                    .position(|(_, w, tok)| *tok == t && *w > 0)
            });
        let weights = self.groups.iter().map(|(_, w, _)| *w);
        let i = sticky.unwrap_or_else(|| pick_by_weight(weights, rand::random()));
        let (group, _, token) = &self.groups[i];
        GroupChoice {
            group,
            token: *token,
            stickiness: self.stickiness,
        }
    }
}

impl GroupChoice<'_> {
    /// The target group to forward to.
    pub fn group(&self) -> &TargetGroupHandle {
        self.group
    }

    /// `Set-Cookie` values for the response (none without group stickiness).
    pub fn cookies(&self, protocol: ListenerProtocol, now: SystemTime) -> Vec<HeaderValue> {
        match self.stickiness {
            Some(duration) => sticky::set_cookies(
                sticky::GROUP_COOKIE,
                sticky::GROUP_CORS_COOKIE,
                self.token,
                duration,
                protocol,
                now,
            )
            .collect(),
            None => Vec::new(),
        }
    }
}

/// The index whose share of the total weight holds `random`; weight-0 entries are never chosen
/// (unless every weight is 0, which validation refuses; then the first).
pub fn pick_by_weight<I>(weights: I, random: u64) -> usize
where
    I: Iterator<Item = u32> + Clone,
{
    let total: u64 = weights.clone().map(u64::from).sum();
    if total == 0 {
        return 0;
    }
    let mut point = random % total;
    for (i, w) in weights.enumerate() {
        let w = u64::from(w);
        if point < w {
            return i;
        }
        point -= w;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn splits_by_weight_with_a_fixed_seed() {
        let weights = [80u32, 0, 20];
        let mut rng = StdRng::seed_from_u64(42);
        let n = 20_000;
        let mut counts = [0usize; 3];
        for _ in 0..n {
            counts[pick_by_weight(weights.iter().copied(), rng.random())] += 1;
        }
        assert_eq!(counts[1], 0, "weight 0 gets nothing");
        let share = counts[0] as f64 / n as f64;
        assert!((share - 0.8).abs() < 0.015, "{counts:?}");
    }

    #[test]
    fn boundaries_are_exact() {
        let w = [1u32, 2];
        assert_eq!(pick_by_weight(w.iter().copied(), 0), 0);
        assert_eq!(pick_by_weight(w.iter().copied(), 1), 1);
        assert_eq!(pick_by_weight(w.iter().copied(), 2), 1);
        assert_eq!(pick_by_weight(w.iter().copied(), 3), 0);
        assert_eq!(pick_by_weight([0u32, 0].into_iter(), 9), 0);
    }
}
