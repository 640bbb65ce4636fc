//! "Now" for the API: request rate, error and 503 rates, late answers, goodput and p99 latency
//! over the last [`WINDOW`] of engine time — the API side of the broker view.
//!
//! ```text
//!   record(response) ──▶ cumulative ApiTotals      + this second's latency histogram
//!   close_second(t)  ──▶ ring: (t, totals at t, histogram of the second ending at t), ≤ 10 s
//!   window(now)      ──▶ counts: totals now − totals at the window's start (Δ / Δt)
//!                        p99:    merge of the histograms closed after the start + this second's
//! ```
//!
//! Counts are differences of cumulative totals, like the topic windows in
//! [`window`](super::window); a percentile cannot be differenced, so latency keeps one small
//! histogram per second and merges those the window covers. The sampler closes a second once per
//! engine second for hours of virtual time: the histograms are coarse (2 significant digits) and
//! recycled, so a second costs no allocation.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

use super::broker::DurationHistogram;
use super::window::WINDOW;

/// How one response counts against its route's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timeliness {
    /// Not a success (status ≥ 400 or < 200): neither late nor goodput.
    Failed,
    /// A success within its deadline, or of a route without one: goodput.
    OnTime,
    /// A success answered after its route's deadline.
    Late,
}

impl Timeliness {
    /// Judges a response of `status` that took `latency` on a route with `deadline`.
    pub(crate) fn of(status: u16, latency: Duration, deadline: Option<Duration>) -> Self {
        // 2xx and 3xx are successes: a redirect or a 304 is a useful answer.
        if !(200..400).contains(&status) {
            Self::Failed
        } else if deadline.is_some_and(|d| latency > d) {
            Self::Late
        } else {
            Self::OnTime
        }
    }
}

/// Cumulative API figures at one instant; windows are differences of two of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ApiTotals {
    /// Responses.
    pub requests: u64,
    /// Responses with status ≥ 400.
    pub errors: u64,
    /// 503 responses (a full topic, an unavailable dependency).
    pub unavailable: u64,
    /// 429 responses (rate limited).
    pub throttled: u64,
    /// Successes answered after their route's deadline.
    pub late: u64,
    /// Successes within their deadline (or without one).
    pub goodput: u64,
}

impl ApiTotals {
    /// Counts one response.
    pub(crate) fn add(&mut self, status: u16, timeliness: Timeliness) {
        self.requests += 1;
        self.errors += u64::from(status >= 400);
        self.unavailable += u64::from(status == 503);
        self.throttled += u64::from(status == 429);
        match timeliness {
            Timeliness::Failed => {}
            Timeliness::OnTime => self.goodput += 1,
            Timeliness::Late => self.late += 1,
        }
    }
}

/// One closed second: when it closed, the totals then, and the latencies answered in it.
#[derive(Debug)]
struct ClosedSecond {
    at: Duration,
    totals: ApiTotals,
    latency: DurationHistogram,
}

/// The API's totals and per-second latency histograms for the last [`WINDOW`].
#[derive(Debug)]
pub(crate) struct ApiSeconds {
    totals: ApiTotals,
    /// Latencies answered since the last closed second.
    current: DurationHistogram,
    /// Closed seconds, oldest first; the first is the start of the longest window.
    closed: VecDeque<ClosedSecond>,
    /// A histogram that left the ring, kept to be reused (no allocation per second).
    spare: Option<DurationHistogram>,
}

impl Default for ApiSeconds {
    fn default() -> Self {
        Self {
            totals: ApiTotals::default(),
            current: DurationHistogram::coarse(),
            closed: VecDeque::new(),
            spare: None,
        }
    }
}

impl ApiSeconds {
    /// Counts one response.
    pub(crate) fn record(&mut self, status: u16, latency: Duration, timeliness: Timeliness) {
        self.totals.add(status, timeliness);
        self.current.record(latency);
    }

    /// Closes the second ending at engine time `at`: keeps the totals and this second's
    /// latencies, and forgets what is older than the window needs.
    pub(crate) fn close_second(&mut self, at: Duration) {
        let mut fresh = self.spare.take().unwrap_or_else(DurationHistogram::coarse);
        fresh.reset();
        let latency = std::mem::replace(&mut self.current, fresh);
        self.closed.push_back(ClosedSecond {
            at,
            totals: self.totals,
            latency,
        });
        // Same rule as the topic windows: keep the newest sample at least WINDOW old, as the
        // start of a full window, and drop the ones before it.
        while self
            .closed
            .get(1)
            .is_some_and(|second| at.saturating_sub(second.at) >= WINDOW)
        {
            if let Some(old) = self.closed.pop_front() {
                self.spare = Some(old.latency);
            }
        }
    }

    /// The API over the window ending at engine time `now`: from the oldest closed second at
    /// most [`WINDOW`] back (the topic windows start at the same sample). `None` before the
    /// first second closed.
    pub(crate) fn window(&self, now: Duration) -> Option<ApiWindow> {
        let start = self
            .closed
            .iter()
            .position(|s| now.saturating_sub(s.at) <= WINDOW && s.at < now)?;
        let from = &self.closed[start];
        let seconds = now.saturating_sub(from.at).as_secs_f64();
        let mut latency = self.current.clone();
        for second in self.closed.iter().skip(start + 1) {
            latency.add(&second.latency);
        }
        Some(ApiWindow::between(
            seconds,
            &from.totals,
            &self.totals,
            latency.quantile_ms(0.99),
        ))
    }
}

/// The API over the last [`WINDOW`] of engine time ("now").
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ApiWindow {
    /// The window's actual length, s (shorter at the start of a run).
    pub seconds: f64,
    /// Responses per second.
    pub request_rate: f64,
    /// Share of responses with status ≥ 400 (`None`: no response in the window).
    pub error_share: Option<f64>,
    /// 503 responses per second.
    pub unavailable_rate: f64,
    /// 429 responses per second.
    pub throttled_rate: f64,
    /// Successes per second answered after their route's deadline.
    pub late_rate: f64,
    /// Share of the successes that were late (`None`: no success in the window).
    pub late_share: Option<f64>,
    /// Goodput: successes per second within their deadline (or of routes without one).
    pub goodput: f64,
    /// 99th percentile of the end-to-end latency of the responses in the window, ms (`None`:
    /// no response). Histograms of 2 significant digits: within 1%.
    pub latency_p99_ms: Option<f64>,
}

impl ApiWindow {
    /// The figures between the totals `start` and `now`, `seconds` apart.
    fn between(seconds: f64, start: &ApiTotals, now: &ApiTotals, p99: Option<f64>) -> Self {
        let rate = |n: u64| n as f64 / seconds.max(1e-9);
        let requests = now.requests.saturating_sub(start.requests);
        let errors = now.errors.saturating_sub(start.errors);
        let late = now.late.saturating_sub(start.late);
        let goodput = now.goodput.saturating_sub(start.goodput);
        let successes = late + goodput;
        Self {
            seconds,
            request_rate: rate(requests),
            error_share: (requests > 0).then(|| errors as f64 / requests as f64),
            unavailable_rate: rate(now.unavailable.saturating_sub(start.unavailable)),
            throttled_rate: rate(now.throttled.saturating_sub(start.throttled)),
            late_rate: rate(late),
            late_share: (successes > 0).then(|| late as f64 / successes as f64),
            goodput: rate(goodput),
            latency_p99_ms: p99,
        }
    }
}

/// The API side of a [`Snapshot`](super::Snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ApiView {
    /// The last [`WINDOW`] of engine time; `None` before the first second.
    pub window: Option<ApiWindow>,
    /// Routes with a deadline: with none, goodput is simply every success.
    pub routes_with_deadline: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_success_after_its_deadline_is_late_and_failures_are_neither() {
        let deadline = Some(ms(250));
        assert_eq!(Timeliness::of(200, ms(250), deadline), Timeliness::OnTime);
        assert_eq!(Timeliness::of(201, ms(251), deadline), Timeliness::Late);
        assert_eq!(Timeliness::of(304, ms(900), deadline), Timeliness::Late);
        assert_eq!(Timeliness::of(503, ms(900), deadline), Timeliness::Failed);
        assert_eq!(Timeliness::of(429, ms(1), deadline), Timeliness::Failed);
        assert_eq!(Timeliness::of(200, ms(60_000), None), Timeliness::OnTime);
    }

    #[test]
    fn the_window_counts_the_last_ten_seconds_and_merges_their_latencies() {
        let mut api = ApiSeconds::default();
        api.close_second(Duration::ZERO);
        // 30 s: each second 10 responses of 10 ms (on time); from second 20 on, one of them a
        // late 900 ms success and one a 503.
        for second in 1..=30u64 {
            for n in 0..10 {
                let (status, latency, timeliness) = match n {
                    0 if second > 20 => (200, ms(900), Timeliness::Late),
                    1 if second > 20 => (503, ms(10), Timeliness::Failed),
                    _ => (200, ms(10), Timeliness::OnTime),
                };
                api.record(status, latency, timeliness);
            }
            api.close_second(Duration::from_secs(second));
        }
        let window = api.window(Duration::from_secs(30)).expect("a window");
        assert_eq!(window.seconds, 10.0);
        assert_eq!(window.request_rate, 10.0);
        assert_eq!(window.error_share, Some(0.1));
        assert_eq!(window.unavailable_rate, 1.0);
        assert_eq!(window.late_rate, 1.0);
        assert_eq!(window.goodput, 8.0);
        assert_eq!(window.late_share, Some(1.0 / 9.0));
        // 10 of the window's 100 latencies are 900 ms: the p99 sees them.
        let p99 = window.latency_p99_ms.expect("latencies");
        assert!((p99 - 900.0).abs() <= 9.0, "p99 {p99}");
        // Ten seconds earlier, before anything was late, the window was clean; the ring keeps
        // only what the current window needs.
        assert!(api.closed.len() <= 11);
        let totals = api.totals;
        assert_eq!((totals.late, totals.goodput), (10, 280));
    }

    #[test]
    fn a_window_part_way_through_a_second_includes_it() {
        let mut api = ApiSeconds::default();
        api.close_second(Duration::ZERO);
        api.record(200, ms(40), Timeliness::OnTime);
        assert_eq!(api.window(Duration::ZERO), None, "no time has passed");
        let window = api.window(ms(500)).expect("half a second");
        assert_eq!(window.seconds, 0.5);
        assert_eq!(window.goodput, 2.0);
        assert_eq!(window.late_share, Some(0.0));
        let p99 = window.latency_p99_ms.expect("one latency");
        assert!((p99 - 40.0).abs() <= 0.4, "p99 {p99}");
    }

    #[test]
    fn an_idle_window_has_no_shares_or_percentile() {
        let mut api = ApiSeconds::default();
        api.close_second(Duration::ZERO);
        api.close_second(Duration::from_secs(1));
        let window = api.window(Duration::from_secs(1)).expect("a window");
        assert_eq!(window.request_rate, 0.0);
        assert_eq!(window.error_share, None);
        assert_eq!(window.late_share, None);
        assert_eq!(window.latency_p99_ms, None);
    }
}
