//! `tierlab chaos run FILE`: a scenario is a timed list of faults applied while clients request
//! a path through the load balancer; the report says what the clients saw: requests, failures
//! by kind, latency percentiles, and per fault the failures in its window and the time from
//! the fault to the clients' recovery. Parsing and the report are pure; the run is the CLI's.
//!
//! ```toml
//! duration = "45s"        # how long the clients run
//! clients = 2             # how many request at once, one request after another each
//! path = "/api/info"      # what they request through the load balancer (HTTPS)
//! [[fault]]
//! at = "5s"
//! chaos = { kind = "kill-task" }
//! [[fault]]
//! at = "15s"
//! chaos = { kind = "latency", path = "lb-task", delay = "200ms", for = "10s" }
//! ```

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::lab::Chaos;

/// The most clients a scenario runs (a 2-core laptop runs the lab too).
pub const MAX_CLIENTS: u32 = 16;
/// The longest scenario.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    duration: String,
    #[serde(default = "one")]
    clients: u32,
    #[serde(default = "root")]
    path: String,
    #[serde(default, rename = "fault")]
    faults: Vec<FaultFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultFile {
    at: String,
    chaos: Chaos,
}

fn one() -> u32 {
    1
}

fn root() -> String {
    "/".into()
}

/// A scenario, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub duration: Duration,
    pub clients: u32,
    pub path: String,
    /// In time order.
    pub faults: Vec<TimedFault>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimedFault {
    pub at: Duration,
    pub chaos: Chaos,
}

/// Reads a scenario; the error names the file, and the key and value that are wrong.
pub fn parse(text: &str, file: &Path) -> Result<Scenario, String> {
    let at = |key: &str, value: &str, why: String| {
        format!("{}: {key} = {value:?}: {why}", file.display())
    };
    let raw: ScenarioFile =
        toml::from_str(text).map_err(|e| format!("{}: {}", file.display(), e.message()))?;
    let duration = humantime::parse_duration(&raw.duration)
        .map_err(|e| at("duration", &raw.duration, e.to_string()))?;
    if duration.is_zero() || duration > MAX_DURATION {
        return Err(at(
            "duration",
            &raw.duration,
            "must be more than 0 and at most 1h".into(),
        ));
    }
    if !(1..=MAX_CLIENTS).contains(&raw.clients) {
        return Err(at(
            "clients",
            &raw.clients.to_string(),
            format!("must be 1 to {MAX_CLIENTS}"),
        ));
    }
    if !raw.path.starts_with('/') {
        return Err(at("path", &raw.path, "must start with /".into()));
    }
    let mut faults = Vec::new();
    for (i, fault) in raw.faults.into_iter().enumerate() {
        let key = format!("fault[{i}].at");
        let when =
            humantime::parse_duration(&fault.at).map_err(|e| at(&key, &fault.at, e.to_string()))?;
        if when >= duration {
            return Err(at(
                &key,
                &fault.at,
                format!(
                    "is not before the scenario's end (duration {})",
                    raw.duration
                ),
            ));
        }
        if matches!(fault.chaos, Chaos::List) {
            return Err(at(
                &format!("fault[{i}].chaos.kind"),
                "list",
                "is not a fault".into(),
            ));
        }
        faults.push(TimedFault {
            at: when,
            chaos: fault.chaos,
        });
    }
    faults.sort_by_key(|f| f.at);
    Ok(Scenario {
        duration,
        clients: raw.clients,
        path: raw.path,
        faults,
    })
}

/// What one request met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Ok,
    /// An HTTP status of 400 or more.
    Status(u16),
    /// No response: refused, reset, TLS failure.
    ConnectionError,
    /// No response within the client's timeout.
    Timeout,
}

impl Outcome {
    pub fn is_failure(self) -> bool {
        self != Outcome::Ok
    }

    fn label(self) -> String {
        match self {
            Outcome::Ok => "ok".into(),
            Outcome::Status(s) => format!("HTTP {s}"),
            Outcome::ConnectionError => "connection error".into(),
            Outcome::Timeout => "timeout".into(),
        }
    }
}

/// One request: when it started (from the scenario's start), how long it took, what it met.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub started: Duration,
    pub took: Duration,
    pub outcome: Outcome,
}

/// What the clients saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub requests: usize,
    pub ok: usize,
    /// Failures by kind (`HTTP 502`, `connection error`, `timeout`), most first.
    pub failures: Vec<(String, usize)>,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub faults: Vec<FaultReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultReport {
    /// The fault's kind, as `tierlab chaos` names it.
    pub kind: String,
    pub at_s: f64,
    /// Requests started in its window (from it to the next fault or the end).
    pub requests: usize,
    pub failures: usize,
    /// From the fault to the end of the last failed request of its window (clients fine from
    /// then on); 0 when nothing failed.
    pub recovered_after_s: f64,
    pub p99_ms: f64,
}

/// The report of `samples` for `scenario`.
pub fn report(scenario: &Scenario, samples: &[Sample]) -> Report {
    let ok = samples.iter().filter(|s| !s.outcome.is_failure()).count();
    let mut by_kind = std::collections::BTreeMap::<Outcome, usize>::new();
    for s in samples.iter().filter(|s| s.outcome.is_failure()) {
        *by_kind.entry(s.outcome).or_default() += 1;
    }
    let mut failures: Vec<(String, usize)> =
        by_kind.into_iter().map(|(o, n)| (o.label(), n)).collect();
    failures.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let faults = scenario
        .faults
        .iter()
        .enumerate()
        .map(|(i, fault)| {
            let end = scenario
                .faults
                .get(i + 1)
                .map_or(scenario.duration, |next| next.at);
            let window: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.started >= fault.at && s.started < end)
                .collect();
            let failed: Vec<&&Sample> = window.iter().filter(|s| s.outcome.is_failure()).collect();
            let recovered = failed
                .iter()
                .map(|s| (s.started + s.took).saturating_sub(fault.at))
                .max()
                .unwrap_or(Duration::ZERO);
            FaultReport {
                kind: kind_of(&fault.chaos),
                at_s: fault.at.as_secs_f64(),
                requests: window.len(),
                failures: failed.len(),
                recovered_after_s: recovered.as_secs_f64(),
                p99_ms: percentile(window.iter().map(|s| s.took), 0.99),
            }
        })
        .collect();
    Report {
        requests: samples.len(),
        ok,
        failures,
        p50_ms: percentile(samples.iter().map(|s| s.took), 0.50),
        p99_ms: percentile(samples.iter().map(|s| s.took), 0.99),
        faults,
    }
}

/// The kind of `chaos` as its JSON names it (`kill-task`).
fn kind_of(chaos: &Chaos) -> String {
    serde_json::to_value(chaos)
        .ok()
        .and_then(|v| v["kind"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The `q` quantile (nearest rank) in milliseconds; 0 for none.
fn percentile(times: impl Iterator<Item = Duration>, q: f64) -> f64 {
    let mut times: Vec<Duration> = times.collect();
    if times.is_empty() {
        return 0.0;
    }
    times.sort();
    let rank = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len());
    times[rank - 1].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
duration = "40s"
clients = 2
path = "/api/info"
[[fault]]
at = "15s"
chaos = { kind = "latency", path = "lb-task", delay = "200ms", for = "10s" }
[[fault]]
at = "5s"
chaos = { kind = "kill-task" }
"#;

    #[test]
    fn a_scenario_is_read_in_time_order() {
        let s = parse(FILE, Path::new("s.toml")).unwrap();
        assert_eq!(s.duration, Duration::from_secs(40));
        assert_eq!(s.clients, 2);
        assert_eq!(s.faults.len(), 2);
        assert_eq!(s.faults[0].chaos, Chaos::KillTask { task: None });
        assert_eq!(s.faults[1].at, Duration::from_secs(15));
    }

    #[test]
    fn mistakes_name_the_key_and_value() {
        let late = FILE.replace("at = \"15s\"", "at = \"50s\"");
        let e = parse(&late, Path::new("s.toml")).unwrap_err();
        assert!(
            e.starts_with("s.toml: fault[0].at = \"50s\": is not before"),
            "{e}"
        );
        let e = parse(
            &FILE.replace("clients = 2", "clients = 99"),
            Path::new("s.toml"),
        )
        .unwrap_err();
        assert!(e.contains("clients = \"99\": must be 1 to 16"), "{e}");
        let e = parse(
            &FILE.replace("kill-task", "kill-everything"),
            Path::new("s.toml"),
        )
        .unwrap_err();
        assert!(
            e.starts_with("s.toml: ") && e.contains("kill-everything"),
            "{e}"
        );
    }

    fn sample(started_ms: u64, took_ms: u64, outcome: Outcome) -> Sample {
        Sample {
            started: Duration::from_millis(started_ms),
            took: Duration::from_millis(took_ms),
            outcome,
        }
    }

    #[test]
    fn the_report_counts_failures_and_recovery_per_fault() {
        let s = parse(FILE, Path::new("s.toml")).unwrap();
        let samples = [
            sample(1_000, 10, Outcome::Ok),
            sample(5_100, 20, Outcome::Status(502)),
            sample(5_200, 30, Outcome::ConnectionError),
            sample(7_000, 10, Outcome::Status(502)),
            sample(8_000, 10, Outcome::Ok),
            sample(16_000, 250, Outcome::Ok),
            sample(17_000, 230, Outcome::Ok),
        ];
        let r = report(&s, &samples);
        assert_eq!((r.requests, r.ok), (7, 4));
        assert_eq!(
            r.failures,
            vec![
                ("HTTP 502".to_string(), 2),
                ("connection error".to_string(), 1)
            ]
        );
        assert_eq!(r.faults[0].kind, "kill-task");
        assert_eq!((r.faults[0].requests, r.faults[0].failures), (4, 3));
        assert!((r.faults[0].recovered_after_s - 2.01).abs() < 1e-9);
        assert_eq!(r.faults[1].kind, "latency");
        assert_eq!(
            (r.faults[1].failures, r.faults[1].recovered_after_s),
            (0, 0.0)
        );
        assert_eq!(r.faults[1].p99_ms, 250.0);
        assert_eq!(r.p99_ms, 250.0);
    }
}
