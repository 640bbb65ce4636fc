//! Conditions on what the engine shows — `payments.queued > 100`, `time_s >= 90`,
//! `requests.429 >= 1` — that a tour step waits for or expects.
//!
//! A condition is parsed and its names checked when the scenario loads (a typo is a positioned
//! error, not a step that silently never holds); the engine reads the figure from a snapshot.

use std::fmt;

use serde::Serialize;

/// A figure of the whole system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemFigure {
    /// Engine seconds since the start.
    TimeS,
    /// The live traffic-rate multiplier.
    Rate,
    /// Responses sent.
    Requests,
    /// Successes answered after their route's deadline.
    RequestsLate,
    /// Successes within their deadline.
    RequestsGoodput,
    /// Mean end-to-end latency since the start, ms.
    RequestsMeanMs,
    /// 99th-percentile end-to-end latency since the start, ms.
    RequestsP99Ms,
    /// Responses per second over the last window.
    ApiRps,
    /// Share of responses ≥ 400 over the last window (0–1).
    ApiErrorShare,
    /// 429 responses per second over the last window.
    ApiThrottledRps,
    /// 503 responses per second over the last window.
    ApiUnavailableRps,
    /// Successes within their deadline per second over the last window.
    ApiGoodput,
    /// 99th-percentile latency over the last window, ms.
    ApiP99Ms,
    /// Cache lookups that found a fresh entry.
    CacheHits,
    /// Cache lookups that did not.
    CacheMisses,
    /// hits / (hits + misses).
    CacheHitRatio,
    /// Entries in the cache.
    CacheEntries,
    /// Misses that waited for another request's load instead of reading the database
    /// (single-flight).
    CacheCoalesced,
    /// Queries that gave up waiting for a database connection (each a 503 `database_busy`).
    DatabaseTimeouts,
    /// Database connections held by a query now.
    DatabaseInUse,
    /// Queries waiting for a database connection now.
    DatabaseWaiting,
    /// The longest wait for a database connection so far, ms.
    DatabaseMaxWaitMs,
    /// Outbox events not yet relayed to the broker.
    OutboxPending,
    /// Outbox events the broker has.
    OutboxRelayed,
    /// Age of the oldest pending outbox event, ms.
    OutboxLagMs,
    /// Rows written without their event (a direct publish that was refused).
    OrphanedWrites,
    /// Messages the ledger cannot find.
    LedgerLost,
    /// Messages the ledger found twice.
    LedgerDuplicated,
    /// Messages settled in every group.
    LedgerSettled,
    /// Idempotency keys whose worker effect was committed.
    EffectsApplied,
    /// Keys committed more than once (must stay 0).
    EffectsRepeated,
    /// Redeliveries the workers' inbox recognised and skipped.
    EffectsDuplicatesSkipped,
}

/// Every system figure with its name in conditions.
pub const SYSTEM_FIGURES: [(&str, SystemFigure); 32] = [
    ("time_s", SystemFigure::TimeS),
    ("rate", SystemFigure::Rate),
    ("requests", SystemFigure::Requests),
    ("requests.late", SystemFigure::RequestsLate),
    ("requests.goodput", SystemFigure::RequestsGoodput),
    ("requests.mean_ms", SystemFigure::RequestsMeanMs),
    ("requests.p99_ms", SystemFigure::RequestsP99Ms),
    ("api.rps", SystemFigure::ApiRps),
    ("api.error_share", SystemFigure::ApiErrorShare),
    ("api.throttled_rps", SystemFigure::ApiThrottledRps),
    ("api.unavailable_rps", SystemFigure::ApiUnavailableRps),
    ("api.goodput", SystemFigure::ApiGoodput),
    ("api.p99_ms", SystemFigure::ApiP99Ms),
    ("cache.hits", SystemFigure::CacheHits),
    ("cache.misses", SystemFigure::CacheMisses),
    ("cache.hit_ratio", SystemFigure::CacheHitRatio),
    ("cache.entries", SystemFigure::CacheEntries),
    ("cache.coalesced", SystemFigure::CacheCoalesced),
    ("database.timeouts", SystemFigure::DatabaseTimeouts),
    ("database.in_use", SystemFigure::DatabaseInUse),
    ("database.waiting", SystemFigure::DatabaseWaiting),
    ("database.max_wait_ms", SystemFigure::DatabaseMaxWaitMs),
    ("outbox.pending", SystemFigure::OutboxPending),
    ("outbox.relayed", SystemFigure::OutboxRelayed),
    ("outbox.lag_ms", SystemFigure::OutboxLagMs),
    ("orphaned_writes", SystemFigure::OrphanedWrites),
    ("ledger.lost", SystemFigure::LedgerLost),
    ("ledger.duplicated", SystemFigure::LedgerDuplicated),
    ("ledger.settled", SystemFigure::LedgerSettled),
    ("effects.applied", SystemFigure::EffectsApplied),
    ("effects.repeated", SystemFigure::EffectsRepeated),
    (
        "effects.duplicates_skipped",
        SystemFigure::EffectsDuplicatesSkipped,
    ),
];

/// A figure of one topic (and the pool consuming it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TopicFigure {
    /// Messages published.
    Published,
    /// Publishes refused because the topic was full.
    Refused,
    /// Messages waiting (ready or backing off before a retry).
    Queued,
    /// Messages leased to workers.
    InFlight,
    /// Messages out of attempts waiting for room in the dead-letter topic.
    Parked,
    /// What counts against the capacity: queued + in flight + parked (fullest group).
    Backlog,
    /// Messages processed successfully.
    Acked,
    /// Deliveries that failed and were scheduled again.
    Retried,
    /// Messages moved to the dead-letter topic.
    DeadLettered,
    /// Leases that ran out (a worker crashed or was too slow).
    Expired,
    /// Dead letters held (a dead-letter topic).
    DeadLetters,
    /// Messages a redrive sent back from this dead-letter topic.
    Redriven,
    /// Workers able to take a message now.
    LiveWorkers,
    /// Busy worker time / available worker time since the start (0–1).
    Utilization,
    /// Arrivals per second since the start.
    ArrivalRate,
    /// Mean wait in the queue, ms.
    WaitMeanMs,
    /// 99th-percentile wait in the queue, ms.
    WaitP99Ms,
    /// Arrivals per second over the last window ("now").
    ArrivalRateNow,
    /// Offered arrivals per second over the last window: deliveries plus refused publishes.
    OfferedRateNow,
    /// Share of publishes refused over the last window (0–1).
    RefusedShareNow,
    /// Busy worker time / available worker time over the last window (0–1).
    UtilizationNow,
    /// Mean wait of the deliveries leased in the last window, ms.
    WaitNowMs,
}

/// Every topic figure with its name in conditions (after `<topic>.`).
pub const TOPIC_FIGURES: [(&str, TopicFigure); 22] = [
    ("published", TopicFigure::Published),
    ("refused", TopicFigure::Refused),
    ("queued", TopicFigure::Queued),
    ("in_flight", TopicFigure::InFlight),
    ("parked", TopicFigure::Parked),
    ("backlog", TopicFigure::Backlog),
    ("acked", TopicFigure::Acked),
    ("retried", TopicFigure::Retried),
    ("dead_lettered", TopicFigure::DeadLettered),
    ("expired", TopicFigure::Expired),
    ("dead_letters", TopicFigure::DeadLetters),
    ("redriven", TopicFigure::Redriven),
    ("live_workers", TopicFigure::LiveWorkers),
    ("utilization", TopicFigure::Utilization),
    ("arrival_rate", TopicFigure::ArrivalRate),
    ("wait_mean_ms", TopicFigure::WaitMeanMs),
    ("wait_p99_ms", TopicFigure::WaitP99Ms),
    ("arrival_rate_now", TopicFigure::ArrivalRateNow),
    ("offered_rate_now", TopicFigure::OfferedRateNow),
    ("refused_share_now", TopicFigure::RefusedShareNow),
    ("utilization_now", TopicFigure::UtilizationNow),
    ("wait_now_ms", TopicFigure::WaitNowMs),
];

/// What a condition reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// A figure of the whole system.
    System(SystemFigure),
    /// Responses with this HTTP status (`requests.429`).
    Status(u16),
    /// A figure of a topic.
    Topic {
        /// The topic.
        topic: String,
        /// The figure.
        figure: TopicFigure,
    },
    /// Rows in a table, over every tenant (`rows.payments`): read with a query, not from a
    /// snapshot.
    Rows {
        /// The table.
        table: String,
    },
}

/// How a figure is compared with the condition's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Comparison {
    /// `>`
    Above,
    /// `>=`
    AtLeast,
    /// `<`
    Below,
    /// `<=`
    AtMost,
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
}

impl Comparison {
    /// The operators as written, longest first (so `>=` is not read as `>`).
    pub const ALL: [(&'static str, Comparison); 6] = [
        (">=", Comparison::AtLeast),
        ("<=", Comparison::AtMost),
        ("==", Comparison::Equal),
        ("!=", Comparison::NotEqual),
        (">", Comparison::Above),
        ("<", Comparison::Below),
    ];

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("?", |(s, _)| s)
    }

    /// Whether `figure` compares with `value` this way. Equality allows a relative 1e-9, so a
    /// ratio that came out as 0.30000000000000004 equals 0.3.
    pub fn holds(self, figure: f64, value: f64) -> bool {
        let equal = (figure - value).abs() <= 1e-9 * value.abs().max(1.0);
        match self {
            Comparison::Above => figure > value && !equal,
            Comparison::AtLeast => figure >= value || equal,
            Comparison::Below => figure < value && !equal,
            Comparison::AtMost => figure <= value || equal,
            Comparison::Equal => equal,
            Comparison::NotEqual => !equal,
        }
    }
}

/// A checked condition: `metric comparison value`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    /// What is read.
    pub metric: Metric,
    /// How it is compared.
    pub comparison: Comparison,
    /// With what.
    pub value: f64,
    /// The metric's name as written, for messages (`payments.queued`).
    pub name: String,
    /// Where the condition is written in its file (byte offsets), for `tour --check` to point
    /// at.
    #[serde(skip)]
    pub at: std::ops::Range<usize>,
}

impl Condition {
    /// Whether the condition holds when the metric reads `figure`.
    pub fn holds(&self, figure: f64) -> bool {
        self.comparison.holds(figure, self.value)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.name,
            self.comparison.symbol(),
            crate::units::figure(self.value)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_hold_as_written_and_equality_forgives_rounding() {
        assert!(Comparison::Above.holds(101.0, 100.0));
        assert!(!Comparison::Above.holds(100.0, 100.0));
        assert!(Comparison::AtLeast.holds(100.0, 100.0));
        assert!(Comparison::Below.holds(0.0, 1.0));
        assert!(Comparison::AtMost.holds(0.30000000000000004, 0.3));
        assert!(Comparison::Equal.holds(0.1 + 0.2, 0.3));
        assert!(!Comparison::NotEqual.holds(0.1 + 0.2, 0.3));
        assert!(!Comparison::Below.holds(0.30000000000000004, 0.3));
    }

    #[test]
    fn a_condition_reads_back_as_written() {
        let condition = Condition {
            metric: Metric::System(SystemFigure::TimeS),
            comparison: Comparison::AtLeast,
            value: 90.0,
            name: "time_s".into(),
            at: 0..0,
        };
        assert_eq!(condition.to_string(), "time_s >= 90");
    }
}
