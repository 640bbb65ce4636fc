//! Reading a tour condition's figure (`payments.queued`, `api.p99_ms`, `time_s`) from a
//! [`Snapshot`], and turning a tour step's actions into the engine commands the keys send —
//! so `tour --check` and the TUI play a step the same way.

use super::command::Command;
use super::sim::Snapshot;
use crate::scenario::{Metric, SystemFigure, TopicFigure, TourAction};

/// The figure `metric` names in `snapshot`. `None` when the snapshot does not hold it: a row
/// count (read with [`Command::Rows`]), a windowed figure before the window's first second, or
/// a topic the snapshot does not have.
pub fn read(snapshot: &Snapshot, metric: &Metric) -> Option<f64> {
    match metric {
        Metric::System(figure) => system(snapshot, *figure),
        Metric::Status(code) => Some(
            snapshot
                .requests
                .by_status
                .get(&code.to_string())
                .copied()
                .unwrap_or(0) as f64,
        ),
        Metric::Topic { topic, figure } => {
            let view = snapshot.topics.iter().find(|t| &t.topic.name == topic)?;
            topic_figure(view, *figure)
        }
        Metric::Rows { .. } => None,
    }
}

fn system(snapshot: &Snapshot, figure: SystemFigure) -> Option<f64> {
    use SystemFigure as F;
    let window = snapshot.api.window.as_ref();
    let requests = &snapshot.requests;
    let count = |n: u64| Some(n as f64);
    match figure {
        F::TimeS => Some(snapshot.elapsed_ms as f64 / 1000.0),
        F::Rate => Some(snapshot.rate_multiplier),
        F::Requests => count(requests.sent),
        F::RequestsLate => count(requests.late),
        F::RequestsGoodput => count(requests.goodput),
        F::RequestsMeanMs => (requests.sent > 0).then_some(requests.latency_ms.mean),
        F::RequestsP99Ms => (requests.sent > 0).then_some(requests.latency_ms.p99),
        F::ApiRps => window.map(|w| w.request_rate),
        F::ApiErrorShare => window.and_then(|w| w.error_share),
        F::ApiThrottledRps => window.map(|w| w.throttled_rate),
        F::ApiUnavailableRps => window.map(|w| w.unavailable_rate),
        F::ApiGoodput => window.map(|w| w.goodput),
        F::ApiP99Ms => window.and_then(|w| w.latency_p99_ms),
        F::CacheHits => count(snapshot.cache.hits),
        F::CacheMisses => count(snapshot.cache.misses),
        F::CacheHitRatio => Some(snapshot.cache.hit_ratio()),
        F::CacheEntries => count(snapshot.cache.entries),
        F::CacheCoalesced => count(snapshot.cache.coalesced),
        F::DatabaseTimeouts => count(snapshot.database.timeouts),
        F::DatabaseInUse => count(snapshot.database.in_use),
        F::DatabaseWaiting => count(snapshot.database.waiting),
        F::DatabaseMaxWaitMs => Some(snapshot.database.max_wait_ms),
        F::OutboxPending => count(snapshot.outbox.pending),
        F::OutboxRelayed => count(snapshot.outbox.relayed),
        F::OutboxLagMs => count(snapshot.outbox.relay_lag_ms),
        F::OrphanedWrites => count(snapshot.orphaned_writes),
        F::LedgerLost => count(snapshot.ledger.lost),
        F::LedgerDuplicated => count(snapshot.ledger.duplicated),
        F::LedgerSettled => count(snapshot.ledger.settled),
        F::EffectsApplied => count(snapshot.effects.keys),
        F::EffectsRepeated => count(snapshot.effects.repeated),
        F::EffectsDuplicatesSkipped => count(snapshot.effects.duplicates_skipped),
    }
}

fn topic_figure(view: &super::sim::TopicView, figure: TopicFigure) -> Option<f64> {
    use TopicFigure as F;
    let topic = &view.topic;
    let window = view.window.as_ref();
    let total = |f: fn(&super::GroupCounters) -> u64| topic.sum(|g| f(&g.counters)) as f64;
    Some(match figure {
        F::Published => topic.published as f64,
        F::Refused => topic.rejected as f64,
        F::Queued => topic.queued() as f64,
        F::InFlight => topic.in_flight() as f64,
        F::Parked => topic.parked() as f64,
        F::Backlog => topic.backlog() as f64,
        F::Acked => total(|c| c.acked),
        F::Retried => total(|c| c.retried),
        F::DeadLettered => total(|c| c.dead_lettered),
        F::Expired => total(|c| c.expired),
        F::DeadLetters => topic.dead_letters.as_ref().map_or(0, |d| d.depth) as f64,
        F::Redriven => topic.redriven as f64,
        F::LiveWorkers => f64::from(view.live_workers),
        F::Utilization => view.utilization,
        F::ArrivalRate => view.arrival_rate,
        F::WaitMeanMs => topic.wait_ms.mean,
        F::WaitP99Ms => topic.wait_ms.p99,
        // The window's figures: none before its first second, and no wait when nothing was
        // leased in it.
        F::ArrivalRateNow => window?.arrival_rate,
        F::OfferedRateNow => window?.offered_rate,
        F::RefusedShareNow => window?.refused_share,
        F::UtilizationNow => window?.utilization,
        F::WaitNowMs => window?.wait_ms_mean?,
    })
}

/// The engine commands that carry out `action`, in order.
pub fn commands(action: &TourAction) -> Vec<Command> {
    let times = |count: u32, command: Command| vec![command; count as usize];
    match action {
        TourAction::SetRate { multiplier } => vec![Command::SetRate {
            multiplier: *multiplier,
        }],
        TourAction::TimeScale { scale } => vec![Command::SetTimeScale { scale: *scale }],
        TourAction::AddWorkers { pool, count } => {
            times(*count, Command::AddWorker { pool: pool.clone() })
        }
        TourAction::RetireWorkers { pool, count } => {
            times(*count, Command::RetireWorker { pool: pool.clone() })
        }
        TourAction::Send { request, count } => times(
            *count,
            Command::SendNamed {
                id: request.clone(),
            },
        ),
        TourAction::Fault { fault, duration } => vec![Command::Fault {
            action: fault.clone(),
            duration_ms: duration.map(|d| d.as_millis() as u64),
        }],
    }
}
