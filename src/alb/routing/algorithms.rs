//! Which target gets the next request, as pure functions of the targets' states and counters.
//!
//! Eligible targets are the healthy ones; with none healthy but some unhealthy, AWS fails open
//! and uses all the unhealthy ones; `initial`, `draining` and `unused` targets get nothing. No
//! function here allocates: each pass is a walk over the candidate slice.

use super::slow_start;
use crate::alb::TargetState;
use crate::config::Algorithm;

/// What selection needs to know about one registered target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Its health state.
    pub state: TargetState,
    /// Requests sent to it that have not finished (counted for least outstanding requests).
    pub in_flight: usize,
    /// When it last became healthy (µs on the routing clock), `None` if never.
    pub healthy_since_us: Option<u64>,
}

/// Inputs that change per request: the round-robin turn, a random number, the clock.
#[derive(Debug, Clone, Copy)]
pub struct Draw {
    /// Increments per request (round robin, ties of least outstanding requests).
    pub turn: usize,
    /// Uniform random bits (weighted random).
    pub random: u64,
    /// Now on the routing clock (slow start).
    pub now_us: u64,
}

/// The state whose targets get traffic: healthy, else unhealthy (fail-open), else none.
pub fn eligible_state<I>(candidates: I) -> Option<TargetState>
where
    I: Iterator<Item = Candidate> + Clone,
{
    let has = |s| candidates.clone().any(|c| c.state == s);
    if has(TargetState::Healthy) {
        Some(TargetState::Healthy)
    } else if has(TargetState::Unhealthy) {
        Some(TargetState::Unhealthy)
    } else {
        None
    }
}

/// The index of the target for this request.
pub fn pick<I>(candidates: I, algorithm: Algorithm, slow_start_us: u64, draw: Draw) -> Option<usize>
where
    I: Iterator<Item = Candidate> + Clone,
{
    let wanted = eligible_state(candidates.clone())?;
    let eligible = || {
        candidates
            .clone()
            .enumerate()
            .filter(move |(_, c)| c.state == wanted)
    };
    let count = eligible().count();
    // Slow start only shapes traffic between healthy targets, and a target ramps only if
    // another became healthy before it (AWS puts no target in slow start when no other is
    // healthy, so the first ones always get their full share).
    let earliest = eligible()
        .map(|(_, c)| c.healthy_since_us.unwrap_or(0))
        .min()
        .unwrap_or(0);
    let weight = |c: &Candidate| match c.healthy_since_us {
        Some(since) if wanted == TargetState::Healthy && since > earliest => {
            slow_start::weight(Some(since), draw.now_us, slow_start_us)
        }
        _ => slow_start::FULL,
    };
    let ramping = slow_start_us > 0 && eligible().any(|(_, c)| weight(&c) < slow_start::FULL);
    match algorithm {
        Algorithm::LeastOutstandingRequests => {
            let start = draw.turn % count;
            eligible()
                .enumerate()
                .min_by_key(|(rank, (_, c))| (c.in_flight, (rank + count - start) % count))
                .map(|(_, (i, _))| i)
        }
        Algorithm::RoundRobin if !ramping => eligible().nth(draw.turn % count).map(|(i, _)| i),
        // A Weyl sequence over the turns spreads a weighted round robin evenly and
        // deterministically, with no per-target state.
        Algorithm::RoundRobin => {
            let point = (draw.turn as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            weighted_index(eligible().map(|(i, c)| (i, weight(&c))), point)
        }
        Algorithm::WeightedRandom => {
            let weights = eligible().map(|(i, c)| (i, if ramping { weight(&c) } else { 1.0 }));
            weighted_index(weights, draw.random)
        }
    }
}

/// The item whose share of the total weight contains `point` (a fraction of `u64::MAX`).
pub fn weighted_index<I>(weights: I, point: u64) -> Option<usize>
where
    I: Iterator<Item = (usize, f64)> + Clone,
{
    let total: f64 = weights.clone().map(|(_, w)| w).sum();
    if total <= 0.0 {
        return weights.clone().next().map(|(i, _)| i);
    }
    let target = (point as f64 / u64::MAX as f64) * total;
    let mut acc = 0.0;
    let mut last = None;
    for (i, w) in weights {
        acc += w;
        last = Some(i);
        if target < acc {
            return Some(i);
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use TargetState::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn c(state: TargetState) -> Candidate {
        Candidate {
            state,
            in_flight: 0,
            healthy_since_us: Some(0),
        }
    }

    fn draw(turn: usize) -> Draw {
        Draw {
            turn,
            random: 0,
            now_us: 1_000_000,
        }
    }

    fn counts(cands: &[Candidate], algo: Algorithm, slow: u64, n: usize, now: u64) -> Vec<usize> {
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts = vec![0; cands.len()];
        for turn in 0..n {
            let d = Draw {
                turn,
                random: rng.random(),
                now_us: now,
            };
            counts[pick(cands.iter().copied(), algo, slow, d).unwrap()] += 1;
        }
        counts
    }

    #[test]
    fn round_robin_alternates_over_healthy_and_fails_open() {
        let cands = [c(Healthy), c(Initial), c(Healthy), c(Unhealthy)];
        let picks: Vec<_> = (0..4)
            .map(|t| pick(cands.iter().copied(), Algorithm::RoundRobin, 0, draw(t)))
            .collect();
        assert_eq!(picks, [0, 2, 0, 2].map(Some));
        let down = [c(Unhealthy), c(Initial), c(Unhealthy)];
        assert_eq!(
            pick(down.iter().copied(), Algorithm::RoundRobin, 0, draw(1)),
            Some(2)
        );
        assert_eq!(
            pick(
                [c(Initial), c(Draining)].into_iter(),
                Algorithm::RoundRobin,
                0,
                draw(0)
            ),
            None
        );
        assert_eq!(
            pick(
                std::iter::empty(),
                Algorithm::LeastOutstandingRequests,
                0,
                draw(0)
            ),
            None
        );
    }

    /// What the first cut's round robin (`target_group::select`, replaced by `pick`) promised.
    #[test]
    fn round_robin_over_healthy_only_fails_open_and_else_nothing() {
        let rr = |states: &[TargetState], n: usize| -> Vec<Option<usize>> {
            let cands: Vec<Candidate> = states.iter().map(|s| c(*s)).collect();
            (0..n)
                .map(|t| pick(cands.iter().copied(), Algorithm::RoundRobin, 0, draw(t)))
                .collect()
        };
        let states = [Healthy, Initial, Healthy, Unhealthy, Healthy];
        assert_eq!(rr(&states, 6), [0, 2, 4, 0, 2, 4].map(Some));
        assert_eq!(
            rr(&[Unhealthy, Initial, Unhealthy], 4),
            [0, 2, 0, 2].map(Some)
        );
        assert_eq!(rr(&[], 3), [None, None, None]);
        assert_eq!(rr(&[Initial, Initial], 2), [None, None]);
        assert_eq!(rr(&[Draining, Unused], 1), [None]);
    }

    #[test]
    fn least_outstanding_prefers_idle_and_rotates_ties() {
        let mut cands = [c(Healthy), c(Healthy), c(Healthy)];
        cands[0].in_flight = 3;
        cands[1].in_flight = 1;
        cands[2].in_flight = 1;
        let lor = Algorithm::LeastOutstandingRequests;
        let picks: Vec<_> = (0..4)
            .map(|t| pick(cands.iter().copied(), lor, 0, draw(t)).unwrap())
            .collect();
        assert!(picks.iter().all(|&i| i != 0), "{picks:?}");
        assert!(
            picks.contains(&1) && picks.contains(&2),
            "ties rotate: {picks:?}"
        );
        cands[2].in_flight = 0;
        assert_eq!(pick(cands.iter().copied(), lor, 0, draw(1)), Some(2));
        cands[2].state = Unhealthy;
        assert_eq!(
            pick(cands.iter().copied(), lor, 0, draw(1)),
            Some(1),
            "unhealthy ignored"
        );
    }

    #[test]
    fn weighted_random_is_uniform_over_eligible_with_a_fixed_seed() {
        let cands = [c(Healthy), c(Healthy), c(Initial), c(Healthy)];
        let n = 30_000;
        let got = counts(&cands, Algorithm::WeightedRandom, 0, n, 1_000_000);
        assert_eq!(got[2], 0);
        for i in [0, 1, 3] {
            let share = got[i] as f64 / n as f64;
            assert!((share - 1.0 / 3.0).abs() < 0.02, "target {i}: {got:?}");
        }
    }

    #[test]
    fn slow_start_ramps_a_new_target_linearly() {
        // Target 1 became healthy at 10 s; slow start 100 s.
        let mut cands = [c(Healthy), c(Healthy)];
        cands[1].healthy_since_us = Some(10_000);
        let share = |now| {
            let got = counts(&cands, Algorithm::RoundRobin, 100_000, 10_000, now);
            got[1] as f64 / 10_000.0
        };
        // weight 0.25 vs 1 → 20%; weight 0.5 → 33%; past the ramp → 50%.
        assert!((share(35_000) - 0.20).abs() < 0.02, "{}", share(35_000));
        assert!(
            (share(60_000) - 1.0 / 3.0).abs() < 0.02,
            "{}",
            share(60_000)
        );
        assert!((share(200_000) - 0.5).abs() < 0.01, "{}", share(200_000));
        // Just healthy: the minimum share, not nothing.
        let s = share(10_000);
        assert!(s > 0.0 && s < 0.03, "{s}");
    }

    #[test]
    fn slow_start_does_not_apply_when_every_target_is_new() {
        let mut cands = [c(Healthy), c(Healthy)];
        cands[0].healthy_since_us = Some(10_000);
        cands[1].healthy_since_us = Some(10_000);
        let got = counts(&cands, Algorithm::RoundRobin, 100_000, 1000, 20_000);
        assert_eq!(got, [500, 500]);
    }

    #[test]
    fn weighted_index_splits_by_weight() {
        let weights = [(0, 1.0), (1, 3.0)];
        assert_eq!(weighted_index(weights.iter().copied(), 0), Some(0));
        assert_eq!(
            weighted_index(weights.iter().copied(), u64::MAX / 4 - 1000),
            Some(0)
        );
        assert_eq!(
            weighted_index(weights.iter().copied(), u64::MAX / 4 + 1000),
            Some(1)
        );
        assert_eq!(weighted_index(weights.iter().copied(), u64::MAX), Some(1));
        assert_eq!(weighted_index(std::iter::empty(), 5), None);
    }
}
