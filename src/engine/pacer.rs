//! Live time with a time-scale factor: a paused tokio clock moved forward by the wall clock.
//!
//! In virtual time the paused clock jumps to the next timer whenever every task is idle. A paced
//! engine uses the same paused clock, but a pacer moves it: `scale` engine milliseconds per wall
//! millisecond, in small ticks — so ×2 shows two seconds of traffic per second, ×0.25 slows a
//! burst down to watch it, and a paused pacer freezes the whole system.
//!
//! ```text
//!  ticker thread (spawn_blocking)   ──tick every 50 ms wall──▶  engine loop: Pacer::catch_up()
//!  wall:   |--50 ms--|--50 ms--|--50 ms--|                        advances the paused clock
//!  engine: |-100 ms--|-100 ms--|-100 ms--|   (scale 2)            one millisecond at a time
//! ```
//!
//! Why a blocking ticker and not a tokio timer: on a paused clock a tokio timer is engine time,
//! not wall time. The ticker is a `spawn_blocking` task, and tokio does not auto-advance a paused
//! current-thread runtime while a blocking task runs — so engine time moves only when the pacer
//! says, and the engine loop still awaits commands and ticks without ever blocking its thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant as WallInstant};

use tokio::sync::mpsc;

/// How often the pacer advances the engine clock (wall time).
///
/// Engine time still moves one millisecond at a time (see [`Pacer::catch_up`]), so the tick
/// changes no figure: what happens in engine time, and when, is the same at any tick. It only
/// sets how late, in wall time, a moment is shown — at most one tick, below what a person
/// watching notices — and how often two threads wake: at 5 ms the ticker and the engine woke
/// 400 times a second between them, most of an idle TUI's CPU (BENCHMARKS.md, idle CPU).
pub const TICK: Duration = Duration::from_millis(50);

/// Smallest allowed time scale (`<` stops halving here).
pub const MIN_SCALE: f64 = 0.125;

/// Largest allowed time scale.
pub const MAX_SCALE: f64 = 64.0;

/// The live time-scale factor and the pause switch, shared by the pacer and the engine's
/// commands.
#[derive(Debug)]
pub struct TimeScale {
    bits: AtomicU64,
    paused: AtomicBool,
}

impl TimeScale {
    /// A scale of `scale` (engine seconds per wall second).
    pub fn new(scale: f64) -> Self {
        let this = Self {
            bits: AtomicU64::new(0),
            paused: AtomicBool::new(false),
        };
        this.set(scale);
        this
    }

    /// The current scale (what it will be when resumed, if paused).
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }

    /// The scale engine time moves at now: 0 while paused.
    pub fn effective(&self) -> f64 {
        if self.is_paused() { 0.0 } else { self.get() }
    }

    /// Sets the scale, clamped to [`MIN_SCALE`]–[`MAX_SCALE`] (a non-finite value means 1).
    /// Returns the scale set.
    pub fn set(&self, scale: f64) -> f64 {
        let scale = if scale.is_finite() {
            scale.clamp(MIN_SCALE, MAX_SCALE)
        } else {
            1.0
        };
        self.bits.store(scale.to_bits(), Ordering::Relaxed);
        scale
    }

    /// Freezes (true) or resumes (false) engine time.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    /// Whether engine time is frozen.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }
}

/// Starts the wall-clock ticker: a blocking task that sends a tick every `every` of wall time
/// until the receiver is dropped. Ticks the engine has not taken yet coalesce into one.
pub fn ticker(every: Duration) -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(1);
    tokio::task::spawn_blocking(move || {
        loop {
            std::thread::sleep(every);
            match tx.try_send(()) {
                Ok(()) | Err(mpsc::error::TrySendError::Full(())) => {}
                Err(mpsc::error::TrySendError::Closed(())) => return,
            }
        }
    });
    rx
}

/// Moves a paused tokio clock forward by `scale` × the wall time since the last call.
#[derive(Debug)]
pub struct Pacer {
    scale: Arc<TimeScale>,
    last: WallInstant,
    owed: Duration,
}

impl Pacer {
    /// A pacer at `scale`, counting wall time from now.
    pub fn new(scale: Arc<TimeScale>) -> Self {
        Self {
            scale,
            last: WallInstant::now(),
            owed: Duration::ZERO,
        }
    }

    /// Advances the engine clock by the engine time owed since the last call. Call it on each
    /// tick from a task of the paused runtime.
    pub async fn catch_up(&mut self) {
        let now = WallInstant::now();
        let wall = now.duration_since(self.last);
        self.last = now;
        self.owed += wall.mul_f64(self.scale.effective());
        // The paused clock moves in whole milliseconds; carry the rest to the next tick. Step one
        // millisecond at a time so a chain of short sleeps (a request's stages) still sees every
        // millisecond, instead of each sleep swallowing a whole tick.
        let whole = self.owed.as_millis() as u64;
        self.owed -= Duration::from_millis(whole);
        for _ in 0..whole {
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        if whole == 0 {
            // Let the tasks woken by the last tick run before the loop waits again.
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_is_clamped_and_pause_freezes_it() {
        let scale = TimeScale::new(1.0);
        assert_eq!(scale.set(1000.0), MAX_SCALE);
        assert_eq!(scale.set(0.01), MIN_SCALE);
        assert_eq!(scale.set(f64::NAN), 1.0);
        scale.set_paused(true);
        assert_eq!(scale.effective(), 0.0);
        assert_eq!(scale.get(), 1.0);
        scale.set_paused(false);
        assert_eq!(scale.effective(), 1.0);
    }

    fn paced<T>(scale: f64, body: impl Future<Output = T>) -> (T, Duration) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        let scale = Arc::new(TimeScale::new(scale));
        let wall_start = WallInstant::now();
        let out = runtime.block_on(async move {
            let mut ticks = ticker(TICK);
            let mut pacer = Pacer::new(scale);
            tokio::spawn(async move {
                while ticks.recv().await.is_some() {
                    pacer.catch_up().await;
                }
            });
            body.await
        });
        (out, wall_start.elapsed())
    }

    #[test]
    fn engine_time_follows_the_wall_clock_times_the_scale() {
        let (engine_elapsed, wall_elapsed) = paced(4.0, async {
            let engine_start = tokio::time::Instant::now();
            tokio::time::sleep(Duration::from_millis(400)).await;
            engine_start.elapsed()
        });
        assert!(engine_elapsed >= Duration::from_millis(400));
        // 400 engine ms at ×4 need about 100 wall ms; never less than the scale allows.
        assert!(
            wall_elapsed.as_secs_f64() * 4.0 + 0.02 >= engine_elapsed.as_secs_f64(),
            "{wall_elapsed:?} for {engine_elapsed:?}"
        );
    }

    #[test]
    fn the_paused_clock_does_not_jump_ahead_while_the_ticker_runs() {
        // Without the ticker inhibiting auto-advance, a 10 s sleep would end at once.
        let (_, wall_elapsed) = paced(MAX_SCALE, async {
            tokio::time::sleep(Duration::from_secs(2)).await;
        });
        // 2 engine seconds at ×64 need at least ~31 wall ms.
        assert!(
            wall_elapsed >= Duration::from_millis(25),
            "{wall_elapsed:?}"
        );
    }
}
