//! The HTTP API of one app instance, and the service that puts the edge in front of N of them.
//!
//! Every middleware stage is a real tower layer (`axum::middleware::from_fn_with_state`), added in
//! the scenario's stage order: edge stages wrap the whole service, the gateway and the middleware
//! pipeline are route layers of each instance's router, and the handler runs the controller,
//! cache, database and publish stages.

pub mod context;
pub mod controller;
pub mod error;
pub mod gateway;
pub mod input;
pub mod security;
pub mod stage;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodFilter, MethodRouter, get, on};
use indexmap::IndexMap;

use self::controller::AppState;
use self::stage::{StageCtx, stage_layer};
use crate::engine::core::Core;
use crate::engine::edge::{LoadBalancer, root};
use crate::scenario::{Method, StageKind};

/// Stage kinds that run in front of the load balancer.
pub const EDGE_KINDS: [StageKind; 3] = [StageKind::Dns, StageKind::Cdn, StageKind::Waf];

/// Stage kinds that run as route layers inside an app instance.
pub const MIDDLEWARE_KINDS: [StageKind; 8] = [
    StageKind::Gateway,
    StageKind::RequestId,
    StageKind::Sanitize,
    StageKind::Validate,
    StageKind::RateLimit,
    StageKind::Auth,
    StageKind::Tenant,
    StageKind::Rbac,
];

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
/// stages as route layers, and JSON 404/405 answers.
pub fn instance_router(core: &Arc<Core>) -> Router {
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
    let mut router: Router<AppState> = Router::new();
    for (path, method_router) in by_path {
        router = router.route(&path, method_router);
    }
    // Layers wrap what is already there, so add them last stage first: the first stage in the
    // scenario's order ends up outermost and runs first.
    let middleware: Vec<StageCtx> = core
        .topology
        .order()
        .filter(|s| MIDDLEWARE_KINDS.contains(&s.kind))
        .map(|s| StageCtx::new(core, s))
        .collect();
    for ctx in middleware.into_iter().rev() {
        router = router.route_layer(from_fn_with_state(ctx, stage_layer));
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

/// The whole service: root layer, edge stages, load balancer, app instances.
pub fn service(core: &Arc<Core>) -> Router {
    let instances = (0..core.scenario.load_balancer.instances.max(1))
        .map(|_| instance_router(core))
        .collect();
    let mut router = Router::new().fallback_service(LoadBalancer::new(core, instances));
    let edge: Vec<StageCtx> = core
        .topology
        .order()
        .filter(|s| EDGE_KINDS.contains(&s.kind))
        .map(|s| StageCtx::new(core, s))
        .collect();
    for ctx in edge.into_iter().rev() {
        router = router.layer(from_fn_with_state(ctx, stage_layer));
    }
    router.layer(from_fn_with_state(core.clone(), root))
}
