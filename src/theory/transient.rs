//! The expected queue over time — through bursts, faults and worker changes — for a topic
//! modelled as a birth–death chain on n = 0…K messages in the system (waiting plus in service).
//!
//! ```text
//!  birth  n → n+1 at rate λ          (n < K; an arrival at K is refused)
//!  death  n → n−1 at rate μ·min(n, c)
//!  dpₙ/dt = λ pₙ₋₁ − (λ·[n<K] + μ·min(n, c)) pₙ + μ·min(n+1, c) pₙ₊₁   (Kolmogorov forward)
//! ```
//!
//! [`Chain::advance`] integrates these equations over a step with λ, c and μ held constant
//! (change them between steps to follow a traffic schedule or a fault) by **uniformization**:
//! with Λ ≥ λ + cμ and P = I + Q/Λ, p(t+h) = Σₖ e^{−Λh}(Λh)ᵏ/k! · p(t)Pᵏ, a sum of
//! non-negative terms, so there is no step-size instability and no negative probability.
//!
//! **An approximation of the simulated system**: the chain assumes Poisson arrivals and
//! exponential service. Retries, deterministic or heavy-tailed service and bursty arrivals
//! make the real depth differ; averaged over seeds the simulated depth should follow
//! [`Chain::expected_queue`] only as closely as those assumptions hold.
//!
//! Numerical error per step: the Poisson sum is cut when the remaining weight is below
//! 1e−12, and states whose probability falls below 1e−14 at the edges of the support are
//! dropped and the rest renormalised: each step sums to 1 (to rounding) and is within about
//! 1e−12 of the exact distribution.

/// The Poisson tail left out of the uniformization sum. Stricter than the customary 1e−9
/// because it costs only a few more terms per sub-step (≈ 90 instead of ≈ 80 at Λh = 40) and
/// keeps the result independent of how a period is split into steps to ~1e−12.
const POISSON_TAIL: f64 = 1e-12;

/// States at the edge of the support with less probability than this are dropped.
const NEGLIGIBLE: f64 = 1e-14;

/// The most Λh per sub-step. e^{−Λh} is the first Poisson weight and the others are built from
/// it by multiplication, so it must not underflow: e^{−40} ≈ 4e−18 is far from the ~1e−308 limit
/// while keeping sub-steps long (few of them) for fast chains.
const MAX_LAMBDA_H: f64 = 40.0;

/// A step that moves the distribution by less than this (L1 distance) under unchanged rates
/// means the chain sits at its stationary distribution to within rounding: later steps with
/// the same rates are skipped until a rate changes. The error this leaves is at most this
/// residual times the chain's relaxation time in steps — below 1e−6 of probability even for a
/// queue at ρ = 0.99 with one-second service.
const SETTLED: f64 = 1e-10;

/// The distribution of the number in the system, pₙ for n = 0..=K, of an M/M/c/K birth–death
/// chain, advanced through time by [`Chain::advance`].
///
/// Only the *active support* — the states between the lowest and highest carrying probability
/// above 1e−14 — is ever iterated over, so a step costs O(terms × support width), not O(K):
/// K may be 100 000 while the support is a few hundred states. Memory is three vectors of
/// K + 1 numbers.
#[derive(Debug, Clone)]
pub struct Chain {
    /// pₙ; zero outside `lo..=hi`.
    p: Vec<f64>,
    /// The active support.
    lo: usize,
    hi: usize,
    /// Scratch for the vectors p·Pᵏ; all zero between calls, so `advance` need not clear them
    /// beyond the support it touched.
    v: Vec<f64>,
    w: Vec<f64>,
    /// The rates of the last step, (λ, service ms, c), and whether stepping with them again
    /// leaves the distribution where it is.
    last_rates: Option<(f64, f64, u32)>,
    settled: bool,
}

impl Chain {
    /// An empty system (p₀ = 1) that holds at most `capacity` = K messages.
    pub fn new(capacity: u64) -> Chain {
        Chain::at(0, capacity)
    }

    /// A system known to hold exactly `n` messages (clamped to K = `capacity`), e.g. the
    /// measured depth when a prediction starts mid-run.
    pub fn at(n: u64, capacity: u64) -> Chain {
        // A K that does not fit in usize could not be allocated anyway.
        let k = usize::try_from(capacity).unwrap_or(usize::MAX);
        let n = usize::try_from(n.min(capacity)).unwrap_or(k);
        let mut p = vec![0.0; k + 1];
        p[n] = 1.0;
        Chain {
            p,
            lo: n,
            hi: n,
            v: vec![0.0; k + 1],
            w: vec![0.0; k + 1],
            last_rates: None,
            settled: false,
        }
    }

    /// K, the most messages the system holds.
    pub fn capacity(&self) -> u64 {
        (self.p.len() - 1) as u64
    }

    /// The distribution pₙ, n = 0..=K (zero outside [`Chain::support`]).
    pub fn distribution(&self) -> &[f64] {
        &self.p
    }

    /// The lowest and highest state currently carrying probability (the active support).
    pub fn support(&self) -> (u64, u64) {
        (self.lo as u64, self.hi as u64)
    }

    /// Advance the chain by `h_s` seconds with arrival rate `lambda` per second, mean service
    /// time `service_ms` and `servers` workers, all held constant over the step.
    ///
    /// `servers == 0` means nothing is served: pure arrivals, refused once K are held.
    /// `lambda == 0` means pure departures. `service_ms = ∞` means no service either. The
    /// chain is left unchanged when `h_s` is not a positive finite number, `lambda` is
    /// negative or not finite, or `service_ms` is not positive (instant service is not a
    /// chain that can be stepped).
    ///
    /// Cost: about Λh + 15√(Λh) vector steps over the support, Λ = λ + min(c, K)·μ — and
    /// nothing once the chain has settled at its stationary distribution under these rates
    /// (a step moved it by less than 1e−10), until a rate changes.
    pub fn advance(&mut self, lambda: f64, service_ms: f64, servers: u32, h_s: f64) {
        let valid =
            h_s.is_finite() && h_s > 0.0 && lambda.is_finite() && lambda >= 0.0 && service_ms > 0.0; // false for NaN too
        if !valid {
            return;
        }
        let rates = (lambda, service_ms, servers);
        let same_rates = self.last_rates == Some(rates);
        if same_rates && self.settled {
            return;
        }
        self.last_rates = Some(rates);
        // Under repeated rates, keep the distribution before the step to see whether it moved.
        let before = same_rates.then(|| (self.lo, self.p[self.lo..=self.hi].to_vec()));
        self.step(lambda, service_ms, servers, h_s);
        self.settled = before.is_some_and(|(lo, p)| self.moved_since(lo, &p) < SETTLED);
    }

    /// L1 distance between the distribution now and `p`, a distribution on `lo..lo + p.len()`.
    fn moved_since(&self, lo: usize, p: &[f64]) -> f64 {
        let hi = lo + p.len() - 1;
        let (from, to) = (lo.min(self.lo), hi.max(self.hi));
        (from..=to)
            .map(|n| {
                let old = if (lo..=hi).contains(&n) {
                    p[n - lo]
                } else {
                    0.0
                };
                (self.p[n] - old).abs()
            })
            .sum()
    }

    /// [`Chain::advance`] without the settled check.
    fn step(&mut self, lambda: f64, service_ms: f64, servers: u32, h_s: f64) {
        let k = self.p.len() - 1;
        let mu = 1000.0 / service_ms; // 0 for service_ms = ∞
        let c = usize::try_from(servers).unwrap_or(usize::MAX).min(k);
        // The largest total outflow of any state; no state leaves faster than this.
        let big_lambda = lambda + c as f64 * mu;
        if big_lambda <= 0.0 || !big_lambda.is_finite() {
            return;
        }
        let total = big_lambda * h_s;
        let sub_steps = (total / MAX_LAMBDA_H).ceil().max(1.0);
        let x = total / sub_steps;
        let rates = Rates {
            birth: lambda / big_lambda,
            death: mu / big_lambda,
            c,
            k,
        };
        // `sub_steps` is at least 1 and finite here; the cast saturates for absurd inputs.
        for _ in 0..(sub_steps as u64) {
            self.sub_step(&rates, x);
        }
    }

    /// One uniformization sum over Λh = `x` ≤ [`MAX_LAMBDA_H`].
    fn sub_step(&mut self, r: &Rates, x: f64) {
        let (mut lo, mut hi) = (self.lo, self.hi);
        // v ← p (the k = 0 term); p becomes the accumulator of Σ weightₖ · p Pᵏ.
        for n in lo..=hi {
            self.v[n] = self.p[n];
            self.p[n] = 0.0;
        }
        let mut weight = (-x).exp();
        let mut cumulative = weight;
        for n in lo..=hi {
            self.p[n] += weight * self.v[n];
        }
        // A safety stop far beyond where the tail falls below POISSON_TAIL (mean + ~7 sd).
        let max_terms = (x + 15.0 * x.sqrt() + 30.0).ceil() as u64;
        let mut term = 0u64;
        while 1.0 - cumulative >= POISSON_TAIL && term < max_terms {
            term += 1;
            // One step of the uniformized chain widens the support by one state each way.
            let (nlo, nhi) = (lo.saturating_sub(1), (hi + 1).min(r.k));
            // w held an older vector whose support lies inside nlo..=nhi (supports only grow
            // within a sub-step), so writing the whole range overwrites all of it.
            r.apply(&self.v, &mut self.w, nlo, nhi);
            std::mem::swap(&mut self.v, &mut self.w);
            (lo, hi) = (nlo, nhi);
            weight *= x / term as f64;
            cumulative += weight;
            for n in lo..=hi {
                self.p[n] += weight * self.v[n];
            }
        }
        // Restore the all-zero scratch invariant.
        for n in lo..=hi {
            self.v[n] = 0.0;
            self.w[n] = 0.0;
        }
        // Trim negligible edges, then renormalise away their mass and the Poisson tail.
        while lo < hi && self.p[lo] < NEGLIGIBLE {
            self.p[lo] = 0.0;
            lo += 1;
        }
        while hi > lo && self.p[hi] < NEGLIGIBLE {
            self.p[hi] = 0.0;
            hi -= 1;
        }
        let sum: f64 = self.p[lo..=hi].iter().sum();
        if sum > 0.0 {
            for q in &mut self.p[lo..=hi] {
                *q /= sum;
            }
        }
        (self.lo, self.hi) = (lo, hi);
    }

    /// Expected number waiting, `E[Q] = Σ (n − c)⁺ pₙ`, for `servers` = c workers.
    pub fn expected_queue(&self, servers: u32) -> f64 {
        let c = usize::try_from(servers).unwrap_or(usize::MAX);
        self.sum_over_support(|n| n.saturating_sub(c) as f64)
    }

    /// Expected number in service, Σ min(n, c) pₙ, for `servers` = c workers.
    pub fn expected_in_service(&self, servers: u32) -> f64 {
        let c = usize::try_from(servers).unwrap_or(usize::MAX);
        self.sum_over_support(|n| n.min(c) as f64)
    }

    /// Expected number in the system, `E[N] = Σ n pₙ`.
    pub fn expected_in_system(&self) -> f64 {
        self.sum_over_support(|n| n as f64)
    }

    /// Probability the system is full, p_K: the fraction of arrivals refused right now.
    pub fn p_full(&self) -> f64 {
        self.p[self.p.len() - 1]
    }

    fn sum_over_support(&self, f: impl Fn(usize) -> f64) -> f64 {
        (self.lo..=self.hi).map(|n| f(n) * self.p[n]).sum()
    }
}

/// Transition probabilities of the uniformized chain, per unit of Λ.
struct Rates {
    /// λ / Λ.
    birth: f64,
    /// μ / Λ.
    death: f64,
    /// Live servers, at most K.
    c: usize,
    /// Capacity K.
    k: usize,
}

impl Rates {
    fn birth_from(&self, n: usize) -> f64 {
        if n < self.k { self.birth } else { 0.0 }
    }

    fn death_from(&self, n: usize) -> f64 {
        n.min(self.c) as f64 * self.death
    }

    /// `w[n] = (v P)[n]` for n in `from..=to`: one step of the uniformized chain,
    /// `v[n]·stay(n) + v[n−1]·birth(n−1) + v[n+1]·death(n+1)`.
    ///
    /// Every state from c to K − 1 has the same three coefficients, and that run is most of
    /// the support for any queue worth forecasting, so it is a plain three-point stencil over
    /// slices, without the per-state branches and bounds checks (the compiler vectorises it).
    /// The edges go through [`Rates::cell`]. Both compute the same products in the same order,
    /// so the result is bit-identical either way.
    fn apply(&self, v: &[f64], w: &mut [f64], from: usize, to: usize) {
        // The run of states with constant coefficients: n ≥ c, n ≥ 1 and n + 1 ≤ K.
        let start = from.max(self.c).max(1);
        let end = to.min(self.k.saturating_sub(1));
        if start > end {
            self.cells(v, w, from, to + 1);
            return;
        }
        self.cells(v, w, from, start);
        let stay = (1.0 - self.birth - self.death_from(start)).max(0.0);
        let (birth, death) = (self.birth, self.death_from(start + 1));
        let below = &v[start - 1..end];
        let here = &v[start..=end];
        let above = &v[start + 1..=end + 1];
        for (((out, &at), &lower), &upper) in
            w[start..=end].iter_mut().zip(here).zip(below).zip(above)
        {
            *out = at * stay + lower * birth + upper * death;
        }
        self.cells(v, w, end + 1, to + 1);
    }

    /// [`Rates::cell`] for each n in `from..until`.
    fn cells(&self, v: &[f64], w: &mut [f64], from: usize, until: usize) {
        for (n, out) in w.iter_mut().enumerate().take(until).skip(from) {
            *out = self.cell(v, n);
        }
    }

    /// One state of [`Rates::apply`], with every case spelled out.
    fn cell(&self, v: &[f64], n: usize) -> f64 {
        let stay = (1.0 - self.birth_from(n) - self.death_from(n)).max(0.0);
        let mut value = v[n] * stay;
        if n > 0 {
            value += v[n - 1] * self.birth_from(n - 1);
        }
        if n < self.k {
            value += v[n + 1] * self.death_from(n + 1);
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theory::{mmck, predict};

    fn total(chain: &Chain) -> f64 {
        chain.distribution().iter().sum()
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    #[test]
    fn probabilities_sum_to_one() {
        let mut chain = Chain::new(50);
        assert_eq!(total(&chain), 1.0);
        // Overloaded, then servers lost, then recovery: every step keeps a distribution.
        for (lambda, servers) in [(30.0, 2), (30.0, 0), (5.0, 3), (0.0, 1)] {
            chain.advance(lambda, 100.0, servers, 1.5);
            assert!((total(&chain) - 1.0).abs() < 1e-9, "{}", total(&chain));
            assert!(chain.distribution().iter().all(|&q| q >= 0.0));
        }
    }

    #[test]
    fn infinite_server_mean_follows_closed_form() {
        // M/M/∞ (servers ≥ K, K far above the load): from empty, E[N(t)] = (λ/μ)(1 − e^{−μt}).
        // λ = 50/s, μ = 2/s (500 ms): a = 25; P(N > 200) is negligible.
        let (lambda, mu) = (50.0, 2.0);
        let mut chain = Chain::new(200);
        let mut t = 0.0;
        for h in [0.1, 0.15, 0.75, 2.0] {
            chain.advance(lambda, 500.0, 200, h);
            t += h;
            let expected = lambda / mu * (1.0 - f64::exp(-mu * t));
            assert!(
                rel(chain.expected_in_system(), expected) < 1e-6,
                "t = {t}: {} vs {expected}",
                chain.expected_in_system()
            );
        }
    }

    #[test]
    fn pure_death_from_known_state() {
        // One message, one server, no arrivals: P(still there at t) = e^{−μt}.
        let mut chain = Chain::at(1, 10);
        chain.advance(0.0, 1000.0, 1, 0.7);
        assert!(rel(chain.expected_in_system(), f64::exp(-0.7)) < 1e-9);
        // at() clamps to K.
        assert_eq!(Chain::at(99, 10).expected_in_system(), 10.0);
        assert_eq!(Chain::at(99, 10).p_full(), 1.0);
    }

    #[test]
    fn long_run_converges_to_erlang_c() {
        // c = 2, λ = 1.6/s, 1 s service (ρ = 0.8). Slowest relaxation ≈ 1/(cμ(1 − √ρ)²) ≈ 45 s,
        // so 2000 s leaves e^{−44} of the start; K = 2000 makes the refusals ~0.8^2000.
        let mut chain = Chain::new(2000);
        for _ in 0..20 {
            chain.advance(1.6, 1000.0, 2, 100.0);
        }
        let lq = predict(1.6, 1000.0, 2, 1.0, 1.0).queue_length_mean;
        assert!(
            rel(chain.expected_queue(2), lq) < 1e-6,
            "{} vs {lq}",
            chain.expected_queue(2)
        );
        assert!(rel(chain.expected_in_service(2), 1.6) < 1e-6);
        assert!(
            chain.support().1 < 400,
            "support stays narrow: {:?}",
            chain.support()
        );
    }

    #[test]
    fn long_run_converges_to_mmck() {
        // Small K, both under- and overloaded (ρ = 1.5 and ρ = 1.5 with one server).
        for (lambda, service_ms, servers, k) in [(3.0, 1000.0, 2, 5), (15.0, 100.0, 1, 50)] {
            let mut chain = Chain::new(k);
            chain.advance(lambda, service_ms, servers, 300.0);
            let exact = mmck(lambda, service_ms, servers, k).expect("valid");
            assert!((chain.expected_queue(servers) - exact.queue_length_mean).abs() < 1e-9);
            assert!((chain.expected_in_system() - exact.in_system_mean).abs() < 1e-9);
            assert!((chain.p_full() - exact.p_block).abs() < 1e-9);
        }
    }

    #[test]
    fn a_settled_chain_stops_stepping_until_a_rate_changes() {
        // M/M/2 at ρ = 0.9 (K large): one-second steps until it settles at Erlang C's mean.
        let (lambda, service_ms) = (18.0, 100.0);
        let mut chain = Chain::new(100_000);
        let mut seconds = 0;
        while !chain.settled {
            chain.advance(lambda, service_ms, 2, 1.0);
            seconds += 1;
            assert!(seconds < 2_000, "settles within minutes");
        }
        let exact = predict(lambda, service_ms, 2, 1.0, 1.0).queue_length_mean;
        assert!(
            rel(chain.expected_queue(2), exact) < 1e-6,
            "settled at the stationary mean"
        );
        // Settled: another step under the same rates leaves every probability where it is.
        let frozen = chain.distribution().to_vec();
        chain.advance(lambda, service_ms, 2, 5.0);
        assert_eq!(chain.distribution(), frozen.as_slice());
        // A worker lost: the chain moves again, towards overload.
        chain.advance(lambda, service_ms, 1, 1.0);
        assert!(!chain.settled);
        assert!(chain.expected_queue(1) > exact + 5.0);
    }

    #[test]
    fn no_servers_is_pure_birth() {
        // c = 0: arrivals only. Far from K, N(t) is Poisson(λt), E = λt.
        let mut chain = Chain::new(100_000);
        for _ in 0..10 {
            chain.advance(100.0, 50.0, 0, 1.0);
        }
        assert!(rel(chain.expected_in_system(), 1000.0) < 1e-9);
        assert_eq!(chain.expected_queue(0), chain.expected_in_system());
        assert_eq!(chain.p_full(), 0.0);
        // Near K the refusals cap it: K = 3, λ = 1, t = 2 → E[min(Poisson(2), 3)].
        let mut chain = Chain::new(3);
        chain.advance(1.0, 100.0, 0, 2.0);
        let e2 = f64::exp(-2.0);
        let (p0, p1, p2) = (e2, 2.0 * e2, 2.0 * e2);
        let p3 = 1.0 - p0 - p1 - p2;
        assert!((chain.expected_in_system() - (p1 + 2.0 * p2 + 3.0 * p3)).abs() < 1e-11);
        assert!((chain.p_full() - p3).abs() < 1e-11);
    }

    #[test]
    fn one_step_equals_two_half_steps() {
        // ρ = 1.5 from a known state; Λh = 100 vs 2 × 50 splits the sub-steps differently.
        let mut one = Chain::at(20, 500);
        let mut two = Chain::at(20, 500);
        one.advance(30.0, 100.0, 2, 2.0);
        two.advance(30.0, 100.0, 2, 1.0);
        two.advance(30.0, 100.0, 2, 1.0);
        let diff = one
            .distribution()
            .iter()
            .zip(two.distribution())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(diff < 1e-9, "{diff}");
        assert!((one.expected_queue(2) - two.expected_queue(2)).abs() < 1e-9);
    }

    #[test]
    fn the_stencil_is_bit_identical_to_stepping_state_by_state() {
        // Every kind of edge: no servers, servers beyond K, supports touching 0 and K.
        for (c, k) in [
            (0, 9),
            (1, 9),
            (3, 9),
            (9, 9),
            (12, 9),
            (4, 1),
            (0, 1),
            (2, 40),
        ] {
            let rates = Rates {
                birth: 0.37,
                death: 0.61 / c.max(1) as f64,
                c,
                k,
            };
            let v: Vec<f64> = (0..=k).map(|n| ((n * 7 + 3) % 11) as f64 / 13.0).collect();
            for from in 0..=k {
                for to in from..=k {
                    let mut fast = vec![0.0; k + 1];
                    rates.apply(&v, &mut fast, from, to);
                    let slow: Vec<f64> = (0..=k)
                        .map(|n| {
                            if (from..=to).contains(&n) {
                                rates.cell(&v, n)
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    let same = fast
                        .iter()
                        .zip(&slow)
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "c {c}, K {k}, {from}..={to}: {fast:?} vs {slow:?}");
                }
            }
        }
    }

    #[test]
    fn big_capacity_stays_fast_and_sane() {
        // K = 100 000, a = 500, c = 400 (ρ = 1.25) for 10 s from empty.
        let mut chain = Chain::new(100_000);
        for _ in 0..10 {
            chain.advance(500.0, 1000.0, 400, 1.0);
        }
        let n = chain.expected_in_system();
        assert!(n.is_finite() && (total(&chain) - 1.0).abs() < 1e-9);
        // More than with infinitely many servers, fewer than every arrival.
        assert!(n > 500.0 * (1.0 - f64::exp(-10.0)) && n < 5000.0, "{n}");
        let (lo, hi) = chain.support();
        assert!(hi - lo < 2000, "support {lo}..={hi}");
    }

    #[test]
    fn invalid_steps_change_nothing() {
        let mut chain = Chain::at(3, 10);
        chain.advance(f64::NAN, 100.0, 1, 1.0);
        chain.advance(1.0, 0.0, 1, 1.0);
        chain.advance(1.0, 100.0, 1, -1.0);
        chain.advance(0.0, f64::INFINITY, 1, 1.0); // nothing moves at all
        assert_eq!(chain.expected_in_system(), 3.0);
        assert_eq!(chain.capacity(), 10);
    }
}
