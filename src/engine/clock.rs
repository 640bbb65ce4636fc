//! The engine clock: one source of "now" for everything time-dependent.
//!
//! Live runs follow the wall clock; virtual runs use tokio's paused clock, where an hour of
//! traffic takes seconds. Either way every deadline, TTL, token expiry and rate-limit refill reads
//! this clock, which is built on `tokio::time::Instant` — never on `std::time` — so the same code
//! is deterministic under virtual time.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Which clock an engine runs on: chosen once, by whoever spawns it.
///
/// | clock | runtime | engine time passes | Unix time starts at |
/// |---|---|---|---|
/// | `Virtual` | current thread, tokio's paused clock | only while a command runs ([`Command::Advance`](super::Command::Advance), a request's modelled latency), as fast as the CPU allows | 2026-01-01 (reproducible) |
/// | `Paced(scale)` | current thread, paused clock moved by a pacer | `scale` × the wall clock (0 pauses), changeable live | now |
/// | `Wall` | multi-threaded | with the wall clock | now |
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Deterministic virtual time: same scenario and seed, same run, byte for byte.
    Virtual,
    /// The wall clock times a scale (engine seconds per wall second; 1/8 … 64), for a live TUI
    /// that can slow a burst down or speed a queue up.
    Paced(f64),
    /// The real wall clock on all cores, for serving real HTTP clients.
    Wall,
}

impl Clock {
    /// `"virtual"` for virtual time, `"live"` otherwise (the `mode` of a report).
    pub fn mode(&self) -> &'static str {
        match self {
            Clock::Virtual => "virtual",
            Clock::Paced(_) | Clock::Wall => "live",
        }
    }
}

/// What Unix time the engine clock starts at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Epoch {
    /// [`VIRTUAL_EPOCH_MS`]: timestamps are reproducible (virtual runs).
    Fixed,
    /// The system clock at start: tokens and timestamps are valid for the world outside
    /// (`trace` with a token from `archsim token`, `serve`).
    Now,
}

/// The engine's clock: monotonic time since start, plus the Unix time that start corresponds to.
#[derive(Debug, Clone, Copy)]
pub struct EngineClock {
    start: Instant,
    unix_at_start_ms: u64,
    /// On the wall clock: an instant at or just before the runtime's timer started counting its
    /// millisecond ticks (see [`EngineClock::timer_deadline`]). `None` on a paused clock.
    timer_grid: Option<std::time::Instant>,
}

/// The Unix time virtual runs start at: 2026-01-01T00:00:00Z, fixed so runs are reproducible.
pub const VIRTUAL_EPOCH_MS: u64 = 1_767_225_600_000;

impl EngineClock {
    /// A clock starting now, at Unix time `unix_at_start_ms`.
    pub fn starting_at(unix_at_start_ms: u64) -> Self {
        Self {
            start: Instant::now(),
            unix_at_start_ms,
            timer_grid: None,
        }
    }

    /// The clock of a wall-clock runtime whose timer started counting at `grid` (read just
    /// before the runtime was built, so at or before the timer's own origin).
    pub(crate) fn with_timer_grid(mut self, grid: Option<std::time::Instant>) -> Self {
        self.timer_grid = grid;
        self
    }

    /// The instant to give tokio's timer for a sleep that should end at `due`.
    ///
    /// tokio's timer fires on whole-millisecond ticks counted from when the runtime started, and
    /// rounds every deadline *up* to the next tick: each sleep on the wall clock ended on
    /// average half a millisecond late, always late, and a request's last sleep carried that
    /// into its latency (+6% on a 12.7 ms request). On the wall clock the deadline goes to the
    /// *nearest* tick instead, so a sleep is as likely to end a little early as a little late
    /// (within ±0.5 ms) and its mean is the modelled time. The grid origin is read before the
    /// runtime is built, so it is at most microseconds before tokio's: a deadline placed on a
    /// tick of it still rounds to that tick. On a paused clock (virtual, paced) every instant is
    /// already a whole tick and `due` is returned as it is.
    pub fn timer_deadline(&self, due: Instant) -> Instant {
        let Some(grid) = self.timer_grid else {
            return due;
        };
        let since = due.into_std().saturating_duration_since(grid);
        let tick = Duration::from_millis(1);
        let below = Duration::from_millis(since.as_millis() as u64);
        let nearest = if since - below >= tick / 2 {
            below + tick
        } else {
            below
        };
        Instant::from_std(grid + nearest)
    }

    /// A clock starting now at the Unix time `epoch` names.
    pub fn at(epoch: Epoch) -> Self {
        match epoch {
            Epoch::Fixed => Self::starting_at(VIRTUAL_EPOCH_MS),
            Epoch::Now => Self::starting_at(system_unix_ms()),
        }
    }

    /// Time since the engine started.
    pub fn elapsed(&self) -> Duration {
        self.elapsed_at(Instant::now())
    }

    /// Engine time from start to `now` (for a caller that already read the clock: reading it
    /// is a lock on a paused runtime).
    pub fn elapsed_at(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.start)
    }

    /// Current Unix time in milliseconds.
    pub fn unix_ms(&self) -> u64 {
        self.unix_at_start_ms + self.elapsed().as_millis() as u64
    }

    /// Current Unix time in whole seconds (JWT `iat`/`exp` use seconds).
    pub fn unix_secs(&self) -> u64 {
        self.unix_ms() / 1000
    }

    /// Current time as RFC 3339 UTC, e.g. `2026-01-01T00:00:05Z`.
    pub fn rfc3339(&self) -> String {
        rfc3339(self.unix_secs())
    }
}

impl governor::clock::Clock for EngineClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.elapsed()
    }
}

thread_local! {
    /// The clock of the engine this thread runs, once the engine has started.
    static THREAD_ENGINE: std::cell::RefCell<Option<Arc<OnceLock<EngineClock>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Marks the current thread as one of an engine's: [`engine_time`] reads `clock` here once set.
/// `now + duration`, or a century from now when the sum would overflow the clock: a deadline
/// that far away never fires, which is what an absurdly long duration means — and no scenario
/// value or command can make the engine panic on the addition.
pub(crate) fn deadline_after(now: Instant, duration: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    now.checked_add(duration.min(CENTURY))
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}

pub(crate) fn adopt_thread(clock: Arc<OnceLock<EngineClock>>) {
    THREAD_ENGINE.with(|slot| *slot.borrow_mut() = Some(clock));
}

/// Engine time since start if the current thread runs an engine (a log line emitted by a stage
/// or a worker), `None` elsewhere. Log capture stamps lines with it, so a line's time is the
/// engine's — deterministic in virtual time — not the time of whoever reads the log.
pub fn engine_time() -> Option<Duration> {
    THREAD_ENGINE.with(|slot| {
        slot.borrow()
            .as_ref()
            .and_then(|clock| clock.get().map(EngineClock::elapsed))
    })
}

/// The system clock's Unix time in ms (the fixed epoch if the system clock is before 1970).
pub fn system_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(VIRTUAL_EPOCH_MS, |d| d.as_millis() as u64)
}

/// Formats Unix seconds as RFC 3339 UTC (proleptic Gregorian, days-to-civil conversion).
pub fn rfc3339(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let secs_of_day = unix_secs % 86_400;
    // Howard Hinnant's civil_from_days, shifted so eras start on 0000-03-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_clock_deadline_goes_to_the_nearest_timer_tick_and_a_paused_one_is_kept() {
        let grid = std::time::Instant::now();
        let clock = EngineClock::at(Epoch::Now).with_timer_grid(Some(grid));
        let at = |us: u64| Instant::from_std(grid + Duration::from_micros(us));
        // 12.3 ms → 12 ms, 12.5 ms and 12.7 ms → 13 ms, a whole tick stays put.
        assert_eq!(clock.timer_deadline(at(12_300)), at(12_000));
        assert_eq!(clock.timer_deadline(at(12_500)), at(13_000));
        assert_eq!(clock.timer_deadline(at(12_700)), at(13_000));
        assert_eq!(clock.timer_deadline(at(12_000)), at(12_000));
        // Before the grid (never, in practice): its origin.
        let before = Instant::from_std(grid - Duration::from_millis(3));
        assert_eq!(clock.timer_deadline(before), at(0));
        let paused = EngineClock::at(Epoch::Fixed);
        assert_eq!(paused.timer_deadline(at(12_300)), at(12_300));
    }

    #[test]
    fn a_deadline_never_overflows_the_clock() {
        let now = Instant::now();
        assert_eq!(
            deadline_after(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        let far = deadline_after(now, Duration::MAX);
        assert!(far > now + Duration::from_secs(365 * 24 * 3600));
    }

    #[test]
    fn formats_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(VIRTUAL_EPOCH_MS / 1000), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 86_399), "2000-02-29T23:59:59Z");
    }

    #[tokio::test(start_paused = true)]
    async fn virtual_time_advances_only_with_the_tokio_clock() {
        let clock = EngineClock::at(Epoch::Fixed);
        assert_eq!(clock.unix_ms(), VIRTUAL_EPOCH_MS);
        tokio::time::sleep(Duration::from_secs(90)).await;
        assert_eq!(clock.unix_secs(), VIRTUAL_EPOCH_MS / 1000 + 90);
        assert_eq!(clock.rfc3339(), "2026-01-01T00:01:30Z");
    }
}
