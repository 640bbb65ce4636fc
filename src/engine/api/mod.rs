//! The HTTP API of one app instance, and the service that puts the edge in front of N of them.
//!
//! The middleware stages run as one [`Pipeline`] service each: the edge pipeline wraps the whole
//! service, the middleware pipeline (gateway … rbac) is a route layer of each instance's router
//! (so it runs once a route matched), and the handler runs the controller, cache, database and
//! publish stages.
//!
//! ```text
//!  root ─▶ edge pipeline ─▶ load balancer ─▶ instance router ─match─▶ middleware pipeline ─▶ handler
//!                                                 └─no match─▶ gateway 404 / 405
//! ```

pub mod controller;

/// The request extensions, re-exported from the pipeline where they are set.
pub use super::pipeline::context;
/// The JSON errors, re-exported from the pipeline.
pub use super::pipeline::{EDGE_KINDS, MIDDLEWARE_KINDS};

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodFilter, MethodRouter, get, on};
use indexmap::IndexMap;

use self::controller::AppState;
use crate::engine::core::Core;
use crate::engine::edge::{LoadBalancer, root};
use crate::engine::pipeline::{Pipeline, PipelineLayer, StageCtx, gateway, request_ids};
use crate::scenario::{Method, StageKind};

fn method_filter(method: Method) -> MethodFilter {
    match method {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
        Method::Put => MethodFilter::PUT,
        Method::Patch => MethodFilter::PATCH,
        Method::Delete => MethodFilter::DELETE,
    }
}

/// The router of one app instance: the scenario's routes and static assets, the middleware
/// pipeline as a route layer, and JSON 404/405 answers.
pub fn instance_router(core: &Arc<Core>, middleware: &PipelineLayer) -> Router {
    let state = AppState::new(core);
    let mut by_path: IndexMap<String, MethodRouter<AppState>> = IndexMap::new();
    for route in &core.routes {
        let handler = on(method_filter(route.method), controller::handle);
        let entry = by_path.shift_remove(&route.path);
        by_path.insert(
            route.path.clone(),
            match entry {
                Some(existing) => existing.merge(handler),
                None => handler,
            },
        );
    }
    for asset in &core.scenario.edge.assets {
        let (path, content_type, size) = (
            asset.path.clone(),
            asset.content_type.clone(),
            asset.size_bytes,
        );
        let handler = get(move || controller::asset(path.clone(), content_type.clone(), size));
        by_path.insert(asset.path.clone(), handler);
    }
    let has_routes = !by_path.is_empty();
    let mut router: Router<AppState> = Router::new();
    for (path, method_router) in by_path {
        router = router.route(&path, method_router);
    }
    // axum refuses a route layer on a router without routes (a broker-only scenario).
    if has_routes && !middleware.is_empty() {
        router = router.route_layer(middleware.clone());
    }
    let gateway = StageCtx::of_kind(core, StageKind::Gateway);
    let gateway_405 = gateway.clone();
    let routes = core.routes.clone();
    router
        .fallback(move |request: Request| gateway::no_route(gateway.clone(), request))
        .method_not_allowed_fallback(move |request: Request| {
            let (ctx, routes) = (gateway_405.clone(), routes.clone());
            async move { gateway::wrong_method(ctx, &routes, request).await }
        })
        .with_state(state)
}

/// The whole service: root layer, edge pipeline, load balancer, app instances.
pub fn service(core: &Arc<Core>) -> Router {
    // One request-id stream and one middleware pipeline, shared by every instance: ids stay
    // unique across instances.
    let ids = request_ids(core);
    let middleware = Pipeline::of_kinds(core, &MIDDLEWARE_KINDS, &ids).layer();
    let instances = (0..core.scenario.load_balancer.instances.max(1))
        .map(|_| instance_router(core, &middleware))
        .collect();
    let edge = Pipeline::of_kinds(core, &EDGE_KINDS, &ids).layer();
    Router::new()
        .fallback_service(LoadBalancer::new(core, instances))
        .layer(edge)
        .layer(from_fn_with_state(core.clone(), root))
}
