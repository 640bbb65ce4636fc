//! Honest steady-state estimates from one run: which seconds count, the warm-up dropped, a 95%
//! confidence interval for the mean wait, the theory it is held against, and — when the two
//! disagree or the interval is wide — why.
//!
//! ```text
//!  seconds:  calm ───────┐ burst/kill ┌──────── calm ──────────────┐
//!            [warm-up][kept]  (left out) [transient][kept ........]
//!            MSER-5 per calm stretch ──▶ kept seconds pooled ──▶ 20 batch means ──▶ mean ± t·s/√k
//! ```
//!
//! A disturbance (burst, rate change, spike, worker kill or change, slow-down, pause) is left
//! out, and the stretch after it starts with a transient of its own, which MSER-5 finds and
//! drops just like the warm-up at the start of the run.

use serde::Serialize;

use super::history::TopicSecond;
use crate::scenario::{Arrival, Scenario};
use crate::theory::estimate::{batch_means, length_for_precision, mser5};
use crate::theory::predict;

/// Batches for the confidence interval: enough for a stable variance estimate, few enough that
/// each batch is long compared with the waits' correlation at moderate load.
const BATCHES: usize = 20;

/// Least seconds per batch: below it the batch means are too correlated to trust.
const MIN_SECONDS_PER_BATCH: usize = 2;

/// The relative half-width asked of a good estimate.
const TARGET_PRECISION: f64 = 0.05;

/// One topic's steady state as the run measured it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SteadyState {
    /// Seconds shaped by a burst, rate change, spike, worker change, slow-down or pause: left
    /// out.
    pub disturbed_s: u64,
    /// Calm seconds after a disturbance while the queue drained back to its level before (per
    /// the transient forecast): left out too.
    pub recovering_s: u64,
    /// Seconds of transient dropped at the start of each calm stretch (MSER-5).
    pub warmup_s: u64,
    /// Seconds the estimates use.
    pub used_s: u64,
    /// Arrivals per second over the used seconds (λ̂).
    pub arrival_rate: f64,
    /// Mean wait over the used seconds with its 95% confidence interval, ms (`None`: too few
    /// calm seconds with waits).
    pub wait_ms: Option<WaitInterval>,
    /// The theory for λ̂, the configured service time and workers, ms (`None` when unstable
    /// or no pool reads the topic).
    pub theory_wait_ms: Option<f64>,
    /// Its model, and whether it is exact or an approximation.
    pub theory_model: Option<&'static str>,
    /// `inside`, `outside`, or `no estimate`.
    pub verdict: &'static str,
    /// Why the estimate is what it is, in sentences: what was left out, what bends the theory,
    /// how long a run the precision needs.
    pub notes: Vec<String>,
}

/// A mean with its 95% confidence interval (batch means).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WaitInterval {
    /// Point estimate: total wait over waits.
    pub mean: f64,
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Batches the interval was built from.
    pub batches: usize,
}

/// What the estimate needs beyond the history of one topic.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TopicFacts {
    /// Mean service time as configured, ms (`None`: no pool).
    pub service_ms: Option<f64>,
    /// Its squared coefficient of variation.
    pub service_scv: f64,
    /// Workers as configured.
    pub workers: u32,
    /// Whether every traffic generator is Poisson.
    pub poisson_traffic: bool,
    /// Retried deliveries over all deliveries in the run.
    pub retry_share: f64,
}

impl TopicFacts {
    /// The facts of topic `index` of `scenario`, with the run's retry share.
    pub(crate) fn of(scenario: &Scenario, index: usize, retry_share: f64) -> Self {
        let pool = scenario
            .topics
            .get(index)
            .and_then(|t| scenario.workers.iter().find(|w| w.topic == t.name));
        Self {
            service_ms: pool.map(|p| p.service_time.mean_ms()),
            service_scv: pool.map_or(1.0, |p| p.service_time.scv()),
            workers: pool.map_or(0, |p| p.concurrency),
            poisson_traffic: scenario
                .traffic
                .iter()
                .all(|t| t.arrival == Arrival::Poisson),
            retry_share,
        }
    }
}

/// Rounds to `digits` decimals so reports stay byte-stable.
fn round(value: f64, digits: i32) -> f64 {
    let factor = 10f64.powi(digits);
    (value * factor).round() / factor
}

/// The steady state of one topic from its per-second `history`.
pub(crate) fn estimate(history: &[TopicSecond], facts: TopicFacts) -> SteadyState {
    let disturbed_s = history.iter().filter(|s| s.disturbed).count();
    let recovering_s = history.iter().filter(|s| s.recovering).count();
    // Calm stretches, each with its own transient dropped.
    let mut kept: Vec<&TopicSecond> = Vec::new();
    let mut warmup_s = 0;
    for stretch in history.split(|s| s.disturbed || s.recovering) {
        let samples: Vec<(f64, f64)> = stretch
            .iter()
            .map(|s| (s.wait_sum_ms, s.waits as f64))
            .collect();
        let drop = mser5(&samples).min(stretch.len());
        warmup_s += drop;
        kept.extend(&stretch[drop..]);
    }
    let used_s = kept.len();
    let arrival_rate = if used_s > 0 {
        kept.iter().map(|s| s.arrivals).sum::<u64>() as f64 / used_s as f64
    } else {
        0.0
    };
    let samples: Vec<(f64, f64)> = kept
        .iter()
        .map(|s| (s.wait_sum_ms, s.waits as f64))
        .collect();
    let batches = BATCHES.min(used_s / MIN_SECONDS_PER_BATCH);
    let interval = (batches >= 10)
        .then(|| batch_means(&samples, batches))
        .flatten();
    let prediction = facts.service_ms.map(|ms| {
        let mut p = predict(arrival_rate, ms, facts.workers, 1.0, facts.service_scv);
        if !facts.poisson_traffic {
            p.model = "G/G/c (Allen–Cunneen approximation)";
        }
        p
    });
    let theory = prediction.filter(|p| p.wait_ms_mean.is_finite());
    let mut notes = Vec::new();
    let total_s = history.len().max(1);
    if disturbed_s > 0 {
        notes.push(format!(
            "{:.0}% of the run was shaped by bursts, rate changes, spikes or worker faults; \
             those seconds are left out",
            100.0 * disturbed_s as f64 / total_s as f64
        ));
    }
    if recovering_s > 0 {
        notes.push(format!(
            "{recovering_s} s after them while the queue drained back (per the transient \
             forecast) left out too"
        ));
    }
    if warmup_s > 0 {
        notes.push(format!(
            "{warmup_s} s of warm-up dropped (MSER-5 on each calm stretch)"
        ));
    }
    let verdict = match (interval, theory) {
        (Some(ci), Some(p)) => {
            let inside = (p.wait_ms_mean - ci.mean).abs() <= ci.half_width;
            let rhw = ci.relative_half_width();
            // A sub-millisecond half-width is precise enough whatever its ratio to a tiny mean.
            if rhw > TARGET_PRECISION && rhw.is_finite() && ci.half_width >= 1.0 {
                notes.push(format!(
                    "the interval is ±{:.0}%: a calm run of about {:.0} s would give ±5%",
                    rhw * 100.0,
                    length_for_precision(used_s as f64, rhw, TARGET_PRECISION)
                ));
            }
            if !inside {
                explain_gap(&mut notes, facts, p.utilization);
            }
            if inside { "inside" } else { "outside" }
        }
        (None, _) => {
            notes.push(format!(
                "only {used_s} calm seconds with waits: at least {} are needed for an interval",
                10 * MIN_SECONDS_PER_BATCH
            ));
            "no estimate"
        }
        (Some(_), None) => {
            match prediction {
                Some(p) if facts.workers > 0 => notes.push(format!(
                    "ρ = {:.2} at the measured arrival rate: no steady state to predict",
                    p.utilization
                )),
                _ => notes.push("no worker pool reads this topic".into()),
            }
            "no estimate"
        }
    };
    SteadyState {
        disturbed_s: disturbed_s as u64,
        recovering_s: recovering_s as u64,
        warmup_s: warmup_s as u64,
        used_s: used_s as u64,
        arrival_rate: round(arrival_rate, 4),
        wait_ms: interval.map(|ci| WaitInterval {
            mean: round(ci.mean, 3),
            low: round(ci.mean - ci.half_width, 3),
            high: round(ci.mean + ci.half_width, 3),
            batches: ci.batches,
        }),
        theory_wait_ms: theory.map(|p| round(p.wait_ms_mean, 3)),
        theory_model: prediction.map(|p| p.model),
        verdict,
        notes,
    }
}

/// The known reasons theory can miss the interval, in the order they usually matter.
fn explain_gap(notes: &mut Vec<String>, facts: TopicFacts, utilization: f64) {
    let before = notes.len();
    if facts.retry_share > 0.01 {
        notes.push(format!(
            "retries add {:.0}% to the arrivals and are not Poisson: they follow failures",
            facts.retry_share * 100.0
        ));
    }
    if utilization >= 0.9 {
        notes.push(format!(
            "ρ = {utilization:.2}: near saturation waits are correlated for a long time, so \
             intervals come out too narrow unless the run is long"
        ));
    }
    if (facts.service_scv - 1.0).abs() > 1e-9 {
        notes.push(format!(
            "service is not exponential (c_s² = {:.2}): the model is an approximation",
            facts.service_scv
        ));
    }
    if !facts.poisson_traffic {
        notes.push("some traffic is not Poisson: the model is an approximation".into());
    }
    if notes.len() == before {
        notes.push(
            "no known cause: one 95% interval in twenty misses the true value by chance".into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> TopicFacts {
        TopicFacts {
            service_ms: Some(100.0),
            service_scv: 1.0,
            workers: 1,
            poisson_traffic: true,
            retry_share: 0.0,
        }
    }

    /// A second with `arrivals` arrivals each waiting `wait_ms`.
    fn second(arrivals: u64, wait_ms: f64, disturbed: bool) -> TopicSecond {
        TopicSecond {
            arrivals,
            waits: arrivals,
            wait_sum_ms: wait_ms * arrivals as f64,
            disturbed,
            ..TopicSecond::default()
        }
    }

    #[test]
    fn disturbed_seconds_are_left_out_and_the_estimate_holds_theory() {
        // λ = 5/s, μ = 10/s (c = 1): Wq = ρ/(μ−λ) = 0.5/5 s = 100 ms. Calm seconds measure
        // 100 ms ± 10 ms; a burst in the middle measured 2 s waits and must not count.
        let mut history: Vec<TopicSecond> = (0..200)
            .map(|i| second(5, 100.0 + if i % 2 == 0 { 10.0 } else { -10.0 }, false))
            .collect();
        for s in &mut history[80..100] {
            *s = second(15, 2000.0, true);
        }
        let steady = estimate(&history, facts());
        assert_eq!(steady.disturbed_s, 20);
        assert_eq!(steady.arrival_rate, 5.0);
        let ci = steady.wait_ms.expect("an interval");
        assert!((ci.mean - 100.0).abs() < 1.0, "{ci:?}");
        assert_eq!(steady.theory_wait_ms, Some(100.0));
        assert_eq!(steady.verdict, "inside", "{steady:?}");
        assert!(
            steady.notes[0].starts_with("10% of the run"),
            "{:?}",
            steady.notes
        );
    }

    #[test]
    fn a_miss_is_explained() {
        let history: Vec<TopicSecond> = (0..200)
            .map(|i| second(5, 300.0 + (i % 3) as f64, false))
            .collect();
        let steady = estimate(
            &history,
            TopicFacts {
                retry_share: 0.2,
                ..facts()
            },
        );
        assert_eq!(steady.verdict, "outside");
        assert!(
            steady
                .notes
                .iter()
                .any(|n| n.starts_with("retries add 20%")),
            "{:?}",
            steady.notes
        );
    }

    #[test]
    fn too_short_a_calm_run_gives_no_estimate_and_says_so() {
        let history: Vec<TopicSecond> = (0..12).map(|_| second(5, 100.0, false)).collect();
        let steady = estimate(&history, facts());
        assert_eq!(steady.verdict, "no estimate");
        assert!(steady.wait_ms.is_none());
        assert!(steady.notes.iter().any(|n| n.contains("calm seconds")));
    }
}
