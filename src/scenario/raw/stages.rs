//! The request pipeline: `[[stages]]`, each of one [`StageKind`], linked into a graph by `next`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::RawDistribution;
use crate::scenario::span::Sp;

/// The kinds of stage the engine implements.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    /// Resolve the Host header to a tenant.
    Dns,
    /// Serve static assets from the edge cache.
    Cdn,
    /// Per-IP request and body-size limits.
    Waf,
    /// Pick an app instance.
    LoadBalancer,
    /// Match method and path to a route.
    Gateway,
    /// Assign a request id and log the request.
    RequestId,
    /// Reject control characters and over-long fields, trim text.
    Sanitize,
    /// Check the JSON body against the route's table columns.
    Validate,
    /// Per-tenant, per-user quota.
    RateLimit,
    /// Verify the bearer token.
    Auth,
    /// The token's tenant must equal the host's tenant.
    Tenant,
    /// The role's permission mask must contain the route's permission.
    Rbac,
    /// Run the route's action.
    Controller,
    /// Cache-aside read.
    Cache,
    /// Tenant-scoped SQL against the embedded database.
    Database,
    /// Publish the route's events to the broker.
    BrokerPublish,
    /// Send the response back.
    Response,
}

/// A stage of the request pipeline.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    /// Unique stage id, used by `next`, traces and tours.
    pub id: Sp<String>,
    /// What the engine does at this stage.
    pub kind: Sp<StageKind>,
    /// Title shown in the graph.
    pub title: String,
    /// Two or three sentences a learner understands. `{{rate_limit.burst}}` and the other
    /// placeholders (see the scenario README) render the scenario's configured values.
    #[serde(default)]
    pub explain: Sp<String>,
    /// Modelled latency added to the request at this stage.
    #[serde(default)]
    pub latency: Option<Sp<RawDistribution>>,
    /// Stages that follow on the normal path.
    #[serde(default)]
    pub next: Vec<Sp<String>>,
    /// For `cdn` and `cache` stages: where a hit goes instead.
    #[serde(default)]
    pub on_hit: Option<Sp<String>>,
}
