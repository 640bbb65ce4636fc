//! The edge of the system, before any app instance: DNS (host → tenant), the CDN's edge cache for
//! static assets, the WAF's per-IP and body-size limits, the load balancer, and the root layer
//! that records the response's trip back.
//!
//! ```text
//!  client ─▶ root ─▶ dns ─▶ cdn ─▶ waf ─▶ load balancer ─▶ app instance 1..N
//!                            │hit
//!                            └──────────────────────────▶ response
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower::{Service, ServiceExt};

use super::api::context::{ClientIp, HostTenant, Instance};
use super::api::error::ApiError;
use super::api::stage::{StageCtx, buffer_body, recorder, reject};
use super::core::{CachedAsset, Core};
use super::trace::{Outcome, StageTimer, TraceRecorder};
use crate::scenario::{BalanceStrategy, StageKind};

/// The address in-process callers appear to come from when they name none (TEST-NET-3).
pub const DEFAULT_CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10));

/// The host name without port, lower-cased.
fn host_of(request: &Request) -> Option<String> {
    let raw = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().host().map(str::to_string))?;
    let without_port = raw.rsplit_once(':').map_or(raw.as_str(), |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            raw.as_str()
        }
    });
    Some(without_port.trim_end_matches('.').to_ascii_lowercase())
}

/// DNS: the first label of the host names the tenant.
pub async fn dns(ctx: StageCtx, mut request: Request, next: Next) -> Response {
    let trace = recorder(&request);
    let timer = ctx.enter(&trace).await;
    let domain = &ctx.core.scenario.meta.domain;
    let Some(host) = host_of(&request) else {
        let error = ApiError::bad_request("missing_host", "the request has no Host header");
        return reject(timer, &trace, error, json!({ "domain": domain }));
    };
    let label = host
        .strip_suffix(&format!(".{domain}"))
        .filter(|l| !l.is_empty() && !l.contains('.'));
    let tenant = label.and_then(|l| ctx.core.scenario.tenant(l));
    match tenant {
        Some(tenant) => {
            let detail = json!({
                "host": host,
                "label": label,
                "tenant": { "id": tenant.id, "subdomain": tenant.subdomain, "name": tenant.name, "plan": tenant.plan },
                "answer": format!("{host} → tenant {} ({})", tenant.id, tenant.name),
            });
            request.extensions_mut().insert(HostTenant {
                id: tenant.id,
                subdomain: tenant.subdomain.clone(),
            });
            super::api::stage::pass_through(timer, &trace, detail, request, next).await
        }
        None => {
            let message = match label {
                Some(label) => format!("no tenant has the subdomain `{label}`"),
                None => format!("`{host}` is not a subdomain of {domain}"),
            };
            let detail = json!({ "host": host, "label": label, "domain": domain, "answer": "NXDOMAIN: no such tenant" });
            reject(
                timer,
                &trace,
                ApiError::not_found("unknown_tenant", message),
                detail,
            )
        }
    }
}

/// CDN: static assets are answered from the edge cache; everything else passes.
pub async fn cdn(ctx: StageCtx, request: Request, next: Next) -> Response {
    let trace = recorder(&request);
    let mut timer = ctx.enter(&trace).await;
    let path = request.uri().path().to_string();
    let is_static = ctx
        .core
        .scenario
        .edge
        .static_prefix
        .as_ref()
        .is_some_and(|prefix| path.starts_with(prefix.as_str()));
    if !is_static || request.method() != axum::http::Method::GET {
        let detail = json!({ "path": path, "cacheable": false, "note": "not a static asset: forwarded to the origin" });
        return super::api::stage::pass_through(timer, &trace, detail, request, next).await;
    }
    if let super::cache::Lookup::Hit { value, ttl_left } = ctx.core.cdn.get(&path) {
        let detail = json!({ "key": path, "cache": "hit", "ttl_left_s": ttl_left.as_secs_f64(), "bytes": value.body.len() });
        timer.finish(&trace, Outcome::Hit, detail);
        return asset_response(&value, "HIT");
    }
    timer.pause();
    let response = next.run(request).await;
    timer.resume();
    if response.status() != StatusCode::OK {
        let detail = json!({ "key": path, "cache": "miss", "origin_status": response.status().as_u16(), "stored": false });
        timer.finish(&trace, Outcome::Miss, detail);
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let body = match axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024).await {
        Ok(body) => body,
        Err(error) => {
            return reject(
                timer,
                &trace,
                ApiError::internal(error),
                json!({ "key": path }),
            );
        }
    };
    let asset = CachedAsset { content_type, body };
    let ttl = ctx.core.scenario.edge.cdn_ttl;
    ctx.core.cdn.put(path.clone(), asset.clone(), ttl);
    let detail = json!({ "key": path, "cache": "miss", "origin_status": 200, "stored": true, "ttl_s": ttl.as_secs_f64(), "bytes": asset.body.len() });
    timer.finish(&trace, Outcome::Miss, detail);
    asset_response(&asset, "MISS")
}

fn asset_response(asset: &CachedAsset, cache_status: &'static str) -> Response {
    let mut response = Response::new(Body::from(asset.body.clone()));
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&asset.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert("x-cache", HeaderValue::from_static(cache_status));
    response
}

/// WAF: a per-IP request limit and a body-size limit.
pub async fn waf(ctx: StageCtx, request: Request, next: Next) -> Response {
    let trace = recorder(&request);
    let timer = ctx.enter(&trace).await;
    let ip = request
        .extensions()
        .get::<ClientIp>()
        .map_or(DEFAULT_CLIENT_IP, |c| c.0);
    let edge = &ctx.core.scenario.edge;
    let limit = edge.waf_requests_per_minute;
    let max_body = edge.max_body_bytes as usize;
    let remaining = match ctx.core.ip_limiter.check_key(&ip.to_string()) {
        Ok(snapshot) => snapshot.remaining_burst_capacity(),
        Err(not_until) => {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&ctx.core.clock));
            let retry_after = wait.as_secs_f64().ceil().max(1.0) as u64;
            let error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ip_rate_limited",
                format!("too many requests from {ip}; limit {limit} per minute"),
            )
            .with_header(header::RETRY_AFTER, &retry_after.to_string());
            return reject(
                timer,
                &trace,
                error,
                json!({ "client_ip": ip.to_string(), "limit_per_minute": limit, "retry_after_s": retry_after }),
            );
        }
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = |bytes: usize| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is {bytes} bytes; the limit is {max_body}"),
        )
    };
    if let Some(bytes) = declared.filter(|b| *b > max_body) {
        let detail =
            json!({ "client_ip": ip.to_string(), "body_bytes": bytes, "max_body_bytes": max_body });
        return reject(timer, &trace, too_large(bytes), detail);
    }
    let (request, body) = match buffer_body(request, max_body).await {
        Ok(buffered) => buffered,
        Err(error) => {
            let detail = json!({ "client_ip": ip.to_string(), "max_body_bytes": max_body });
            return reject(timer, &trace, error, detail);
        }
    };
    let detail = json!({
        "client_ip": ip.to_string(),
        "remaining_this_minute": remaining,
        "limit_per_minute": limit,
        "body_bytes": body.len(),
        "max_body_bytes": max_body,
    });
    super::api::stage::pass_through(timer, &trace, detail, request, next).await
}

/// The load balancer: a tower service in front of the app instances.
#[derive(Clone)]
pub struct LoadBalancer {
    core: Arc<Core>,
    stage: Option<StageCtx>,
    instances: Arc<Vec<Router>>,
}

impl LoadBalancer {
    /// A balancer over `instances`.
    pub fn new(core: &Arc<Core>, instances: Vec<Router>) -> Self {
        Self {
            core: core.clone(),
            stage: StageCtx::of_kind(core, StageKind::LoadBalancer),
            instances: Arc::new(instances),
        }
    }

    fn choose(&self) -> usize {
        let state = &self.core.balancer;
        let n = self.instances.len().max(1);
        match self.core.scenario.load_balancer.strategy {
            BalanceStrategy::RoundRobin => state.cursor.fetch_add(1, Ordering::Relaxed) % n,
            BalanceStrategy::LeastConnections => {
                // Fewest in flight; ties go to the next in round-robin order, so idle instances
                // still take turns.
                let start = state.cursor.fetch_add(1, Ordering::Relaxed) % n;
                (0..n)
                    .map(|i| (start + i) % n)
                    .min_by_key(|&i| {
                        state
                            .in_flight
                            .get(i)
                            .map_or(0, |c| c.load(Ordering::Relaxed))
                    })
                    .unwrap_or(0)
            }
        }
    }

    async fn forward(self, mut request: Request) -> Response {
        let trace = recorder(&request);
        let timer = match &self.stage {
            Some(stage) => Some(stage.enter(&trace).await),
            None => None,
        };
        let chosen = self.choose();
        let in_flight: Vec<usize> = self
            .core
            .balancer
            .in_flight
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        request.extensions_mut().insert(Instance(chosen));
        let Some(instance) = self.instances.get(chosen).cloned() else {
            return ApiError::internal("no app instance").into_response();
        };
        let mut timer = timer;
        if let Some(t) = timer.as_mut() {
            t.pause();
        }
        let counter = self.core.balancer.in_flight.get(chosen);
        if let Some(c) = counter {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let response = match instance.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        if let Some(c) = counter {
            c.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(timer) = timer {
            let detail = json!({
                "instance": Instance(chosen).name(),
                "strategy": self.core.scenario.load_balancer.strategy,
                "instances": self.instances.len(),
                "in_flight_before": in_flight,
            });
            timer.finish_paused(&trace, Outcome::Pass, detail);
        }
        response
    }
}

impl Service<Request> for LoadBalancer {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let balancer = self.clone();
        Box::pin(async move { Ok(balancer.forward(request).await) })
    }
}

/// The outermost layer: attaches a trace recorder if the caller did not, records the response's
/// trip back (the response stage) and logs one line per request.
pub async fn root(State(core): State<Arc<Core>>, mut request: Request, next: Next) -> Response {
    let trace = match request.extensions().get::<TraceRecorder>() {
        Some(trace) => trace.clone(),
        None => {
            let trace = TraceRecorder::new();
            request.extensions_mut().insert(trace.clone());
            trace
        }
    };
    if request.extensions().get::<ClientIp>().is_none()
        && let Some(ConnectInfo(address)) = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
    {
        request.extensions_mut().insert(ClientIp(address.ip()));
    }
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let entered = tokio::time::Instant::now();
    let response = next.run(request).await;
    if let Some(stage) = core.stages_of(StageKind::Response).next() {
        let modelled = core.model_latency(stage, &trace).await;
        let timer = StageTimer::start(&stage.id, stage.kind, modelled);
        let detail = json!({ "status": response.status().as_u16(), "reason": response.status().canonical_reason() });
        timer.finish(&trace, Outcome::Pass, detail);
    }
    let records = trace.records();
    let modelled_ms: f64 = records.iter().map(|r| r.modelled_ms).sum();
    let stopped_at = records
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Reject | Outcome::Error))
        .min_by_key(|r| core.stage_position(&r.stage))
        .map(|r| r.stage.as_str());
    let route = records
        .iter()
        .find(|r| r.kind == StageKind::Gateway && r.outcome == Outcome::Pass)
        .and_then(|r| {
            r.detail
                .get("route")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("(stopped at {})", stopped_at.unwrap_or("edge")));
    core.metrics
        .record(&route, response.status().as_u16(), entered.elapsed());
    // The request-id stage put the id on the response (absent if the edge refused earlier).
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info!(
        target: "archsim::request",
        request_id,
        %method,
        path,
        status = response.status().as_u16(),
        modelled_ms = format!("{modelled_ms:.1}"),
        stopped_at = stopped_at.unwrap_or("-"),
        "request"
    );
    response
}
