//! "Now" for the broker view: figures over a sliding window of engine time, as differences of
//! cumulative totals sampled once per engine second.
//!
//! ```text
//!  totals at t−10 s ─────────────── totals now
//!        └──────── Δ / Δt ────────────┘   λ̂ = Δdelivered/Δt, ρ̂ = Δbusy/Δavailable,
//!                                         W̄ = Δwait/Δwaits, S̄ = Δbusy/Δcompleted
//! ```
//!
//! Each figure comes from its own data (arrivals, waits, busy time), never from another figure.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::theory::{FinitePrediction, Prediction};

/// The window's length.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Cumulative figures of one topic at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct TopicTotals {
    /// Arrivals at the queue: publishes accepted and retries.
    pub arrived: u64,
    /// Deliveries to workers (leases).
    pub delivered: u64,
    /// Waits measured, and their sum in ms.
    pub waits: (u64, f64),
    /// Worker-µs spent processing.
    pub busy_us: u64,
    /// Worker-µs available (live workers × time).
    pub available_us: u64,
    /// Deliveries processed (acked or failed).
    pub completed: u64,
    /// Publishes accepted.
    pub published: u64,
    /// Publishes refused (the topic was full).
    pub rejected: u64,
}

/// Samples of every topic's totals, one per engine second, for the last [`WINDOW`].
#[derive(Debug, Default)]
pub(crate) struct Windows {
    samples: Mutex<VecDeque<(Duration, Vec<TopicTotals>)>>,
}

impl Windows {
    /// Records the totals at engine time `at`.
    pub(crate) fn record(&self, at: Duration, totals: Vec<TopicTotals>) {
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        samples.push_back((at, totals));
        while samples
            .get(1)
            .is_some_and(|(second, _)| at.saturating_sub(*second) >= WINDOW)
        {
            samples.pop_front();
        }
    }

    /// The sample the window starting `WINDOW` before `now` begins at (the oldest kept).
    pub(crate) fn start(&self, now: Duration) -> Option<(Duration, Vec<TopicTotals>)> {
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        samples
            .iter()
            .find(|(at, _)| now.saturating_sub(*at) <= WINDOW)
            .filter(|(at, _)| *at < now)
            .cloned()
    }
}

/// One topic over the window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WindowView {
    /// The window's actual length, s (shorter at the start of a run).
    pub seconds: f64,
    /// Arrivals per second in the window (λ̂): publishes accepted and retries.
    pub arrival_rate: f64,
    /// Deliveries to workers per second in the window: what the pool takes, which falls
    /// behind λ̂ while the queue grows.
    pub delivery_rate: f64,
    /// Busy worker-time over available worker-time in the window (ρ̂), at most 1.
    pub utilization: f64,
    /// Mean wait of the deliveries leased in the window, ms (`None`: none was).
    pub wait_ms_mean: Option<f64>,
    /// Mean processing time of the deliveries finished in the window, ms (`None`: none was).
    pub service_ms_mean: Option<f64>,
    /// Steady-state theory for the window's λ̂, the configured service time (with any
    /// slow-down) and the live workers.
    pub theory: Option<Prediction>,
    /// Publishes refused over publishes tried in the window.
    pub refused_share: f64,
    /// Offered arrivals per second: deliveries plus refused publishes.
    pub offered_rate: f64,
    /// The finite-topic theory (M/M/c/K, K = the capacity) for the offered rate: valid at any
    /// load, with the probability a publish is refused.
    pub finite: Option<FinitePrediction>,
}

impl WindowView {
    /// The figures between `start` (at `from`) and `now` (at `to`).
    pub(crate) fn between(
        from: Duration,
        start: &TopicTotals,
        to: Duration,
        now: &TopicTotals,
    ) -> Option<Self> {
        let seconds = to.saturating_sub(from).as_secs_f64();
        if seconds <= 0.0 {
            return None;
        }
        let arrived = now.arrived.saturating_sub(start.arrived);
        let delivered = now.delivered.saturating_sub(start.delivered);
        let busy = now.busy_us.saturating_sub(start.busy_us);
        let available = now.available_us.saturating_sub(start.available_us);
        let waits = now.waits.0.saturating_sub(start.waits.0);
        let completed = now.completed.saturating_sub(start.completed);
        let published = now.published.saturating_sub(start.published);
        let rejected = now.rejected.saturating_sub(start.rejected);
        Some(Self {
            seconds,
            arrival_rate: arrived as f64 / seconds,
            delivery_rate: delivered as f64 / seconds,
            utilization: if available > 0 {
                (busy as f64 / available as f64).min(1.0)
            } else {
                0.0
            },
            wait_ms_mean: (waits > 0).then(|| (now.waits.1 - start.waits.1) / waits as f64),
            service_ms_mean: (completed > 0).then(|| busy as f64 / 1000.0 / completed as f64),
            theory: None,
            refused_share: if published + rejected > 0 {
                rejected as f64 / (published + rejected) as f64
            } else {
                0.0
            },
            offered_rate: (arrived + rejected) as f64 / seconds,
            finite: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(delivered: u64, busy_us: u64) -> TopicTotals {
        TopicTotals {
            arrived: delivered,
            delivered,
            waits: (delivered, delivered as f64 * 5.0),
            busy_us,
            available_us: 2 * busy_us,
            completed: delivered,
            published: delivered,
            rejected: delivered / 10,
        }
    }

    #[test]
    fn the_window_keeps_ten_seconds_and_measures_differences() {
        let windows = Windows::default();
        for second in 0..30u64 {
            windows.record(
                Duration::from_secs(second),
                vec![totals(second * 10, second * 1000)],
            );
        }
        let now = Duration::from_secs(30);
        let (from, start) = windows.start(now).expect("a sample");
        assert_eq!(from, Duration::from_secs(20), "10 s back");
        let view =
            WindowView::between(from, &start[0], now, &totals(300, 30_000)).expect("a window");
        assert_eq!(view.arrival_rate, 10.0);
        assert_eq!(view.utilization, 0.5);
        assert_eq!(view.wait_ms_mean, Some(5.0));
        assert_eq!(view.service_ms_mean, Some(0.1));
        assert!(
            (view.refused_share - 1.0 / 11.0).abs() < 1e-12,
            "100 of 1,100 tries"
        );
        assert_eq!(view.offered_rate, 11.0);
    }
}
