//! Modelled latency: drawing durations from the scenario's distributions with the seeded RNG.
//!
//! A stage's modelled latency is applied as a real `tokio::time::sleep` on the engine clock, so
//! an end-to-end time is the sum a learner expects and virtual runs stay deterministic.

use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution as _, Exp, LogNormal};

use crate::scenario::{Distribution, Z_99};

/// The engine's seeded random source. Every random draw of a run comes from here.
#[derive(Debug)]
pub struct SeededRng {
    rng: Mutex<StdRng>,
}

impl SeededRng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// Runs `f` with the generator (held only for the draw, never across an await).
    pub fn with<T>(&self, f: impl FnOnce(&mut StdRng) -> T) -> T {
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut rng)
    }

    /// A duration in milliseconds drawn from `dist`.
    pub fn sample_ms(&self, dist: &Distribution) -> f64 {
        self.with(|rng| sample_ms(dist, rng))
    }

    /// A uniform draw in `[0, 1)`.
    pub fn unit(&self) -> f64 {
        self.with(|rng| rng.random::<f64>())
    }

    /// A random 64-bit value.
    pub fn next_u64(&self) -> u64 {
        self.with(|rng| rng.random::<u64>())
    }
}

/// Draws a duration in milliseconds from `dist` (never negative).
pub fn sample_ms(dist: &Distribution, rng: &mut StdRng) -> f64 {
    let ms = match *dist {
        Distribution::Constant { ms } => ms,
        Distribution::Uniform { min_ms, max_ms } => {
            min_ms + (max_ms - min_ms) * rng.random::<f64>()
        }
        Distribution::Exponential { mean_ms } => {
            Exp::new(1.0 / mean_ms).map_or(mean_ms, |d| d.sample(rng))
        }
        Distribution::Lognormal { p50_ms, p99_ms } => {
            let sigma = (p99_ms / p50_ms).ln() / Z_99;
            LogNormal::new(p50_ms.ln(), sigma).map_or(p50_ms, |d| d.sample(rng))
        }
    };
    ms.max(0.0)
}

/// Milliseconds as a `Duration` (negative and NaN become zero).
pub fn ms_to_duration(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percentile(mut values: Vec<f64>, p: f64) -> f64 {
        values.sort_by(f64::total_cmp);
        values[((values.len() as f64 - 1.0) * p) as usize]
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let rng = SeededRng::new(1);
        let dist = Distribution::Lognormal {
            p50_ms: 4.0,
            p99_ms: 30.0,
        };
        let draws: Vec<f64> = (0..50_000).map(|_| rng.sample_ms(&dist)).collect();
        let p50 = percentile(draws.clone(), 0.5);
        let p99 = percentile(draws, 0.99);
        assert!((p50 - 4.0).abs() < 0.2, "p50 {p50}");
        assert!((p99 - 30.0).abs() < 3.0, "p99 {p99}");
    }

    #[test]
    fn exponential_has_its_mean() {
        let rng = SeededRng::new(2);
        let dist = Distribution::Exponential { mean_ms: 300.0 };
        let mean = (0..50_000).map(|_| rng.sample_ms(&dist)).sum::<f64>() / 50_000.0;
        assert!((mean - 300.0).abs() < 9.0, "mean {mean}");
    }

    #[test]
    fn the_same_seed_draws_the_same_sequence() {
        let dist = Distribution::Uniform {
            min_ms: 1.0,
            max_ms: 9.0,
        };
        let a: Vec<f64> = {
            let rng = SeededRng::new(7);
            (0..10).map(|_| rng.sample_ms(&dist)).collect()
        };
        let b: Vec<f64> = {
            let rng = SeededRng::new(7);
            (0..10).map(|_| rng.sample_ms(&dist)).collect()
        };
        assert_eq!(a, b);
        assert!(a.iter().all(|v| (1.0..=9.0).contains(v)));
    }
}
