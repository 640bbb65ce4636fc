//! Fault injection: the scenario's scheduled faults and the live controls use the same code.
//!
//! Each fault is applied to the real running parts — workers are really aborted, the database
//! really sleeps longer, the cache is really emptied, dead letters really go back to their
//! origin topic — and, if it has a duration, reverted when the duration is over.

use std::time::Duration;

use serde_json::json;

use super::system::System;
use crate::scenario::FaultAction;

/// Applies `action`; returns a sentence describing what happened, for the event stream.
pub fn apply(engine: &System, action: &FaultAction, duration: Option<Duration>) -> String {
    let core = engine.core();
    let lasting = duration.map_or(String::new(), |d| format!(" for {} s", d.as_secs_f64()));
    match action {
        FaultAction::KillWorkers { pool, count } => match engine.pool(pool) {
            Some(runtime) => {
                let killed = runtime.kill(*count);
                format!(
                    "killed {} worker(s) of {pool}{lasting}: their messages come back when the leases expire",
                    killed.len()
                )
            }
            None => format!("no worker pool {pool}"),
        },
        FaultAction::SlowWorkers { pool, extra_ms } => match engine.pool(pool) {
            Some(runtime) => {
                runtime.set_extra_ms(*extra_ms);
                format!("{pool} is {extra_ms} ms slower per message{lasting}")
            }
            None => format!("no worker pool {pool}"),
        },
        FaultAction::SlowDatabase { extra_ms } => {
            core.faults.set_db_extra_ms(*extra_ms);
            format!("database queries take {extra_ms} ms longer{lasting}")
        }
        FaultAction::FlushCache => {
            let before = core.cache.stats().entries;
            core.cache.clear();
            format!("cache flushed: {before} entries dropped, the next reads miss")
        }
        FaultAction::TrafficSpike { multiplier } => {
            core.traffic.set_spike(*multiplier);
            format!("traffic ×{multiplier}{lasting}")
        }
        FaultAction::PoisonMessage { topic } => {
            let payload = json!({ "poison": true, "note": "a message no handler can process" });
            match core.broker.try_publish(topic, "poison", payload, true) {
                Ok(id) => format!(
                    "poison message #{id} published to {topic}: it will fail every attempt and be dead-lettered"
                ),
                Err(error) => format!("poison message refused: {error}"),
            }
        }
        FaultAction::PauseTopic { topic } => {
            let until = crate::engine::clock::deadline_after(
                tokio::time::Instant::now(),
                duration.unwrap_or(Duration::from_secs(365 * 24 * 3600)),
            );
            core.broker.pause(topic, until);
            format!("deliveries of {topic} paused{lasting}")
        }
        FaultAction::Redrive { topic } => match core.broker.redrive(topic, None) {
            Ok(outcome) => outcome.describe(),
            Err(error) => format!("redrive refused: {error}"),
        },
    }
}

/// Undoes `action` (at the end of its duration); returns a description, or `None` if the fault
/// has nothing to undo.
pub fn revert(engine: &System, action: &FaultAction) -> Option<String> {
    let core = engine.core();
    match action {
        FaultAction::KillWorkers { pool, .. } => engine.pool(pool).map(|runtime| {
            let restarted = runtime.restart_crashed();
            format!("{restarted} worker(s) of {pool} restarted")
        }),
        FaultAction::SlowWorkers { pool, .. } => engine.pool(pool).map(|runtime| {
            runtime.set_extra_ms(0.0);
            format!("{pool} back to normal speed")
        }),
        FaultAction::SlowDatabase { .. } => {
            core.faults.set_db_extra_ms(0.0);
            Some("database back to normal speed".to_string())
        }
        FaultAction::TrafficSpike { .. } => {
            core.traffic.set_spike(1.0);
            Some("traffic spike over".to_string())
        }
        FaultAction::PauseTopic { topic } => {
            core.broker.resume(topic);
            Some(format!("deliveries of {topic} resumed"))
        }
        FaultAction::FlushCache
        | FaultAction::PoisonMessage { .. }
        | FaultAction::Redrive { .. } => None,
    }
}
