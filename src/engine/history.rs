//! The run's history, one record per topic per engine second: what the transient forecast is
//! drawn against and what the run report's steady-state estimates are computed from.
//!
//! ```text
//!  second:   1     2     3   …          each: depth, E[depth], arrivals, waits (n, Σ ms),
//!  payments  ▪     ▪     ▪                     live workers, disturbed?
//!  webhooks  ▪     ▪     ▪
//! ```
//!
//! A second is *disturbed* for a topic when anything other than the scenario's steady traffic
//! and configured workers shaped it: a scheduled burst, a live rate change, a traffic spike, a
//! worker count other than the configured one, slowed workers or a paused topic. Steady-state
//! theory is only held against calm seconds.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

/// Seconds kept: one day of engine time. Beyond it the oldest seconds are dropped, and
/// steady-state figures cover the last day.
pub const HISTORY_SECONDS: usize = 24 * 3600;

/// One topic over one engine second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TopicSecond {
    /// Messages waiting (ready or backing off) at the end of the second.
    pub depth: u64,
    /// The transient forecast's expected number waiting at the end of the second.
    pub expected_depth: f64,
    /// Arrivals at the queue in the second (publishes accepted and retries).
    pub arrivals: u64,
    /// Waits measured in the second (deliveries leased).
    pub waits: u64,
    /// Their sum, ms.
    pub wait_sum_ms: f64,
    /// Live workers at the end of the second.
    pub live_workers: u32,
    /// Whether a burst, rate change, spike, worker change, slow-down or pause shaped it.
    pub disturbed: bool,
    /// Calm, but the queue is still draining what a disturbance left: the forecast's expected
    /// depth is not yet back to its level before the disturbance.
    pub recovering: bool,
}

/// Every topic's seconds, oldest first; written by the engine's sampler, read by reports.
#[derive(Debug, Default)]
pub struct History {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The engine second the oldest kept record closes (1 for a run's first second).
    first_second: u64,
    topics: Vec<VecDeque<TopicSecond>>,
}

impl History {
    /// Appends the second that closes at engine second `second`, one record per topic.
    pub(crate) fn push(&self, second: u64, records: Vec<TopicSecond>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.topics.is_empty() {
            inner.first_second = second;
        }
        inner.topics.resize_with(records.len(), VecDeque::new);
        let mut dropped = false;
        for (kept, record) in inner.topics.iter_mut().zip(records) {
            if kept.len() == HISTORY_SECONDS {
                kept.pop_front();
                dropped = true;
            }
            kept.push_back(record);
        }
        if dropped {
            inner.first_second += 1;
        }
    }

    /// A copy of what is kept.
    pub fn read(&self) -> HistoryView {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        HistoryView {
            first_second: inner.first_second,
            topics: inner
                .topics
                .iter()
                .map(|t| t.iter().copied().collect())
                .collect(),
        }
    }
}

/// The kept history at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryView {
    /// The engine second the first record of each topic closes.
    pub first_second: u64,
    /// Per topic (scenario order), one record per second, oldest first.
    pub topics: Vec<Vec<TopicSecond>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_keeps_every_topic_per_second_in_order() {
        let history = History::default();
        for second in 1..=3u64 {
            history.push(
                second,
                vec![
                    TopicSecond {
                        depth: second,
                        ..TopicSecond::default()
                    },
                    TopicSecond {
                        depth: 10 * second,
                        ..TopicSecond::default()
                    },
                ],
            );
        }
        let view = history.read();
        assert_eq!(view.first_second, 1);
        let depths: Vec<Vec<u64>> = view
            .topics
            .iter()
            .map(|t| t.iter().map(|s| s.depth).collect())
            .collect();
        assert_eq!(depths, [vec![1, 2, 3], vec![10, 20, 30]]);
    }
}
