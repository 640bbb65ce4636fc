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
    /// Broker: the topic to select.
    #[serde(default)]
    pub topic: Option<Sp<String>>,
    /// What to say at this step.
    pub say: String,
    /// Lifecycle: what the request must show, checked by `archsim tour --check` so the
    /// narration cannot drift from what the code does.
    #[serde(default)]
    pub expect: Option<RawExpect>,
}

/// What a lifecycle step's request must show.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// The HTTP status of the response, e.g. 404.
    #[serde(default)]
    pub status: Option<Sp<u16>>,
    /// The outcome at the step's `stage`: `pass`, `hit`, `miss`, `reject`, `error` or `skip`.
    #[serde(default)]
    pub outcome: Option<Sp<String>>,
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
