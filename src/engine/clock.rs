//! The engine clock: one source of "now" for everything time-dependent.
//!
//! Live runs follow the wall clock; virtual runs use tokio's paused clock, where an hour of
//! traffic takes seconds. Either way every deadline, TTL, token expiry and rate-limit refill reads
//! this clock, which is built on `tokio::time::Instant` — never on `std::time` — so the same code
//! is deterministic under virtual time.

use std::time::Duration;

use tokio::time::Instant;

/// The engine's clock: monotonic time since start, plus the Unix time that start corresponds to.
#[derive(Debug, Clone, Copy)]
pub struct EngineClock {
    start: Instant,
    unix_at_start_ms: u64,
}

/// The Unix time virtual runs start at: 2026-01-01T00:00:00Z, fixed so runs are reproducible.
pub const VIRTUAL_EPOCH_MS: u64 = 1_767_225_600_000;

impl EngineClock {
    /// A clock starting now, at Unix time `unix_at_start_ms`.
    pub fn starting_at(unix_at_start_ms: u64) -> Self {
        Self {
            start: Instant::now(),
            unix_at_start_ms,
        }
    }

    /// A clock for live runs: Unix time read once from the system clock.
    pub fn live() -> Self {
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(VIRTUAL_EPOCH_MS, |d| d.as_millis() as u64);
        Self::starting_at(unix_ms)
    }

    /// A clock for virtual runs, starting at [`VIRTUAL_EPOCH_MS`].
    pub fn virtual_time() -> Self {
        Self::starting_at(VIRTUAL_EPOCH_MS)
    }

    /// Time since the engine started.
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(self.start)
    }

    /// The tokio instant of engine start.
    pub fn start(&self) -> Instant {
        self.start
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
    fn formats_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(VIRTUAL_EPOCH_MS / 1000), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 86_399), "2000-02-29T23:59:59Z");
    }

    #[tokio::test(start_paused = true)]
    async fn virtual_time_advances_only_with_the_tokio_clock() {
        let clock = EngineClock::virtual_time();
        assert_eq!(clock.unix_ms(), VIRTUAL_EPOCH_MS);
        tokio::time::sleep(Duration::from_secs(90)).await;
        assert_eq!(clock.unix_secs(), VIRTUAL_EPOCH_MS / 1000 + 90);
        assert_eq!(clock.rfc3339(), "2026-01-01T00:01:30Z");
    }
}
