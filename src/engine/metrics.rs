//! Request metrics and per-second time series.
//!
//! The root layer records every response here: its status, its route and its end-to-end time on
//! the engine clock. A sampler appends one [`SecondSample`] per engine second, keeping the last
//! [`SERIES_SECONDS`] for sparklines.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

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
    /// Per topic: messages published in this second (what flows in, from any producer).
    pub published: Vec<u64>,
}

#[derive(Debug, Default)]
struct Inner {
    all: RequestStats,
    routes: BTreeMap<String, RequestStats>,
    series: VecDeque<SecondSample>,
}

/// The engine's request metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    orphans: std::sync::atomic::AtomicU64,
}

impl Metrics {
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

    /// Records one response.
    pub fn record(&self, route: &str, status: u16, latency: Duration) {
        let mut inner = self.lock();
        *inner.all.by_status.entry(status).or_default() += 1;
        inner.all.latency.record(latency);
        let stats = inner.routes.entry(route.to_string()).or_default();
        *stats.by_status.entry(status).or_default() += 1;
        stats.latency.record(latency);
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
