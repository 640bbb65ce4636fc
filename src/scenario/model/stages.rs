//! The request pipeline: a [`Stage`] and the names of the [`StageKind`]s.

use serde::Serialize;

use super::{Distribution, StageKind};

/// A stage of the request pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    /// Unique id.
    pub id: String,
    /// What the engine does.
    pub kind: StageKind,
    /// Graph title.
    pub title: String,
    /// Learner text.
    pub explain: String,
    /// Modelled latency, if any.
    pub latency: Option<Distribution>,
    /// Normal successors.
    pub next: Vec<String>,
    /// Successor on a hit (cdn, cache).
    pub on_hit: Option<String>,
}

impl StageKind {
    /// The snake_case name used in files and traces.
    pub fn as_str(&self) -> &'static str {
        match self {
            StageKind::Dns => "dns",
            StageKind::Cdn => "cdn",
            StageKind::Waf => "waf",
            StageKind::LoadBalancer => "load_balancer",
            StageKind::Gateway => "gateway",
            StageKind::RequestId => "request_id",
            StageKind::Sanitize => "sanitize",
            StageKind::Validate => "validate",
            StageKind::RateLimit => "rate_limit",
            StageKind::Auth => "auth",
            StageKind::Tenant => "tenant",
            StageKind::Rbac => "rbac",
            StageKind::Controller => "controller",
            StageKind::Cache => "cache",
            StageKind::Database => "database",
            StageKind::BrokerPublish => "broker_publish",
            StageKind::Response => "response",
        }
    }
}
