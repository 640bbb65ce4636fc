//! Scenario-wide settings: `[scenario]` metadata, `[auth]` token signing, and the `[edge]`,
//! `[load_balancer]`, `[rate_limit]`, `[cache]` and `[database]` sections.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::span::Sp;

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
    #[schemars(range(max = 31536000))]
    pub token_ttl_s: Sp<u64>,
    /// Allowed clock difference when checking `exp` and `nbf`, in seconds.
    #[serde(default)]
    #[schemars(range(max = 86400))]
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
    #[schemars(range(max = 31536000))]
    pub cdn_ttl_s: Option<Sp<f64>>,
    /// WAF: most requests one client IP may send per minute. Default 6000.
    #[serde(default)]
    #[schemars(range(max = 100000000))]
    pub waf_requests_per_minute: Option<Sp<u32>>,
    /// WAF: largest request body accepted, in bytes (larger → 413). Default 65536 (64 KiB).
    #[serde(default)]
    #[schemars(range(max = 16777216))]
    pub max_body_bytes: Option<Sp<u32>>,
    /// `serve`: most connections served at once; more wait to be accepted. Default 512.
    #[serde(default)]
    #[schemars(range(max = 65536))]
    pub max_connections: Option<Sp<u32>>,
    /// `serve`: a connection silent this long is closed, in seconds. Default 10.
    #[serde(default)]
    #[schemars(range(max = 3600))]
    pub idle_timeout_s: Option<Sp<f64>>,
    /// `serve`: a request head must arrive whole within this many seconds of its first byte
    /// (408 otherwise), however steadily it trickles in. Default 10.
    #[serde(default)]
    #[schemars(range(max = 3600))]
    pub header_timeout_s: Option<Sp<f64>>,
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
    #[schemars(range(max = 16777216))]
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
    #[schemars(range(max = 1000))]
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

/// Request quota per tenant and user (GCRA / token bucket), and optionally one for each tenant
/// as a whole.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    /// Sustained requests per second.
    #[serde(default = "default_rate")]
    #[schemars(range(max = 1000000))]
    pub requests_per_second: Sp<f64>,
    /// Requests that may arrive at once before the limit applies.
    #[serde(default = "default_burst")]
    #[schemars(range(max = 1000000))]
    pub burst: Sp<u32>,
    /// Sustained requests per second of one whole tenant, all its callers together (checked
    /// after the per-user quota). Leave out for no tenant-wide quota.
    #[serde(default)]
    #[schemars(range(max = 1000000))]
    pub tenant_requests_per_second: Option<Sp<f64>>,
    /// Requests one tenant may send at once before its tenant-wide quota applies. Needs
    /// `tenant_requests_per_second`; defaults to one second of it (rounded up).
    #[serde(default)]
    #[schemars(range(max = 1000000))]
    pub tenant_burst: Option<Sp<u32>>,
    /// Tenant-wide quotas for the tenants of one plan (`[[tenants]] plan`), instead of the
    /// `tenant_` quota above.
    #[serde(default)]
    pub plans: Vec<RawPlanQuota>,
}

/// The tenant-wide quota of the tenants on one plan.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPlanQuota {
    /// The plan, as `[[tenants]]` write it, e.g. `enterprise`.
    pub plan: Sp<String>,
    /// Sustained requests per second of one tenant on this plan, all its callers together.
    #[schemars(range(max = 1000000))]
    pub tenant_requests_per_second: Sp<f64>,
    /// Its burst; defaults to one second of the rate (rounded up).
    #[serde(default)]
    #[schemars(range(max = 1000000))]
    pub tenant_burst: Option<Sp<u32>>,
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
            tenant_requests_per_second: None,
            tenant_burst: None,
            plans: Vec::new(),
        }
    }
}

/// Read-cache settings.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// Most entries kept; the least useful are evicted beyond it.
    #[serde(default = "default_cache_entries")]
    #[schemars(range(max = 100000000))]
    pub max_entries: Sp<u64>,
    /// Request coalescing: concurrent misses of one key wait for the one database load already
    /// under way instead of each reading the database. Default false.
    #[serde(default)]
    pub single_flight: bool,
    /// Spread expiries: each entry's TTL is multiplied by a seeded uniform draw in
    /// `[1 - ttl_jitter, 1 + ttl_jitter]`, from 0 to 0.5. Default 0 (every entry lives exactly
    /// its route's `cache_ttl_s`).
    #[serde(default)]
    pub ttl_jitter: Option<Sp<f64>>,
}

fn default_cache_entries() -> Sp<u64> {
    Sp::new(10_000, 0..0)
}

impl Default for RawCache {
    fn default() -> Self {
        Self {
            max_entries: default_cache_entries(),
            single_flight: false,
            ttl_jitter: None,
        }
    }
}

/// The database's connection pool.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    /// Connections in the pool: at most this many queries run at once, the rest queue for a
    /// connection. Leave out for no limit (every query runs at once).
    #[serde(default)]
    #[schemars(range(max = 1024))]
    pub connections: Option<Sp<u32>>,
    /// How long a query waits for a free connection before the request fails with 503
    /// `database_busy`, in ms. Needs `connections`; default 1000.
    #[serde(default)]
    #[schemars(range(max = 3600000))]
    pub queue_timeout_ms: Option<Sp<f64>>,
}
