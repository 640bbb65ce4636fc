//! Security stages: authentication (bearer JWT), the tenant check, the per-user rate limit and
//! RBAC (role bitmask against the route's required bits).

use axum::extract::Request;
use axum::http::{StatusCode, header};
use serde_json::Value;

use super::context::{ClientIp, DEFAULT_CLIENT_IP, HostTenant, MatchedRoute, Principal};
use super::error::ApiError;
use super::stage::{Decision, Stage, StageCtx, trace_unread};
use crate::engine::trace::StageDetail;
use crate::engine::trace::detail::{
    AuthDetail, QuotaScope, RateLimitDetail, RbacDetail, TenantDetail, TenantQuotaState,
};

/// Whether the request needs an authenticated caller (a matched, non-public route).
fn needs_caller(request: &Request) -> bool {
    request
        .extensions()
        .get::<MatchedRoute>()
        .is_some_and(|r| !r.0.public)
}

/// Skips a stage that does not apply to `request`, saying why: `unneeded` is what a public
/// route spares this stage (e.g. "no token to compare with the host").
fn skip(request: &Request, unneeded: &str) -> Decision {
    let reason = match request.extensions().get::<MatchedRoute>() {
        Some(route) if route.0.public => format!(
            "skipped: public route {} {}: {unneeded}",
            route.0.method, route.0.path
        ),
        Some(_) => "not applicable".to_string(),
        None => format!("skipped: static asset, public: {unneeded}"),
    };
    Decision::skip(reason)
}

fn unauthorized(code: &'static str, message: String, realm: &str) -> ApiError {
    let challenge = if code == "missing_token" {
        format!("Bearer realm=\"{realm}\"")
    } else {
        format!(
            "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{}\"",
            message.replace('"', "'")
        )
    };
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
        .with_header(header::WWW_AUTHENTICATE, &challenge)
}

fn unauthenticated() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "no authenticated caller",
    )
}

/// Auth: verify the bearer token.
pub struct Auth;

impl Stage for Auth {
    async fn decide(&self, ctx: &StageCtx, request: &mut Request) -> Decision {
        if !needs_caller(request) {
            return skip(request, "no token is asked for");
        }
        let reject = |error, detail| Decision::Reject(error, StageDetail::Auth(detail));
        let realm = ctx.core.scenario.meta.domain.clone();
        let header_value = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let Some(header_value) = header_value else {
            let error = unauthorized(
                "missing_token",
                "an Authorization: Bearer token is required".into(),
                &realm,
            );
            let detail = AuthDetail {
                authorization: Some(None),
                ..AuthDetail::default()
            };
            return reject(error, detail);
        };
        // The scheme is case-insensitive (RFC 9110 §11.1): `bearer`, `BEARER` and `Bearer` are one.
        let Some(token) = header_value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim_start())
        else {
            let error = unauthorized(
                "invalid_token",
                "the Authorization header must be `Bearer <token>`".into(),
                &realm,
            );
            let detail = AuthDetail {
                authorization: Some(Some("not a Bearer token".into())),
                ..AuthDetail::default()
            };
            return reject(error, detail);
        };
        let now = ctx.core.clock.unix_secs();
        match ctx.core.tokens.verify(token.trim(), now) {
            Ok(verified) => {
                // A token the service signed always has a numeric subject; 0 matches no user.
                let user_id = verified.claims.sub.parse::<i64>().unwrap_or_default();
                let claims = &verified.claims;
                let detail = if trace_unread(request) {
                    // Nobody reads this trace: the claims are not serialised for it.
                    AuthDetail {
                        now: Some(now),
                        ..AuthDetail::default()
                    }
                } else {
                    AuthDetail {
                        authorization: None,
                        header: Some(verified.header),
                        claims: Some(serde_json::to_value(claims).unwrap_or_default()),
                        checks: Some(verified.checks),
                        now: Some(now),
                        verdict: Some(format!(
                            "authenticated as user {} ({}) of {}",
                            claims.sub, claims.name, claims.tid
                        )),
                    }
                };
                request.extensions_mut().insert(Principal {
                    user_id,
                    claims: verified.claims,
                });
                Decision::Pass(StageDetail::Auth(detail))
            }
            Err(failure) => {
                let detail = AuthDetail {
                    authorization: None,
                    header: Some(failure.header.unwrap_or(Value::Null)),
                    claims: Some(failure.claims.unwrap_or(Value::Null)),
                    checks: Some(failure.checks),
                    now: Some(now),
                    verdict: None,
                };
                reject(unauthorized(failure.code, failure.message, &realm), detail)
            }
        }
    }
}

/// Tenant: the token's tenant must be the host's tenant.
pub struct Tenant;

impl Stage for Tenant {
    async fn decide(&self, _: &StageCtx, request: &mut Request) -> Decision {
        if !needs_caller(request) {
            return skip(
                request,
                "no token, so no token tenant to compare with the host",
            );
        }
        let host = request
            .extensions()
            .get::<HostTenant>()
            .map(|h| h.subdomain.clone());
        let Some(principal) = request.extensions().get::<Principal>() else {
            let detail = TenantDetail {
                host_tenant: host,
                token_tenant: None,
                matches: None,
            };
            return Decision::Reject(unauthenticated(), StageDetail::Tenant(detail));
        };
        let token_tenant = principal.claims.tid.clone();
        let detail = TenantDetail {
            matches: Some(host.as_deref() == Some(token_tenant.as_str())),
            host_tenant: host.clone(),
            token_tenant: Some(token_tenant.clone()),
        };
        match host {
            Some(host) if host != token_tenant => {
                let error = ApiError::new(
                    StatusCode::FORBIDDEN,
                    "tenant_mismatch",
                    format!(
                        "this token belongs to tenant `{token_tenant}`, but the request is for `{host}`"
                    ),
                );
                Decision::Reject(error, StageDetail::Tenant(detail))
            }
            // Without a DNS stage there is no host tenant to compare against: the token's
            // tenant decides.
            _ => Decision::Pass(StageDetail::Tenant(detail)),
        }
    }
}

/// Rate limit: a GCRA quota per tenant and user (per tenant and IP for anonymous callers), then,
/// if the scenario sets one, a GCRA quota per tenant shared by all its callers.
pub struct RateLimit;

impl Stage for RateLimit {
    async fn decide(&self, ctx: &StageCtx, request: &mut Request) -> Decision {
        if request.extensions().get::<MatchedRoute>().is_none() {
            return skip(request, "no API route to count against");
        }
        let tenant = request
            .extensions()
            .get::<HostTenant>()
            .map_or_else(|| "-".to_string(), |h| h.subdomain.clone());
        let key = match request.extensions().get::<Principal>() {
            Some(principal) => format!("{tenant}:user:{}", principal.claims.name),
            None => {
                let ip = request
                    .extensions()
                    .get::<ClientIp>()
                    .map_or(DEFAULT_CLIENT_IP, |c| c.0);
                format!("{tenant}:ip:{ip}")
            }
        };
        let core = &ctx.core;
        let quota = &core.scenario.rate_limit;
        // Named in a refusal only when there is a second quota it could be confused with.
        let scope = |scope| (!core.tenant_limiters.is_empty()).then_some(scope);
        let remaining = match core.user_limiter.check_key(&key) {
            Ok(snapshot) => snapshot.remaining_burst_capacity(),
            Err(not_until) => {
                let limit = Limit {
                    key,
                    burst: quota.burst,
                    refill_per_s: quota.requests_per_second,
                    wait: not_until.wait_time_from(governor::clock::Clock::now(&core.clock)),
                };
                let message = format!(
                    "quota of {} requests/s (burst {}) used up",
                    quota.requests_per_second, quota.burst
                );
                return limit.refuse(message, scope(QuotaScope::User), None);
            }
        };
        // The tenant-wide quota comes second, so a caller refused by its own quota costs its
        // tenant nothing; a request it refuses has spent one of the caller's own tokens, as a
        // gateway that counts every descriptor does.
        // The host's tenant, its plan, the quota that plan gets and the bucket that keeps it.
        let plan = request.extensions().get::<HostTenant>().and_then(|host| {
            core.scenario
                .tenants
                .iter()
                .find(|t| t.id == host.id)
                .map(|t| t.plan.clone())
        });
        let bucket = plan.and_then(|plan| {
            let tenant_quota = quota.tenant_quota(&plan)?;
            let (limiter, by_plan) = match core.tenant_limiters.get(&plan) {
                Some(limiter) => (limiter, Some(plan)),
                None => (core.tenant_limiters.get("")?, None),
            };
            Some((tenant_quota, limiter, by_plan))
        });
        let tenant_quota = match bucket {
            Some((tenant_quota, limiter, plan)) => {
                let tenant_key = format!("{tenant}:tenant");
                let state = |remaining| TenantQuotaState {
                    key: tenant_key.clone(),
                    remaining,
                    burst: tenant_quota.burst,
                    refill_per_s: tenant_quota.requests_per_second,
                    plan: plan.clone(),
                };
                match limiter.check_key(&tenant_key) {
                    Ok(snapshot) => Some(state(snapshot.remaining_burst_capacity())),
                    Err(not_until) => {
                        let limit = Limit {
                            key: key.clone(),
                            burst: tenant_quota.burst,
                            refill_per_s: tenant_quota.requests_per_second,
                            wait: not_until
                                .wait_time_from(governor::clock::Clock::now(&core.clock)),
                        };
                        let on_plan = plan
                            .as_deref()
                            .map(|plan| format!(" (plan {plan})"))
                            .unwrap_or_default();
                        let message = format!(
                            "tenant `{tenant}`{on_plan} quota of {} requests/s (burst {}), \
                             shared by all its callers, used up",
                            tenant_quota.requests_per_second, tenant_quota.burst
                        );
                        return limit.refuse(message, Some(QuotaScope::Tenant), Some(state(0)));
                    }
                }
            }
            None => None,
        };
        Decision::Pass(StageDetail::RateLimit(RateLimitDetail {
            key,
            remaining,
            burst: quota.burst,
            refill_per_s: quota.requests_per_second,
            retry_after_s: None,
            next_token_in_ms: None,
            refused_by: None,
            tenant_quota,
        }))
    }
}

/// A quota that refused a request: its key, numbers and the wait until its next token.
struct Limit {
    key: String,
    burst: u32,
    refill_per_s: f64,
    wait: std::time::Duration,
}

impl Limit {
    /// The 429 (with `Retry-After`) and its detail; `message` says which quota, `scope` names
    /// it in the detail and the error body.
    fn refuse(
        self,
        message: String,
        scope: Option<QuotaScope>,
        tenant_quota: Option<TenantQuotaState>,
    ) -> Decision {
        let wait_ms = self.wait.as_secs_f64() * 1000.0;
        let retry_after = self.wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("{message}; retry in {wait_ms:.0} ms"),
        )
        .with_header(header::RETRY_AFTER, &retry_after.to_string());
        if let Some(scope) = scope {
            error = error.with_detail("quota", serde_json::to_value(scope).unwrap_or_default());
        }
        let detail = RateLimitDetail {
            key: self.key,
            remaining: 0,
            burst: self.burst,
            refill_per_s: self.refill_per_s,
            retry_after_s: Some(retry_after),
            next_token_in_ms: Some(wait_ms),
            refused_by: scope,
            tenant_quota,
        };
        Decision::Reject(error, StageDetail::RateLimit(detail))
    }
}

/// A bitmask as binary, at least 8 digits, grouped by 4 from the right.
pub fn binary(mask: u64, width: u32) -> String {
    let digits = format!("{mask:0width$b}", width = width as usize);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 4 == 0 {
            out.push('_');
        }
        out.push(c);
    }
    format!("0b{out}")
}

/// RBAC: `role_mask & required == required`, else 403 naming the missing permissions.
pub struct Rbac;

/// The rule RBAC applies, as the trace writes it.
pub const RBAC_RULE: &str = "role_mask & required_mask == required_mask";

impl Stage for Rbac {
    async fn decide(&self, ctx: &StageCtx, request: &mut Request) -> Decision {
        if !needs_caller(request) {
            return skip(request, "no role is required");
        }
        let Some(route) = request
            .extensions()
            .get::<MatchedRoute>()
            .map(|r| r.0.clone())
        else {
            return skip(request, "no role is required");
        };
        let Some(principal) = request.extensions().get::<Principal>() else {
            return Decision::Reject(unauthenticated(), StageDetail::Rbac(None));
        };
        let scenario = &ctx.core.scenario;
        let highest = scenario
            .permissions
            .iter()
            .map(|p| p.bit + 1)
            .max()
            .unwrap_or(8);
        let width = highest.div_ceil(4).max(2) * 4;
        let have = principal.claims.perm;
        let required = route.required_mask;
        let missing = required & !have;
        if missing == 0 && trace_unread(request) {
            // Allowed, and nobody reads this trace: the masks are not spelled out for it.
            return Decision::Pass(StageDetail::Rbac(None));
        }
        let names = |mask| -> Vec<String> {
            scenario
                .permission_names(mask)
                .into_iter()
                .map(str::to_string)
                .collect()
        };
        let missing_names = names(missing);
        let role = principal.claims.role.clone();
        let detail = RbacDetail {
            role: role.clone(),
            role_mask: binary(have, width),
            required_mask: binary(required, width),
            and: binary(have & required, width),
            missing_mask: binary(missing, width),
            granted: names(have),
            required: names(required),
            missing: missing_names.clone(),
            rule: RBAC_RULE,
        };
        if missing == 0 {
            return Decision::Pass(StageDetail::Rbac(Some(detail)));
        }
        let error = ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "role `{role}` lacks the permission{} {}",
                if missing_names.len() == 1 { "" } else { "s" },
                missing_names.join(", ")
            ),
        )
        .with_detail("missing_permissions", Value::from(missing_names));
        Decision::Reject(error, StageDetail::Rbac(Some(detail)))
    }
}

#[cfg(test)]
mod tests {
    use super::binary;

    #[test]
    fn masks_are_grouped_binary() {
        assert_eq!(binary(0b101, 8), "0b0000_0101");
        assert_eq!(binary(0b111_1111, 8), "0b0111_1111");
        assert_eq!(binary(1 << 9, 12), "0b0010_0000_0000");
    }
}
