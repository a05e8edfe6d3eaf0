//! CloudWatch's `AWS/ApplicationELB` metrics, kept in atomics and rendered in Prometheus text
//! format (`GET /metrics` on the lab's control endpoint, or a load balancer's `metrics-port`).
//!
//! Names are CloudWatch's own (`RequestCount`, `HTTPCode_Target_2XX_Count`, ...) and the labels
//! are its dimensions: `LoadBalancer="app/<name>/<id>"`, `TargetGroup="targetgroup/<name>/<id>"`.
//! As in CloudWatch, `RequestCount` exists per load balancer (every request it answered) and per
//! load balancer and target group (requests forwarded to that group): do not sum the two.
//! Counters are cumulative since the lab started (Prometheus computes rates; CloudWatch's
//! per-minute sums are `increase(...[1m])`).
//!
//! The request path only adds to counters, each data-plane thread in its own cache line
//! ([`Counter`]); rendering sums them, reads the target groups' health and allocates.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::time::Duration;

use super::arn;
use super::counter::Counter;
use super::health::TargetState;
use super::target_group::TargetGroupHandle;

/// Upper bounds (seconds) of the `TargetResponseTime` histogram buckets.
pub const RESPONSE_TIME_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

/// A latency histogram: per-bucket counts (not cumulative; rendering accumulates), sum, count.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [Counter; RESPONSE_TIME_BUCKETS.len()],
    sum_micros: Counter,
    count: Counter,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, value: Duration) {
        let secs = value.as_secs_f64();
        if let Some(i) = RESPONSE_TIME_BUCKETS.iter().position(|&le| secs <= le) {
            self.buckets[i].increment();
        }
        let micros = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.add(micros);
        self.count.increment();
    }
}

/// The metrics of one target group behind one load balancer.
#[derive(Debug)]
pub struct TargetGroupMetrics {
    group: TargetGroupHandle,
    dimension: String,
    /// The group's ARN, made once for the access log's `target_group_arn`.
    arn: Arc<str>,
    requests: Counter,
    target_codes: [Counter; 4],
    connection_errors: Counter,
    response_time: Histogram,
}

impl TargetGroupMetrics {
    fn new(group: TargetGroupHandle) -> TargetGroupMetrics {
        TargetGroupMetrics {
            dimension: arn::target_group_id(group.name()),
            arn: arn::target_group_arn(group.name()).into(),
            group,
            requests: Counter::new(),
            target_codes: Default::default(),
            connection_errors: Counter::new(),
            response_time: Histogram::default(),
        }
    }

    /// The target group's name.
    pub fn name(&self) -> &str {
        self.group.name()
    }

    /// The target group's ARN.
    pub fn arn(&self) -> &Arc<str> {
        &self.arn
    }

    /// Requests forwarded to this group since the lab started (`RequestCount` with the
    /// `TargetGroup` dimension; auto scaling's `ALBRequestCountPerTarget` is its rate).
    pub fn requests(&self) -> u64 {
        self.requests.get()
    }

    /// A request was forwarded to this group (whatever came of it).
    pub fn request(&self) {
        self.requests.increment();
    }

    /// A target answered with `status` after `elapsed` (`TargetResponseTime`).
    pub fn target_response(&self, status: u16, elapsed: Duration) {
        if let Some(i) = class_index(status) {
            self.target_codes[i].increment();
        }
        self.response_time.observe(elapsed);
    }

    /// A connection to a target could not be established (`TargetConnectionErrorCount`).
    pub fn connection_error(&self) {
        self.connection_errors.increment();
    }
}

/// The metrics of one load balancer and the target groups its listeners forward to.
#[derive(Debug)]
pub struct LoadBalancerMetrics {
    dimension: String,
    target_groups: Vec<Arc<TargetGroupMetrics>>,
    active_connections: AtomicI64,
    new_connections: Counter,
    rejected_connections: Counter,
    tls_negotiation_errors: Counter,
    processed_bytes: Counter,
    requests: Counter,
    elb_codes: [Counter; 4],
    elb_502: Counter,
    elb_503: Counter,
    elb_504: Counter,
    access_log_dropped: Counter,
}

impl LoadBalancerMetrics {
    /// Metrics of load balancer `name` forwarding to `groups`.
    pub fn new(name: &str, groups: impl IntoIterator<Item = TargetGroupHandle>) -> Self {
        LoadBalancerMetrics {
            dimension: arn::load_balancer_id(name),
            target_groups: groups
                .into_iter()
                .map(|g| Arc::new(TargetGroupMetrics::new(g)))
                .collect(),
            active_connections: AtomicI64::new(0),
            new_connections: Counter::new(),
            rejected_connections: Counter::new(),
            tls_negotiation_errors: Counter::new(),
            processed_bytes: Counter::new(),
            requests: Counter::new(),
            elb_codes: Default::default(),
            elb_502: Counter::new(),
            elb_503: Counter::new(),
            elb_504: Counter::new(),
            access_log_dropped: Counter::new(),
        }
    }

    /// The `LoadBalancer` dimension, `app/<name>/<id>` (also the access log's `elb` field).
    pub fn dimension(&self) -> &str {
        &self.dimension
    }

    /// The metrics of target group `name`, if this load balancer forwards to it. A linear scan:
    /// a load balancer forwards to a handful of groups, and comparing names beats hashing.
    pub fn target_group(&self, name: &str) -> Option<&Arc<TargetGroupMetrics>> {
        self.target_groups.iter().find(|t| t.name() == name)
    }

    /// A client connection was accepted; the guard counts it as active until dropped.
    pub fn connection_opened(self: &Arc<Self>) -> ActiveConnection {
        self.new_connections.increment();
        self.active_connections.fetch_add(1, Relaxed);
        ActiveConnection(self.clone())
    }

    /// `accept` failed (e.g. out of file descriptors): the connection was refused.
    pub fn connection_rejected(&self) {
        self.rejected_connections.increment();
    }

    /// A client's TLS handshake failed or timed out (`ClientTLSNegotiationErrorCount`).
    pub fn tls_negotiation_failed(&self) {
        self.tls_negotiation_errors.increment();
    }

    /// Bytes read from or written to clients (`ProcessedBytes`).
    pub fn processed(&self, bytes: u64) {
        self.processed_bytes.add(bytes);
    }

    /// A request was answered; `elb_status` is the status when the load balancer itself
    /// answered (redirect, 502, 503, 504, 460, ...), `None` when a target did.
    pub fn request(&self, elb_status: Option<u16>) {
        self.requests.increment();
        let Some(status) = elb_status else { return };
        if let Some(i) = class_index(status) {
            self.elb_codes[i].increment();
        }
        match status {
            502 => &self.elb_502,
            503 => &self.elb_503,
            504 => &self.elb_504,
            _ => return,
        }
        .increment();
    }

    /// An access log record was dropped because the writer fell behind.
    pub fn access_log_dropped(&self) {
        self.access_log_dropped.increment();
    }
}

/// The counters behind the dashboard's charts, read at one instant and cumulative since the
/// lab started: responses by status class as clients saw them (`HTTPCode_Target_nXX_Count` plus
/// `HTTPCode_ELB_nXX_Count`) and the `TargetResponseTime` histogram, over every target group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsSample {
    /// Responses of class 2XX, 3XX, 4XX, 5XX.
    pub codes: [u64; 4],
    /// Target responses per [`RESPONSE_TIME_BUCKETS`] bucket (not cumulative).
    pub response_time_buckets: [u64; RESPONSE_TIME_BUCKETS.len()],
}

impl MetricsSample {
    /// The sum of the counters of `load_balancers`.
    pub fn read(load_balancers: &[Arc<LoadBalancerMetrics>]) -> MetricsSample {
        let mut sample = MetricsSample::default();
        for lb in load_balancers {
            for (i, code) in lb.elb_codes.iter().enumerate() {
                sample.codes[i] += code.get();
            }
            for tg in &lb.target_groups {
                for (i, code) in tg.target_codes.iter().enumerate() {
                    sample.codes[i] += code.get();
                }
                for (i, bucket) in tg.response_time.buckets.iter().enumerate() {
                    sample.response_time_buckets[i] += bucket.get();
                }
            }
        }
        sample
    }
}

/// Counts one client connection in `ActiveConnectionCount` while alive.
#[derive(Debug)]
pub struct ActiveConnection(Arc<LoadBalancerMetrics>);

impl Drop for ActiveConnection {
    fn drop(&mut self) {
        self.0.active_connections.fetch_sub(1, Relaxed);
    }
}

/// 2XX → 0, 3XX → 1, 4XX → 2, 5XX → 3; other classes are not counted (as CloudWatch).
fn class_index(status: u16) -> Option<usize> {
    match status {
        200..=599 => Some(usize::from(status / 100 - 2)),
        _ => None,
    }
}

/// One metric family: name, type and AWS's description.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
}

const fn family(name: &'static str, kind: &'static str, help: &'static str) -> Family {
    Family { name, kind, help }
}

/// Renders `load_balancers` in Prometheus text exposition format (version 0.0.4).
pub fn render(load_balancers: &[Arc<LoadBalancerMetrics>]) -> String {
    let mut out = String::new();
    render_load_balancer_families(&mut out, load_balancers);
    render_target_group_families(&mut out, load_balancers);
    out
}

fn header(out: &mut String, f: &Family) {
    let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
    let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
}

fn lb_label(lb: &LoadBalancerMetrics) -> String {
    format!("LoadBalancer=\"{}\"", lb.dimension)
}

fn tg_labels(lb: &LoadBalancerMetrics, tg: &TargetGroupMetrics) -> String {
    format!(
        "LoadBalancer=\"{}\",TargetGroup=\"{}\"",
        lb.dimension, tg.dimension
    )
}

fn get(a: &Counter) -> i64 {
    i64::try_from(a.get()).unwrap_or(i64::MAX)
}

fn render_load_balancer_families(out: &mut String, lbs: &[Arc<LoadBalancerMetrics>]) {
    type Value = fn(&LoadBalancerMetrics) -> i64;
    let families: [(Family, Value); 12] = [
        (
            family(
                "ActiveConnectionCount",
                "gauge",
                "Client connections open now.",
            ),
            |l| l.active_connections.load(Relaxed),
        ),
        (
            family(
                "NewConnectionCount",
                "counter",
                "Client connections accepted.",
            ),
            |l| get(&l.new_connections),
        ),
        (
            family(
                "RejectedConnectionCount",
                "counter",
                "Client connections refused because the load balancer could not accept more.",
            ),
            |l| get(&l.rejected_connections),
        ),
        (
            family(
                "ClientTLSNegotiationErrorCount",
                "counter",
                "TLS handshakes with clients that failed or timed out.",
            ),
            |l| get(&l.tls_negotiation_errors),
        ),
        (
            family(
                "ProcessedBytes",
                "counter",
                "Bytes exchanged with clients (TLS records included).",
            ),
            |l| get(&l.processed_bytes),
        ),
        (
            family(
                "HTTPCode_ELB_3XX_Count",
                "counter",
                "3XX responses generated by the load balancer (redirect actions).",
            ),
            |l| get(&l.elb_codes[1]),
        ),
        (
            family(
                "HTTPCode_ELB_4XX_Count",
                "counter",
                "4XX responses generated by the load balancer (460: client closed first).",
            ),
            |l| get(&l.elb_codes[2]),
        ),
        (
            family(
                "HTTPCode_ELB_5XX_Count",
                "counter",
                "5XX responses generated by the load balancer.",
            ),
            |l| get(&l.elb_codes[3]),
        ),
        (
            family(
                "HTTPCode_ELB_502_Count",
                "counter",
                "502 responses generated by the load balancer.",
            ),
            |l| get(&l.elb_502),
        ),
        (
            family(
                "HTTPCode_ELB_503_Count",
                "counter",
                "503 responses generated by the load balancer.",
            ),
            |l| get(&l.elb_503),
        ),
        (
            family(
                "HTTPCode_ELB_504_Count",
                "counter",
                "504 responses generated by the load balancer.",
            ),
            |l| get(&l.elb_504),
        ),
        (
            family(
                "tierlab_access_log_records_dropped_total",
                "counter",
                "Access log records dropped because the writer fell behind (tierlab's own).",
            ),
            |l| get(&l.access_log_dropped),
        ),
    ];
    for (f, value) in &families {
        header(out, f);
        for lb in lbs {
            let _ = writeln!(out, "{}{{{}}} {}", f.name, lb_label(lb), value(lb));
        }
    }
    let f = family(
        "RequestCount",
        "counter",
        "Requests answered; without TargetGroup: all of the load balancer's, with it: those forwarded to that group.",
    );
    header(out, &f);
    for lb in lbs {
        let _ = writeln!(
            out,
            "RequestCount{{{}}} {}",
            lb_label(lb),
            lb.requests.get()
        );
        for tg in &lb.target_groups {
            let n = tg.requests.get();
            let _ = writeln!(out, "RequestCount{{{}}} {n}", tg_labels(lb, tg));
        }
    }
}

fn render_target_group_families(out: &mut String, lbs: &[Arc<LoadBalancerMetrics>]) {
    let pairs = || {
        lbs.iter()
            .flat_map(|lb| lb.target_groups.iter().map(move |tg| (&**lb, &**tg)))
    };
    let health = |tg: &TargetGroupMetrics| {
        let targets = tg.group.describe();
        let count = |s: TargetState| targets.iter().filter(|t| t.state == s).count();
        (count(TargetState::Healthy), count(TargetState::Unhealthy))
    };
    header(
        out,
        &family("HealthyHostCount", "gauge", "Targets considered healthy."),
    );
    for (lb, tg) in pairs() {
        let _ = writeln!(
            out,
            "HealthyHostCount{{{}}} {}",
            tg_labels(lb, tg),
            health(tg).0
        );
    }
    header(
        out,
        &family(
            "UnHealthyHostCount",
            "gauge",
            "Targets considered unhealthy.",
        ),
    );
    for (lb, tg) in pairs() {
        let _ = writeln!(
            out,
            "UnHealthyHostCount{{{}}} {}",
            tg_labels(lb, tg),
            health(tg).1
        );
    }
    for (i, class) in ["2XX", "3XX", "4XX", "5XX"].iter().enumerate() {
        let name = format!("HTTPCode_Target_{class}_Count");
        let _ = writeln!(out, "# HELP {name} {class} responses generated by targets.");
        let _ = writeln!(out, "# TYPE {name} counter");
        for (lb, tg) in pairs() {
            let n = tg.target_codes[i].get();
            let _ = writeln!(out, "{name}{{{}}} {n}", tg_labels(lb, tg));
        }
    }
    header(
        out,
        &family(
            "TargetConnectionErrorCount",
            "counter",
            "Connections to targets that could not be established.",
        ),
    );
    for (lb, tg) in pairs() {
        let n = tg.connection_errors.get();
        let _ = writeln!(
            out,
            "TargetConnectionErrorCount{{{}}} {n}",
            tg_labels(lb, tg)
        );
    }
    header(
        out,
        &family(
            "TargetResponseTime",
            "histogram",
            "Seconds from sending a request to a target until its response headers arrived.",
        ),
    );
    for (lb, tg) in pairs() {
        render_histogram(
            out,
            "TargetResponseTime",
            &tg_labels(lb, tg),
            &tg.response_time,
        );
    }
}

fn render_histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let mut cumulative = 0;
    for (le, bucket) in RESPONSE_TIME_BUCKETS.iter().zip(&h.buckets) {
        cumulative += bucket.get();
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
    }
    let count = h.count.get();
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let sum = h.sum_micros.get() as f64 / 1e6;
    let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
    let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alb::CheckOutcome;
    use crate::config::{HealthCheck, Matcher, TargetGroup};

    fn group(name: &str) -> TargetGroupHandle {
        TargetGroupHandle::new(TargetGroup {
            name: name.into(),
            port: 80,
            health_check: HealthCheck {
                path: "/".into(),
                interval: Duration::from_secs(5),
                timeout: Duration::from_secs(2),
                healthy_threshold: 2,
                unhealthy_threshold: 2,
                matcher: Matcher {
                    ranges: vec![(200, 200)],
                },
            },
            deregistration_delay: Duration::from_secs(1),
            static_targets: vec![
                "127.0.0.1:9001".parse().unwrap(),
                "127.0.0.1:9002".parse().unwrap(),
                "127.0.0.1:9003".parse().unwrap(),
            ],
            algorithm: Default::default(),
            slow_start: Duration::ZERO,
            stickiness: None,
            outlier_consecutive_5xx: 5,
        })
    }

    /// The value of the series `name{labels}` in `text`.
    fn value(text: &str, series: &str) -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no series `{series}` in:\n{text}"))
            .to_string()
    }

    #[test]
    fn renders_cloudwatch_names_with_dimensions() {
        let tg = group("web-tg");
        // One healthy (first check passes), one unhealthy (2 failures), one initial.
        let targets = tg.describe();
        assert_eq!(targets.len(), 3);
        tg.targets()[0].record(&CheckOutcome::Ok(200));
        tg.targets()[1].record(&CheckOutcome::Timeout);
        tg.targets()[1].record(&CheckOutcome::Timeout);
        let lb = Arc::new(LoadBalancerMetrics::new("web", [tg]));
        let t = lb.target_group("web-tg").unwrap().clone();
        assert!(lb.target_group("nope").is_none());
        for (status, ms) in [(200, 3), (204, 40), (404, 2), (500, 700)] {
            lb.request(None);
            t.request();
            t.target_response(status, Duration::from_millis(ms));
        }
        lb.request(Some(301));
        lb.request(Some(503));
        lb.request(Some(502));
        t.request();
        t.connection_error();
        let conn = lb.connection_opened();
        let _conn2 = lb.connection_opened();
        drop(conn);
        lb.processed(1234);

        let text = render(std::slice::from_ref(&lb));
        let lbl = format!(
            "LoadBalancer=\"app/web/{}\"",
            arn::resource_id("loadbalancer", "web")
        );
        let both = format!(
            "{lbl},TargetGroup=\"targetgroup/web-tg/{}\"",
            arn::resource_id("targetgroup", "web-tg")
        );
        assert_eq!(value(&text, &format!("RequestCount{{{lbl}}}")), "7");
        assert_eq!(value(&text, &format!("RequestCount{{{both}}}")), "5");
        assert_eq!(
            value(&text, &format!("HTTPCode_Target_2XX_Count{{{both}}}")),
            "2"
        );
        assert_eq!(
            value(&text, &format!("HTTPCode_Target_4XX_Count{{{both}}}")),
            "1"
        );
        assert_eq!(
            value(&text, &format!("HTTPCode_Target_5XX_Count{{{both}}}")),
            "1"
        );
        assert_eq!(
            value(&text, &format!("HTTPCode_ELB_3XX_Count{{{lbl}}}")),
            "1"
        );
        assert_eq!(
            value(&text, &format!("HTTPCode_ELB_5XX_Count{{{lbl}}}")),
            "2"
        );
        assert_eq!(
            value(&text, &format!("HTTPCode_ELB_503_Count{{{lbl}}}")),
            "1"
        );
        assert_eq!(
            value(&text, &format!("TargetConnectionErrorCount{{{both}}}")),
            "1"
        );
        assert_eq!(value(&text, &format!("HealthyHostCount{{{both}}}")), "1");
        assert_eq!(value(&text, &format!("UnHealthyHostCount{{{both}}}")), "1");
        assert_eq!(
            value(&text, &format!("ActiveConnectionCount{{{lbl}}}")),
            "1"
        );
        assert_eq!(value(&text, &format!("NewConnectionCount{{{lbl}}}")), "2");
        assert_eq!(value(&text, &format!("ProcessedBytes{{{lbl}}}")), "1234");
        // Histogram: cumulative buckets, +Inf = count, sum in seconds.
        assert_eq!(
            value(
                &text,
                &format!("TargetResponseTime_bucket{{{both},le=\"0.0025\"}}")
            ),
            "1"
        );
        assert_eq!(
            value(
                &text,
                &format!("TargetResponseTime_bucket{{{both},le=\"0.005\"}}")
            ),
            "2"
        );
        assert_eq!(
            value(
                &text,
                &format!("TargetResponseTime_bucket{{{both},le=\"0.05\"}}")
            ),
            "3"
        );
        assert_eq!(
            value(
                &text,
                &format!("TargetResponseTime_bucket{{{both},le=\"1\"}}")
            ),
            "4"
        );
        assert_eq!(
            value(
                &text,
                &format!("TargetResponseTime_bucket{{{both},le=\"+Inf\"}}")
            ),
            "4"
        );
        assert_eq!(
            value(&text, &format!("TargetResponseTime_sum{{{both}}}")),
            "0.745"
        );
        assert_eq!(
            value(&text, &format!("TargetResponseTime_count{{{both}}}")),
            "4"
        );
    }

    #[test]
    fn every_family_has_one_help_and_type_and_valid_lines() {
        let lbs = [
            Arc::new(LoadBalancerMetrics::new("a", [group("t1"), group("t2")])),
            Arc::new(LoadBalancerMetrics::new("b", [group("t1")])),
        ];
        let text = render(&lbs);
        let mut seen = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap();
                assert!(seen.insert(name.to_string()), "{name} declared twice");
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            // name{labels} value
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let name = series.split('{').next().unwrap();
            let family = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            let declared = seen.contains(name) || seen.contains(family);
            assert!(declared, "{line}: no TYPE before it");
            assert!(series.ends_with('}'), "{line}");
        }
        for name in [
            "RequestCount",
            "TargetResponseTime",
            "HealthyHostCount",
            "UnHealthyHostCount",
            "HTTPCode_ELB_3XX_Count",
            "HTTPCode_ELB_4XX_Count",
            "HTTPCode_ELB_5XX_Count",
            "HTTPCode_Target_2XX_Count",
            "HTTPCode_Target_3XX_Count",
            "HTTPCode_Target_4XX_Count",
            "HTTPCode_Target_5XX_Count",
            "TargetConnectionErrorCount",
            "ActiveConnectionCount",
            "NewConnectionCount",
            "ProcessedBytes",
            "RejectedConnectionCount",
        ] {
            assert!(seen.contains(name), "{name} missing");
        }
        // Three (LB, TG) pairs.
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("HealthyHostCount{"))
                .count(),
            3
        );
    }
}
