//! What is sent: named requests and the load generators that mix them.

use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

use super::{Arrival, Method, Publish, TokenKind};

/// A named request.
#[derive(Debug, Clone, Serialize)]
pub struct NamedRequest {
    /// Unique id.
    pub id: String,
    /// Picker line.
    pub title: String,
    /// What to notice.
    pub explain: String,
    /// Sender.
    pub persona: String,
    /// HTTP method.
    pub method: Method,
    /// Concrete path.
    pub path: String,
    /// Subdomain it is sent to.
    pub host_tenant: String,
    /// Token carried.
    pub token: TokenKind,
    /// Extra headers.
    pub headers: IndexMap<String, String>,
    /// JSON body.
    pub body: Option<serde_json::Value>,
    /// Times sent in a row.
    pub repeat: u32,
    /// Listed in the lifecycle picker.
    pub sample: bool,
}

/// A traffic burst.
#[derive(Debug, Clone, Serialize)]
pub struct Burst {
    /// Start.
    pub at: Duration,
    /// Length.
    pub duration: Duration,
    /// Rate multiplier.
    pub multiplier: f64,
}

/// A load generator.
#[derive(Debug, Clone, Serialize)]
pub struct Traffic {
    /// Name.
    pub name: String,
    /// Arrival process.
    pub arrival: Arrival,
    /// Mean rate.
    pub rate_per_s: f64,
    /// (request id, weight) pairs (empty with `publish`).
    pub mix: Vec<(String, f64)>,
    /// Publish this event straight to its topic at each arrival, instead of sending requests.
    pub publish: Option<Publish>,
    /// Bursts.
    pub bursts: Vec<Burst>,
}
