//! The HTTP API: `[[routes]]`, their methods and actions, and the events they publish.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::span::Sp;

/// HTTP method.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
pub enum Method {
    /// Read.
    #[serde(rename = "GET")]
    Get,
    /// Create.
    #[serde(rename = "POST")]
    Post,
    /// Replace or update.
    #[serde(rename = "PUT")]
    Put,
    /// Partial update.
    #[serde(rename = "PATCH")]
    Patch,
    /// Delete.
    #[serde(rename = "DELETE")]
    Delete,
}

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// List the tenant's rows of `table`.
    List,
    /// One row of `table` by `{id}`.
    Get,
    /// Insert a row into `table` from the JSON body.
    Create,
    /// Update a row of `table` by `{id}` from the JSON body.
    Update,
    /// Delete a row of `table` by `{id}`.
    Delete,
    /// Exchange email and password for an access token.
    IssueToken,
    /// Liveness check.
    Health,
}

/// How a route that writes gets its events to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublishMode {
    /// Transactional outbox: the row and its events are written in one database transaction,
    /// then published right after the commit; an event the broker cannot take yet stays in the
    /// outbox and a relay publishes it later. The request never fails for a full topic and no
    /// row is ever left without its event.
    #[default]
    Outbox,
    /// Dual write, for comparison: write the row, then publish. A full topic fails the request
    /// with 503 after the row is written, leaving an orphan row the client's retry duplicates.
    Direct,
}

/// An event a route or worker publishes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPublish {
    /// Topic to publish to.
    pub topic: Sp<String>,
    /// Event type, e.g. `payment.requested`.
    pub event: String,
}

/// An API route.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// HTTP method.
    pub method: Sp<Method>,
    /// Path, starting with `/api/v1/`; `{id}` marks the row id (last segment only).
    pub path: Sp<String>,
    /// What the controller does.
    pub action: Sp<Action>,
    /// Table the action works on (list/get/create/update/delete).
    #[serde(default)]
    pub table: Option<Sp<String>>,
    /// Permission the caller's role must have. Leave out only on public routes.
    #[serde(default)]
    pub permission: Option<Sp<String>>,
    /// No token needed. Required on `issue_token` and `health` routes.
    #[serde(default)]
    pub public: Sp<bool>,
    /// Cache reads of this route for this many seconds (cache-aside; needs a `cache` stage).
    /// At most a year.
    #[serde(default)]
    #[schemars(range(max = 31_536_000))]
    pub cache_ttl_s: Option<Sp<f64>>,
    /// Deadline (SLO) of this route in ms, at most 60000: a success (2xx/3xx) answered later
    /// counts as late, not as goodput. Leave out for no deadline (every success is on time).
    #[serde(default)]
    #[schemars(range(max = 3600000))]
    pub deadline_ms: Option<Sp<f64>>,
    /// Events published after the action succeeds (needs a `broker_publish` stage).
    #[serde(default)]
    pub publishes: Sp<Vec<RawPublish>>,
    /// How the events reach the broker: `outbox` (default: in the write's transaction, relayed
    /// if the topic is full) or `direct` (write, then publish: the dual write, for comparison).
    #[serde(default)]
    pub publish: Sp<PublishMode>,
    /// What the route is for.
    #[serde(default)]
    pub explain: String,
}
