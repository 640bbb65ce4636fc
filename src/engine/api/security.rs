//! Security stages: authentication (bearer JWT), the tenant check, the per-user rate limit and
//! RBAC (role bitmask against the route's required bits).

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

use super::context::{ClientIp, HostTenant, MatchedRoute, Principal};
use super::error::ApiError;
use super::stage::{StageCtx, pass_through, recorder, reject};
use crate::engine::edge::DEFAULT_CLIENT_IP;
use crate::engine::trace::{Outcome, StageTimer, TraceRecorder};

/// Whether the request needs an authenticated caller (a matched, non-public route).
fn needs_caller(request: &Request) -> bool {
    request
        .extensions()
        .get::<MatchedRoute>()
        .is_some_and(|r| !r.0.public)
}

fn skip(timer: StageTimer, trace: &TraceRecorder, request: &Request) {
    let reason = match request.extensions().get::<MatchedRoute>() {
        Some(route) if route.0.public => format!("{} {} is public", route.0.method, route.0.path),
        Some(_) => "not applicable".to_string(),
        None => "static asset: public".to_string(),
    };
    timer.finish(trace, Outcome::Skip, json!({ "reason": reason }));
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

/// Auth: verify the bearer token.
pub async fn auth(ctx: StageCtx, mut request: Request, next: Next) -> Response {
    let trace = recorder(&request);
    let timer = ctx.enter(&trace).await;
    if !needs_caller(&request) {
        skip(timer, &trace, &request);
        return next.run(request).await;
    }
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
        return reject(timer, &trace, error, json!({ "authorization": null }));
    };
    let Some(token) = header_value
        .strip_prefix("Bearer ")
        .or_else(|| header_value.strip_prefix("bearer "))
    else {
        let error = unauthorized(
            "invalid_token",
            "the Authorization header must be `Bearer <token>`".into(),
            &realm,
        );
        return reject(
            timer,
            &trace,
            error,
            json!({ "authorization": "not a Bearer token" }),
        );
    };
    let now = ctx.core.clock.unix_secs();
    match ctx.core.tokens.verify(token.trim(), now) {
        Ok(verified) => {
            let user_id = verified.claims.sub.parse::<i64>().unwrap_or_default();
            let detail = json!({
                "header": verified.header,
                "claims": verified.claims,
                "checks": verified.checks,
                "now": now,
                "verdict": format!("authenticated as user {} ({}) of {}", verified.claims.sub, verified.claims.name, verified.claims.tid),
            });
            request.extensions_mut().insert(Principal {
                user_id,
                claims: verified.claims,
            });
            pass_through(timer, &trace, detail, request, next).await
        }
        Err(failure) => {
            let detail = json!({ "header": failure.header, "claims": failure.claims, "checks": failure.checks, "now": now });
            reject(
                timer,
                &trace,
                unauthorized(failure.code, failure.message, &realm),
                detail,
            )
        }
    }
}

/// Tenant: the token's tenant must be the host's tenant.
pub async fn tenant(ctx: StageCtx, request: Request, next: Next) -> Response {
    let trace = recorder(&request);
    let timer = ctx.enter(&trace).await;
    if !needs_caller(&request) {
        skip(timer, &trace, &request);
        return next.run(request).await;
    }
    let host = request
        .extensions()
        .get::<HostTenant>()
        .map(|h| h.subdomain.clone());
    let Some(principal) = request.extensions().get::<Principal>().cloned() else {
        let error = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "no authenticated caller",
        );
        return reject(timer, &trace, error, json!({ "host_tenant": host }));
    };
    let token_tenant = principal.claims.tid.clone();
    let detail = json!({ "host_tenant": host, "token_tenant": token_tenant, "match": host.as_deref() == Some(token_tenant.as_str()) });
    match host {
        Some(host) if host == token_tenant => {
            pass_through(timer, &trace, detail, request, next).await
        }
        Some(host) => {
            let error = ApiError::new(
                StatusCode::FORBIDDEN,
                "tenant_mismatch",
                format!(
                    "this token belongs to tenant `{token_tenant}`, but the request is for `{host}`"
                ),
            );
            reject(timer, &trace, error, detail)
        }
        // Without a DNS stage there is no host tenant to compare against: the token's tenant
        // decides.
        None => pass_through(timer, &trace, detail, request, next).await,
    }
}

/// Rate limit: a GCRA quota per tenant and user (per tenant and IP for anonymous callers).
pub async fn rate_limit(ctx: StageCtx, request: Request, next: Next) -> Response {
    let trace = recorder(&request);
    let timer = ctx.enter(&trace).await;
    if request.extensions().get::<MatchedRoute>().is_none() {
        skip(timer, &trace, &request);
        return next.run(request).await;
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
    let quota = &ctx.core.scenario.rate_limit;
    match ctx.core.user_limiter.check_key(&key) {
        Ok(snapshot) => {
            let detail = json!({
                "key": key,
                "remaining": snapshot.remaining_burst_capacity(),
                "burst": quota.burst,
                "refill_per_s": quota.requests_per_second,
            });
            pass_through(timer, &trace, detail, request, next).await
        }
        Err(not_until) => {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&ctx.core.clock));
            let retry_after = wait.as_secs_f64().ceil().max(1.0) as u64;
            let error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "quota of {} requests/s (burst {}) used up; retry in {:.0} ms",
                    quota.requests_per_second,
                    quota.burst,
                    wait.as_secs_f64() * 1000.0
                ),
            )
            .with_header(header::RETRY_AFTER, &retry_after.to_string());
            let detail = json!({ "key": key, "remaining": 0, "burst": quota.burst, "refill_per_s": quota.requests_per_second, "retry_after_s": retry_after, "next_token_in_ms": wait.as_secs_f64() * 1000.0 });
            reject(timer, &trace, error, detail)
        }
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
pub async fn rbac(ctx: StageCtx, request: Request, next: Next) -> Response {
    let trace = recorder(&request);
    let timer = ctx.enter(&trace).await;
    if !needs_caller(&request) {
        skip(timer, &trace, &request);
        return next.run(request).await;
    }
    let Some(route) = request
        .extensions()
        .get::<MatchedRoute>()
        .map(|r| r.0.clone())
    else {
        return next.run(request).await;
    };
    let Some(principal) = request.extensions().get::<Principal>().cloned() else {
        let error = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "no authenticated caller",
        );
        return reject(timer, &trace, error, json!({}));
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
    let missing_names: Vec<&str> = scenario.permission_names(missing);
    let detail = json!({
        "role": principal.claims.role,
        "role_mask": binary(have, width),
        "required_mask": binary(required, width),
        "and": binary(have & required, width),
        "missing_mask": binary(missing, width),
        "granted": scenario.permission_names(have),
        "required": scenario.permission_names(required),
        "missing": missing_names,
        "rule": "role_mask & required_mask == required_mask",
    });
    if missing == 0 {
        return pass_through(timer, &trace, detail, request, next).await;
    }
    let error = ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!(
            "role `{}` lacks the permission{} {}",
            principal.claims.role,
            if missing_names.len() == 1 { "" } else { "s" },
            missing_names.join(", ")
        ),
    )
    .with_detail("missing_permissions", Value::from(missing_names.clone()));
    reject(timer, &trace, error, detail)
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
