//! The report of a run: what `archsim run` prints, as typed data.
//!
//! [`Report::new`] builds it from a final [`Snapshot`]; `run --json` serialises it (its keys
//! are a documented contract, see DESIGN.md §4) and the text output is rendered from the same
//! fields, so the two cannot disagree.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::broker::LedgerReport;
use super::clock::Clock;
use super::history::HistoryView;
use super::sim::Snapshot;
use super::steady::{self, SteadyState, TopicFacts};
use super::store::OutboxStats;
use super::workers::EffectTally;
use crate::scenario::Scenario;
use crate::theory::mmck;
use crate::units::{count, count_as, ms};

/// The report of a run (the `run --json` contract).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// `live` or `virtual`.
    pub mode: &'static str,
    /// Seconds of engine time run.
    pub duration_s: f64,
    /// Requests answered.
    pub requests: RequestsReport,
    /// The read cache.
    pub cache: CacheReport,
    /// The database's connection pool, when the scenario bounds it (`[database] connections`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<super::db_pool::PoolStats>,
    /// Broker totals over every topic and group.
    pub broker: BrokerTotals,
    /// Per topic, in scenario order.
    pub topics: Vec<TopicReport>,
    /// The transactional outbox at the end: events still pending, relayed, and the relay's lag.
    pub outbox: OutboxStats,
    /// Rows written without their event: what the dual write (`publish = "direct"`) leaves
    /// behind when a topic is full. The outbox keeps this at 0.
    pub orphaned_writes: u64,
    /// Invariants checked at the end.
    pub invariants: Invariants,
}

/// Requests answered during the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestsReport {
    /// Responses.
    pub sent: u64,
    /// Responses by status code.
    pub by_status: BTreeMap<String, u64>,
    /// End-to-end latency percentiles, ms.
    pub latency_ms: Percentiles,
    /// Successes (2xx/3xx) answered after their route's deadline (`deadline_ms`).
    pub late: u64,
    /// Goodput: successes within their route's deadline (every success of a route without one).
    pub goodput: u64,
}

/// Latency percentiles, ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

/// The read cache's counters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CacheReport {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads that went to the database.
    pub misses: u64,
    /// hits / (hits + misses).
    pub hit_ratio: f64,
    /// Misses that waited for another request's load instead of reading the database
    /// (`[cache] single_flight`); left out when 0, so runs without it read as before.
    #[serde(skip_serializing_if = "is_zero")]
    pub coalesced: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Accounting over every topic and group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct BrokerTotals {
    /// Messages received by groups (a message fanned out to two groups counts twice).
    pub published: u64,
    /// Acknowledged.
    pub acked: u64,
    /// Failed deliveries scheduled again.
    pub retried: u64,
    /// Dead-lettered.
    pub dead_lettered: u64,
    /// Leased to workers now.
    pub in_flight: u64,
    /// Waiting now (ready or backing off).
    pub queued: u64,
    /// Publishes refused because a topic was full.
    pub rejected: u64,
    /// Out of attempts, waiting now for room in a full dead-letter topic (kept, not lost).
    pub parked: u64,
    /// Dead letters sent back to their origin topic by redrives.
    pub redriven: u64,
    /// Deliveries a worker acknowledged without redoing them: their idempotency key was already
    /// applied (a redelivery after a lost lease, a relay publishing twice, a redrive).
    pub duplicates_skipped: u64,
}

/// One topic over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicReport {
    /// Topic name.
    pub name: String,
    /// Messages published to it.
    pub published: u64,
    /// Acknowledged (all groups).
    pub acked: u64,
    /// Retried deliveries (all groups).
    pub retried: u64,
    /// Dead-lettered (all groups).
    pub dead_lettered: u64,
    /// Publishes refused because it was full.
    pub rejected: u64,
    /// Refused publishes over publishes tried.
    pub refused_share: f64,
    /// Workers of its pool as configured.
    pub workers: u32,
    /// Arrivals per second (publishes accepted and retries).
    pub arrival_rate: f64,
    /// Time messages waited before a worker took them, ms.
    pub wait_ms: WaitMs,
    /// Time workers took per message, ms.
    pub service_ms: ServiceMs,
    /// Measured utilisation: busy worker time / available worker time.
    pub utilization: f64,
    /// What queueing theory predicts, if the topic has a pool.
    pub theory: Option<TheoryReport>,
    /// Little's law, L = λW, as a check of the bookkeeping.
    pub littles_law: LittlesLaw,
    /// Parked now: out of attempts, waiting for room in its full dead-letter topic.
    pub parked: u64,
    /// Dead letters redriven out of it (a dead-letter topic) back to their origin.
    pub redriven: u64,
    /// The steady state from the run's calm seconds: warm-up dropped, a 95% confidence
    /// interval for the mean wait, theory held against it, and why they differ if they do.
    pub steady_state: SteadyState,
    /// Per engine second: the depth measured against the transient forecast.
    pub series: TopicSeries,
}

/// One topic per engine second, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicSeries {
    /// The engine second the first value closes.
    pub first_second: u64,
    /// Messages waiting at the end of each second.
    pub depth: Vec<u64>,
    /// What the transient forecast expected waiting then (birth–death chain with the
    /// schedule's λ(t) and the live workers; an approximation for non-exponential service,
    /// retries and follow-up topics).
    pub expected_depth: Vec<f64>,
}

/// Wait statistics, ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WaitMs {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// Service statistics, ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServiceMs {
    /// Mean.
    pub mean: f64,
}

/// A queueing-theory prediction as reported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TheoryReport {
    /// Which model, and whether it is exact or an approximation.
    pub model: &'static str,
    /// Predicted utilisation ρ.
    pub utilization: f64,
    /// Probability an arrival waits.
    pub p_wait: f64,
    /// Predicted mean wait, ms.
    pub wait_ms_mean: f64,
    /// Predicted 99th percentile of the wait, ms, from Erlang C's exponential tail
    /// (P(Wq > t) = C·e^{−(cμ−λ)t}); only where the model is exact.
    pub wait_ms_p99: Option<f64>,
    /// The finite topic's refusal probability (M/M/c/K with K = its capacity) at the offered
    /// rate (deliveries plus refused publishes), beside the measured `refused_share`.
    pub p_refused: Option<f64>,
}

/// Both sides of Little's law for the queue.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LittlesLaw {
    /// Time-averaged number of messages waiting (L).
    pub mean_queue_length: f64,
    /// Arrival rate × mean wait (λW), which should match L.
    pub arrival_rate_x_mean_wait: f64,
}

/// Invariants checked at the end of the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Invariants {
    /// Every published message is, in every group, in exactly one of queued / in flight /
    /// parked (found there in the books) or acked / dead-lettered (settled); every settling
    /// started from an open message; no effect was applied twice for one key; and the counters
    /// balance (received = acked + dead_lettered + in_flight + queued + parked).
    pub no_message_lost: bool,
    /// The per-message ledger behind it.
    pub ledger: LedgerReport,
    /// Worker effects: keys applied and any applied more than once.
    pub effects: EffectTally,
}

/// Rounds to `digits` decimals so reports stay readable and byte-stable.
fn round(value: f64, digits: i32) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let factor = 10f64.powi(digits);
    (value * factor).round() / factor
}

/// A number as the JSON report writes it (`1.0`, not `1`; `null` for NaN), so the text and
/// JSON forms show the same figures.
/// A share (0–1) as a percentage with one decimal: `98.8%`.
fn percent(share: f64) -> String {
    if share.is_finite() {
        format!("{:.1}%", share * 100.0)
    } else {
        "—".to_string()
    }
}

impl Report {
    /// Builds the report of a run of `duration` on `clock` from its final snapshot.
    pub fn new(
        scenario: &Scenario,
        clock: Clock,
        duration: Duration,
        snapshot: &Snapshot,
        history: &HistoryView,
    ) -> Self {
        let mut totals = BrokerTotals::default();
        for view in &snapshot.topics {
            let t = &view.topic;
            totals.published += t.sum(|g| g.counters.received);
            totals.acked += t.sum(|g| g.counters.acked);
            totals.retried += t.sum(|g| g.counters.retried);
            totals.dead_lettered += t.sum(|g| g.counters.dead_lettered);
            totals.in_flight += t.in_flight();
            totals.queued += t.queued();
            totals.rejected += t.rejected;
            totals.parked += t.parked();
            totals.redriven += t.redriven;
        }
        totals.duplicates_skipped = snapshot.effects.duplicates_skipped;
        let latency = &snapshot.requests.latency_ms;
        let topics = snapshot
            .topics
            .iter()
            .enumerate()
            .map(|(index, view)| {
                let t = &view.topic;
                let seconds = history.topics.get(index).map_or(&[][..], Vec::as_slice);
                let delivered = t.sum(|g| g.counters.delivered);
                let retry_share = if delivered > 0 {
                    t.sum(|g| g.counters.retried) as f64 / delivered as f64
                } else {
                    0.0
                };
                let workers = scenario
                    .workers
                    .iter()
                    .find(|w| w.topic == t.name)
                    .map_or(0, |w| w.concurrency);
                let lambda = view.arrival_rate;
                TopicReport {
                    name: t.name.clone(),
                    published: t.published,
                    acked: t.sum(|g| g.counters.acked),
                    retried: t.sum(|g| g.counters.retried),
                    dead_lettered: t.sum(|g| g.counters.dead_lettered),
                    rejected: t.rejected,
                    refused_share: if t.published + t.rejected > 0 {
                        round(t.rejected as f64 / (t.published + t.rejected) as f64, 6)
                    } else {
                        0.0
                    },
                    workers,
                    arrival_rate: round(lambda, 4),
                    wait_ms: WaitMs {
                        mean: round(t.wait_ms.mean, 3),
                        p50: round(t.wait_ms.p50, 3),
                        p99: round(t.wait_ms.p99, 3),
                    },
                    service_ms: ServiceMs {
                        mean: round(t.service_ms.mean, 3),
                    },
                    utilization: round(view.utilization, 4),
                    theory: view.theory.map(|p| TheoryReport {
                        model: p.model,
                        utilization: round(p.utilization, 4),
                        p_wait: round(p.p_wait, 4),
                        wait_ms_mean: round(p.wait_ms_mean, 3),
                        wait_ms_p99: p
                            .model
                            .contains("exact")
                            .then(|| p.wait_quantile_ms(0.99))
                            .flatten()
                            .map(|q| round(q, 3)),
                        p_refused: scenario
                            .workers
                            .iter()
                            .find(|w| w.topic == t.name)
                            .and_then(|pool| {
                                mmck(
                                    lambda + t.rejected as f64 / duration.as_secs_f64().max(1e-9),
                                    pool.service_time.mean_ms(),
                                    view.live_workers,
                                    u64::from(t.capacity),
                                )
                            })
                            .map(|f| round(f.p_block, 6)),
                    }),
                    littles_law: LittlesLaw {
                        mean_queue_length: round(t.mean_queue_length, 4),
                        arrival_rate_x_mean_wait: round(lambda * t.wait_ms.mean / 1000.0, 4),
                    },
                    parked: t.parked(),
                    redriven: t.redriven,
                    steady_state: steady::estimate(
                        seconds,
                        TopicFacts::of(scenario, index, retry_share),
                    ),
                    series: TopicSeries {
                        first_second: history.first_second,
                        depth: seconds.iter().map(|s| s.depth).collect(),
                        expected_depth: seconds
                            .iter()
                            .map(|s| round(s.expected_depth, 2))
                            .collect(),
                    },
                }
            })
            .collect();
        Self {
            scenario: scenario.meta.name.clone(),
            seed: scenario.meta.seed,
            mode: clock.mode(),
            duration_s: duration.as_secs_f64(),
            requests: RequestsReport {
                sent: snapshot.requests.sent,
                by_status: snapshot.requests.by_status.clone(),
                latency_ms: Percentiles {
                    p50: round(latency.p50, 3),
                    p95: round(latency.p95, 3),
                    p99: round(latency.p99, 3),
                    max: round(latency.max, 3),
                },
                late: snapshot.requests.late,
                goodput: snapshot.requests.goodput,
            },
            cache: CacheReport {
                hits: snapshot.cache.hits,
                misses: snapshot.cache.misses,
                hit_ratio: round(snapshot.cache.hit_ratio(), 4),
                coalesced: snapshot.cache.coalesced,
            },
            database: snapshot.database.connections.map(|_| snapshot.database),
            broker: totals,
            topics,
            outbox: snapshot.outbox,
            orphaned_writes: snapshot.orphaned_writes,
            invariants: Invariants {
                no_message_lost: snapshot.no_message_lost,
                ledger: snapshot.ledger,
                effects: snapshot.effects,
            },
        }
    }

    /// The report as text, for a terminal.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "{} — {} s ({}), seed {}\n\n",
            self.scenario, self.duration_s, self.mode, self.seed
        );
        let r = &self.requests;
        let by_status = serde_json::to_string(&r.by_status).unwrap_or_default();
        out.push_str(&format!(
            "requests  {} sent   by status {}   latency p50 {}  p95 {}  p99 {}\n",
            r.sent,
            by_status,
            ms(r.latency_ms.p50),
            ms(r.latency_ms.p95),
            ms(r.latency_ms.p99)
        ));
        out.push_str(&format!(
            "goodput   {} successes on time, {} late (answered after their route's deadline)\n",
            r.goodput, r.late
        ));
        out.push_str(&format!(
            "cache     {}, {} (hit ratio {})",
            count(self.cache.hits, "hit"),
            count_as(self.cache.misses, "miss", "misses"),
            percent(self.cache.hit_ratio)
        ));
        if self.cache.coalesced > 0 {
            out.push_str(&format!(
                "; {} of the misses waited for another request's load (database reads: {})",
                self.cache.coalesced,
                self.cache.misses.saturating_sub(self.cache.coalesced)
            ));
        }
        out.push('\n');
        if let Some(pool) = &self.database {
            out.push_str(&format!(
                "database  {} connections: {} queries got one, {} timed out waiting (503), \
                 longest wait {}\n",
                pool.connections.unwrap_or_default(),
                pool.acquired,
                pool.timeouts,
                ms(pool.max_wait_ms)
            ));
        }
        let b = &self.broker;
        out.push_str(&format!(
            "broker    published {}  acked {}  retried {}  dead-lettered {}  in flight {}  queued {}  rejected {}",
            b.published, b.acked, b.retried, b.dead_lettered, b.in_flight, b.queued, b.rejected
        ));
        // Shown only when something happened, so a run without them reads as before.
        if b.parked > 0 || b.redriven > 0 {
            out.push_str(&format!("  parked {}  redriven {}", b.parked, b.redriven));
        }
        out.push_str("\n\n");
        out.push_str(&format!(
            "  {:<14} {:>8} {:>8} {:>6} {:>3} {:>7} {:>5} {:>10} {:>10}  model\n",
            "topic", "publ.", "acked", "DLQ", "c", "λ/s", "ρ", "wait", "theory"
        ));
        for t in &self.topics {
            out.push_str(&format!(
                "  {:<14} {:>8} {:>8} {:>6} {:>3} {:>7.2} {:>5.2} {:>10} {:>10}  {}\n",
                t.name,
                t.published,
                t.acked,
                t.dead_lettered,
                t.workers,
                t.arrival_rate,
                t.utilization,
                ms(t.wait_ms.mean),
                t.theory
                    .map(|p| p.wait_ms_mean)
                    .filter(|w| w.is_finite())
                    .map_or_else(|| "—".to_string(), ms),
                t.theory.map_or("", |p| p.model)
            ));
        }
        out.push_str(
            "\nsteady state: calm seconds only, warm-up dropped, mean wait with its 95% interval\n",
        );
        for t in self.topics.iter().filter(|t| t.theory.is_some()) {
            let st = &t.steady_state;
            let wait = st.wait_ms.map_or_else(
                || "—".to_string(),
                |w| format!("{} [{}, {}]", ms(w.mean), ms(w.low), ms(w.high)),
            );
            let theory = st.theory_wait_ms.map_or_else(|| "—".to_string(), ms);
            out.push_str(&format!(
                "  {:<14} {:>6} s used  λ {:>7.2}/s  wait {wait}  theory {theory}  {}\n",
                t.name, st.used_s, st.arrival_rate, st.verdict
            ));
            for note in &st.notes {
                out.push_str(&format!("      · {note}\n"));
            }
        }
        out.push_str(&format!(
            "\noutbox    {} pending, {} relayed, relay lag {}   orphaned writes {}\n",
            self.outbox.pending,
            self.outbox.relayed,
            ms(self.outbox.relay_lag_ms as f64),
            self.orphaned_writes
        ));
        let ledger = &self.invariants.ledger;
        let effects = &self.invariants.effects;
        out.push_str(&format!(
            "effects   {} applied, {} of them more than once, {} skipped\n",
            count(effects.keys, "key"),
            effects.repeated,
            count(effects.duplicates_skipped, "duplicate")
        ));
        out.push_str(&format!(
            "\ninvariant: no message lost — {}   (ledger: {} open, {} settled, {} lost, {} \
             duplicated, {} bad transitions)\n",
            if self.invariants.no_message_lost {
                "holds"
            } else {
                "BROKEN"
            },
            ledger.open,
            ledger.settled,
            ledger.lost,
            ledger.duplicated,
            ledger.violations
        ));
        out
    }
}
