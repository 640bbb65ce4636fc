//! Interleaved A/B timing: each side runs for a short slice in turn, several rounds, and each
//! side's median rate is kept.

use std::time::{Duration, Instant};

/// Operations per second of one side, the median over its rounds.
pub type Rate = f64;

/// Runs `a` and `b` alternately for `rounds` rounds of `slice` each, and returns each side's
/// median rate. Each call of a side does some operations and returns how many.
pub fn interleaved(
    rounds: usize,
    slice: Duration,
    mut a: impl FnMut() -> u64,
    mut b: impl FnMut() -> u64,
) -> (Rate, Rate) {
    // One untimed call each: caches, allocator pools and lazy statics are warm before timing.
    a();
    b();
    let mut rates_a = Vec::with_capacity(rounds);
    let mut rates_b = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        rates_a.push(for_slice(slice, &mut a));
        rates_b.push(for_slice(slice, &mut b));
    }
    (median(&mut rates_a), median(&mut rates_b))
}

/// Operations per second while calling `side` repeatedly for about `slice`.
///
/// The clock is read once per chunk of calls, not once per call: a side as cheap as a channel's
/// send and receive (tens of nanoseconds) would otherwise pay for a clock read each time, and
/// the same added cost on both sides flatters the ratio of the dearer one. A chunk doubles until
/// it lasts at least [`CHUNK`], so a side that costs milliseconds a call still stops on time.
fn for_slice(slice: Duration, side: &mut impl FnMut() -> u64) -> Rate {
    let started = Instant::now();
    let mut operations = 0;
    let mut calls_per_chunk = 1u32;
    let mut chunk_started = started;
    loop {
        for _ in 0..calls_per_chunk {
            operations += side();
        }
        let now = Instant::now();
        if now.duration_since(started) >= slice {
            return operations as f64 / now.duration_since(started).as_secs_f64();
        }
        if now.duration_since(chunk_started) < CHUNK {
            calls_per_chunk = calls_per_chunk.saturating_mul(2);
        }
        chunk_started = now;
    }
}

/// The shortest stretch between two clock reads in [`for_slice`].
const CHUNK: Duration = Duration::from_micros(200);

/// The middle value (the mean of the two middle ones for an even count); 0 for none.
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_takes_the_middle() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn each_side_is_counted_by_its_own_operations() {
        // Side a does 10 operations per call and side b 1: with equal work per call a's rate is
        // the higher, whatever the machine's speed.
        let work = || std::hint::black_box((0..200u64).sum::<u64>());
        let (a, b) = interleaved(
            3,
            Duration::from_millis(5),
            || {
                work();
                10
            },
            || {
                work();
                1
            },
        );
        assert!(a > 5.0 * b, "{a} vs {b}");
    }
}
