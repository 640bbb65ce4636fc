//! The validated, immutable scenario the engine runs.
//!
//! Every name in here has been checked: a route's table exists, a persona's role exists, the stage
//! graph is a DAG that ends in one response stage, every distribution is sane. Code that holds a
//! [`Scenario`] may look things up by name and rely on finding them.

use std::fmt;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

pub use super::raw::{
    Action, Arrival, AutoValue, BalanceStrategy, ColumnType, FillFrom, FullPolicy, Method,
    StageKind, TokenKind, View,
};

/// A whole validated scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// Name, title, seed and domain.
    pub meta: Meta,
    /// Token signing and checking.
    pub auth: AuthConfig,
    /// CDN and WAF.
    pub edge: EdgeConfig,
    /// App instances.
    pub load_balancer: LoadBalancerConfig,
    /// Per-tenant, per-user quota.
    pub rate_limit: RateLimitConfig,
    /// Read cache.
    pub cache: CacheConfig,
    /// Tenants, in file order; a tenant's database id is its position + 1.
    pub tenants: Vec<Tenant>,
    /// Permission bits.
    pub permissions: Vec<Permission>,
    /// Roles with their masks.
    pub roles: Vec<Role>,
    /// User accounts.
    pub personas: Vec<Persona>,
    /// Database tables.
    pub tables: Vec<Table>,
    /// Request stages (a DAG; see [`crate::topology`]).
    pub stages: Vec<Stage>,
    /// API routes.
    pub routes: Vec<Route>,
    /// Broker topics.
    pub topics: Vec<Topic>,
    /// Worker pools.
    pub workers: Vec<WorkerPool>,
    /// Named requests.
    pub requests: Vec<NamedRequest>,
    /// Load generators.
    pub traffic: Vec<Traffic>,
    /// Scheduled faults, sorted by time.
    pub faults: Vec<Fault>,
    /// Guided tours.
    pub tours: Vec<Tour>,
}

impl Scenario {
    /// The tenant with this subdomain.
    pub fn tenant(&self, subdomain: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.subdomain == subdomain)
    }

    /// The tenant with this database id.
    pub fn tenant_by_id(&self, id: i64) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id == id)
    }

    /// The role with this name.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// The persona with this name.
    pub fn persona(&self, name: &str) -> Option<&Persona> {
        self.personas.iter().find(|p| p.name == name)
    }

    /// The host name of tenant `subdomain`, e.g. `acme.archsim.test`.
    pub fn host_of(&self, subdomain: &str) -> String {
        format!("{subdomain}.{}", self.meta.domain)
    }

    /// The permission with this name.
    pub fn permission(&self, name: &str) -> Option<&Permission> {
        self.permissions.iter().find(|p| p.name == name)
    }

    /// The table with this name.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The stage with this id.
    pub fn stage(&self, id: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// The first stage of this kind.
    pub fn stage_of_kind(&self, kind: StageKind) -> Option<&Stage> {
        self.stages.iter().find(|s| s.kind == kind)
    }

    /// The topic with this name.
    pub fn topic(&self, name: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.name == name)
    }

    /// The worker pool with this name.
    pub fn worker_pool(&self, name: &str) -> Option<&WorkerPool> {
        self.workers.iter().find(|w| w.name == name)
    }

    /// The named request with this id.
    pub fn request(&self, id: &str) -> Option<&NamedRequest> {
        self.requests.iter().find(|r| r.id == id)
    }

    /// The names of the permissions set in `mask`, lowest bit first.
    pub fn permission_names(&self, mask: u64) -> Vec<&str> {
        let mut names: Vec<&Permission> = self
            .permissions
            .iter()
            .filter(|p| mask & p.mask() != 0)
            .collect();
        names.sort_by_key(|p| p.bit);
        names.into_iter().map(|p| p.name.as_str()).collect()
    }
}

/// Scenario metadata.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// Short machine name.
    pub name: String,
    /// Human title.
    pub title: String,
    /// Paragraph describing the system.
    pub description: String,
    /// Seed of every random draw.
    pub seed: u64,
    /// Parent domain of tenant subdomains.
    pub domain: String,
}

/// Token settings.
#[derive(Debug, Clone, Serialize)]
pub struct AuthConfig {
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// HS256 secret.
    #[serde(skip)]
    pub signing_key: String,
    /// Lifetime of issued tokens.
    pub token_ttl: Duration,
    /// Allowed clock difference for `exp`/`nbf`.
    pub leeway: Duration,
}

/// Edge settings.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeConfig {
    /// Path prefix of static assets, if the CDN serves any.
    pub static_prefix: Option<String>,
    /// How long the CDN keeps an asset.
    pub cdn_ttl: Duration,
    /// Most requests per minute from one client IP.
    pub waf_requests_per_minute: u32,
    /// Largest accepted body.
    pub max_body_bytes: u32,
    /// Static assets of the origin.
    pub assets: Vec<Asset>,
}

/// A static asset.
#[derive(Debug, Clone, Serialize)]
pub struct Asset {
    /// Full path.
    pub path: String,
    /// MIME type.
    pub content_type: String,
    /// Body size in bytes.
    pub size_bytes: u32,
}

/// App instances behind the load balancer.
#[derive(Debug, Clone, Serialize)]
pub struct LoadBalancerConfig {
    /// Number of instances (≥ 1).
    pub instances: u32,
    /// Choice strategy.
    pub strategy: BalanceStrategy,
}

/// Quota per tenant and user.
#[derive(Debug, Clone, Serialize)]
pub struct RateLimitConfig {
    /// Sustained rate.
    pub requests_per_second: f64,
    /// Burst size (≥ 1).
    pub burst: u32,
}

/// Cache settings.
#[derive(Debug, Clone, Serialize)]
pub struct CacheConfig {
    /// Capacity in entries.
    pub max_entries: u64,
}

/// A tenant.
#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    /// Database id (position in the file + 1).
    pub id: i64,
    /// Subdomain label.
    pub subdomain: String,
    /// Display name.
    pub name: String,
    /// Billing plan.
    pub plan: String,
}

/// A permission bit.
#[derive(Debug, Clone, Serialize)]
pub struct Permission {
    /// Name.
    pub name: String,
    /// Bit position (0–63).
    pub bit: u32,
    /// What it allows.
    pub explain: String,
}

impl Permission {
    /// The permission as a one-bit mask.
    pub fn mask(&self) -> u64 {
        1u64 << self.bit
    }
}

/// A role.
#[derive(Debug, Clone, Serialize)]
pub struct Role {
    /// Database id (position + 1).
    pub id: i64,
    /// Name.
    pub name: String,
    /// Permission bitmask.
    pub mask: u64,
    /// Who gets it.
    pub explain: String,
}

/// A user account.
#[derive(Debug, Clone, Serialize)]
pub struct Persona {
    /// Database id of the user row (position + 1).
    pub id: i64,
    /// Short name (`--as`).
    pub name: String,
    /// Tenant subdomain.
    pub tenant: String,
    /// Role name.
    pub role: String,
    /// Login email.
    pub email: String,
    /// Login password (hashed when stored).
    #[serde(skip)]
    pub password: String,
    /// Display name.
    pub display_name: String,
    /// Purpose in the scenario.
    pub explain: String,
}

/// A foreign key target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignKey {
    /// Referenced table.
    pub table: String,
    /// Referenced column.
    pub column: String,
}

impl fmt::Display for ForeignKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table, self.column)
    }
}

/// A column.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// Name.
    pub name: String,
    /// SQL type.
    pub ty: ColumnType,
    /// Part of the primary key.
    pub primary_key: bool,
    /// Unique on its own.
    pub unique: bool,
    /// May be NULL.
    pub nullable: bool,
    /// Foreign key target.
    pub references: Option<ForeignKey>,
    /// Longest text.
    pub max_length: Option<u32>,
    /// Default for creates.
    pub default: Option<serde_json::Value>,
    /// Filled in by the server.
    pub auto: Option<AutoValue>,
    /// Meaning.
    pub explain: String,
}

impl Column {
    /// Whether a create request must send this column.
    pub fn required_on_create(&self, table: &Table) -> bool {
        !self.nullable && self.default.is_none() && self.auto.is_none() && !table.is_generated(self)
    }
}

/// A secondary index.
#[derive(Debug, Clone, Serialize)]
pub struct Index {
    /// Name.
    pub name: String,
    /// Columns in order.
    pub columns: Vec<String>,
    /// Unique index.
    pub unique: bool,
    /// Which queries it serves.
    pub explain: String,
}

/// One seed row: column name → JSON value.
pub type Row = IndexMap<String, serde_json::Value>;

/// A table.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// Name.
    pub name: String,
    /// What it holds.
    pub explain: String,
    /// Rows belong to tenants through `tenant_id`.
    pub tenant_scoped: bool,
    /// Identity section the rows come from.
    pub fill: Option<FillFrom>,
    /// Columns.
    pub columns: Vec<Column>,
    /// Secondary indexes.
    pub indexes: Vec<Index>,
    /// Seed rows (for `fill` tables: generated from the identity section, without secrets).
    pub rows: Vec<Row>,
}

/// Name of the column that ties a row to its tenant.
pub const TENANT_COLUMN: &str = "tenant_id";

impl Table {
    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The primary-key columns.
    pub fn primary_key(&self) -> Vec<&Column> {
        self.columns.iter().filter(|c| c.primary_key).collect()
    }

    /// True for the single integer primary key, which the database assigns (`rowid`).
    pub fn is_generated(&self, column: &Column) -> bool {
        let pk = self.primary_key();
        column.primary_key && column.ty == ColumnType::Integer && pk.len() == 1
    }

    /// Whether the column is the first column of some index (or the primary key or unique).
    pub fn is_indexed(&self, column: &str) -> bool {
        self.column(column)
            .is_some_and(|c| c.unique || (c.primary_key && self.primary_key().len() == 1))
            || self.primary_key().first().is_some_and(|c| c.name == column)
            || self
                .indexes
                .iter()
                .any(|i| i.columns.first().is_some_and(|c| c == column))
    }
}

/// A random duration in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "snake_case")]
pub enum Distribution {
    /// Always `ms`.
    Constant {
        /// The duration.
        ms: f64,
    },
    /// Evenly in `[min_ms, max_ms]`.
    Uniform {
        /// Lower bound.
        min_ms: f64,
        /// Upper bound.
        max_ms: f64,
    },
    /// Exponential with mean `mean_ms`.
    Exponential {
        /// Mean.
        mean_ms: f64,
    },
    /// Log-normal with median `p50_ms` and 99th percentile `p99_ms`.
    Lognormal {
        /// Median.
        p50_ms: f64,
        /// 99th percentile.
        p99_ms: f64,
    },
}

/// The standard normal quantile at 0.99, used to fit a log-normal to p50 and p99.
pub const Z_99: f64 = 2.326_347_874_040_841;

impl Distribution {
    /// The mean duration in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        match *self {
            Self::Constant { ms } => ms,
            Self::Uniform { min_ms, max_ms } => (min_ms + max_ms) / 2.0,
            Self::Exponential { mean_ms } => mean_ms,
            Self::Lognormal { p50_ms, p99_ms } => {
                let sigma = self.lognormal_sigma(p50_ms, p99_ms);
                p50_ms * (sigma * sigma / 2.0).exp()
            }
        }
    }

    /// Squared coefficient of variation (variance / mean²): 0 constant, 1 exponential.
    pub fn scv(&self) -> f64 {
        match *self {
            Self::Constant { .. } => 0.0,
            Self::Uniform { min_ms, max_ms } => {
                let mean = (min_ms + max_ms) / 2.0;
                if mean == 0.0 {
                    0.0
                } else {
                    (max_ms - min_ms).powi(2) / 12.0 / (mean * mean)
                }
            }
            Self::Exponential { .. } => 1.0,
            Self::Lognormal { p50_ms, p99_ms } => {
                let sigma = self.lognormal_sigma(p50_ms, p99_ms);
                (sigma * sigma).exp() - 1.0
            }
        }
    }

    fn lognormal_sigma(&self, p50_ms: f64, p99_ms: f64) -> f64 {
        (p99_ms / p50_ms).ln() / Z_99
    }

    /// A short human description, e.g. `lognormal p50 4 ms, p99 30 ms`.
    pub fn describe(&self) -> String {
        match *self {
            Self::Constant { ms } => format!("{ms} ms"),
            Self::Uniform { min_ms, max_ms } => format!("{min_ms}–{max_ms} ms"),
            Self::Exponential { mean_ms } => format!("exponential, mean {mean_ms} ms"),
            Self::Lognormal { p50_ms, p99_ms } => format!("p50 {p50_ms} ms, p99 {p99_ms} ms"),
        }
    }
}

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

/// An event published by a route or worker.
#[derive(Debug, Clone, Serialize)]
pub struct Publish {
    /// Topic.
    pub topic: String,
    /// Event type.
    pub event: String,
}

/// An API route.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// Path pattern (`{id}` marks the row id).
    pub path: String,
    /// Controller action.
    pub action: Action,
    /// Table of the action.
    pub table: Option<String>,
    /// Required permission.
    pub permission: Option<String>,
    /// Mask of the required permission (0 when public).
    pub required_mask: u64,
    /// No token needed.
    pub public: bool,
    /// Cache-aside TTL for reads.
    pub cache_ttl: Option<Duration>,
    /// Events published on success.
    pub publishes: Vec<Publish>,
    /// Purpose.
    pub explain: String,
}

impl Route {
    /// Whether `path` (without query) matches this route's pattern.
    pub fn matches_path(&self, path: &str) -> bool {
        let mut pattern = self.path.split('/');
        let mut actual = path.split('/');
        loop {
            match (pattern.next(), actual.next()) {
                (None, None) => return true,
                (Some(p), Some(a)) if p.starts_with('{') && p.ends_with('}') => {
                    if a.is_empty() {
                        return false;
                    }
                }
                (Some(p), Some(a)) if p == a => {}
                _ => return false,
            }
        }
    }
}

/// Retry backoff.
#[derive(Debug, Clone, Serialize)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Growth per attempt.
    pub multiplier: f64,
    /// Random spread, 0–1.
    pub jitter: f64,
}

impl Backoff {
    /// The delay before retry number `retry` (1 = first retry), before jitter.
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = self.multiplier.powi(retry.saturating_sub(1).min(64) as i32);
        let ms =
            (self.initial.as_secs_f64() * 1000.0 * factor).min(self.max.as_secs_f64() * 1000.0);
        Duration::from_secs_f64(ms / 1000.0)
    }
}

/// A broker topic.
#[derive(Debug, Clone, Serialize)]
pub struct Topic {
    /// Name.
    pub name: String,
    /// What flows through it.
    pub explain: String,
    /// Most messages queued or in flight.
    pub capacity: u32,
    /// Publisher policy when full.
    pub on_full: FullPolicy,
    /// Longest wait with `block`.
    pub block_timeout: Duration,
    /// Deliveries before dead-lettering.
    pub max_attempts: u32,
    /// Lease length.
    pub visibility_timeout: Duration,
    /// Retry delays.
    pub backoff: Backoff,
    /// Dead-letter topic.
    pub dead_letter: Option<String>,
}

/// A worker pool.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerPool {
    /// Name (consumer group).
    pub name: String,
    /// Topic consumed.
    pub topic: String,
    /// What it does.
    pub explain: String,
    /// Parallel workers.
    pub concurrency: u32,
    /// Processing time.
    pub service_time: Distribution,
    /// Failure chance.
    pub failure_probability: f64,
    /// Per-message timeout.
    pub timeout: Option<Duration>,
    /// Follow-up events on success.
    pub publishes: Vec<Publish>,
}

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
    /// (request id, weight) pairs.
    pub mix: Vec<(String, f64)>,
    /// Bursts.
    pub bursts: Vec<Burst>,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultAction {
    /// Crash workers.
    KillWorkers {
        /// Pool.
        pool: String,
        /// How many.
        count: u32,
    },
    /// Slow a pool down.
    SlowWorkers {
        /// Pool.
        pool: String,
        /// Added delay.
        extra_ms: f64,
    },
    /// Slow every query down.
    SlowDatabase {
        /// Added delay.
        extra_ms: f64,
    },
    /// Drop every cache entry.
    FlushCache,
    /// Multiply traffic.
    TrafficSpike {
        /// Rate multiplier.
        multiplier: f64,
    },
    /// Publish a message that always fails.
    PoisonMessage {
        /// Topic.
        topic: String,
    },
    /// Stop delivering a topic.
    PauseTopic {
        /// Topic.
        topic: String,
    },
}

/// A scheduled fault.
#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    /// When.
    pub at: Duration,
    /// How long (None: until the end).
    pub duration: Option<Duration>,
    /// What.
    pub action: FaultAction,
}

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

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Method {
    /// The method as written in HTTP.
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Parses an HTTP method name (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "PATCH" => Some(Method::Patch),
            "DELETE" => Some(Method::Delete),
            _ => None,
        }
    }
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

impl ColumnType {
    /// The SQL type name.
    pub fn sql(&self) -> &'static str {
        match self {
            ColumnType::Integer | ColumnType::Boolean => "INTEGER",
            ColumnType::Real => "REAL",
            ColumnType::Text | ColumnType::Timestamp => "TEXT",
        }
    }

    /// The type name as written in scenario files.
    pub fn as_str(&self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::Real => "real",
            ColumnType::Text => "text",
            ColumnType::Boolean => "boolean",
            ColumnType::Timestamp => "timestamp",
        }
    }

    /// Whether a JSON value fits this column type (`null` is checked separately).
    pub fn accepts(&self, value: &serde_json::Value) -> bool {
        match self {
            ColumnType::Integer => value.is_i64() || value.is_u64(),
            ColumnType::Real => value.is_number(),
            ColumnType::Text | ColumnType::Timestamp => value.is_string(),
            ColumnType::Boolean => value.is_boolean(),
        }
    }
}
