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
}

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
