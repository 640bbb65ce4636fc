//! Guided tours through the views.

use serde::Serialize;

use super::View;

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
    /// Topic to select (broker).
    pub topic: Option<String>,
    /// Text.
    pub say: String,
    /// What the step's request must show (lifecycle steps).
    pub expect: Option<Expect>,
    /// Where the step is written in its file (byte offsets), for `tour --check` to point at.
    #[serde(skip)]
    pub at: std::ops::Range<usize>,
}

/// What a lifecycle step's request must show.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Expect {
    /// The response's HTTP status.
    pub status: Option<u16>,
    /// The outcome at the step's stage (`pass`, `hit`, `miss`, `reject`, `error`, `skip`).
    pub outcome: Option<String>,
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
