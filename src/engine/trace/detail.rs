//! What each stage saw and decided, as typed data: one [`StageDetail`] variant per stage kind.
//!
//! The trace is the contract between the engine and its windows (the TUI panels, `archsim trace`
//! and its `--json`, the metrics). Every field here is named and typed, so a renamed field is a
//! compile error in every reader instead of a panel that silently goes blank.
//!
//! The JSON form is the documented `detail` object of `archsim trace --json`: each variant
//! serialises as its struct alone (`#[serde(untagged)]`, no tag inside `detail`), fields that a
//! path does not produce are left out, and the stage's error code, if any, is added next to them
//! by [`StageRecord`](super::StageRecord). Fields written `Option<Option<T>>` are the few that
//! some paths send as `null` and others leave out.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::engine::auth::TokenCheck;
use crate::engine::broker::MessageId;
use crate::engine::store::QueryRecord;
use crate::scenario::{Action, BalanceStrategy, Method, PublishMode};

/// What a stage saw and decided, by stage kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum StageDetail {
    /// The stage did not apply to this request (any kind).
    Skipped(SkipDetail),
    /// The stage was cut short before it decided: its code panicked or the request was dropped
    /// (any kind).
    Aborted(AbortDetail),
    /// `dns`: the Host header resolved to a tenant, or not.
    Dns(DnsDetail),
    /// `cdn`: the edge cache for static assets.
    Cdn(CdnDetail),
    /// `waf`: the per-IP request limit and the body-size limit.
    Waf(WafDetail),
    /// `load_balancer`: which app instance took the request.
    LoadBalancer(LoadBalancerDetail),
    /// `gateway`: which route matched.
    Gateway(GatewayDetail),
    /// `request_id`: the id given to the request.
    RequestId(RequestIdDetail),
    /// `sanitize`: the URL and the body's text fields.
    Sanitize(SanitizeDetail),
    /// `validate`: the body against the route's table.
    Validate(ValidateDetail),
    /// `rate_limit`: the caller's quota.
    RateLimit(RateLimitDetail),
    /// `auth`: the bearer token and its checks.
    Auth(AuthDetail),
    /// `tenant`: the token's tenant against the host's.
    Tenant(TenantDetail),
    /// `rbac`: the role's permission bits against the route's; `None` when there was no
    /// authenticated caller to check (a scenario without an auth stage).
    Rbac(Option<RbacDetail>),
    /// `controller`: the action the handler ran.
    Controller(ControllerDetail),
    /// `cache`: the cache-aside look-up, fill or invalidation.
    Cache(CacheDetail),
    /// `database`: the query that ran, its plan and result.
    Database(DatabaseDetail),
    /// `broker_publish`: the events put on the broker.
    BrokerPublish(PublishDetail),
    /// `response`: the status that went back.
    Response(ResponseDetail),
}

impl StageDetail {
    /// The detail of a stage that did not apply, saying why.
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self::Skipped(SkipDetail {
            reason: reason.into(),
        })
    }
}

/// Why a stage did not apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkipDetail {
    /// Why, e.g. `GET /api/v1/health is public`.
    pub reason: String,
}

/// Why a stage ended without deciding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AbortDetail {
    /// What cut it short.
    pub reason: String,
}

/// The tenant a host resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantRef {
    /// Database id.
    pub id: i64,
    /// Subdomain (the host's first label).
    pub subdomain: String,
    /// Display name.
    pub name: String,
    /// Plan.
    pub plan: String,
}

/// `dns` detail.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DnsDetail {
    /// The host name asked for (without port, lower-cased); absent when there was no Host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The label in front of the scenario's domain (`null` when the host is not a subdomain of
    /// it; absent when there was no Host).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Option<String>>,
    /// The tenant the label names (when it resolved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantRef>,
    /// The scenario's domain (when it did not resolve).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The answer as a resolver would write it, e.g. `acme.archsim.test → tenant 1 (Acme)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

/// How the CDN's edge cache answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeCacheResult {
    /// Served from the edge.
    Hit,
    /// Fetched from the origin.
    Miss,
}

/// `cdn` detail.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CdnDetail {
    /// The request path (when it was not a static asset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Whether the edge may cache it (only written when it may not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cacheable: Option<bool>,
    /// What the edge did with a request it does not cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The cache key (the asset's path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Hit or miss.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<EdgeCacheResult>,
    /// Seconds the cached copy has left (on a hit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_left_s: Option<f64>,
    /// The origin's status (on a miss).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_status: Option<u16>,
    /// Whether the origin's answer was stored at the edge (on a miss).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<bool>,
    /// How long it is kept, in seconds (when stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_s: Option<f64>,
    /// Body size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<usize>,
}

/// `waf` detail.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct WafDetail {
    /// The client's address.
    pub client_ip: String,
    /// Requests this address has left this minute (when it passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_this_minute: Option<u32>,
    /// The per-IP limit (when the limit was checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_per_minute: Option<u32>,
    /// Seconds until the address may send again (when limited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// Body size in bytes (when known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_bytes: Option<usize>,
    /// The body-size limit (when the body was checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// The request line's or the headers' size and its limit, when one was too large
    /// (`uri 102400 bytes > 8192`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub too_large: Option<String>,
}

/// `load_balancer` detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadBalancerDetail {
    /// The instance chosen, e.g. `app-2`.
    pub instance: String,
    /// How it was chosen.
    pub strategy: BalanceStrategy,
    /// How many instances there are.
    pub instances: usize,
    /// Requests in flight on each instance when this one arrived.
    pub in_flight_before: Vec<usize>,
}

/// `gateway` detail.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct GatewayDetail {
    /// The route that matched, e.g. `GET /api/v1/projects`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Its action (a scenario action, or `static asset (origin)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<GatewayAction>,
    /// Its table (`null` for routes without one; absent for static assets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<Option<String>>,
    /// Whether it needs no token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    /// The app instance the gateway runs on (`null` without a load balancer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<Option<String>>,
    /// The path that matched nothing (on a 404 or 405).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Whether any route matched (written only when none did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<bool>,
    /// The method that is not allowed (on a 405).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The methods the path allows (on a 405).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<Method>>,
}

/// What a matched route does: a scenario action, or serving a static asset from the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayAction {
    /// A scenario route's action.
    Route(Action),
    /// A static asset the origin serves.
    StaticAsset,
}

impl Serialize for GatewayAction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Route(action) => action.serialize(serializer),
            Self::StaticAsset => serializer.serialize_str("static asset (origin)"),
        }
    }
}

/// `request_id` detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestIdDetail {
    /// The id, e.g. `req-00c0ffee00c0ffee`.
    pub request_id: String,
    /// The response header that carries it.
    pub header: &'static str,
    /// Whether log lines carry it.
    pub logged: bool,
}

/// A field a stage refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// The field's path in the body, e.g. `tags[1]` or `name`.
    pub field: String,
    /// What is wrong with it, e.g. `is required`.
    pub problem: String,
}

impl FieldProblem {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// `sanitize` detail.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SanitizeDetail {
    /// The request target (path and query) that was checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// How many text fields of the body were checked (when it passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_fields_checked: Option<usize>,
    /// The fields whose text was trimmed (when it passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trimmed: Option<Vec<String>>,
    /// The longest text accepted (when it passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_field_chars: Option<usize>,
    /// The fields refused (when it rejected the body).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<FieldProblem>>,
}

/// `validate` detail.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ValidateDetail {
    /// What the body was checked against: a table name, or `login`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against: Option<String>,
    /// The body's fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// The field errors (empty when it passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldProblem>>,
    /// Body size in bytes (when it did not parse).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_bytes: Option<usize>,
    /// The JSON parser's error (when it did not parse).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
    /// The table's columns that only the server sets (a body naming one is refused with
    /// `server_owned_field`); absent for bodies not checked against a table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_owned: Option<Vec<String>>,
}

/// `rate_limit` detail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateLimitDetail {
    /// The quota's key, e.g. `acme:user:alice` or `acme:ip:203.0.113.10`.
    pub key: String,
    /// Requests left in the burst.
    pub remaining: u32,
    /// The burst size.
    pub burst: u32,
    /// Refill rate, requests per second.
    pub refill_per_s: f64,
    /// Seconds to wait (when limited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// Milliseconds until the next request is allowed (when limited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token_in_ms: Option<f64>,
    /// Which quota refused the request (when limited with a tenant-wide quota configured):
    /// `user` or `tenant`. The numbers above are that quota's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_by: Option<QuotaScope>,
    /// The tenant-wide quota, when the scenario sets one and it was checked (the request passed
    /// its per-user quota).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_quota: Option<TenantQuotaState>,
}

/// Which of the rate-limit stage's quotas a detail is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaScope {
    /// The per-tenant-and-user (or per-IP) quota.
    User,
    /// The tenant-wide quota shared by every caller of a tenant.
    Tenant,
}

/// The tenant-wide bucket as one request found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantQuotaState {
    /// The bucket's key, e.g. `acme:tenant`.
    pub key: String,
    /// Requests left in the tenant's burst (0 when it refused).
    pub remaining: u32,
    /// The tenant's burst size.
    pub burst: u32,
    /// The tenant's refill rate, requests per second.
    pub refill_per_s: f64,
    /// The tenant's plan, when the quota is that plan's (`[[rate_limit.plans]]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
}

/// `auth` detail.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct AuthDetail {
    /// The Authorization header's problem: `null` when there is none, `not a Bearer token`
    /// (absent once a token was found).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Option<String>>,
    /// The token's decoded header as sent (`null` when it did not decode; any JSON, since an
    /// attacker writes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<Value>,
    /// The token's claims: verified ones, or the unverified ones of a refused token (`null`
    /// when they did not decode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<Value>,
    /// Every check that ran, in order; a refused token's last check failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<TokenCheck>>,
    /// The engine clock's Unix time the token was checked against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now: Option<u64>,
    /// Who the caller is (when the token was accepted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

/// `tenant` detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantDetail {
    /// The host's tenant (`null` without a DNS stage).
    pub host_tenant: Option<String>,
    /// The token's tenant (absent without an authenticated caller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_tenant: Option<String>,
    /// Whether they are the same.
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub matches: Option<bool>,
}

/// `rbac` detail: the role's mask against the route's, as grouped binary (`0b0000_0101`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RbacDetail {
    /// The caller's role.
    pub role: String,
    /// The role's permission bits.
    pub role_mask: String,
    /// The route's required bits.
    pub required_mask: String,
    /// `role_mask & required_mask`.
    pub and: String,
    /// The required bits the role lacks.
    pub missing_mask: String,
    /// The role's permissions by name.
    pub granted: Vec<String>,
    /// The route's required permissions by name.
    pub required: Vec<String>,
    /// The required permissions the role lacks.
    pub missing: Vec<String>,
    /// The rule applied.
    pub rule: &'static str,
}

/// `controller` detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControllerDetail {
    /// The route's action.
    pub action: Action,
    /// The route, e.g. `POST /api/v1/projects`.
    pub route: String,
    /// Its table.
    pub table: Option<String>,
    /// The tenant every query is scoped by.
    pub tenant_id: i64,
    /// The caller (`null` on public routes).
    pub user_id: Option<i64>,
    /// The row id from the path.
    pub id: Option<i64>,
    /// The app instance that ran it.
    pub instance: String,
    /// What the request's `Idempotency-Key` decided (only on a create that sent one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency: Option<IdempotencyDetail>,
}

/// What an `Idempotency-Key` decided at the controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdempotencyDetail {
    /// The client's key.
    pub key: String,
    /// What it decided.
    pub outcome: IdempotencyOutcome,
    /// The stored status sent back (on a replay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed_status: Option<u16>,
}

/// What an `Idempotency-Key` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdempotencyOutcome {
    /// A new key: the request ran, and its response is kept for retries (unless it was a 5xx).
    First,
    /// A retry of a finished request: its stored response went back, nothing ran again.
    Replayed,
    /// A twin with the same key is still running: refused (409) rather than run twice.
    InProgress,
    /// The key was first used for a different request: refused (422).
    Reused,
}

impl IdempotencyOutcome {
    /// The outcome as written in traces, e.g. `in_progress`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::First => "first",
            Self::Replayed => "replayed",
            Self::InProgress => "in_progress",
            Self::Reused => "reused",
        }
    }
}

/// What the cache-aside stage did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheResult {
    /// Answered from the cache.
    Hit,
    /// Not in the cache (or expired): read from the database.
    Miss,
    /// A write made cached reads stale and removed them.
    Invalidate,
}

/// `cache` detail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheDetail {
    /// The key looked up (reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What happened.
    pub result: CacheResult,
    /// Seconds the entry has left (on a hit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_left_s: Option<f64>,
    /// Whether the entry was there but expired (on a miss).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired: Option<bool>,
    /// Whether the database's answer was stored (on a miss).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<bool>,
    /// How long it is kept, in seconds (when stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_s: Option<f64>,
    /// Size of the cached response in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<usize>,
    /// The keys a write makes stale (on an invalidation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// Those of them that were cached and are now removed (on an invalidation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalidated: Option<Vec<String>>,
    /// The route's `cache_ttl_s` before `ttl_jitter` spread it (when stored with jitter;
    /// `ttl_s` is the TTL actually given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_base_s: Option<f64>,
    /// Single flight: `true` when this miss waited for another request's load of the key
    /// (and was answered by it, outcome `hit`), `false` when it waited but that load failed
    /// and it read the database itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coalesced: Option<bool>,
    /// How long it waited for that load, ms (engine time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waited_ms: Option<f64>,
    /// The request whose load it waited for, e.g. `req-00c0ffee00c0ffee`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
}

impl CacheDetail {
    /// A detail with only `result` set.
    pub fn of(result: CacheResult) -> Self {
        Self {
            key: None,
            result,
            ttl_left_s: None,
            expired: None,
            stored: None,
            ttl_s: None,
            bytes: None,
            keys: None,
            invalidated: None,
            ttl_base_s: None,
            coalesced: None,
            waited_ms: None,
            leader: None,
        }
    }
}

/// The check that a foreign key names a row of the caller's own tenant (a foreign key alone
/// only proves the row exists somewhere).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantCheck {
    /// The body field holding the reference.
    pub field: String,
    /// The query that ran.
    pub sql: String,
    /// Its bound parameters, in order.
    pub params: Vec<Value>,
    /// Whether the row exists in this tenant.
    pub found: bool,
}

/// A running-total limit (`max_remaining`) checked before a write, e.g. that a payment is at most
/// what is still open of its invoice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitCheck {
    /// The body field the limit applies to.
    pub field: String,
    /// The value the body sent.
    pub value: Value,
    /// The query that read the total and what already uses it.
    pub sql: String,
    /// Its bound parameters, in order.
    pub params: Vec<Value>,
    /// The total on the referenced row (`null` when the row has none in this tenant).
    pub total: Option<Value>,
    /// What the counted rows already use of it.
    pub used: Option<Value>,
    /// `total − used`: the most the field may be.
    pub remaining: Option<Value>,
    /// Whether the value fits.
    pub passed: bool,
}

/// What a write checked before it ran.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WriteChecks {
    /// The tenant checks of the body's references.
    pub tenant: Vec<TenantCheck>,
    /// The running-total limits of the body's values.
    pub limits: Vec<LimitCheck>,
}

/// `database` detail.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DatabaseDetail {
    /// What a login looked up when it found nobody, e.g. `users by email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookup: Option<String>,
    /// The exact SQL that ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// Its bound parameters, in order (`?1` first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Vec<Value>>,
    /// Rows returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
    /// Rows inserted, updated or deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_affected: Option<usize>,
    /// SQLite's query plan, one step per line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<String>>,
    /// The first rows returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Vec<Map<String, Value>>>,
    /// Whether the login's password matched its Argon2id hash (in words).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Whether the login's user belongs to the host's tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_matches_host: Option<bool>,
    /// An injected fault that slowed the query, e.g. `slow database: +50 ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// The tenant checks of the body's foreign keys, run before a write.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tenant_checks: Vec<TenantCheck>,
    /// Outbox rows written in the same transaction as the row (transactional outbox).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<OutboxWrite>,
    /// The running-total limits (`max_remaining`) checked before a write.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limit_checks: Vec<LimitCheck>,
    /// The wait for a pooled connection (when `[database] connections` bounds the pool).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<crate::engine::db_pool::PoolWait>,
}

/// An event recorded in the outbox in the write's own transaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxWrite {
    /// The outbox row's id.
    pub outbox_id: i64,
    /// The topic it is for.
    pub topic: String,
    /// The event type.
    pub event: String,
    /// The exact SQL that wrote it.
    pub sql: String,
    /// Its bound parameters, in order.
    pub params: Vec<Value>,
}

impl DatabaseDetail {
    /// A detail holding only the checks a write ran before it.
    pub fn of_checks(checks: WriteChecks) -> Self {
        Self {
            tenant_checks: checks.tenant,
            limit_checks: checks.limits,
            ..Self::default()
        }
    }
}

/// The first rows of a result that a trace keeps.
pub const RESULT_ROWS_SHOWN: usize = 5;

impl DatabaseDetail {
    /// The detail of `query`: its SQL, parameters, plan, and first rows.
    pub fn of_query(query: &QueryRecord) -> Self {
        Self {
            sql: Some(query.sql.clone()),
            params: Some(query.params.clone()),
            rows: Some(query.rows.len()),
            rows_affected: Some(query.rows_affected),
            plan: Some(query.plan.clone()),
            result: Some(query.rows.iter().take(RESULT_ROWS_SHOWN).cloned().collect()),
            ..Self::default()
        }
    }
}

/// An event the publish stage put on the broker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedEvent {
    /// The broker's message id.
    pub id: MessageId,
    /// The outbox row it was relayed from (outbox routes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbox_id: Option<i64>,
    /// The topic.
    pub topic: String,
    /// The event type, e.g. `payment.requested`.
    pub event: String,
    /// The message body.
    pub payload: Value,
}

/// An event the broker refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedEvent {
    /// The topic.
    pub topic: String,
    /// The event type.
    pub event: String,
    /// Why the broker refused it (full, unknown topic).
    pub error: String,
}

/// `broker_publish` detail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishDetail {
    /// How the events reach the broker: `outbox` or `direct` (the dual write).
    pub mode: PublishMode,
    /// The events published, in order.
    pub published: Vec<PublishedEvent>,
    /// Outbox events the broker could not take yet: they stay in the outbox and the relay
    /// publishes them when the topic has room (the request still succeeds).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<DeferredEvent>,
    /// The event the broker refused, which ended the request with a 503 (direct mode only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<RefusedEvent>,
}

/// An outbox event left for the relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeferredEvent {
    /// The outbox row.
    pub outbox_id: i64,
    /// The topic.
    pub topic: String,
    /// The event type.
    pub event: String,
    /// Why it was not published now, e.g. `topic payments is full (500 messages)`.
    pub reason: String,
}

/// `response` detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponseDetail {
    /// The HTTP status.
    pub status: u16,
    /// Its reason phrase (`null` for statuses without one).
    pub reason: Option<&'static str>,
}
