//! Scenario-wide settings: metadata, token signing, edge, load balancer, rate limit and cache.

use std::time::Duration;

use serde::Serialize;

use super::BalanceStrategy;

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

/// The longest request target (path and query) the WAF lets through, in bytes; fixed, not a
/// scenario setting (414 past it).
pub const WAF_MAX_URI_BYTES: usize = 8 * 1024;
/// The most header bytes (names, values and separators) the WAF lets through; fixed (431 past
/// it).
pub const WAF_MAX_HEADER_BYTES: usize = 64 * 1024;

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
    /// Connections `serve` holds at once.
    pub max_connections: u32,
    /// How long `serve` keeps a silent connection.
    pub idle_timeout: Duration,
    /// How long `serve` waits for a request head to arrive whole.
    pub header_timeout: Duration,
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

/// Quota per tenant and user, and the optional tenant-wide one.
#[derive(Debug, Clone, Serialize)]
pub struct RateLimitConfig {
    /// Sustained rate.
    pub requests_per_second: f64,
    /// Burst size (≥ 1).
    pub burst: u32,
    /// The quota of each tenant as a whole, if the scenario sets one.
    pub tenant: Option<TenantQuota>,
    /// Tenant-wide quotas by plan, overriding `tenant` for the tenants on that plan.
    pub plans: std::collections::BTreeMap<String, TenantQuota>,
}

impl RateLimitConfig {
    /// The tenant-wide quota of a tenant on `plan`: its plan's, else the scenario's, if any.
    pub fn tenant_quota(&self, plan: &str) -> Option<TenantQuota> {
        self.plans.get(plan).copied().or(self.tenant)
    }
}

/// A tenant-wide quota: every caller of one tenant draws from the same bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TenantQuota {
    /// Sustained rate of the whole tenant (> 0).
    pub requests_per_second: f64,
    /// Burst size (≥ 1).
    pub burst: u32,
}

/// Cache settings.
#[derive(Debug, Clone, Serialize)]
pub struct CacheConfig {
    /// Capacity in entries.
    pub max_entries: u64,
    /// Whether concurrent misses of one key share one database load.
    pub single_flight: bool,
    /// TTL spread: each entry lives its TTL × a uniform draw in `[1 − j, 1 + j]` (0 ≤ j ≤ 0.5).
    pub ttl_jitter: f64,
}

/// The database's connection pool.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DatabaseConfig {
    /// The pool, if the scenario limits connections (`None`: every query runs at once).
    pub pool: Option<PoolConfig>,
}

/// A bounded connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PoolConfig {
    /// Connections (≥ 1).
    pub connections: u32,
    /// Longest wait for a free connection before the request fails with 503.
    pub queue_timeout: Duration,
}
