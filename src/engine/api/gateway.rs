//! The API gateway: method + path → route, with the `/api/v1` version prefix.
//!
//! Matching itself is axum's router; this stage records what matched (a route layer, so it runs
//! only once a route matched) and answers the two ways matching fails: no route for the path
//! (404) and a route for the path but not the method (405, with `Allow`).

use std::sync::Arc;

use axum::extract::{MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use super::context::{Instance, MatchedRoute};
use super::error::ApiError;
use super::stage::{StageCtx, pass_through, recorder, reject};
use crate::scenario::{Method, Route};

/// The scenario route serving `method` on the path pattern `pattern`.
pub fn find_route(
    routes: &[Arc<Route>],
    method: &axum::http::Method,
    pattern: &str,
) -> Option<Arc<Route>> {
    routes
        .iter()
        .find(|r| r.path == pattern && r.method.as_str() == method.as_str())
        .cloned()
}

/// The gateway stage for a request that matched a route (or a static asset).
pub async fn gateway(ctx: StageCtx, mut request: Request, next: Next) -> Response {
    let trace = recorder(&request);
    let timer = ctx.enter(&trace).await;
    let pattern = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let instance = request.extensions().get::<Instance>().map(Instance::name);
    let route = find_route(&ctx.core.routes, request.method(), &pattern);
    let detail = match &route {
        Some(route) => json!({
            "route": format!("{} {}", route.method, route.path),
            "action": route.action,
            "table": route.table,
            "public": route.public,
            "instance": instance,
        }),
        None => {
            json!({ "route": format!("GET {pattern}"), "action": "static asset (origin)", "public": true, "instance": instance })
        }
    };
    if let Some(route) = route {
        request.extensions_mut().insert(MatchedRoute(route));
    }
    pass_through(timer, &trace, detail, request, next).await
}

/// No route for this path: 404.
pub async fn no_route(ctx: Option<StageCtx>, request: Request) -> Response {
    let error = ApiError::not_found(
        "no_route",
        format!(
            "no route for {} {}; the API lives under /api/v1/",
            request.method(),
            request.uri().path()
        ),
    );
    let detail = json!({ "path": request.uri().path(), "matched": false });
    refuse(ctx, recorder(&request), error, detail).await
}

/// A route exists for this path, but not for this method: 405 with `Allow`.
pub async fn wrong_method(
    ctx: Option<StageCtx>,
    routes: &[Arc<Route>],
    request: Request,
) -> Response {
    let path = request.uri().path().to_string();
    let mut allowed: Vec<Method> = routes
        .iter()
        .filter(|r| r.matches_path(&path))
        .map(|r| r.method)
        .collect();
    allowed.sort();
    allowed.dedup();
    let allow = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let error = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {path}; allowed: {allow}",
            request.method()
        ),
    )
    .with_detail("allowed", json!(allowed))
    .with_header(header::ALLOW, &allow);
    let detail = json!({ "path": path, "method": request.method().as_str(), "allowed": allowed });
    refuse(ctx, recorder(&request), error, detail).await
}

async fn refuse(
    ctx: Option<StageCtx>,
    trace: crate::engine::trace::TraceRecorder,
    error: ApiError,
    detail: serde_json::Value,
) -> Response {
    match ctx {
        Some(ctx) => {
            let timer = ctx.enter(&trace).await;
            reject(timer, &trace, error, detail)
        }
        None => axum::response::IntoResponse::into_response(error),
    }
}
