//! Guided tours through the views.

use std::time::Duration;

use serde::Serialize;

use super::{Condition, FaultAction, View};

/// A step of a tour.
#[derive(Debug, Clone, Serialize)]
pub struct TourStep {
    /// View shown.
    pub view: View,
    /// Request to send (lifecycle).
    pub request: Option<String>,
    /// Stage to stop at (lifecycle).
    pub stage: Option<String>,
    /// Table to select (ERD).
    pub table: Option<String>,
    /// Column of the table to select (ERD).
    pub column: Option<String>,
    /// Follow the selected column's foreign key (ERD).
    pub follow: bool,
    /// Open the rows at this row, 1-based (ERD).
    pub row: Option<u32>,
    /// Topic to select (broker).
    pub topic: Option<String>,
    /// Text.
    pub say: String,
    /// What the step does to the running system first (set the rate, break something, …).
    pub actions: Vec<TourAction>,
    /// Then how long it lets the system run before the request and the expectations.
    pub wait: Option<Wait>,
    /// What the step's request must show, and what must hold of the engine afterwards.
    pub expect: Option<Expect>,
    /// Where the step is written in its file (byte offsets), for `tour --check` to point at.
    #[serde(skip)]
    pub at: std::ops::Range<usize>,
}

/// What a step must show.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Expect {
    /// The response's HTTP status.
    pub status: Option<u16>,
    /// The outcome at the step's stage (`pass`, `hit`, `miss`, `reject`, `error`, `skip`).
    pub outcome: Option<String>,
    /// Conditions on the engine's figures once the step has run (`payments.dead_letters >= 1`).
    pub that: Vec<Condition>,
}

/// Something a tour step does to the running system — the same engine commands the keys send.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TourAction {
    /// Set the traffic-rate multiplier (0 stops generated traffic).
    SetRate {
        /// The multiplier.
        multiplier: f64,
    },
    /// Set how many engine seconds pass per wall second (live runs only; virtual time runs as
    /// fast as it can).
    TimeScale {
        /// The scale.
        scale: f64,
    },
    /// Add workers to a pool.
    AddWorkers {
        /// The pool.
        pool: String,
        /// How many.
        count: u32,
    },
    /// Retire workers of a pool, each after its current message.
    RetireWorkers {
        /// The pool.
        pool: String,
        /// How many.
        count: u32,
    },
    /// Send a named request `count` times (each with all its `repeat` copies).
    Send {
        /// The request id.
        request: String,
        /// How many times.
        count: u32,
    },
    /// Apply a fault now, reverted after `duration` if given.
    Fault {
        /// What breaks.
        fault: FaultAction,
        /// For how long (`None`: until changed).
        duration: Option<Duration>,
    },
}

/// How long a step lets the system run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Wait {
    /// A fixed stretch of engine time.
    For(Duration),
    /// Until the condition holds; a tour check fails if it does not within `within`.
    Until {
        /// The condition.
        condition: Condition,
        /// The most engine time to wait.
        within: Duration,
    },
}

/// The outcomes a step may expect at its stage, as traces name them.
pub const STAGE_OUTCOMES: [&str; 6] = ["pass", "hit", "miss", "reject", "error", "skip"];

/// A guided tour.
#[derive(Debug, Clone, Serialize)]
pub struct Tour {
    /// Unique id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Steps.
    pub steps: Vec<TourStep>,
}
