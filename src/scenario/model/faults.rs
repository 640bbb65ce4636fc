//! Faults scheduled at fixed times of a run.

use std::time::Duration;

use serde::Serialize;

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultAction {
    /// Crash workers.
    KillWorkers {
        /// Pool.
        pool: String,
        /// How many.
        count: u32,
    },
    /// Slow a pool down.
    SlowWorkers {
        /// Pool.
        pool: String,
        /// Added delay.
        extra_ms: f64,
    },
    /// Slow every query down.
    SlowDatabase {
        /// Added delay.
        extra_ms: f64,
    },
    /// Drop every cache entry.
    FlushCache,
    /// Multiply traffic.
    TrafficSpike {
        /// Rate multiplier.
        multiplier: f64,
    },
    /// Publish a message that always fails.
    PoisonMessage {
        /// Topic.
        topic: String,
    },
    /// Stop delivering a topic.
    PauseTopic {
        /// Topic.
        topic: String,
    },
    /// Send a dead-letter topic's messages back to their origin topics.
    Redrive {
        /// The dead-letter topic.
        topic: String,
    },
}

/// A scheduled fault.
#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    /// When.
    pub at: Duration,
    /// How long (None: until the end).
    pub duration: Option<Duration>,
    /// What.
    pub action: FaultAction,
}
