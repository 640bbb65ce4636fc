//! The scenario file format, exactly as written in TOML.
//!
//! These serde types mirror the file one to one and carry source positions ([`Sp`]) on every value
//! that validation may need to point at. They are *not* the model the engine runs: `validate`
//! checks every cross-reference and turns them into the immutable [`crate::scenario::Scenario`].
//! Doc comments here become descriptions in the JSON Schema, which editors show while completing.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::span::Sp;

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "archsim scenario")]
pub struct RawScenario {
    /// Name, title, seed and domain of the scenario.
    pub scenario: RawMeta,
    /// How access tokens are signed and checked.
    pub auth: RawAuth,
    /// DNS, CDN and WAF settings at the edge.
    #[serde(default)]
    pub edge: RawEdge,
    /// The app instances behind the load balancer.
    #[serde(default)]
    pub load_balancer: RawLoadBalancer,
    /// The per-tenant, per-user request quota.
    #[serde(default)]
    pub rate_limit: RawRateLimit,
    /// The read cache in front of the database.
    #[serde(default)]
    pub cache: RawCache,
    /// The tenants (customers) of the SaaS; each has its own subdomain.
    #[serde(default)]
    pub tenants: Vec<RawTenant>,
    /// Named permission bits that roles combine into a bitmask.
    #[serde(default)]
    pub permissions: Vec<RawPermission>,
    /// Roles: named sets of permissions.
    #[serde(default)]
    pub roles: Vec<RawRole>,
    /// The people who use the system in traces, sample requests and traffic.
    #[serde(default)]
    pub personas: Vec<RawPersona>,
    /// Database tables: columns, keys, indexes and seed rows.
    #[serde(default)]
    pub tables: Vec<RawTable>,
    /// The stages a request passes through, as a graph.
    #[serde(default)]
    pub stages: Vec<RawStage>,
    /// The HTTP API.
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    /// Broker topics (queues), including dead-letter topics.
    #[serde(default)]
    pub topics: Vec<RawTopic>,
    /// Worker pools that consume topics.
    #[serde(default)]
    pub workers: Vec<RawWorkerPool>,
    /// Named requests: shown in the lifecycle picker and used by traffic.
    #[serde(default)]
    pub requests: Vec<RawRequest>,
    /// Load generators.
    #[serde(default)]
    pub traffic: Vec<RawTraffic>,
    /// Faults injected at fixed times of a run.
    #[serde(default)]
    pub faults: Vec<RawFault>,
    /// Guided tours through the views.
    #[serde(default)]
    pub tours: Vec<RawTour>,
}

/// Scenario metadata.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMeta {
    /// Short machine name, e.g. `saas`.
    pub name: Sp<String>,
    /// Human title shown in the status bar.
    pub title: String,
    /// A paragraph describing the system.
    #[serde(default)]
    pub description: String,
    /// Seed of every random draw: same seed, same run.
    #[serde(default)]
    pub seed: u64,
    /// Parent domain of the tenants' subdomains (`acme.<domain>`).
    #[serde(default = "default_domain")]
    pub domain: Sp<String>,
}

fn default_domain() -> Sp<String> {
    Sp::new("archsim.test".to_string(), 0..0)
}

/// Access-token settings (HS256 JWT).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// `iss` claim written into and required from tokens.
    pub issuer: Sp<String>,
    /// `aud` claim written into and required from tokens.
    pub audience: Sp<String>,
    /// HS256 shared secret (at least 32 bytes). A demo key: never reuse a real one.
    pub signing_key: Sp<String>,
    /// Lifetime of issued tokens in seconds.
    #[serde(default = "default_token_ttl")]
    pub token_ttl_s: Sp<u64>,
    /// Allowed clock difference when checking `exp` and `nbf`, in seconds.
    #[serde(default)]
    pub leeway_s: u64,
}

fn default_token_ttl() -> Sp<u64> {
    Sp::new(900, 0..0)
}

/// Edge settings: CDN for static assets and WAF limits.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEdge {
    /// Paths starting with this prefix are static assets served by the CDN. Starts and ends with
    /// `/` and lies outside the API (`/api/v1/`), e.g. `/static/`.
    #[serde(default)]
    pub static_prefix: Option<Sp<String>>,
    /// How long the CDN keeps an asset, in seconds. Default 300.
    #[serde(default)]
    pub cdn_ttl_s: Option<Sp<f64>>,
    /// WAF: most requests one client IP may send per minute. Default 6000.
    #[serde(default)]
    pub waf_requests_per_minute: Option<Sp<u32>>,
    /// WAF: largest request body accepted, in bytes (larger → 413). Default 65536 (64 KiB).
    #[serde(default)]
    pub max_body_bytes: Option<Sp<u32>>,
    /// Static assets the origin can serve.
    #[serde(default)]
    pub assets: Vec<RawAsset>,
}

/// One static asset.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAsset {
    /// Full path, under `edge.static_prefix`.
    pub path: Sp<String>,
    /// MIME type sent with the asset.
    pub content_type: String,
    /// Size of the generated asset body in bytes.
    pub size_bytes: Sp<u32>,
}

/// Load-balancing strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BalanceStrategy {
    /// Each instance in turn.
    #[default]
    RoundRobin,
    /// The instance with the fewest requests in progress.
    LeastConnections,
}

/// The app instances behind the load balancer.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLoadBalancer {
    /// Number of app instances.
    #[serde(default = "default_instances")]
    pub instances: Sp<u32>,
    /// How the next instance is chosen.
    #[serde(default)]
    pub strategy: BalanceStrategy,
}

fn default_instances() -> Sp<u32> {
    Sp::new(2, 0..0)
}

impl Default for RawLoadBalancer {
    fn default() -> Self {
        Self {
            instances: default_instances(),
            strategy: BalanceStrategy::default(),
        }
    }
}

/// Request quota per tenant and user (GCRA / token bucket).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    /// Sustained requests per second.
    #[serde(default = "default_rate")]
    pub requests_per_second: Sp<f64>,
    /// Requests that may arrive at once before the limit applies.
    #[serde(default = "default_burst")]
    pub burst: Sp<u32>,
}

fn default_rate() -> Sp<f64> {
    Sp::new(10.0, 0..0)
}

fn default_burst() -> Sp<u32> {
    Sp::new(20, 0..0)
}

impl Default for RawRateLimit {
    fn default() -> Self {
        Self {
            requests_per_second: default_rate(),
            burst: default_burst(),
        }
    }
}

/// Read-cache settings.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// Most entries kept; the least useful are evicted beyond it.
    #[serde(default = "default_cache_entries")]
    pub max_entries: Sp<u64>,
}

fn default_cache_entries() -> Sp<u64> {
    Sp::new(10_000, 0..0)
}

impl Default for RawCache {
    fn default() -> Self {
        Self {
            max_entries: default_cache_entries(),
        }
    }
}

/// A tenant: one customer organisation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    /// Subdomain label, also the tenant's short name (`acme` → `acme.archsim.test`).
    pub subdomain: Sp<String>,
    /// Display name.
    pub name: String,
    /// Billing plan.
    #[serde(default = "default_plan")]
    pub plan: String,
}

fn default_plan() -> String {
    "free".to_string()
}

/// A named permission bit.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPermission {
    /// Name used by roles and routes, e.g. `projects.read`.
    pub name: Sp<String>,
    /// Bit position in the role mask (0–63).
    pub bit: Sp<u32>,
    /// What the permission allows.
    #[serde(default)]
    pub explain: String,
}

/// A role: a named set of permissions.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    /// Role name, e.g. `admin`.
    pub name: Sp<String>,
    /// Names of the permissions the role grants.
    #[serde(default)]
    pub permissions: Vec<Sp<String>>,
    /// Who gets this role and why.
    #[serde(default)]
    pub explain: String,
}

/// A persona: a user account of one tenant.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPersona {
    /// Short name used on the command line (`--as alice`).
    pub name: Sp<String>,
    /// Subdomain of the persona's tenant.
    pub tenant: Sp<String>,
    /// Name of the persona's role.
    pub role: Sp<String>,
    /// Login email (unique).
    pub email: Sp<String>,
    /// Login password, at least 8 characters (stored hashed).
    pub password: Sp<String>,
    /// Full display name.
    #[serde(default)]
    pub display_name: String,
    /// What this persona is for in the scenario.
    #[serde(default)]
    pub explain: String,
}

/// SQL column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// 64-bit integer.
    Integer,
    /// Floating-point number.
    Real,
    /// UTF-8 text.
    Text,
    /// true/false (stored as 0/1).
    Boolean,
    /// RFC 3339 timestamp such as `2026-01-12T09:00:00Z` (stored as text).
    Timestamp,
}

/// Which identity section fills a table with rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FillFrom {
    /// One row per `[[tenants]]` entry: columns id, subdomain, name, plan.
    Tenants,
    /// One row per `[[roles]]` entry: columns id, name, permissions (the bitmask).
    Roles,
    /// One row per `[[personas]]` entry: columns id, tenant_id, role_id, email, name, password_hash.
    Personas,
}

/// A value the server fills in itself when a row is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AutoValue {
    /// The current time on the engine clock.
    Now,
    /// The id of the authenticated user.
    CurrentUser,
}

/// A database table.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    /// Table name (SQL identifier).
    pub name: Sp<String>,
    /// What the table holds, for learners.
    #[serde(default)]
    pub explain: String,
    /// Rows belong to a tenant: the table needs a `tenant_id` column referencing the tenants table,
    /// and every query is filtered by it.
    #[serde(default)]
    pub tenant_scoped: Sp<bool>,
    /// Rows come from an identity section instead of `rows`.
    #[serde(default)]
    pub fill: Option<Sp<FillFrom>>,
    /// Columns, in order.
    pub columns: Vec<RawColumn>,
    /// Secondary indexes.
    #[serde(default)]
    pub indexes: Vec<RawIndex>,
    /// Seed rows: one inline table per row, keyed by column name.
    #[serde(default)]
    pub rows: Vec<Sp<IndexMap<String, Sp<serde_json::Value>>>>,
}

/// A table column.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawColumn {
    /// Column name (SQL identifier).
    pub name: Sp<String>,
    /// SQL type.
    #[serde(rename = "type")]
    pub ty: Sp<ColumnType>,
    /// Part of the primary key. An integer primary key alone is assigned by the database.
    #[serde(default)]
    pub primary_key: bool,
    /// Values must be unique across the table.
    #[serde(default)]
    pub unique: bool,
    /// The column may be NULL (absent).
    #[serde(default)]
    pub nullable: bool,
    /// Foreign key: `table.column` this column points at.
    #[serde(default)]
    pub references: Option<Sp<String>>,
    /// Longest accepted text, in characters.
    #[serde(default)]
    pub max_length: Option<Sp<u32>>,
    /// Value used when a create request leaves the column out.
    #[serde(default)]
    pub default: Option<Sp<serde_json::Value>>,
    /// Filled in by the server on create; clients may not send it. Seed rows still give it a
    /// value unless the column is nullable or has a default.
    #[serde(default)]
    pub auto: Option<Sp<AutoValue>>,
    /// What the column means, for learners.
    #[serde(default)]
    pub explain: String,
}

/// A secondary index.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawIndex {
    /// Index name (SQL identifier).
    pub name: Sp<String>,
    /// Indexed columns, in order (put `tenant_id` first in tenant-scoped tables).
    pub columns: Vec<Sp<String>>,
    /// Values of the column combination must be unique.
    #[serde(default)]
    pub unique: bool,
    /// Which queries the index serves, for learners.
    #[serde(default)]
    pub explain: String,
}

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
    /// Two or three sentences a learner understands.
    #[serde(default)]
    pub explain: String,
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

/// Shape of a random duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DistributionKind {
    /// Always `ms`.
    Constant,
    /// Evenly between `min_ms` and `max_ms`.
    Uniform,
    /// Memoryless, with mean `mean_ms`.
    Exponential,
    /// Long-tailed, with median `p50_ms` and 99th percentile `p99_ms`.
    Lognormal,
}

/// A random duration in milliseconds, e.g. `{ dist = "lognormal", p50_ms = 4, p99_ms = 30 }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDistribution {
    // The values are spanned so validation can point at one key; `extend` keeps the schema's
    // `"default": null`, which schemars derives for a plain `Option<f64>` but not through `Sp`.
    /// The shape; decides which other keys are needed.
    pub dist: DistributionKind,
    /// `constant`: the duration.
    #[serde(default)]
    #[schemars(extend("default" = null))]
    pub ms: Option<Sp<f64>>,
    /// `uniform`: the shortest duration.
    #[serde(default)]
    #[schemars(extend("default" = null))]
    pub min_ms: Option<Sp<f64>>,
    /// `uniform`: the longest duration.
    #[serde(default)]
    #[schemars(extend("default" = null))]
    pub max_ms: Option<Sp<f64>>,
    /// `exponential`: the mean.
    #[serde(default)]
    #[schemars(extend("default" = null))]
    pub mean_ms: Option<Sp<f64>>,
    /// `lognormal`: the median.
    #[serde(default)]
    #[schemars(extend("default" = null))]
    pub p50_ms: Option<Sp<f64>>,
    /// `lognormal`: the 99th percentile.
    #[serde(default)]
    #[schemars(extend("default" = null))]
    pub p99_ms: Option<Sp<f64>>,
}

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
    #[serde(default)]
    pub cache_ttl_s: Option<Sp<f64>>,
    /// Events published after the action succeeds (needs a `broker_publish` stage).
    #[serde(default)]
    pub publishes: Sp<Vec<RawPublish>>,
    /// What the route is for.
    #[serde(default)]
    pub explain: String,
}

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
    pub initial_ms: Sp<f64>,
    /// Longest delay.
    pub max_ms: Sp<f64>,
    /// Growth per attempt (≥ 1).
    #[serde(default = "default_multiplier")]
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
    pub capacity: Sp<u32>,
    /// What a publisher does when the topic is full.
    #[serde(default)]
    pub on_full: FullPolicy,
    /// With `on_full = "block"`: the longest wait for room (at least 1).
    #[serde(default)]
    pub block_timeout_ms: Option<Sp<u64>>,
    /// Deliveries before a message is dead-lettered.
    #[serde(default = "default_attempts")]
    pub max_attempts: Sp<u32>,
    /// How long a worker may hold a message before it is redelivered.
    #[serde(default = "default_visibility")]
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
    pub concurrency: Sp<u32>,
    /// Time to process one message.
    pub service_time: Sp<RawDistribution>,
    /// Chance that processing fails (0–1); failures are retried.
    #[serde(default)]
    pub failure_probability: Sp<f64>,
    /// A message still processing after this is abandoned and counted as a failure.
    #[serde(default)]
    pub timeout_ms: Option<Sp<u64>>,
    /// Follow-up events published when a message is processed successfully.
    #[serde(default)]
    pub publishes: Vec<RawPublish>,
}

/// Which token a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A freshly signed, valid token for the persona.
    #[default]
    Valid,
    /// No Authorization header.
    Missing,
    /// A token whose `exp` has passed.
    Expired,
    /// A token signed with the wrong key.
    BadSignature,
    /// An unsigned token with header `alg: none`.
    AlgNone,
    /// A token for another audience.
    WrongAudience,
}

/// A named request.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    /// Unique id, used by traffic mixes and tours.
    pub id: Sp<String>,
    /// One line shown in the lifecycle picker.
    pub title: String,
    /// What the learner should notice.
    #[serde(default)]
    pub explain: String,
    /// Who sends it.
    pub persona: Sp<String>,
    /// HTTP method.
    pub method: Sp<Method>,
    /// Path, with real ids, e.g. `/api/v1/projects/2`.
    pub path: Sp<String>,
    /// Subdomain to send it to; defaults to the persona's tenant.
    #[serde(default)]
    pub host_tenant: Option<Sp<String>>,
    /// Which token it carries.
    #[serde(default)]
    pub token: TokenKind,
    /// Extra headers.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// JSON body: an inline table. Not on GET or DELETE.
    #[serde(default)]
    pub body: Option<Sp<serde_json::Value>>,
    /// Send it this many times in a row (to show a rate limit).
    #[serde(default = "default_repeat")]
    pub repeat: Sp<u32>,
    /// List it in the lifecycle view's picker.
    #[serde(default = "default_true")]
    pub sample: bool,
}

fn default_repeat() -> Sp<u32> {
    Sp::new(1, 0..0)
}

fn default_true() -> bool {
    true
}

/// Arrival process of a traffic generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Evenly spaced.
    Constant,
    /// Random, independent arrivals (exponential gaps).
    #[default]
    Poisson,
}

/// One entry of a request mix.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMixEntry {
    /// Id of a `[[requests]]` entry.
    pub request: Sp<String>,
    /// Relative weight.
    pub weight: Sp<f64>,
}

/// A burst: the rate is multiplied for a while.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBurst {
    /// Start, seconds from the beginning of the run.
    pub at_s: Sp<f64>,
    /// Length in seconds.
    pub duration_s: Sp<f64>,
    /// Rate multiplier during the burst, above 0.
    pub multiplier: Sp<f64>,
}

/// A load generator.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTraffic {
    /// Name shown in reports.
    pub name: Sp<String>,
    /// How arrivals are spaced.
    #[serde(default)]
    pub arrival: Arrival,
    /// Mean requests per second.
    pub rate_per_s: Sp<f64>,
    /// Which requests are sent, by weight.
    pub mix: Vec<RawMixEntry>,
    /// Scheduled bursts.
    #[serde(default)]
    pub bursts: Vec<RawBurst>,
}

/// The kinds of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Crash `count` workers of `pool`.
    KillWorkers,
    /// Add `extra_ms` to every message of `pool`.
    SlowWorkers,
    /// Add `extra_ms` to every database query.
    SlowDatabase,
    /// Drop every cache entry.
    FlushCache,
    /// Multiply the traffic rate by `multiplier`.
    TrafficSpike,
    /// Publish one message to `topic` that always fails.
    PoisonMessage,
    /// Stop delivering `topic` for `duration_s`.
    PauseTopic,
}

/// A fault injected at a fixed time.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    /// When, in seconds from the start of the run.
    pub at_s: Sp<f64>,
    /// What happens.
    pub kind: Sp<FaultKind>,
    /// How long it lasts (kill_workers, slow_workers, slow_database, traffic_spike, pause_topic);
    /// until the end of the run when left out.
    #[serde(default)]
    pub duration_s: Option<Sp<f64>>,
    /// Worker pool (kill_workers, slow_workers).
    #[serde(default)]
    pub pool: Option<Sp<String>>,
    /// Topic (poison_message, pause_topic).
    #[serde(default)]
    pub topic: Option<Sp<String>>,
    /// Workers to kill (kill_workers), from 1 to the pool's concurrency.
    #[serde(default)]
    pub count: Option<Sp<u32>>,
    /// Added delay (slow_workers, slow_database).
    #[serde(default)]
    pub extra_ms: Option<Sp<f64>>,
    /// Rate multiplier (traffic_spike), above 0.
    #[serde(default)]
    pub multiplier: Option<Sp<f64>>,
}

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
