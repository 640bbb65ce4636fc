//! Numbers for people: durations with about three significant figures and counts with their
//! noun, the same in the terminal UI, the headless reports and the log lines.
//!
//! One rule for every duration, so `13.007 ms` in one place and `13.0 ms` in another cannot
//! both appear:
//!
//! ```text
//!   0.0042 ms → <0.01 ms    0.42 ms → 0.42 ms     4.7 ms → 4.70 ms
//!   47.608 ms → 47.6 ms     476.2 ms → 476 ms     4763 ms → 4.76 s
//! ```
//!
//! Measured durations come in whole microseconds ([`us`]): below a millisecond they show as
//! such (`49 µs`), past it on the same rule.
//!
//! Machine output (`--json`) never goes through here: it keeps the raw numbers.

/// A duration given in milliseconds, for people: `0.42 ms`, `4.70 ms`, `47.6 ms`, `476 ms`,
/// `4.76 s`, `1200 s`; `0 ms` for zero, `<0.01 ms` for less, `∞` when not finite.
pub fn ms(value: f64) -> String {
    if !value.is_finite() {
        return "∞".to_string();
    }
    if value < 0.0 {
        return format!("-{}", ms(-value));
    }
    if value == 0.0 {
        return "0 ms".to_string();
    }
    // Each unit takes over where the one below would need a fourth digit after rounding.
    if value >= 999.5 {
        format!("{} s", three_figures(value / 1000.0))
    } else if value >= 0.005 {
        // Below 1 ms two decimals are kept (0.42 ms, 0.05 ms): stage latencies live there
        // and a learner compares them with the millisecond ones beside them.
        format!("{} ms", three_figures(value))
    } else {
        // Modelled times are not that precise (wait histograms floor at 1 µs): say "less".
        "<0.01 ms".to_string()
    }
}

/// A duration given in whole microseconds, on the same rule as [`ms`]: `49 µs`, `47.6 ms`.
pub fn us(value: u64) -> String {
    if value < 1000 {
        // Whole microseconds are exact: no decimals to invent.
        format!("{value} µs")
    } else {
        ms(value as f64 / 1000.0)
    }
}

/// `value` (≥ 0) with three significant figures, at most two decimals and never in exponent
/// form: `4.20`, `47.6`, `476`, `1200`.
fn three_figures(value: f64) -> String {
    // The thresholds sit where rounding would carry into the next decade (9.996 → "10.0").
    if value >= 99.95 {
        format!("{value:.0}")
    } else if value >= 9.995 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// A plain figure for people, as a condition shows it: whole numbers without decimals (`137`),
/// others to at most three decimals without trailing zeros (`0.3`, `0.853`); `∞` when not finite.
pub fn figure(value: f64) -> String {
    if !value.is_finite() {
        return "∞".to_string();
    }
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{value:.0}");
    }
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" || text.is_empty() {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// `n` and its noun, singular for one: `1 error`, `41 errors`, `0 errors`. For nouns whose
/// plural is not `+s`, use [`count_as`].
pub fn count(n: u64, singular: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {singular}s")
    }
}

/// `n` and its noun, with the plural given: `1 query`, `2 queries`.
pub fn count_as(n: u64, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_drop_what_adds_nothing() {
        assert_eq!(figure(137.0), "137");
        assert_eq!(figure(0.3), "0.3");
        assert_eq!(figure(0.85349), "0.853");
        assert_eq!(figure(-0.0001), "0");
        assert_eq!(figure(f64::INFINITY), "∞");
    }

    #[test]
    fn durations_keep_about_three_significant_figures() {
        assert_eq!(ms(0.0042), "<0.01 ms");
        assert_eq!(ms(0.05), "0.05 ms");
        assert_eq!(ms(0.42), "0.42 ms");
        assert_eq!(ms(4.7), "4.70 ms");
        assert_eq!(ms(13.007), "13.0 ms");
        assert_eq!(ms(47.608), "47.6 ms");
        assert_eq!(ms(476.2), "476 ms");
        assert_eq!(ms(4763.0), "4.76 s");
        assert_eq!(ms(47_630.0), "47.6 s");
        assert_eq!(ms(1_200_000.0), "1200 s");
    }

    #[test]
    fn rounding_never_shows_a_fourth_figure_or_the_wrong_unit() {
        assert_eq!(ms(9.996), "10.0 ms");
        assert_eq!(ms(99.96), "100 ms");
        assert_eq!(ms(999.7), "1.00 s");
        assert_eq!(ms(0.0099), "0.01 ms");
        assert_eq!(ms(0.001), "<0.01 ms");
    }

    #[test]
    fn edge_values() {
        assert_eq!(ms(0.0), "0 ms");
        assert_eq!(ms(f64::INFINITY), "∞");
        assert_eq!(ms(f64::NAN), "∞");
        assert_eq!(ms(-2.5), "-2.50 ms");
    }

    #[test]
    fn microseconds_read_like_milliseconds_once_past_one() {
        assert_eq!(us(0), "0 µs");
        assert_eq!(us(49), "49 µs");
        assert_eq!(us(47_608), "47.6 ms");
        assert_eq!(us(1_500_000), "1.50 s");
    }

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(1, "error"), "1 error");
        assert_eq!(count(41, "error"), "41 errors");
        assert_eq!(count(0, "error"), "0 errors");
        assert_eq!(count_as(1, "query", "queries"), "1 query");
        assert_eq!(count_as(3, "query", "queries"), "3 queries");
    }
}
