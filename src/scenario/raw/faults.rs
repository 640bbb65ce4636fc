//! Faults injected at fixed times of a run: `[[faults]]`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::span::Sp;

/// The kinds of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Crash `count` workers of `pool`.
    KillWorkers,
    /// Add `extra_ms` to every message of `pool`.
    SlowWorkers,
    /// Add `extra_ms` to every database query.
    SlowDatabase,
    /// Drop every cache entry.
    FlushCache,
    /// Multiply the traffic rate by `multiplier`.
    TrafficSpike,
    /// Publish one message to `topic` that always fails.
    PoisonMessage,
    /// Stop delivering `topic` for `duration_s`.
    PauseTopic,
    /// Send every dead letter of dead-letter topic `topic` back to its origin topic.
    Redrive,
}

/// A fault injected at a fixed time.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    /// When, in seconds from the start of the run.
    #[schemars(range(max = 31536000))]
    pub at_s: Sp<f64>,
    /// What happens.
    pub kind: Sp<FaultKind>,
    /// How long it lasts (kill_workers, slow_workers, slow_database, traffic_spike, pause_topic);
    /// until the end of the run when left out.
    #[serde(default)]
    #[schemars(range(max = 31536000))]
    pub duration_s: Option<Sp<f64>>,
    /// Worker pool (kill_workers, slow_workers).
    #[serde(default)]
    pub pool: Option<Sp<String>>,
    /// Topic (poison_message, pause_topic; redrive: a dead-letter topic).
    #[serde(default)]
    pub topic: Option<Sp<String>>,
    /// Workers to kill (kill_workers), from 1 to the pool's concurrency.
    #[serde(default)]
    pub count: Option<Sp<u32>>,
    /// Added delay (slow_workers, slow_database).
    #[serde(default)]
    #[schemars(range(max = 3600000))]
    pub extra_ms: Option<Sp<f64>>,
    /// Rate multiplier (traffic_spike), above 0.
    #[serde(default)]
    #[schemars(range(max = 100))]
    pub multiplier: Option<Sp<f64>>,
}
