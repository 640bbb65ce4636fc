//! The HTTP surface: edge (CDN, WAF), load balancer, rate limit and API routes.

use std::time::Duration;

use super::broker::validate_publishes;
use super::{Cx, millis, secs};
use crate::scenario::model::*;
use crate::scenario::raw::{
    RawCache, RawDatabase, RawEdge, RawLoadBalancer, RawRateLimit, RawRoute,
};
use crate::scenario::span::Sp;

/// Every API path starts with this version prefix.
pub const API_PREFIX: &str = "/api/v1/";

pub(crate) fn validate_edge(cx: &mut Cx, raw: &RawEdge) -> EdgeConfig {
    let prefix = raw.static_prefix.as_ref().map(|p| p.get().clone());
    if let Some(p) = &raw.static_prefix {
        check_static_prefix(cx, p);
    }
    let cdn_ttl = raw.cdn_ttl_s.as_ref().map_or(300.0, |t| **t);
    if let Some(ttl) = &raw.cdn_ttl_s
        && (ttl.is_nan() || **ttl <= 0.0)
    {
        cx.error(
            ttl.span(),
            "`cdn_ttl_s` must be above 0",
            "use the number of seconds an asset stays at the edge, e.g. 300",
        );
    }
    for asset in &raw.assets {
        match &prefix {
            None => cx.error(
                asset.path.span(),
                "assets need `edge.static_prefix`",
                "add `static_prefix = \"/static/\"` to `[edge]`",
            ),
            Some(prefix) if !asset.path.starts_with(prefix.as_str()) => cx.error(
                asset.path.span(),
                format!(
                    "asset `{}` is outside the static prefix `{prefix}`",
                    asset.path
                ),
                format!("start the path with `{prefix}`"),
            ),
            Some(_) => {}
        }
        if *asset.size_bytes == 0 {
            cx.error(
                asset.size_bytes.span(),
                "an asset of 0 bytes",
                "give the asset a size, e.g. 2048",
            );
        }
        cx.declare("asset", &asset.path);
    }
    let max_body_bytes = raw.max_body_bytes.as_ref().map_or(64 * 1024, |b| **b);
    if let Some(b) = &raw.max_body_bytes
        && **b == 0
    {
        cx.error(
            b.span(),
            "`max_body_bytes` of 0 refuses every body",
            "use e.g. 65536",
        );
    }
    let waf = raw.waf_requests_per_minute.as_ref().map_or(6000, |w| **w);
    if let Some(w) = &raw.waf_requests_per_minute
        && **w == 0
    {
        cx.error(
            w.span(),
            "`waf_requests_per_minute` of 0 blocks everyone",
            "use e.g. 600",
        );
    }
    let max_connections = raw.max_connections.as_ref().map_or(512, |c| **c);
    if let Some(c) = &raw.max_connections
        && **c == 0
    {
        cx.error(
            c.span(),
            "`max_connections` of 0 serves no one",
            "use e.g. 512, well under the process's file-descriptor limit",
        );
    }
    let idle_timeout = positive_seconds(cx, "idle_timeout_s", raw.idle_timeout_s.as_ref(), 10.0);
    let header_timeout =
        positive_seconds(cx, "header_timeout_s", raw.header_timeout_s.as_ref(), 10.0);
    EdgeConfig {
        static_prefix: prefix,
        cdn_ttl: secs(cdn_ttl),
        waf_requests_per_minute: waf,
        max_body_bytes,
        max_connections,
        idle_timeout,
        header_timeout,
        assets: raw
            .assets
            .iter()
            .map(|a| Asset {
                path: a.path.get().clone(),
                content_type: a.content_type.clone(),
                size_bytes: *a.size_bytes,
            })
            .collect(),
    }
}

/// A `serve` timeout: above 0 (`default` when absent).
fn positive_seconds(cx: &mut Cx, key: &str, raw: Option<&Sp<f64>>, default: f64) -> Duration {
    let Some(value) = raw else {
        return secs(default);
    };
    if value.is_nan() || **value <= 0.0 {
        cx.error(
            value.span(),
            format!("`{key}` must be above 0"),
            format!("use a number of seconds, e.g. {default}"),
        );
        return secs(default);
    }
    secs(**value)
}

/// The static prefix is a directory (`/static/`) that does not overlap the API: the CDN answers
/// every path under it, so `/api/` would swallow API requests and `/api/v1/files/` would shadow
/// routes.
fn check_static_prefix(cx: &mut Cx, prefix: &Sp<String>) {
    if !(prefix.starts_with('/') && prefix.ends_with('/')) {
        cx.error(
            prefix.span(),
            format!("static prefix `{prefix}` must start and end with `/`"),
            "write it as a directory, e.g. \"/static/\"",
        );
    } else if API_PREFIX.starts_with(prefix.as_str()) || prefix.starts_with(API_PREFIX) {
        cx.error(
            prefix.span(),
            format!("static prefix `{prefix}` overlaps the API paths under `{API_PREFIX}`"),
            "the CDN answers every path under the static prefix, so the two must not contain \
             each other: use a directory outside the API, e.g. \"/static/\"",
        );
    }
}

pub(crate) fn validate_load_balancer(cx: &mut Cx, raw: &RawLoadBalancer) -> LoadBalancerConfig {
    if *raw.instances == 0 || *raw.instances > 64 {
        cx.error(
            raw.instances.span(),
            format!("{} app instances", raw.instances),
            "use from 1 to 64 instances",
        );
    }
    LoadBalancerConfig {
        instances: *raw.instances,
        strategy: raw.strategy,
    }
}

pub(crate) fn validate_rate_limit(
    cx: &mut Cx,
    raw: &RawRateLimit,
    tenants: &[Tenant],
) -> RateLimitConfig {
    if !(raw.requests_per_second.is_finite() && *raw.requests_per_second > 0.0) {
        cx.error(
            raw.requests_per_second.span(),
            format!(
                "`requests_per_second` must be above 0, not {}",
                raw.requests_per_second
            ),
            "use the sustained rate one user of one tenant may send, e.g. 10",
        );
    }
    if *raw.burst == 0 {
        cx.error(
            raw.burst.span(),
            "`burst` must be at least 1",
            "a burst of 0 lets no request through",
        );
    }
    let tenant = validate_tenant_quota(cx, raw);
    let mut plans = std::collections::BTreeMap::new();
    for plan in &raw.plans {
        if plans.contains_key(plan.plan.get()) {
            cx.error(
                plan.plan.span(),
                format!("plan `{}` has two tenant quotas", plan.plan),
                "give each plan one `[[rate_limit.plans]]` entry",
            );
            continue;
        }
        if !tenants.iter().any(|t| &t.plan == plan.plan.get()) {
            let known: Vec<&str> = tenants.iter().map(|t| t.plan.as_str()).collect();
            cx.error(
                plan.plan.span(),
                format!("no tenant is on plan `{}`", plan.plan),
                crate::scenario::diagnostic::unknown_name_help("plan", &plan.plan, known),
            );
            continue;
        }
        if let Some(quota) = check_tenant_quota(
            cx,
            &plan.tenant_requests_per_second,
            plan.tenant_burst.as_ref(),
        ) {
            plans.insert(plan.plan.get().clone(), quota);
        }
    }
    RateLimitConfig {
        requests_per_second: *raw.requests_per_second,
        burst: *raw.burst,
        tenant,
        plans,
    }
}

/// The optional tenant-wide quota: a rate above 0, and a burst of at least 1 that comes with a
/// rate (a burst alone would be a quota with no refill).
fn validate_tenant_quota(cx: &mut Cx, raw: &RawRateLimit) -> Option<TenantQuota> {
    let Some(rate) = &raw.tenant_requests_per_second else {
        if let Some(burst) = &raw.tenant_burst {
            cx.error(
                burst.span(),
                "`tenant_burst` without `tenant_requests_per_second`",
                "a tenant-wide quota needs its sustained rate: add e.g. \
                 `tenant_requests_per_second = 50`, or remove `tenant_burst`",
            );
        }
        return None;
    };
    check_tenant_quota(cx, rate, raw.tenant_burst.as_ref())
}

/// A tenant-wide rate and optional burst (defaulting to one second of the rate).
fn check_tenant_quota(cx: &mut Cx, rate: &Sp<f64>, burst: Option<&Sp<u32>>) -> Option<TenantQuota> {
    if !(rate.is_finite() && **rate > 0.0) {
        cx.error(
            rate.span(),
            format!("`tenant_requests_per_second` must be above 0, not {rate}"),
            "use the sustained rate all the callers of one tenant may send together, e.g. 50; \
             leave it out for no tenant-wide quota",
        );
        return None;
    }
    let burst = match burst {
        Some(burst) if **burst == 0 => {
            cx.error(
                burst.span(),
                "`tenant_burst` must be at least 1",
                "a burst of 0 lets no request through; leave it out for one second of the rate",
            );
            return None;
        }
        Some(burst) => **burst,
        // One second's worth: the bucket holds what the tenant may send in a second.
        None => rate.ceil().clamp(1.0, f64::from(u32::MAX)) as u32,
    };
    Some(TenantQuota {
        requests_per_second: **rate,
        burst,
    })
}

/// Largest `ttl_jitter`: beyond ±50 % an entry may live three times as long as another of the
/// same route, which stops being "the same TTL, spread" and starts being a different TTL.
pub const MAX_TTL_JITTER: f64 = 0.5;

pub(crate) fn validate_cache(cx: &mut Cx, raw: &RawCache) -> CacheConfig {
    if *raw.max_entries == 0 {
        cx.error(
            raw.max_entries.span(),
            "`cache.max_entries` must be at least 1",
            "a cache that holds nothing caches nothing; use e.g. 10000",
        );
    }
    let ttl_jitter = match &raw.ttl_jitter {
        Some(jitter) if !(jitter.is_finite() && (0.0..=MAX_TTL_JITTER).contains(&**jitter)) => {
            cx.error(
                jitter.span(),
                format!("`cache.ttl_jitter` must be from 0 to {MAX_TTL_JITTER}, not {jitter}"),
                "it is a fraction of the TTL: 0.1 gives each entry 90 %–110 % of its route's \
                 `cache_ttl_s`; use 0 (or leave it out) for exact TTLs",
            );
            0.0
        }
        Some(jitter) => **jitter,
        None => 0.0,
    };
    CacheConfig {
        max_entries: *raw.max_entries,
        single_flight: raw.single_flight,
        ttl_jitter,
    }
}

/// Default wait for a pooled connection, ms.
pub const DEFAULT_QUEUE_TIMEOUT_MS: f64 = 1000.0;

/// Longest `queue_timeout_ms` (a minute, like a route deadline).
pub const MAX_QUEUE_TIMEOUT_MS: f64 = 60_000.0;

pub(crate) fn validate_database(cx: &mut Cx, raw: &RawDatabase) -> DatabaseConfig {
    let Some(connections) = &raw.connections else {
        if let Some(timeout) = &raw.queue_timeout_ms {
            cx.error(
                timeout.span(),
                "`queue_timeout_ms` without `connections`",
                "without a pool size every query runs at once and never queues: add e.g. \
                 `connections = 4`, or remove `queue_timeout_ms`",
            );
        }
        return DatabaseConfig::default();
    };
    if **connections == 0 || **connections > 1024 {
        cx.error(
            connections.span(),
            format!("`database.connections` must be from 1 to 1024, not {connections}"),
            "the number of queries that may run at once, e.g. 4; leave it out for no limit",
        );
        return DatabaseConfig::default();
    }
    let timeout_ms = match &raw.queue_timeout_ms {
        Some(ms) if !(ms.is_finite() && **ms > 0.0 && **ms <= MAX_QUEUE_TIMEOUT_MS) => {
            cx.error(
                ms.span(),
                format!(
                    "`queue_timeout_ms` must be above 0 and at most {MAX_QUEUE_TIMEOUT_MS}, not {ms}"
                ),
                "how long a query may wait for a free connection before the request fails with \
                 503 database_busy, e.g. 250",
            );
            DEFAULT_QUEUE_TIMEOUT_MS
        }
        Some(ms) => **ms,
        None => DEFAULT_QUEUE_TIMEOUT_MS,
    };
    DatabaseConfig {
        pool: Some(PoolConfig {
            connections: **connections,
            queue_timeout: millis(timeout_ms),
        }),
    }
}

/// Longest route deadline, ms: a minute, about where HTTP clients and proxies give up anyway.
pub const MAX_DEADLINE_MS: f64 = 60_000.0;

/// A route's `deadline_ms`: finite, above 0 and at most [`MAX_DEADLINE_MS`]. Returns the deadline
/// when it is valid.
fn check_deadline(cx: &mut Cx, deadline: &Sp<f64>, who: &str) -> Option<std::time::Duration> {
    let ms = **deadline;
    if !(ms.is_finite() && ms > 0.0) {
        cx.error(
            deadline.span(),
            format!("{who}: `deadline_ms` must be a number above 0, not {ms}"),
            "use the time a client waits for this route, e.g. 250; leave it out for no deadline",
        );
        return None;
    }
    if ms > MAX_DEADLINE_MS {
        cx.error(
            deadline.span(),
            format!("{who}: `deadline_ms` of {ms} is above the limit of {MAX_DEADLINE_MS}"),
            "a deadline is at most a minute (60000 ms); leave it out for no deadline",
        );
        return None;
    }
    Some(millis(ms))
}

/// Which methods an action accepts and whether its path ends in `{id}`.
fn action_shape(action: Action) -> (&'static [Method], Option<bool>, bool) {
    // (methods, path has {id} (None: either), needs a table)
    match action {
        Action::List => (&[Method::Get], Some(false), true),
        Action::Get => (&[Method::Get], Some(true), true),
        Action::Create => (&[Method::Post], Some(false), true),
        Action::Update => (&[Method::Put, Method::Patch], Some(true), true),
        Action::Delete => (&[Method::Delete], Some(true), true),
        Action::IssueToken => (&[Method::Post], Some(false), false),
        Action::Health => (&[Method::Get], Some(false), false),
    }
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::List => "list",
        Action::Get => "get",
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
        Action::IssueToken => "issue_token",
        Action::Health => "health",
    }
}

/// The path: under the API prefix, no empty segments, `{id}` as the only parameter and only as
/// the last segment, and whether it ends in `{id}` fits the action.
fn check_route_path(cx: &mut Cx, route: &RawRoute, who: &str) {
    let path = route.path.get();
    if !path.starts_with(API_PREFIX) {
        cx.error(
            route.path.span(),
            format!("route path `{path}` is outside the API"),
            format!("API paths start with `{API_PREFIX}`"),
        );
    }
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    if segments.iter().any(|s| s.is_empty()) {
        cx.error(
            route.path.span(),
            format!("route path `{path}` has an empty segment"),
            "remove doubled or trailing slashes",
        );
    }
    let is_param = |s: &str| s.starts_with('{') || s.ends_with('}');
    if segments.iter().any(|s| is_param(s) && *s != "{id}") {
        cx.error(
            route.path.span(),
            format!("route path `{path}` has a parameter other than `{{id}}`"),
            "the only path parameter is `{id}`, the row id",
        );
    }
    let ids = segments.iter().filter(|s| **s == "{id}").count();
    let misplaced = ids > 1 || (ids == 1 && segments.last() != Some(&"{id}"));
    if misplaced {
        cx.error(
            route.path.span(),
            format!(
                "route path `{path}` has `{{id}}` {}",
                if ids > 1 { "twice" } else { "before its end" }
            ),
            "`{id}` is the row id of the route's table: write it once, as the last segment \
             (nested paths such as `/projects/{id}/tasks` are not supported)",
        );
        return;
    }
    let action = *route.action;
    let (_, wants_id, _) = action_shape(action);
    let has_id = ids == 1;
    if let Some(want) = wants_id
        && want != has_id
    {
        let name = action_name(action);
        let help = match segments.last() {
            Some(last) if want && last.starts_with(':') => {
                format!("write the id parameter as `{{id}}`, not `{last}`")
            }
            _ if want => format!("a {name} route ends in `/{{id}}`"),
            _ => format!("a {name} route has no `{{id}}` parameter"),
        };
        cx.error(
            route.path.span(),
            format!("{who}: path does not fit action `{name}`"),
            help,
        );
    }
}

/// Public or guarded by a declared permission; `issue_token` and `health` must be public (a
/// caller has no token yet when logging in, and a probe carries none). Returns the permission's
/// mask, or 0.
fn check_route_access(cx: &mut Cx, route: &RawRoute, permissions: &[Permission], who: &str) -> u64 {
    let action = *route.action;
    if matches!(action, Action::IssueToken | Action::Health) && !*route.public {
        cx.error(
            route.action.span(),
            format!("{who}: `{}` routes must be public", action_name(action)),
            match action {
                Action::IssueToken => {
                    "a caller has no token before logging in: add `public = true`"
                }
                _ => "load balancers and probes send no token: add `public = true`",
            }
            .to_string()
                + if route.permission.is_some() {
                    " and remove `permission`"
                } else {
                    ""
                },
        );
        return 0;
    }
    match (&route.permission, *route.public) {
        (Some(permission), false) => {
            if cx.expect_declared("permission", permission, who)
                && let Some(p) = permissions.iter().find(|p| p.name == **permission)
                && p.bit < 64
            {
                return p.mask();
            }
        }
        (Some(permission), true) => cx.error(
            permission.span(),
            format!("{who} is public, so a permission is never checked"),
            "remove `permission`, or remove `public = true`",
        ),
        (None, false) => cx.error(
            route.path.span(),
            format!("{who} is neither public nor guarded by a permission"),
            "add `permission = \"...\"` (or `public = true` for login and health routes)",
        ),
        (None, true) => {}
    }
    0
}

pub(crate) fn validate_routes(
    cx: &mut Cx,
    raw: &[RawRoute],
    permissions: &[Permission],
    tables: &[Table],
) -> Vec<Route> {
    let mut routes: Vec<Route> = Vec::new();
    for route in raw {
        let who = format!("route {} {}", route.method.as_str(), route.path);
        let action = *route.action;
        let (methods, _, needs_table) = action_shape(action);
        let path = route.path.get();
        check_route_path(cx, route, &who);
        if !methods.contains(&route.method) {
            let allowed: Vec<&str> = methods.iter().map(Method::as_str).collect();
            cx.error(
                route.method.span(),
                format!(
                    "{who}: method {} does not fit action `{}`",
                    route.method.as_str(),
                    action_name(action)
                ),
                format!("use {}", allowed.join(" or ")),
            );
        }
        match (&route.table, needs_table) {
            (Some(table), true) => {
                cx.expect_declared("table", table, &who);
            }
            (None, true) => cx.error(
                route.action.span(),
                format!("{who}: action `{}` needs a `table`", action_name(action)),
                "add `table = \"...\"`",
            ),
            (Some(table), false) => cx.error(
                table.span(),
                format!(
                    "{who}: action `{}` does not use a table",
                    action_name(action)
                ),
                "remove `table`",
            ),
            (None, false) => {}
        }
        if let Some(table) = route
            .table
            .as_ref()
            .and_then(|t| tables.iter().find(|x| x.name == **t))
            && !table.tenant_scoped
            && table.fill != Some(FillFrom::Personas)
            && matches!(action, Action::Create | Action::Update | Action::Delete)
        {
            cx.error(
                route.action.span(),
                format!(
                    "{who} writes to `{}`, which is shared by all tenants",
                    table.name
                ),
                "API writes are tenant-scoped: point the route at a `tenant_scoped = true` table",
            );
        }
        let required_mask = check_route_access(cx, route, permissions, &who);
        if let Some(ttl) = &route.cache_ttl_s {
            if *route.method != Method::Get {
                cx.error(
                    ttl.span(),
                    format!("{who}: only GET routes are cached"),
                    "remove `cache_ttl_s`",
                );
            } else if ttl.is_nan() || **ttl <= 0.0 {
                cx.error(
                    ttl.span(),
                    format!("{who}: `cache_ttl_s` must be above 0"),
                    "leave it out to skip the cache",
                );
            }
        }
        let deadline = route
            .deadline_ms
            .as_ref()
            .and_then(|d| check_deadline(cx, d, &who));
        let publishes = validate_publishes(cx, &route.publishes, &who);
        if let Some(existing) = routes
            .iter()
            .find(|r| r.method == *route.method && r.path == *path)
        {
            cx.error(
                route.path.span(),
                format!("duplicate route {} {}", existing.method, existing.path),
                "each method and path pair is served by one route",
            );
        }
        routes.push(Route {
            method: *route.method,
            path: path.clone(),
            action,
            table: route.table.as_ref().map(|t| t.get().clone()),
            permission: route.permission.as_ref().map(|p| p.get().clone()),
            required_mask,
            public: *route.public,
            cache_ttl: route
                .cache_ttl_s
                .as_ref()
                .filter(|t| ***t > 0.0)
                .map(|t| secs(**t)),
            deadline,
            publishes,
            publish_mode: *route.publish,
            explain: route.explain.trim().to_string(),
        });
    }
    routes
}
