//! M/M/c/K: a queue that holds at most K messages (waiting plus in service) and refuses
//! arrivals when full — a topic with a capacity. Exact for Poisson arrivals and exponential
//! service, and valid at any load, including ρ ≥ 1 (the refusals keep it stable).
//!
//! ```text
//!  pₙ = p₀ · aⁿ/n!               n ≤ c
//!  pₙ = p₀ · aᶜ/c! · ρ^{n−c}     c < n ≤ K        (a = λ/μ, ρ = a/c, normalised to 1)
//!  P(refused) = p_K, admitted rate λ' = λ (1 − p_K)
//!  Lq = Σ (n−c)⁺ pₙ,  Wq = Lq / λ'   (Little's law over the admitted arrivals)
//! ```

use serde::Serialize;

/// The steady state of an M/M/c/K queue, from [`mmck`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FinitePrediction {
    /// Utilisation of the servers, λ' / (c μ) with λ' the admitted rate; never above 1.
    pub utilization: f64,
    /// Probability an arrival is refused because the system is full (p_K).
    pub p_block: f64,
    /// Arrivals admitted per second, λ (1 − p_K).
    pub admitted_rate: f64,
    /// Probability an *admitted* arrival waits: Σ_{n=c}^{K−1} pₙ / (1 − p_K).
    pub p_wait: f64,
    /// Mean number waiting, Lq = Σ (n−c)⁺ pₙ.
    pub queue_length_mean: f64,
    /// Mean wait in the queue of an admitted arrival, ms (Wq = Lq / λ'; 0 when nothing is admitted).
    pub wait_ms_mean: f64,
    /// Mean number in the system (waiting plus in service), L = Σ n pₙ.
    pub in_system_mean: f64,
}

/// The exact M/M/c/K steady state for arrival rate `lambda` (per second), mean service time
/// `service_ms`, `servers` servers and `capacity` = K, the most messages in the system (waiting
/// plus in service).
///
/// `None` when `servers == 0` (nothing ever leaves, so there is no steady state to speak of),
/// when `capacity < servers` (K counts those in service, so it must be at least c), or when
/// `lambda` is negative or not finite, or `service_ms` not positive and finite.
///
/// Cost: O(c) memory, and time O(c) plus the states whose probability is not below the
/// smallest `f64` (about 7 000 states at ρ = 0.9, whatever K): the rest would add exact zeros,
/// so they are skipped and the figures are the same bit for bit as summing all K + 1. Only ρ
/// within about 1e-3 of 1 walks all K states. Stable for K in the millions and offered loads in
/// the thousands.
pub fn mmck(lambda: f64, service_ms: f64, servers: u32, capacity: u64) -> Option<FinitePrediction> {
    if servers == 0 || capacity < u64::from(servers) {
        return None;
    }
    if !(lambda.is_finite() && lambda >= 0.0 && service_ms.is_finite() && service_ms > 0.0) {
        return None;
    }
    let k = usize::try_from(capacity).ok()?;
    let c_usize = usize::try_from(servers).ok()?;
    let c = f64::from(servers);
    let mu = 1000.0 / service_ms;
    let a = lambda / mu;
    let rho = a / c;

    // The unnormalised weights aⁿ/n! and aᶜ/c!·ρ^{n−c} overflow long before K = 100 000 (e.g.
    // 1.25^100000), so work with their logarithms and scale by the largest before
    // exponentiating: every exp() argument is then ≤ 0 and the largest term is 1.
    // Up to c the logs are summed term by term (c is modest); beyond c they are
    // ln w_c + (n−c)·ln ρ in one multiplication, because summing ln ρ 100 000 times would
    // accumulate ~1e−7 of rounding in the exponent.
    // With λ = 0, ln a = −∞ and every weight but p₀ is exp(−∞) = 0, which is right.
    let ln_a = a.ln();
    let ln_rho = rho.ln();
    let mut head = Vec::with_capacity(c_usize + 1);
    let mut acc = 0.0;
    head.push(acc);
    for n in 1..=c_usize {
        acc += ln_a - (n as f64).ln();
        head.push(acc);
    }
    let log_wc = acc;
    let tail_len = k - c_usize;
    let tail_log = |j: usize| log_wc + j as f64 * ln_rho;
    // Beyond c the logs are linear in n, so the largest is at one end.
    let mut max = head.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if tail_len > 0 {
        max = max.max(tail_log(1)).max(tail_log(tail_len));
    }
    // exp(x) is exactly 0.0 for x < −746: the tail states j outside `live` weigh nothing.
    const UNDERFLOW: f64 = 746.0;
    let live = if tail_len == 0 {
        1..1
    } else if ln_rho < 0.0 {
        // Falling: past j_last every weight underflows.
        let reach = (log_wc - max + UNDERFLOW) / -ln_rho;
        let last = if reach.is_finite() {
            reach.max(0.0) as usize + 1
        } else {
            1
        };
        1..last.min(tail_len) + 1
    } else if ln_rho > 0.0 {
        // Rising: before j_first every weight underflows.
        let from = (max - UNDERFLOW - log_wc) / ln_rho;
        let first = if from.is_finite() {
            (from.max(1.0) as usize).saturating_sub(1).max(1)
        } else {
            1
        };
        first.min(tail_len)..tail_len + 1
    } else {
        1..tail_len + 1
    };
    let weights = || {
        head.iter()
            .enumerate()
            .map(|(n, &l)| (n, l))
            .chain(live.clone().map(|j| (c_usize + j, tail_log(j))))
            .map(move |(n, l)| (n, (l - max).exp()))
    };
    let total: f64 = weights().map(|(_, w)| w).sum();

    let mut admitted_mass = 0.0; // Σ_{n<K} pₙ, summed rather than 1 − p_K so it keeps precision when p_K → 1
    let mut waiting_mass = 0.0; // Σ_{n=c}^{K−1} pₙ
    let mut lq = 0.0;
    let mut l = 0.0;
    let mut p_block = 0.0;
    for (n, w) in weights() {
        let p = w / total;
        if n < k {
            admitted_mass += p;
            if n >= c_usize {
                waiting_mass += p;
            }
        } else {
            p_block = p;
        }
        lq += n.saturating_sub(c_usize) as f64 * p;
        l += n as f64 * p;
    }
    let admitted_rate = lambda * admitted_mass;
    let p_wait = if admitted_mass > 0.0 {
        waiting_mass / admitted_mass
    } else {
        // Everything refused (only in the limit); an arrival that did get in would wait iff K > c.
        if k > c_usize { 1.0 } else { 0.0 }
    };
    let wait_ms_mean = if admitted_rate > 0.0 {
        lq / admitted_rate * 1000.0
    } else {
        0.0
    };
    Some(FinitePrediction {
        utilization: (admitted_rate / (c * mu)).min(1.0),
        p_block,
        admitted_rate,
        p_wait,
        queue_length_mean: lq,
        wait_ms_mean,
        in_system_mean: l,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theory::predict;

    /// Every state summed, as `mmck` did before it skipped the states that weigh nothing.
    fn summing_every_state(lambda: f64, service_ms: f64, servers: u32, k: usize) -> [f64; 5] {
        let c_usize = servers as usize;
        let (mu, c) = (1000.0 / service_ms, f64::from(servers));
        let (a, rho) = (lambda / mu, lambda / mu / c);
        let mut log_w = vec![0.0];
        let mut acc = 0.0;
        for n in 1..=c_usize {
            acc += a.ln() - (n as f64).ln();
            log_w.push(acc);
        }
        for j in 1..=(k - c_usize) {
            log_w.push(acc + j as f64 * rho.ln());
        }
        let max = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = log_w.iter().map(|&l| (l - max).exp()).collect();
        let total: f64 = weights.iter().sum();
        let (mut admitted, mut waiting, mut lq, mut l) = (0.0, 0.0, 0.0, 0.0);
        for (n, &w) in weights.iter().enumerate() {
            let p = w / total;
            if n < k {
                admitted += p;
                if n >= c_usize {
                    waiting += p;
                }
            }
            lq += n.saturating_sub(c_usize) as f64 * p;
            l += n as f64 * p;
        }
        [weights[k] / total, admitted, waiting, lq, l]
    }

    #[test]
    fn skipping_weightless_states_changes_no_figure() {
        for (lambda, servers, k) in [
            (36.0, 4, 200_000),
            (36.0, 4, 40),
            (80.0, 4, 100_000),
            (40.0, 4, 50_000),
            (0.0, 2, 1_000),
            (2000.0, 8, 30_000),
            (9.99, 1, 10_000),
        ] {
            let fast = mmck(lambda, 100.0, servers, k as u64).expect("valid");
            let [p_block, admitted, waiting, lq, l] =
                summing_every_state(lambda, 100.0, servers, k);
            let case = format!("λ={lambda} c={servers} K={k}");
            assert_eq!(fast.p_block, p_block, "{case}");
            assert_eq!(fast.admitted_rate, lambda * admitted, "{case}");
            if admitted > 0.0 {
                assert_eq!(fast.p_wait, waiting / admitted, "{case}");
            }
            assert_eq!(fast.queue_length_mean, lq, "{case}");
            assert_eq!(fast.in_system_mean, l, "{case}");
        }
    }

    #[test]
    fn a_capacity_of_ten_million_is_erlang_c_without_walking_it() {
        // ρ = 0.9: past ~7 000 waiting the states weigh nothing, so K = 10⁷ costs what K = 10⁴
        // does, and both are Erlang C.
        let huge = mmck(36.0, 100.0, 4, 10_000_000).expect("valid");
        let ten_thousand = mmck(36.0, 100.0, 4, 10_000).expect("valid");
        assert_eq!(huge.wait_ms_mean, ten_thousand.wait_ms_mean);
        let erlang = predict(36.0, 100.0, 4, 1.0, 1.0).wait_ms_mean;
        assert!((huge.wait_ms_mean - erlang).abs() / erlang < 1e-9);
    }

    /// M/M/1/K closed form: p_K = (1−ρ)ρ^K / (1−ρ^{K+1}), ρ ≠ 1.
    fn mm1k_block(rho: f64, k: i32) -> f64 {
        (1.0 - rho) * rho.powi(k) / (1.0 - rho.powi(k + 1))
    }

    #[test]
    fn mm1k_blocking_matches_closed_form() {
        // ρ = 0.5, K = 5: λ = 5/s, μ = 10/s (100 ms). p_K = 0.5·0.5⁵/(1 − 0.5⁶) = 1/63.
        let p = mmck(5.0, 100.0, 1, 5).expect("valid");
        assert!((p.p_block - mm1k_block(0.5, 5)).abs() < 1e-14);
        assert!((p.p_block - 1.0 / 63.0).abs() < 1e-14);
        // ρ = 2, K = 4 (overloaded): p_K = (−1)(16)/(1−32) = 16/31.
        let p = mmck(20.0, 100.0, 1, 4).expect("valid");
        assert!((p.p_block - 16.0 / 31.0).abs() < 1e-14);
        assert!((p.admitted_rate - 20.0 * 15.0 / 31.0).abs() < 1e-12);
        // With one server, utilisation = 1 − p₀ = 1 − 1/31.
        assert!((p.utilization - 30.0 / 31.0).abs() < 1e-14);
    }

    #[test]
    fn mm1k_rho_one_is_uniform() {
        // ρ = 1, K = 9: pₙ = 1/10 for every n. Lq = Σ_{n=1}^{9} (n−1)/10 = 3.6, L = 4.5.
        let p = mmck(10.0, 100.0, 1, 9).expect("valid");
        assert!((p.p_block - 0.1).abs() < 1e-14);
        assert!((p.queue_length_mean - 3.6).abs() < 1e-13);
        assert!((p.in_system_mean - 4.5).abs() < 1e-13);
        // p_wait = Σ_{n=1}^{8} pₙ / (1 − p_K) = 0.8/0.9.
        assert!((p.p_wait - 8.0 / 9.0).abs() < 1e-14);
        // Wq = Lq / λ' = 3.6 / (10 × 0.9) s = 400 ms.
        assert!((p.wait_ms_mean - 400.0).abs() < 1e-10);
    }

    #[test]
    fn mm2_3_exact_fractions() {
        // c = 2, K = 3, a = 1 (λ = 1/s, 1 s service): weights 1, 1, 1/2, 1/4 → p = 4/11, 4/11, 2/11, 1/11.
        let p = mmck(1.0, 1000.0, 2, 3).expect("valid");
        assert!((p.p_block - 1.0 / 11.0).abs() < 1e-15);
        assert!((p.queue_length_mean - 1.0 / 11.0).abs() < 1e-15);
        assert!((p.in_system_mean - (4.0 + 4.0 + 3.0) / 11.0).abs() < 1e-14);
        assert!(
            (p.p_wait - 0.2).abs() < 1e-15,
            "p₂ / (1 − p₃) = (2/11)/(10/11)"
        );
        // Busy servers: (0·4 + 1·4 + 2·3)/11 = 10/11 → utilisation 5/11 = λ'/(cμ) = (10/11)/2.
        assert!((p.utilization - 5.0 / 11.0).abs() < 1e-15);
        assert!((p.wait_ms_mean - 100.0).abs() < 1e-12, "(1/11)/(10/11) s");
    }

    #[test]
    fn large_capacity_converges_to_erlang_c() {
        // c = 3, a = 2.4 (ρ = 0.8): with K = 2000 the refusals are ~0.8^2000, nothing.
        let finite = mmck(2.4, 1000.0, 3, 2000).expect("valid");
        let infinite = predict(2.4, 1000.0, 3, 1.0, 1.0);
        let rel = (finite.wait_ms_mean - infinite.wait_ms_mean).abs() / infinite.wait_ms_mean;
        assert!(
            rel < 1e-12,
            "{} vs {}",
            finite.wait_ms_mean,
            infinite.wait_ms_mean
        );
        assert!((finite.p_wait - infinite.p_wait).abs() < 1e-12);
        assert!((finite.queue_length_mean - infinite.queue_length_mean).abs() < 1e-10);
        assert!(finite.p_block < 1e-100);
    }

    #[test]
    fn big_overloaded_case_is_finite_and_sane() {
        // K = 100 000, a = 500, c = 400 (ρ = 1.25). Overloaded: the servers saturate, so the
        // admitted rate ≈ cμ and p_K ≈ 1 − c/a = 0.2; the system sits near full.
        let p = mmck(500.0, 1000.0, 400, 100_000).expect("valid");
        for v in [
            p.utilization,
            p.p_block,
            p.admitted_rate,
            p.p_wait,
            p.queue_length_mean,
            p.wait_ms_mean,
            p.in_system_mean,
        ] {
            assert!(v.is_finite(), "{p:?}");
        }
        assert!((p.p_block - 0.2).abs() < 1e-9, "{}", p.p_block);
        assert!((p.admitted_rate - 400.0).abs() < 1e-6);
        assert!((p.utilization - 1.0).abs() < 1e-9);
        // Geometric with ratio 1/ρ = 0.8 down from K: L ≈ K − ρ⁻¹/(1 − ρ⁻¹) = K − 4.
        assert!(
            (p.in_system_mean - (100_000.0 - 4.0)).abs() < 1e-5,
            "{}",
            p.in_system_mean
        );
        assert!((p.p_wait - 1.0).abs() < 1e-9);
        // And an underloaded big one: a = 500, c = 600 → close to Erlang C.
        let p = mmck(500.0, 1000.0, 600, 100_000).expect("valid");
        let q = predict(500.0, 1000.0, 600, 1.0, 1.0);
        assert!(q.wait_ms_mean > 0.0);
        let rel = (p.wait_ms_mean - q.wait_ms_mean).abs() / q.wait_ms_mean;
        assert!(rel < 1e-9, "{} vs {}", p.wait_ms_mean, q.wait_ms_mean);
        assert!((p.utilization - 500.0 / 600.0).abs() < 1e-12);
    }

    #[test]
    fn invalid_inputs_are_none() {
        assert!(mmck(1.0, 100.0, 0, 10).is_none(), "no servers");
        assert!(mmck(1.0, 100.0, 3, 2).is_none(), "K < c");
        assert!(mmck(-1.0, 100.0, 1, 10).is_none());
        assert!(mmck(f64::NAN, 100.0, 1, 10).is_none());
        assert!(mmck(1.0, 0.0, 1, 10).is_none());
        assert!(mmck(1.0, f64::INFINITY, 1, 10).is_none());
        // λ = 0 is valid: empty, nothing refused, nobody waits.
        let p = mmck(0.0, 100.0, 2, 5).expect("valid");
        assert_eq!(
            (
                p.p_block,
                p.queue_length_mean,
                p.wait_ms_mean,
                p.utilization
            ),
            (0.0, 0.0, 0.0, 0.0)
        );
        // K = c: nobody ever waits (Erlang B loss system). c = 1, a = 1: p_K = 1/2.
        let p = mmck(10.0, 100.0, 1, 1).expect("valid");
        assert!((p.p_block - 0.5).abs() < 1e-15);
        assert_eq!(p.p_wait, 0.0);
    }
}
