//! Live time with a time-scale factor: a paused tokio clock driven forward by the wall clock.
//!
//! In virtual mode the paused clock jumps to the next timer whenever every task is idle. In a
//! paced live run the same paused clock is instead advanced by a pacer task, `scale` engine
//! milliseconds per wall millisecond, in small ticks — so ×2 shows two seconds of traffic per
//! second, ×0.25 slows a burst down to watch it, and 0 pauses the whole system. The pacer never
//! idles, so the runtime never auto-advances on its own.
//!
//! ```text
//!  wall:   |--5 ms--|--5 ms--|--5 ms--|
//!  engine: |--10 ms-|--10 ms-|--10 ms-|   (scale 2)
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant as WallInstant};

/// How often the pacer advances the engine clock (wall time).
pub const TICK: Duration = Duration::from_millis(5);

/// Largest allowed time scale.
pub const MAX_SCALE: f64 = 64.0;

/// The live time-scale factor, shared with whoever controls it (the TUI's `<`/`>` keys).
#[derive(Debug)]
pub struct TimeScale {
    bits: AtomicU64,
}

impl TimeScale {
    /// A scale of `scale` (engine seconds per wall second).
    pub fn new(scale: f64) -> Self {
        let this = Self {
            bits: AtomicU64::new(0),
        };
        this.set(scale);
        this
    }

    /// The current scale.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }

    /// Sets the scale (clamped to 0–[`MAX_SCALE`]; 0 pauses).
    pub fn set(&self, scale: f64) {
        let scale = if scale.is_finite() {
            scale.clamp(0.0, MAX_SCALE)
        } else {
            1.0
        };
        self.bits.store(scale.to_bits(), Ordering::Relaxed);
    }

    /// Doubles the scale (`>`).
    pub fn faster(&self) {
        self.set((self.get() * 2.0).max(0.125));
    }

    /// Halves the scale (`<`), down to 1/8.
    pub fn slower(&self) {
        self.set((self.get() / 2.0).max(0.125));
    }
}

/// Drives the paused clock of the current runtime forever: call it as a task of a runtime built
/// with `start_paused(true)` (current-thread). Between ticks the runtime thread sleeps, so the
/// engine's own tasks run in the gaps; engine time advances `scale × wall time`.
pub async fn drive(scale: std::sync::Arc<TimeScale>) {
    let mut last = WallInstant::now();
    let mut owed = Duration::ZERO;
    loop {
        std::thread::sleep(TICK);
        let now = WallInstant::now();
        let wall = now.duration_since(last);
        last = now;
        owed += wall.mul_f64(scale.get());
        // The paused clock moves in whole milliseconds; carry the rest to the next tick. Step one
        // millisecond at a time so a chain of short sleeps (a request's stages) still sees every
        // millisecond, instead of each sleep swallowing a whole tick.
        let whole = owed.as_millis() as u64;
        owed -= Duration::from_millis(whole);
        if whole == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..whole {
            tokio::time::advance(Duration::from_millis(1)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_is_clamped_and_steps_by_doubling() {
        let scale = TimeScale::new(1.0);
        scale.faster();
        assert_eq!(scale.get(), 2.0);
        scale.set(1000.0);
        assert_eq!(scale.get(), MAX_SCALE);
        scale.set(0.2);
        scale.slower();
        assert_eq!(scale.get(), 0.125);
        scale.set(f64::NAN);
        assert_eq!(scale.get(), 1.0);
    }

    #[test]
    fn engine_time_follows_the_wall_clock_times_the_scale() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        let scale = std::sync::Arc::new(TimeScale::new(4.0));
        let (engine_elapsed, wall_elapsed) = runtime.block_on(async move {
            tokio::spawn(drive(scale));
            let (engine_start, wall_start) = (tokio::time::Instant::now(), WallInstant::now());
            tokio::time::sleep(Duration::from_millis(400)).await;
            (engine_start.elapsed(), wall_start.elapsed())
        });
        assert!(engine_elapsed >= Duration::from_millis(400));
        // 400 engine ms at ×4 need about 100 wall ms; never less than the scale allows.
        assert!(
            wall_elapsed.as_secs_f64() * 4.0 + 0.02 >= engine_elapsed.as_secs_f64(),
            "{wall_elapsed:?} for {engine_elapsed:?}"
        );
    }
}
