//! Random durations: the [`Distribution`] of a stage's latency or a worker's service time, with
//! the moments queueing theory needs.

use serde::Serialize;

/// A random duration in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "snake_case")]
pub enum Distribution {
    /// Always `ms`.
    Constant {
        /// The duration.
        ms: f64,
    },
    /// Evenly in `[min_ms, max_ms]`.
    Uniform {
        /// Lower bound.
        min_ms: f64,
        /// Upper bound.
        max_ms: f64,
    },
    /// Exponential with mean `mean_ms`.
    Exponential {
        /// Mean.
        mean_ms: f64,
    },
    /// Log-normal with median `p50_ms` and 99th percentile `p99_ms`.
    Lognormal {
        /// Median.
        p50_ms: f64,
        /// 99th percentile.
        p99_ms: f64,
    },
}

/// The standard normal quantile at 0.99, used to fit a log-normal to p50 and p99.
pub const Z_99: f64 = 2.326_347_874_040_841;

impl Distribution {
    /// The mean duration in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        match *self {
            Self::Constant { ms } => ms,
            Self::Uniform { min_ms, max_ms } => (min_ms + max_ms) / 2.0,
            Self::Exponential { mean_ms } => mean_ms,
            Self::Lognormal { p50_ms, p99_ms } => {
                let sigma = self.lognormal_sigma(p50_ms, p99_ms);
                p50_ms * (sigma * sigma / 2.0).exp()
            }
        }
    }

    /// Squared coefficient of variation (variance / mean²): 0 constant, 1 exponential.
    pub fn scv(&self) -> f64 {
        match *self {
            Self::Constant { .. } => 0.0,
            Self::Uniform { min_ms, max_ms } => {
                let mean = (min_ms + max_ms) / 2.0;
                if mean == 0.0 {
                    0.0
                } else {
                    (max_ms - min_ms).powi(2) / 12.0 / (mean * mean)
                }
            }
            Self::Exponential { .. } => 1.0,
            Self::Lognormal { p50_ms, p99_ms } => {
                let sigma = self.lognormal_sigma(p50_ms, p99_ms);
                (sigma * sigma).exp() - 1.0
            }
        }
    }

    fn lognormal_sigma(&self, p50_ms: f64, p99_ms: f64) -> f64 {
        (p99_ms / p50_ms).ln() / Z_99
    }

    /// A short human description, e.g. `lognormal p50 4 ms, p99 30 ms`.
    pub fn describe(&self) -> String {
        match *self {
            Self::Constant { ms } => format!("{ms} ms"),
            Self::Uniform { min_ms, max_ms } => format!("{min_ms}–{max_ms} ms"),
            Self::Exponential { mean_ms } => format!("exponential, mean {mean_ms} ms"),
            Self::Lognormal { p50_ms, p99_ms } => format!("p50 {p50_ms} ms, p99 {p99_ms} ms"),
        }
    }
}
