//! The live feed behind every open dashboard: once a second, the lab's status, the charts'
//! newest point and the event stream, serialised once into a frame that each connected
//! browser receives as a server-sent event. It runs only while a dashboard is connected: a lab
//! nobody watches pays nothing for it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{Notify, watch};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::charts::{self, ChartPoint};
use crate::alb::TargetDescription;
use crate::alb::metrics::MetricsSample;
use crate::cli::events::{Event, TargetKey, recorded, target_changes, target_states};
use crate::lab::{LabStatus, LabView};

/// How often a frame is sent while a dashboard is connected.
pub const FRAME_INTERVAL: Duration = Duration::from_secs(1);
/// Events a frame carries (the newest).
const EVENTS_SENT: usize = 80;
/// Target changes and actions kept.
const HISTORY_KEPT: usize = 200;

/// One frame, as the page reads it.
#[derive(Serialize)]
struct Frame<'a> {
    status: &'a LabStatus,
    charts: &'a VecDeque<ChartPoint>,
    events: Vec<EventLine>,
}

/// One line of the event stream, as `tierlab events` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventLine {
    pub at: String,
    pub source: String,
    pub message: String,
}

impl From<&Event> for EventLine {
    fn from(e: &Event) -> Self {
        EventLine {
            at: humantime::format_rfc3339_millis(e.at).to_string(),
            source: e.source.clone(),
            message: e.message.clone(),
        }
    }
}

/// Shared by the routes (subscribe, record an action) and the loop that makes frames.
pub struct Feed {
    frames: watch::Sender<Bytes>,
    /// Wakes the loop: a first subscriber, or an action whose effect should show at once.
    wake: Notify,
    /// Actions taken from the dashboard, and their outcome.
    actions: Mutex<VecDeque<Event>>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed::new()
    }
}

impl Feed {
    pub fn new() -> Feed {
        Feed {
            frames: watch::Sender::new(Bytes::new()),
            wake: Notify::new(),
            actions: Mutex::new(VecDeque::new()),
        }
    }

    /// A receiver of frames (the newest is marked unseen, so it is sent at once). Before the
    /// first frame there is none to send: the empty placeholder would go out as an event with
    /// empty data, which the page cannot parse (Firefox's console showed the JSON.parse error).
    pub fn subscribe(&self) -> watch::Receiver<Bytes> {
        let mut rx = self.frames.subscribe();
        if !rx.borrow().is_empty() {
            rx.mark_changed();
        }
        self.wake.notify_one();
        rx
    }

    /// Puts an action in the event stream and sends a frame now.
    pub fn record(&self, message: String) {
        let mut actions = self.actions.lock().unwrap_or_else(|e| e.into_inner());
        actions.push_back(Event {
            at: SystemTime::now(),
            source: "dashboard".into(),
            message,
        });
        while actions.len() > HISTORY_KEPT {
            actions.pop_front();
        }
        drop(actions);
        self.wake.notify_one();
    }

    /// Makes frames while anyone listens, until `cancel`.
    pub async fn run(&self, view: &LabView, cancel: CancellationToken) {
        let mut state = FeedState::default();
        let mut tick = tokio::time::interval(FRAME_INTERVAL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            if self.frames.receiver_count() == 0 {
                state.pause();
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = self.wake.notified() => {}
                }
                tick.reset();
                continue;
            }
            let frame = state.frame(view, &self.actions_now());
            self.frames.send_replace(frame);
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    fn actions_now(&self) -> Vec<Event> {
        let actions = self.actions.lock().unwrap_or_else(|e| e.into_inner());
        actions.iter().cloned().collect()
    }
}

/// What the loop remembers between frames.
#[derive(Default)]
struct FeedState {
    sample: Option<(Instant, MetricsSample)>,
    charts: VecDeque<ChartPoint>,
    targets: Option<BTreeMap<TargetKey, TargetDescription>>,
    target_events: VecDeque<Event>,
}

impl FeedState {
    /// Nobody watches: the next frame starts the rates and target changes afresh.
    fn pause(&mut self) {
        self.sample = None;
        self.targets = None;
    }

    fn frame(&mut self, view: &LabView, actions: &[Event]) -> Bytes {
        let status = view.status();
        let now = SystemTime::now();
        self.chart(view, &status, now);
        let targets = target_states(&status);
        if let Some(before) = &self.targets {
            self.target_events
                .extend(target_changes(before, &targets, now));
            while self.target_events.len() > HISTORY_KEPT {
                self.target_events.pop_front();
            }
        }
        self.targets = Some(targets);
        let events = merge(recorded(&status), &self.target_events, actions);
        let frame = Frame {
            status: &status,
            charts: &self.charts,
            events,
        };
        Bytes::from(serde_json::to_vec(&frame).expect("a frame serialises"))
    }

    /// A chart point for the interval since the last sample (none for the first, or for a
    /// wake-up less than half an interval after the last point: its rates would be noise).
    fn chart(&mut self, view: &LabView, status: &LabStatus, now: SystemTime) {
        let sample = view.metrics_sample();
        let at = Instant::now();
        match &self.sample {
            Some((last, _)) if at.duration_since(*last) < FRAME_INTERVAL / 2 => return,
            Some((last, before)) => {
                let t = now
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                let seconds = at.duration_since(*last).as_secs_f64();
                self.charts
                    .push_back(charts::point(t, before, &sample, seconds, status));
                while self.charts.len() > charts::POINTS_KEPT {
                    self.charts.pop_front();
                }
            }
            None => {}
        }
        self.sample = Some((at, sample));
    }
}

/// The newest [`EVENTS_SENT`] of the lab's events, the target changes and the actions, oldest
/// first.
fn merge(recorded: Vec<Event>, targets: &VecDeque<Event>, actions: &[Event]) -> Vec<EventLine> {
    let mut all = recorded;
    all.extend(targets.iter().cloned());
    all.extend(actions.iter().cloned());
    all.sort();
    let skip = all.len().saturating_sub(EVENTS_SENT);
    all[skip..].iter().map(EventLine::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(secs: u64, source: &str) -> Event {
        Event {
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            source: source.into(),
            message: format!("m{secs}"),
        }
    }

    #[test]
    fn events_are_merged_oldest_first_and_only_the_newest_are_sent() {
        let recorded = vec![event(1, "service s"), event(5, "db-instance d")];
        let targets = VecDeque::from([event(3, "target-group tg")]);
        let actions = [event(4, "dashboard")];
        let lines = merge(recorded, &targets, &actions);
        let order: Vec<&str> = lines.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(order, ["m1", "m3", "m4", "m5"]);
        assert_eq!(lines[0].at, "1970-01-01T00:00:01.000Z");

        let many: Vec<Event> = (0..200).map(|s| event(s, "service s")).collect();
        let lines = merge(many, &VecDeque::new(), &[]);
        assert_eq!(lines.len(), EVENTS_SENT);
        assert_eq!(lines.last().unwrap().message, "m199");
    }

    #[test]
    fn a_new_subscriber_gets_the_newest_frame_at_once() {
        let feed = Feed::new();
        feed.frames.send_replace(Bytes::from_static(b"{}"));
        let rx = feed.subscribe();
        assert!(rx.has_changed().unwrap());
        assert_eq!(feed.frames.receiver_count(), 1);
    }

    #[test]
    fn a_subscriber_before_the_first_frame_waits_for_it() {
        let feed = Feed::new();
        let rx = feed.subscribe();
        assert!(
            !rx.has_changed().unwrap(),
            "the empty placeholder is no frame"
        );
        feed.frames.send_replace(Bytes::from_static(b"{}"));
        assert!(rx.has_changed().unwrap());
    }
}
