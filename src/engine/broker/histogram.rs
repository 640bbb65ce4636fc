//! Latency histograms (HDR, microsecond resolution) for queue wait and service time, summarised
//! in milliseconds for snapshots and reports.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency summary in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

/// A histogram of durations in microseconds.
#[derive(Debug, Clone)]
pub struct DurationHistogram {
    histogram: Histogram<u64>,
}

impl Default for DurationHistogram {
    fn default() -> Self {
        Self {
            // 1 µs to 1 hour, 3 significant digits: constant, valid bounds.
            histogram: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("constant histogram bounds are valid"),
        }
    }
}

impl DurationHistogram {
    /// A histogram with 2 significant digits (1% resolution) instead of 3: a tenth of the
    /// memory, for the short-lived per-second histograms that sliding windows merge.
    pub fn coarse() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, 3_600_000_000, 2)
                .expect("constant histogram bounds are valid"),
        }
    }

    /// Adds every sample of `other`.
    pub fn add(&mut self, other: &DurationHistogram) {
        // Every DurationHistogram has the same bounds and samples are clamped into them when
        // recorded, so `other`'s values always fit: the only error `add` has cannot happen.
        let _ = self.histogram.add(&other.histogram);
    }

    /// Forgets every sample, keeping the allocation.
    pub fn reset(&mut self) {
        // An empty histogram has nothing to forget: zeroing its thousands of buckets anyway,
        // once a second for an idle API, was 3.5% of a queue run.
        if !self.histogram.is_empty() {
            self.histogram.reset();
        }
    }

    /// The value at quantile `q` (0–1) in ms; `None` when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        (!self.histogram.is_empty()).then(|| self.histogram.value_at_quantile(q) as f64 / 1000.0)
    }

    /// Records a duration.
    pub fn record(&mut self, duration: Duration) {
        self.histogram
            .saturating_record(duration.as_micros().max(1) as u64);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// Summary in milliseconds.
    pub fn summary(&self) -> LatencySummary {
        if self.histogram.is_empty() {
            return LatencySummary::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: self.histogram.len(),
            mean: self.histogram.mean() / 1000.0,
            p50: ms(self.histogram.value_at_quantile(0.5)),
            p95: ms(self.histogram.value_at_quantile(0.95)),
            p99: ms(self.histogram.value_at_quantile(0.99)),
            max: ms(self.histogram.max()),
        }
    }
}
