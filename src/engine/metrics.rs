//! Request metrics and per-second time series.
//!
//! The root layer records every response here: its status, its route and its end-to-end time on
//! the engine clock. A success answered after its route's deadline counts as late; the others
//! are goodput. A sampler appends one [`SecondSample`] per engine second, keeping the last
//! [`SERIES_SECONDS`] for sparklines, and closes a second of the API's "now" window
//! ([`ApiSeconds`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use super::api_window::{ApiSeconds, ApiWindow, Timeliness};
use super::broker::{DurationHistogram, LatencySummary};

/// Seconds of history kept for sparklines.
pub const SERIES_SECONDS: usize = 120;

/// Counts and latency of one route (or of everything).
#[derive(Debug, Clone, Default)]
pub struct RequestStats {
    /// Responses by status code.
    pub by_status: BTreeMap<u16, u64>,
    /// End-to-end time on the engine clock.
    pub latency: DurationHistogram,
    /// Successes (2xx/3xx) answered after their route's deadline.
    pub late: u64,
    /// Goodput: successes within their route's deadline (or of a route without one).
    pub goodput: u64,
}

impl RequestStats {
    /// Responses counted.
    pub fn count(&self) -> u64 {
        self.by_status.values().sum()
    }

    /// Responses with status ≥ 400.
    pub fn errors(&self) -> u64 {
        self.by_status
            .iter()
            .filter(|(s, _)| **s >= 400)
            .map(|(_, n)| n)
            .sum()
    }

    fn add(&mut self, status: u16, latency: Duration, timeliness: Timeliness) {
        *self.by_status.entry(status).or_default() += 1;
        self.latency.record(latency);
        match timeliness {
            Timeliness::Failed => {}
            Timeliness::OnTime => self.goodput += 1,
            Timeliness::Late => self.late += 1,
        }
    }
}

/// A serialisable view of [`RequestStats`].
#[derive(Debug, Clone, Serialize)]
pub struct RequestReport {
    /// Responses.
    pub sent: u64,
    /// By status code (as strings, for JSON objects).
    pub by_status: BTreeMap<String, u64>,
    /// Latency in ms.
    pub latency_ms: LatencySummary,
    /// Successes answered after their route's deadline.
    pub late: u64,
    /// Successes within their route's deadline (or of a route without one).
    pub goodput: u64,
}

impl From<&RequestStats> for RequestReport {
    fn from(stats: &RequestStats) -> Self {
        Self {
            sent: stats.count(),
            by_status: stats
                .by_status
                .iter()
                .map(|(s, n)| (s.to_string(), *n))
                .collect(),
            latency_ms: stats.latency.summary(),
            late: stats.late,
            goodput: stats.goodput,
        }
    }
}

/// One second of history.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SecondSample {
    /// Engine second this sample closes.
    pub second: u64,
    /// Responses in this second.
    pub requests: u64,
    /// Error responses in this second.
    pub errors: u64,
    /// Per topic (scenario order): messages queued at the end of the second.
    pub queued: Vec<u64>,
    /// Per topic: messages acked in this second.
    pub acked: Vec<u64>,
    /// Per topic: the transient forecast's expected number waiting at the end of the second
    /// (see [`History`](super::history::History)).
    pub expected: Vec<f64>,
    /// Per topic: messages published in this second (what flows in, from any producer).
    pub published: Vec<u64>,
}

#[derive(Debug, Default)]
struct Inner {
    all: RequestStats,
    routes: BTreeMap<String, RequestStats>,
    series: VecDeque<SecondSample>,
    now: ApiSeconds,
}

/// The engine's request metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    orphans: std::sync::atomic::AtomicU64,
    /// Deadlines by route name (`GET /api/v1/projects`), fixed by the scenario.
    deadlines: BTreeMap<String, Duration>,
}

impl Metrics {
    /// Metrics for routes with these deadlines, by route name (`GET /api/v1/projects`).
    pub fn new(deadlines: BTreeMap<String, Duration>) -> Self {
        Self {
            deadlines,
            ..Self::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a row written without its event: a direct (dual-write) route whose publish was
    /// refused after its write committed.
    pub fn record_orphan(&self) {
        self.orphans
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Rows written without their event so far.
    pub fn orphans(&self) -> u64 {
        self.orphans.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records one response of `route`, judged against the route's deadline.
    pub fn record(&self, route: &str, status: u16, latency: Duration) {
        let timeliness = Timeliness::of(status, latency, self.deadlines.get(route).copied());
        let mut inner = self.lock();
        inner.all.add(status, latency, timeliness);
        inner.now.record(status, latency, timeliness);
        match inner.routes.get_mut(route) {
            Some(stats) => stats.add(status, latency, timeliness),
            None => {
                let mut stats = RequestStats::default();
                stats.add(status, latency, timeliness);
                inner.routes.insert(route.to_string(), stats);
            }
        }
    }

    /// Routes with a deadline.
    pub fn routes_with_deadline(&self) -> usize {
        self.deadlines.len()
    }

    /// Closes a second of the API's "now" window at engine time `at` (the sampler, once per
    /// engine second).
    pub fn close_second(&self, at: Duration) {
        self.lock().now.close_second(at);
    }

    /// The API over the last [`WINDOW`](super::window::WINDOW) ending at engine time `now`.
    pub fn api_window(&self, now: Duration) -> Option<ApiWindow> {
        self.lock().now.window(now)
    }

    /// Responses and error responses so far (cheap: no histogram copy).
    pub fn counts(&self) -> (u64, u64) {
        let inner = self.lock();
        (inner.all.count(), inner.all.errors())
    }

    /// Every response so far.
    pub fn totals(&self) -> RequestStats {
        self.lock().all.clone()
    }

    /// Appends a second of history (dropping the oldest beyond [`SERIES_SECONDS`]).
    pub fn push_second(&self, sample: SecondSample) {
        let mut inner = self.lock();
        if inner.series.len() == SERIES_SECONDS {
            inner.series.pop_front();
        }
        inner.series.push_back(sample);
    }

    /// The kept history, oldest first.
    pub fn series(&self) -> Vec<SecondSample> {
        self.lock().series.iter().cloned().collect()
    }
}
