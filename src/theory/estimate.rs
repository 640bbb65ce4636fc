//! Honest estimates from one run: where the warm-up ends (MSER-5), a confidence interval for
//! a mean from autocorrelated output (batch means), and how long a run a target precision
//! needs.
//!
//! Every series here is a list of per-period `(sum, count)` pairs — e.g. per engine second,
//! the sum of the waits completed in that second (ms) and how many there were — so that a
//! batch's mean is a *ratio estimator* Σsum / Σcount: each observation weighs the same no
//! matter which second it fell in, and a quiet second (count 0) adds nothing rather than a
//! spurious zero.

/// The number of leading samples to discard as warm-up, by the MSER-5 rule.
///
/// The samples are grouped into consecutive batches of 5 (a trailing partial batch is
/// ignored); each batch's value is Σsum / Σcount, and batches with no observations (count 0)
/// or a non-finite ratio are left out. With X₁…Xₙ the remaining batch values and X̄_d the mean
/// of X_{d+1}…Xₙ,
///
/// ```text
///  MSER(d) = Σ_{i>d} (Xᵢ − X̄_d)² / (n − d)²,   d = 0, 1, …, ⌊n/2⌋
/// ```
///
/// and d* is the smallest minimiser (ties keep more data). Truncating the biased start lowers
/// the spread faster than the shrinking denominator raises it; once the rest is stationary,
/// dropping more only loses data. The restriction d ≤ n/2 stops the rule from chasing noise in
/// a short tail. The result is the number of *samples* to drop: through the end of the d*-th
/// kept batch, i.e. a multiple of 5 (0 when d* = 0 or there are fewer than two batches).
pub fn mser5(samples: &[(f64, f64)]) -> usize {
    // (value, index of the batch in the original sequence)
    let batches: Vec<(f64, usize)> = samples
        .chunks_exact(5)
        .enumerate()
        .filter_map(|(i, chunk)| ratio(chunk).map(|x| (x, i)))
        .collect();
    let n = batches.len();
    if n < 2 {
        return 0;
    }
    // Welford's update from the end backwards gives the spread of every suffix X_{d+1}…Xₙ in
    // one pass, without the cancellation of Σx² − (Σx)²/m when the values are large and close.
    let mut mean = 0.0;
    let mut m2 = 0.0;
    let mut mser = vec![0.0; n];
    for (count, i) in (0..n).rev().enumerate() {
        let x = batches[i].0;
        let m = (count + 1) as f64;
        let delta = x - mean;
        mean += delta / m;
        m2 += delta * (x - mean);
        mser[i] = m2 / (m * m);
    }
    let mut best = 0;
    for d in 1..=n / 2 {
        if mser[d] < mser[best] {
            best = d;
        }
    }
    if best == 0 {
        0
    } else {
        // Drop through the last truncated batch (empty batches before it go too).
        5 * (batches[best - 1].1 + 1)
    }
}

/// Σsum / Σcount over `chunk`, or `None` when there is nothing to average.
fn ratio(chunk: &[(f64, f64)]) -> Option<f64> {
    let (sum, count) = chunk
        .iter()
        .fold((0.0, 0.0), |(s, c), &(x, k)| (s + x, c + k));
    let r = sum / count;
    (count > 0.0 && r.is_finite()).then_some(r)
}

/// A confidence interval `mean ± half_width` at 95%, from [`batch_means`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// The point estimate.
    pub mean: f64,
    /// Half the width of the 95% interval.
    pub half_width: f64,
    /// How many batch means it rests on (the degrees of freedom are one fewer).
    pub batches: usize,
}

impl Interval {
    /// half_width / |mean|: 0.05 means "within ±5%". Infinite when the mean is 0 and the width
    /// is not (0 when both are).
    pub fn relative_half_width(&self) -> f64 {
        if self.half_width == 0.0 {
            0.0
        } else {
            self.half_width / self.mean.abs()
        }
    }

    /// Whether `x` lies within the interval (ends included).
    pub fn contains(&self, x: f64) -> bool {
        (x - self.mean).abs() <= self.half_width
    }
}

/// A 95% confidence interval for the mean of a stationary series of `(sum, count)` samples
/// (after the warm-up has been cut, e.g. with [`mser5`]), by non-overlapping batch means.
///
/// The samples are split into `batches` consecutive groups of equal length; the remainder is
/// dropped from the *start*, since the start is where leftover warm-up bias would be. Each
/// batch mean Yⱼ is Σsum/Σcount over its group; groups with no observations are left out. The
/// point estimate is Σsum/Σcount over the kept groups, and
///
/// ```text
///  half-width = t_{k−1, 0.975} · s_Y / √k     (k usable batches, s_Y their sample std. dev.)
/// ```
///
/// Batches long enough to be nearly independent make this honest; with strongly correlated
/// output (ρ → 1) and short batches it is too narrow. 20–30 batches is the usual choice.
/// `None` when fewer than 2 batches are usable.
pub fn batch_means(samples: &[(f64, f64)], batches: usize) -> Option<Interval> {
    if batches < 2 {
        return None;
    }
    let size = samples.len() / batches;
    if size == 0 {
        return None;
    }
    let kept = &samples[samples.len() % batches..];
    let mut means = Vec::with_capacity(batches);
    let (mut sum, mut count) = (0.0, 0.0);
    for chunk in kept.chunks_exact(size) {
        if let Some(y) = ratio(chunk) {
            means.push(y);
            for &(s, c) in chunk {
                sum += s;
                count += c;
            }
        }
    }
    let k = means.len();
    if k < 2 {
        return None;
    }
    let kf = k as f64;
    let y_bar = means.iter().sum::<f64>() / kf;
    let var = means.iter().map(|y| (y - y_bar).powi(2)).sum::<f64>() / (kf - 1.0);
    Some(Interval {
        mean: sum / count,
        half_width: student_t_975(k - 1) * (var / kf).sqrt(),
        batches: k,
    })
}

/// Two-sided 95% quantiles t_{df, 0.975} for df = 1..=30.
const T_975: [f64; 30] = [
    12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157,
    2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922,
    2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831,
    2.048407, 2.045230, 2.042272,
];

/// The 0.975 quantile of Student's t with `df` degrees of freedom (the multiplier of a
/// two-sided 95% interval): a table for df ≤ 30, the Cornish–Fisher expansion in 1/df beyond
/// (within 3e−8 of the exact value there), tending to 1.959964 as df → ∞. Infinite for df = 0.
pub fn student_t_975(df: usize) -> f64 {
    match df {
        0 => f64::INFINITY,
        1..=30 => T_975[df - 1],
        _ => {
            // Cornish–Fisher: t ≈ z + g₁/ν + g₂/ν² + g₃/ν³ + g₄/ν⁴ with z the normal quantile
            // (Abramowitz & Stegun 26.7.5).
            let z: f64 = 1.959_963_984_540_054;
            let v = df as f64;
            let (z3, z5, z7, z9) = (z.powi(3), z.powi(5), z.powi(7), z.powi(9));
            let g1 = (z3 + z) / 4.0;
            let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
            let g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
            let g4 = (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / 92160.0;
            z + g1 / v + g2 / v.powi(2) + g3 / v.powi(3) + g4 / v.powi(4)
        }
    }
}

/// An estimate of the run length (same unit as `current_length_s`) needed to bring the
/// interval's relative half-width from `relative_half_width` down to `target` (e.g. 0.05):
/// length × (rhw / target)².
///
/// It assumes the half-width shrinks as 1/√length, which holds once batches are long enough to
/// be nearly independent; near ρ → 1 the first estimate is often too low, so re-estimate as the
/// run grows. A result at or below the current length means the target is already met.
/// Infinite for a non-positive `target` or a non-finite half-width.
pub fn length_for_precision(current_length_s: f64, relative_half_width: f64, target: f64) -> f64 {
    if target.is_nan() || target <= 0.0 || !relative_half_width.is_finite() {
        return f64::INFINITY;
    }
    current_length_s * (relative_half_width / target).powi(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed 64-bit LCG (Knuth's MMIX constants) → uniform [0, 1); no dependency, same
    /// numbers on every platform.
    fn uniform(seed: u64) -> impl Iterator<Item = f64> {
        let mut s = seed;
        std::iter::repeat_with(move || {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        })
    }

    fn ones(values: &[f64]) -> Vec<(f64, f64)> {
        values.iter().map(|&x| (x, 1.0)).collect()
    }

    #[test]
    fn batch_means_hand_computed() {
        // 7 samples, 3 batches: the first is dropped, then [2,3], [4,5], [6,7] → 2.5, 4.5, 6.5.
        // Mean 4.5, s_Y = 2, half-width = t₂ · 2/√3 = 4.302653 × 1.1547005 = 4.9682.
        let iv = batch_means(&ones(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]), 3).expect("3 batches");
        assert_eq!(iv.batches, 3);
        assert!((iv.mean - 4.5).abs() < 1e-15);
        assert!((iv.half_width - 4.302653 * 2.0 / 3f64.sqrt()).abs() < 1e-12);
        assert!((iv.half_width - 4.968).abs() < 1e-3);
        assert!(iv.contains(0.0) && !iv.contains(9.5));
        assert!((iv.relative_half_width() - iv.half_width / 4.5).abs() < 1e-15);
    }

    #[test]
    fn batch_means_is_a_ratio_estimator() {
        // Batch 1: (10 + 0)/(2 + 0) = 5; batch 2: (6 + 8)/(3 + 2) = 2.8. The point estimate
        // weighs every observation alike: 24/7, not (5 + 2.8)/2. Half-width = t₁ · |5 − 2.8|/2.
        let samples = [(10.0, 2.0), (0.0, 0.0), (6.0, 3.0), (8.0, 2.0)];
        let iv = batch_means(&samples, 2).expect("2 batches");
        assert!((iv.mean - 24.0 / 7.0).abs() < 1e-15);
        assert!((iv.half_width - 12.706205 * 1.1).abs() < 1e-12);
        // A batch with no observations is not a batch mean.
        let samples = [
            (0.0, 0.0),
            (0.0, 0.0),
            (6.0, 3.0),
            (8.0, 2.0),
            (1.0, 1.0),
            (3.0, 1.0),
        ];
        let iv = batch_means(&samples, 3).expect("2 usable");
        assert_eq!(iv.batches, 2);
        assert!((iv.mean - 18.0 / 7.0).abs() < 1e-15);
        assert!(batch_means(&samples[..4], 2).is_none(), "one usable batch");
        assert!(batch_means(&samples, 1).is_none());
        assert!(
            batch_means(&samples, 7).is_none(),
            "more batches than samples"
        );
    }

    #[test]
    fn batch_means_covers_iid_mean() {
        // iid uniform[0, 1): mean 1/2; 20 batches of 500 → s_Y ≈ √(1/12/500) ≈ 0.0129.
        let values: Vec<f64> = uniform(7).take(10_000).collect();
        let iv = batch_means(&ones(&values), 20).expect("20 batches");
        assert!(iv.contains(0.5), "{iv:?}");
        assert!(iv.half_width > 0.005 && iv.half_width < 0.05, "{iv:?}");
    }

    #[test]
    fn mser5_drops_an_obvious_transient() {
        // 50 samples at 100 (10 batches), then 1000 around 10.
        let mut values = vec![100.0; 50];
        values.extend(uniform(42).take(1000).map(|u| 10.0 + 10.0 * (u - 0.5)));
        let drop = mser5(&ones(&values));
        assert!((50..=75).contains(&drop), "{drop}");
        assert_eq!(drop % 5, 0);
    }

    #[test]
    fn mser5_keeps_a_stationary_series() {
        assert_eq!(mser5(&ones(&[7.0; 500])), 0, "constant");
        // iid noise: dropping helps only when the first batch happens to be an outlier, so the
        // rule returns 0 for most seeds and never much.
        let mut zeros = 0;
        for seed in 0..10 {
            let values: Vec<f64> = uniform(seed).take(1000).map(|u| 10.0 + 10.0 * u).collect();
            let drop = mser5(&ones(&values));
            assert!(drop <= 100, "seed {seed}: {drop}");
            zeros += usize::from(drop == 0);
        }
        assert!(zeros >= 8, "{zeros} of 10");
        assert_eq!(mser5(&ones(&[1.0; 9])), 0, "one batch");
        assert_eq!(mser5(&[]), 0);
    }

    #[test]
    fn mser5_skips_empty_batches() {
        // 10 empty samples, 25 at 100, then 500 at 10: the transient ends after sample 35.
        let mut samples = vec![(0.0, 0.0); 10];
        samples.extend(ones(&[100.0; 25]));
        samples.extend(ones(&[10.0; 500]));
        assert_eq!(mser5(&samples), 35);
    }

    #[test]
    fn student_t_known_values() {
        assert!((student_t_975(1) - 12.706).abs() < 1e-3);
        assert!((student_t_975(10) - 2.228).abs() < 1e-3);
        assert!((student_t_975(29) - 2.045).abs() < 1e-3);
        // Beyond the table (exact values from the t distribution): 31 → 2.0395134,
        // 60 → 2.0002978, 120 → 1.9799304.
        assert!((student_t_975(31) - 2.039_513_4).abs() < 1e-6);
        assert!((student_t_975(60) - 2.000_297_8).abs() < 1e-6);
        assert!((student_t_975(120) - 1.979_930_4).abs() < 1e-6);
        assert!((student_t_975(1_000_000) - 1.96).abs() < 1e-4);
        assert!(student_t_975(0).is_infinite());
        // Decreasing throughout.
        assert!((1..200).all(|df| student_t_975(df + 1) < student_t_975(df)));
    }

    #[test]
    fn length_for_precision_scales_with_the_square() {
        // ±10% after 600 s; ±5% needs four times as long.
        assert!((length_for_precision(600.0, 0.10, 0.05) - 2400.0).abs() < 1e-9);
        assert!((length_for_precision(600.0, 0.025, 0.05) - 150.0).abs() < 1e-9);
        assert!(length_for_precision(600.0, 0.1, 0.0).is_infinite());
        assert!(length_for_precision(600.0, f64::INFINITY, 0.05).is_infinite());
    }
}
