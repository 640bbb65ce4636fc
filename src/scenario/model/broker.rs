//! The event broker: topics with their retry [`Backoff`], and the worker pools that consume them.

use std::time::Duration;

use serde::Serialize;

use super::{Distribution, FullPolicy, PoolEffects, Publish};

/// Retry backoff.
#[derive(Debug, Clone, Serialize)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Growth per attempt.
    pub multiplier: f64,
    /// Random spread, 0–1.
    pub jitter: f64,
}

impl Backoff {
    /// The delay before retry number `retry` (1 = first retry), before jitter.
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = self.multiplier.powi(retry.saturating_sub(1).min(64) as i32);
        let ms =
            (self.initial.as_secs_f64() * 1000.0 * factor).min(self.max.as_secs_f64() * 1000.0);
        // At most a day (the bound `check` holds backoffs to), whatever the arithmetic gives.
        Duration::try_from_secs_f64(ms.min(86_400_000.0) / 1000.0).unwrap_or(self.max)
    }
}

/// A broker topic.
#[derive(Debug, Clone, Serialize)]
pub struct Topic {
    /// Name.
    pub name: String,
    /// What flows through it.
    pub explain: String,
    /// Most messages queued or in flight.
    pub capacity: u32,
    /// Publisher policy when full.
    pub on_full: FullPolicy,
    /// Longest wait with `block`.
    pub block_timeout: Duration,
    /// Deliveries before dead-lettering.
    pub max_attempts: u32,
    /// Lease length.
    pub visibility_timeout: Duration,
    /// Retry delays.
    pub backoff: Backoff,
    /// Dead-letter topic.
    pub dead_letter: Option<String>,
}

/// A worker pool.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerPool {
    /// Name (consumer group).
    pub name: String,
    /// Topic consumed.
    pub topic: String,
    /// What it does.
    pub explain: String,
    /// Parallel workers.
    pub concurrency: u32,
    /// Processing time.
    pub service_time: Distribution,
    /// Failure chance.
    pub failure_probability: f64,
    /// Per-message timeout.
    pub timeout: Option<Duration>,
    /// Follow-up events on success.
    pub publishes: Vec<Publish>,
    /// The rows it writes.
    pub effects: PoolEffects,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_backoff_is_cut_to_a_day_instead_of_panicking() {
        let backoff = Backoff {
            initial: Duration::MAX,
            max: Duration::MAX,
            multiplier: 1e300,
            jitter: 0.0,
        };
        assert_eq!(backoff.delay(64), Duration::from_secs(86_400));
    }
}
