//! Queueing theory to hold measurements against.
//!
//! - this module: steady state of M/M/c (Erlang C, [`erlang_c`], [`predict`], the waiting-time
//!   tail [`wait_tail`]) and the Allen–Cunneen approximation for general arrivals and service;
//! - [`finite`]: M/M/c/K, a topic that refuses publishes when full — exact for any load;
//! - [`transient`]: the expected queue over time (through bursts and faults) of the same
//!   birth–death chain, by uniformization;
//! - [`estimate`]: honest estimates from one run — MSER-5 warm-up, batch-means confidence
//!   intervals, and the run length a target precision needs.
//!
//! ```text
//!  λ arrivals/s ─▶ [ queue ] ─▶ c servers, each μ = 1 / mean service time
//!  ρ = λ / (c μ)            utilisation (must be < 1 for a steady state)
//!  P(wait) = C(c, a)        Erlang C with offered load a = λ / μ
//!  Wq = C(c, a) / (c μ − λ) mean wait in the queue
//!  P(Wq > t) = C · e^{−(cμ−λ)t}
//! ```
//!
//! The tests compare with values computed independently (closed forms, exact fractions, textbook
//! tables), not with this code's own output.

pub mod estimate;
pub mod finite;
pub mod transient;

pub use estimate::{Interval, batch_means, length_for_precision, mser5, student_t_975};
pub use finite::{FinitePrediction, mmck};
pub use transient::Chain;

use serde::Serialize;

/// A prediction for one queue.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prediction {
    /// Which model: `"M/M/c (exact)"` or `"G/G/c (Allen–Cunneen approximation)"`.
    pub model: &'static str,
    /// Utilisation ρ = λ / (c μ).
    pub utilization: f64,
    /// Probability an arrival waits (Erlang C).
    pub p_wait: f64,
    /// Mean wait in the queue, ms (infinite when ρ ≥ 1).
    pub wait_ms_mean: f64,
    /// Mean number waiting (Little: Lq = λ Wq).
    pub queue_length_mean: f64,
}

/// Erlang C: the probability that an arrival waits, for `servers` servers and offered load
/// `load` = λ/μ (in Erlangs). Computed with the stable Erlang-B recursion.
pub fn erlang_c(servers: u32, load: f64) -> f64 {
    if servers == 0 {
        return 1.0;
    }
    let rho = load / f64::from(servers);
    if rho >= 1.0 {
        return 1.0;
    }
    // Erlang B by recursion: B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)).
    let mut b = 1.0;
    for k in 1..=servers {
        b = load * b / (f64::from(k) + load * b);
    }
    b / (1.0 - rho * (1.0 - b))
}

/// The M/M/c prediction for arrival rate `lambda` (per second), mean service time
/// `service_ms` and `servers` servers; with squared coefficients of variation `ca2` (arrivals)
/// and `cs2` (service) other than 1, the Allen–Cunneen approximation
/// `Wq ≈ Wq(M/M/c) × (ca² + cs²) / 2`.
pub fn predict(lambda: f64, service_ms: f64, servers: u32, ca2: f64, cs2: f64) -> Prediction {
    let exact = (ca2 - 1.0).abs() < 1e-9 && (cs2 - 1.0).abs() < 1e-9;
    let model = if exact {
        "M/M/c (exact)"
    } else {
        "G/G/c (Allen–Cunneen approximation)"
    };
    let mu = if service_ms > 0.0 {
        1000.0 / service_ms
    } else {
        f64::INFINITY
    };
    let load = lambda / mu;
    let utilization = if servers == 0 {
        f64::INFINITY
    } else {
        load / f64::from(servers)
    };
    if utilization >= 1.0 || servers == 0 {
        return Prediction {
            model,
            utilization,
            p_wait: 1.0,
            wait_ms_mean: f64::INFINITY,
            queue_length_mean: f64::INFINITY,
        };
    }
    let p_wait = erlang_c(servers, load);
    let wq_s =
        p_wait / (f64::from(servers) * mu - lambda) * if exact { 1.0 } else { (ca2 + cs2) / 2.0 };
    Prediction {
        model,
        utilization,
        p_wait,
        wait_ms_mean: wq_s * 1000.0,
        queue_length_mean: lambda * wq_s,
    }
}

impl Prediction {
    /// The wait a fraction `quantile` of arrivals stay within, ms (e.g. 0.99 for the p99),
    /// from the exponential tail P(Wq > t) = C·e^{−θt} with θ = cμ − λ = C / Wq: exact for
    /// M/M/c, and only a shape-preserving estimate under Allen–Cunneen. 0 when fewer than
    /// `1 − quantile` of arrivals wait at all; `None` when unstable or `quantile` ∉ (0, 1).
    pub fn wait_quantile_ms(&self, quantile: f64) -> Option<f64> {
        if !(quantile > 0.0 && quantile < 1.0 && self.wait_ms_mean.is_finite()) {
            return None;
        }
        let beyond = 1.0 - quantile;
        if self.p_wait <= beyond || self.wait_ms_mean <= 0.0 {
            return Some(0.0);
        }
        Some(self.wait_ms_mean / self.p_wait * (self.p_wait / beyond).ln())
    }
}

/// The probability that an arrival waits longer than `t_ms` milliseconds in an M/M/c queue:
/// P(Wq > t) = C(c, a) · e^{−(cμ − λ)t}, with `lambda` per second and mean service `service_ms`.
///
/// At `t_ms = 0` this is [`erlang_c`]. It is 1.0 when there is no steady state (ρ ≥ 1, or no
/// servers: with `servers == 0` nobody is ever served, so every arrival waits longer than any
/// `t`), and 1.0 for a negative `t_ms`. Instant service (`service_ms ≤ 0`) or no arrivals give
/// 0.0 for any `t_ms ≥ 0`.
pub fn wait_tail(servers: u32, lambda: f64, service_ms: f64, t_ms: f64) -> f64 {
    if t_ms < 0.0 {
        return 1.0;
    }
    if servers == 0 {
        return 1.0;
    }
    if service_ms <= 0.0 || lambda <= 0.0 {
        // Nobody waits; handled here because μ = ∞ would make the exponent ∞ · 0 at t = 0.
        return 0.0;
    }
    let mu = 1000.0 / service_ms;
    let c = f64::from(servers);
    if lambda >= c * mu {
        return 1.0;
    }
    erlang_c(servers, lambda / mu) * (-(c * mu - lambda) * t_ms / 1000.0).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_p99_wait_inverts_the_erlang_c_tail() {
        // M/M/1, λ = 8/s, μ = 10/s: C = 0.8, θ = μ − λ = 2/s, so P(Wq > t) = 0.8 e^{−2t} and
        // the p99 is ln(0.8 / 0.01) / 2 s = 2.1910 s.
        let p = predict(8.0, 100.0, 1, 1.0, 1.0);
        let p99 = p.wait_quantile_ms(0.99).expect("stable");
        assert!((p99 - 1000.0 * (80f64).ln() / 2.0).abs() < 1e-9, "{p99}");
        assert!((wait_tail(1, 8.0, 100.0, p99) - 0.01).abs() < 1e-12);
        // Fewer than 1% wait at all: the p99 wait is 0.
        assert_eq!(
            predict(0.05, 100.0, 2, 1.0, 1.0).wait_quantile_ms(0.99),
            Some(0.0)
        );
        assert_eq!(
            predict(30.0, 100.0, 2, 1.0, 1.0).wait_quantile_ms(0.99),
            None
        );
    }

    #[test]
    fn erlang_c_matches_known_values() {
        // M/M/1: P(wait) = ρ.
        assert!((erlang_c(1, 0.8) - 0.8).abs() < 1e-12);
        // A classic table value: c = 2, a = 1 → 1/3.
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(erlang_c(3, 3.5), 1.0, "overloaded");
    }

    #[test]
    fn mm1_wait_is_rho_over_mu_minus_lambda() {
        // λ = 8/s, mean service 100 ms (μ = 10/s): Wq = ρ/(μ−λ) = 0.8/2 s = 400 ms.
        let p = predict(8.0, 100.0, 1, 1.0, 1.0);
        assert!((p.wait_ms_mean - 400.0).abs() < 1e-9);
        assert!((p.utilization - 0.8).abs() < 1e-12);
        assert_eq!(p.model, "M/M/c (exact)");
    }

    #[test]
    fn deterministic_service_halves_the_wait() {
        let mm = predict(8.0, 100.0, 1, 1.0, 1.0);
        let md = predict(8.0, 100.0, 1, 1.0, 0.0);
        assert!(
            (md.wait_ms_mean - mm.wait_ms_mean / 2.0).abs() < 1e-9,
            "M/D/1 = half of M/M/1"
        );
        assert!(md.model.contains("approximation"));
    }

    #[test]
    fn wait_tail_at_zero_is_erlang_c() {
        // c = 3, λ = 2.4/s, 1 s service: a = 2.4.
        assert!((wait_tail(3, 2.4, 1000.0, 0.0) - erlang_c(3, 2.4)).abs() < 1e-15);
        // c = 2, a = 1: C = 1/3 (exact), so the tail at 0 is 1/3 too.
        assert!((wait_tail(2, 1.0, 1000.0, 0.0) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn wait_tail_mm1_known_value() {
        // λ = 8/s, μ = 10/s: P(Wq > 0.1 s) = ρ e^{−(μ−λ)t} = 0.8 e^{−0.2}.
        let expected = 0.8 * (-0.2f64).exp();
        assert!((wait_tail(1, 8.0, 100.0, 100.0) - expected).abs() < 1e-12);
        // c = 2, a = 1 (λ = 1, μ = 1): C = 1/3, cμ − λ = 1 → P(Wq > 2 s) = e^{−2}/3.
        let expected = (-2.0f64).exp() / 3.0;
        assert!((wait_tail(2, 1.0, 1000.0, 2000.0) - expected).abs() < 1e-12);
    }

    #[test]
    fn wait_tail_edges() {
        assert_eq!(wait_tail(1, 10.0, 100.0, 5.0), 1.0, "ρ = 1 is unstable");
        assert_eq!(wait_tail(0, 1.0, 100.0, 5.0), 1.0, "no servers");
        assert_eq!(wait_tail(2, 0.0, 100.0, 0.0), 0.0, "no arrivals");
        assert_eq!(wait_tail(2, 1.0, 0.0, 0.0), 0.0, "instant service");
        assert_eq!(wait_tail(2, 1.0, 100.0, -1.0), 1.0, "negative t");
    }
}
