//! The event broker: `[[topics]]` with their capacity and retry policy, and the `[[workers]]`
//! pools that consume them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{RawDistribution, RawPublish};
use crate::scenario::span::Sp;

/// What a publisher does when a topic is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FullPolicy {
    /// Refuse at once (the API answers 503 with Retry-After).
    #[default]
    Reject,
    /// Wait for room up to `block_timeout_ms`, then refuse.
    Block,
}

/// Retry backoff: `initial_ms × multiplier^(attempt-1)`, capped at `max_ms`, ± `jitter`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBackoff {
    /// Delay before the first retry.
    #[schemars(range(max = 86400000))]
    pub initial_ms: Sp<f64>,
    /// Longest delay.
    #[schemars(range(max = 86400000))]
    pub max_ms: Sp<f64>,
    /// Growth per attempt (≥ 1).
    #[serde(default = "default_multiplier")]
    #[schemars(range(max = 100))]
    pub multiplier: Sp<f64>,
    /// Random spread as a fraction of the delay, 0–1.
    #[serde(default)]
    pub jitter: Sp<f64>,
}

fn default_multiplier() -> Sp<f64> {
    Sp::new(2.0, 0..0)
}

/// A broker topic.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTopic {
    /// Topic name.
    pub name: Sp<String>,
    /// What flows through it.
    #[serde(default)]
    pub explain: String,
    /// Most messages queued or in flight at once.
    #[schemars(range(max = 10000000))]
    pub capacity: Sp<u32>,
    /// What a publisher does when the topic is full.
    #[serde(default)]
    pub on_full: FullPolicy,
    /// With `on_full = "block"`: the longest wait for room (at least 1).
    #[serde(default)]
    #[schemars(range(max = 3600000))]
    pub block_timeout_ms: Option<Sp<u64>>,
    /// Deliveries before a message is dead-lettered.
    #[serde(default = "default_attempts")]
    #[schemars(range(max = 1000))]
    pub max_attempts: Sp<u32>,
    /// How long a worker may hold a message before it is redelivered.
    #[serde(default = "default_visibility")]
    #[schemars(range(max = 86400000))]
    pub visibility_timeout_ms: Sp<u64>,
    /// Delay between retries. Default: 100 ms initial, 10 s max, ×2 per attempt, no jitter.
    #[serde(default)]
    pub backoff: Option<RawBackoff>,
    /// Topic that receives messages that used up their attempts (dead-letter chains must not loop).
    #[serde(default)]
    pub dead_letter: Option<Sp<String>>,
}

fn default_attempts() -> Sp<u32> {
    Sp::new(5, 0..0)
}

fn default_visibility() -> Sp<u64> {
    Sp::new(30_000, 0..0)
}

/// A worker pool: one consumer group on a topic.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWorkerPool {
    /// Pool (consumer group) name.
    pub name: Sp<String>,
    /// Topic consumed.
    pub topic: Sp<String>,
    /// What the workers do.
    #[serde(default)]
    pub explain: String,
    /// Workers processing in parallel.
    #[schemars(range(max = 1000))]
    pub concurrency: Sp<u32>,
    /// Time to process one message.
    pub service_time: Sp<RawDistribution>,
    /// Chance that processing fails (0–1); failures are retried.
    #[serde(default)]
    pub failure_probability: Sp<f64>,
    /// A message still processing after this is abandoned and counted as a failure.
    #[serde(default)]
    #[schemars(range(max = 86400000))]
    pub timeout_ms: Option<Sp<u64>>,
    /// Follow-up events published when a message is processed successfully (through the
    /// pool's own outbox, in the same transaction as its effect).
    #[serde(default)]
    pub publishes: Vec<RawPublish>,
    /// A row written once per message (idempotency key) when it succeeds, in one transaction
    /// with the pool's inbox record and its follow-ups.
    #[serde(default)]
    pub effect: Option<Sp<RawEffect>>,
    /// A row written on every attempt, successful or not (e.g. a delivery log).
    #[serde(default)]
    pub on_attempt: Option<Sp<RawEffect>>,
    /// A row written once per message when the pool gives it up (out of attempts).
    #[serde(default)]
    pub on_give_up: Option<Sp<RawEffect>>,
}

/// A worker's write: `insert = "table"` or `update = "table"` with `row = "$row.id"`, and `set`:
/// column = literal, or `"$name"` (`$now`, `$event`, `$topic`, `$message`, `$key`, `$attempt`,
/// `$outcome`, `$error`, `$latency_ms`, `$tenant`, `$row.<column>`; `$$` for a literal `$`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEffect {
    /// Insert a row into this table.
    #[serde(default)]
    pub insert: Option<Sp<String>>,
    /// Update a row of this table (the one `row` names).
    #[serde(default)]
    pub update: Option<Sp<String>>,
    /// With `update`: the row's id, e.g. "$row.id".
    #[serde(default)]
    pub row: Option<Sp<String>>,
    /// The columns to set.
    #[serde(default)]
    pub set: indexmap::IndexMap<String, Sp<serde_json::Value>>,
}
