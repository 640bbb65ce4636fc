//! Guided tours through the views: `[[tours]]` and their steps.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::span::Sp;

/// A view of the TUI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// The request lifecycle graph.
    Lifecycle,
    /// The schema and its rows.
    Erd,
    /// The broker and its workers.
    Broker,
}

/// One step of a guided tour.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTourStep {
    /// The view to show.
    pub view: Sp<View>,
    /// Lifecycle: the request to send.
    #[serde(default)]
    pub request: Option<Sp<String>>,
    /// Lifecycle: the stage to stop at.
    #[serde(default)]
    pub stage: Option<Sp<String>>,
    /// ERD: the table to select.
    #[serde(default)]
    pub table: Option<Sp<String>>,
    /// ERD: the column of `table` to select.
    #[serde(default)]
    pub column: Option<Sp<String>>,
    /// ERD: follow the selected column's foreign key to the table it references.
    #[serde(default)]
    pub follow: Option<Sp<bool>>,
    /// ERD: open the rows of the table shown, at this row (1 is the first).
    #[serde(default)]
    pub row: Option<Sp<u32>>,
    /// Broker: the topic to select.
    #[serde(default)]
    pub topic: Option<Sp<String>>,
    /// What to say at this step.
    pub say: String,
    /// What the step does to the running system first, in order: set the rate, apply a fault,
    /// add or retire workers, send a request many times, … — the engine commands the keys send.
    #[serde(default, rename = "do")]
    pub actions: Vec<RawTourAction>,
    /// Then let this many engine seconds pass.
    #[serde(default)]
    pub wait_s: Option<Sp<f64>>,
    /// Or let engine time pass until this condition holds, e.g. `"payments.queued > 100"`.
    #[serde(default)]
    pub until: Option<Sp<String>>,
    /// The most engine seconds `until` may take before `archsim tour --check` fails the step.
    /// Default 600.
    #[serde(default)]
    pub within_s: Option<Sp<f64>>,
    /// What the step must show, checked by `archsim tour --check` so the narration cannot drift
    /// from what the code does.
    #[serde(default)]
    pub expect: Option<RawExpect>,
}

/// What a tour step can do to the running system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Set the traffic-rate multiplier to `multiplier` (0 stops generated traffic).
    SetRate,
    /// Set the engine seconds per wall second to `scale` (live runs; 0.125 to 64).
    TimeScale,
    /// Add `count` workers (default 1) to `pool`.
    AddWorkers,
    /// Retire `count` workers (default 1) of `pool`, each after its current message.
    RetireWorkers,
    /// Send the named request `request`, `count` times (default 1).
    Send,
    /// Crash `count` workers of `pool` (for `duration_s`, or until the end).
    KillWorkers,
    /// Add `extra_ms` to every message of `pool`.
    SlowWorkers,
    /// Add `extra_ms` to every database query.
    SlowDatabase,
    /// Drop every cache entry.
    FlushCache,
    /// Multiply the traffic rate by `multiplier` (for `duration_s`, or until the end).
    TrafficSpike,
    /// Publish one message to `topic` that always fails.
    PoisonMessage,
    /// Stop delivering `topic` (for `duration_s`, or until the end).
    PauseTopic,
    /// Send every dead letter of dead-letter topic `topic` back to its origin topic.
    Redrive,
}

/// One thing a tour step does, e.g. `{ action = "kill_workers", pool = "payment-workers",
/// count = 2 }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTourAction {
    /// What to do.
    pub action: Sp<ActionKind>,
    /// Rate multiplier (set_rate, traffic_spike).
    #[serde(default)]
    pub multiplier: Option<Sp<f64>>,
    /// Engine seconds per wall second (time_scale).
    #[serde(default)]
    pub scale: Option<Sp<f64>>,
    /// Worker pool (add_workers, retire_workers, kill_workers, slow_workers).
    #[serde(default)]
    pub pool: Option<Sp<String>>,
    /// How many (workers, or times to send a request). Default 1.
    #[serde(default)]
    pub count: Option<Sp<u32>>,
    /// Topic (poison_message, pause_topic; redrive: a dead-letter topic).
    #[serde(default)]
    pub topic: Option<Sp<String>>,
    /// Named request (send).
    #[serde(default)]
    pub request: Option<Sp<String>>,
    /// Added delay in ms (slow_workers, slow_database).
    #[serde(default)]
    pub extra_ms: Option<Sp<f64>>,
    /// How long a fault lasts, in engine seconds (kill_workers, slow_workers, slow_database,
    /// traffic_spike, pause_topic); until changed when left out.
    #[serde(default)]
    pub duration_s: Option<Sp<f64>>,
}

/// What a step must show.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// The HTTP status of the response, e.g. 404.
    #[serde(default)]
    pub status: Option<Sp<u16>>,
    /// The outcome at the step's `stage`: `pass`, `hit`, `miss`, `reject`, `error` or `skip`.
    #[serde(default)]
    pub outcome: Option<Sp<String>>,
    /// Conditions on the engine's figures once the step has run, e.g.
    /// `["payments.dead_letters >= 1", "ledger.lost == 0"]`.
    #[serde(default)]
    pub that: Vec<Sp<String>>,
}

/// A guided tour.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTour {
    /// Unique id.
    pub id: Sp<String>,
    /// Title shown in the tour picker.
    pub title: String,
    /// The steps, in order.
    pub steps: Vec<RawTourStep>,
}
