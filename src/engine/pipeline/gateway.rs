//! The API gateway: method + path → route, with the `/api/v1` version prefix.
//!
//! Matching itself is axum's router; this stage records what matched (it runs in the route
//! layer, so only once a route matched) and answers the two ways matching fails: no route for the
//! path (404) and a route for the path but not the method (405, with `Allow`).

use std::sync::Arc;

use axum::extract::{MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::context::{Instance, MatchedRoute};
use super::error::ApiError;
use super::record::StageRun;
use super::stage::{Decision, Stage, StageCtx, recorder};
use crate::engine::trace::detail::{GatewayAction, GatewayDetail};
use crate::engine::trace::{StageDetail, TraceRecorder};
use crate::scenario::{Method, Route};

/// The scenario route serving `method` on the path pattern `pattern`. HEAD is served by the GET
/// route (axum answers it with the GET handler and drops the body), so it passes the same stages:
/// authentication, tenant, rate limit and RBAC included.
pub fn find_route(
    routes: &[Arc<Route>],
    method: &axum::http::Method,
    pattern: &str,
) -> Option<Arc<Route>> {
    let method = if method == axum::http::Method::HEAD {
        &axum::http::Method::GET
    } else {
        method
    };
    routes
        .iter()
        .find(|r| r.path == pattern && r.method.as_str() == method.as_str())
        .cloned()
}

/// The gateway stage for a request that matched a route (or a static asset).
pub struct Gateway;

impl Stage for Gateway {
    async fn decide(&self, ctx: &StageCtx, request: &mut Request) -> Decision {
        let pattern = request
            .extensions()
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default();
        let instance = request.extensions().get::<Instance>().map(Instance::name);
        let route = find_route(&ctx.core.routes, request.method(), &pattern);
        let detail = match &route {
            Some(route) => GatewayDetail {
                route: Some(route.name()),
                action: Some(GatewayAction::Route(route.action)),
                table: Some(route.table.clone()),
                public: Some(route.public),
                instance: Some(instance),
                ..GatewayDetail::default()
            },
            None => GatewayDetail {
                route: Some(format!("GET {pattern}")),
                action: Some(GatewayAction::StaticAsset),
                public: Some(true),
                instance: Some(instance),
                ..GatewayDetail::default()
            },
        };
        if let Some(route) = route {
            request.extensions_mut().insert(MatchedRoute(route));
        }
        Decision::Pass(StageDetail::Gateway(detail))
    }
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
    let detail = GatewayDetail {
        path: Some(request.uri().path().to_string()),
        matched: Some(false),
        ..GatewayDetail::default()
    };
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
    let detail = GatewayDetail {
        method: Some(request.method().as_str().to_string()),
        path: Some(path),
        allowed: Some(allowed),
        ..GatewayDetail::default()
    };
    refuse(ctx, recorder(&request), error, detail).await
}

/// Records the gateway stage as refusing the request (when the scenario has one) and answers
/// with `error`.
async fn refuse(
    ctx: Option<StageCtx>,
    trace: TraceRecorder,
    error: ApiError,
    detail: GatewayDetail,
) -> Response {
    match ctx {
        Some(ctx) => {
            let run = StageRun::enter(&ctx, &trace).await;
            run.refuse(error, StageDetail::Gateway(detail))
        }
        None => error.into_response(),
    }
}
