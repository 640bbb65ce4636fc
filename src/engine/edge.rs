//! What surrounds the app instances: the root layer (the request's way in and out, and the
//! response stage) and the load balancer. The edge *stages* (DNS, CDN, WAF) are pipeline stages:
//! see [`crate::engine::pipeline::edge`].
//!
//! ```text
//!  client ─▶ root ─▶ edge pipeline (dns ─▶ cdn ─▶ waf) ─▶ load balancer ─▶ app instance 1..N
//!                                           │hit
//!                                           └──────────────────────────▶ response
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::{Service, ServiceExt};

use super::core::Core;
use super::pipeline::context::{ClientIp, Instance};
use super::pipeline::error::ApiError;
use super::pipeline::record::StageRun;
use super::pipeline::{StageCtx, recorder};
use super::trace::detail::{LoadBalancerDetail, ResponseDetail};
use super::trace::{Outcome, StageDetail, TraceRecorder};
use crate::scenario::{BalanceStrategy, StageKind};

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
        let run = match &self.stage {
            Some(stage) => Some(StageRun::enter(stage, &trace).await),
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
        let detail = LoadBalancerDetail {
            instance: Instance(chosen).name(),
            strategy: self.core.scenario.load_balancer.strategy,
            instances: self.instances.len(),
            in_flight_before: in_flight,
        };
        let Some(instance) = self.instances.get(chosen).cloned() else {
            let error = ApiError::internal("no app instance");
            return match run {
                Some(run) => run.refuse(error, StageDetail::LoadBalancer(detail)),
                None => error.into_response(),
            };
        };
        let mut run = run;
        if let Some(run) = run.as_mut() {
            run.pause();
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
        if let Some(run) = run {
            run.finish(Outcome::Pass, StageDetail::LoadBalancer(detail));
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
            // Over HTTP: the client gets the answer, and the trace goes nowhere.
            let trace = TraceRecorder::unread();
            request.extensions_mut().insert(trace.clone());
            trace
        }
    };
    if request.extensions().get::<ClientIp>().is_none() {
        let extensions = request.extensions();
        let address = extensions
            .get::<ConnectInfo<super::serve::ClientAddr>>()
            .map(|ConnectInfo(client)| client.0)
            .or_else(|| {
                extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(address)| *address)
            });
        if let Some(address) = address {
            request.extensions_mut().insert(ClientIp(address.ip()));
        }
    }
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let entered = tokio::time::Instant::now();
    let response = next.run(request).await;
    if let Some(stage) = core.stages_of(StageKind::Response).next() {
        let modelled = core.model_latency(stage, &trace).await;
        let run = StageRun::start(&stage.id, stage.kind, modelled, &trace);
        let detail = ResponseDetail {
            status: response.status().as_u16(),
            reason: response.status().canonical_reason(),
        };
        run.finish(Outcome::Pass, StageDetail::Response(detail));
    }
    let summary = trace.summary(&|id| core.stage_position(id));
    let stopped_at = summary.stopped_at.as_deref();
    let route = summary
        .route
        .clone()
        .unwrap_or_else(|| format!("(stopped at {})", stopped_at.unwrap_or("edge")));
    core.metrics
        .record(&route, response.status().as_u16(), entered.elapsed());
    // The request-id stage put the id on the response (absent if the edge refused earlier).
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    log_request(&AccessLine {
        status: response.status().as_u16(),
        method: method.as_str(),
        path: &path,
        modelled_ms: summary.modelled_ms,
        stopped_at: stopped_at.unwrap_or("-"),
        request_id,
    });
    response
}

/// What the access log says about one request.
struct AccessLine<'a> {
    status: u16,
    method: &'a str,
    path: &'a str,
    modelled_ms: f64,
    stopped_at: &'a str,
    request_id: &'a str,
}

/// Logs one line per request on `archsim::request`: 2xx/3xx at INFO, 4xx at WARN (refused or
/// mistaken requests a learner wants to find with the level filter), 5xx at ERROR.
///
/// The fields a reader scans for come first (status, method, path, latency) so a line cut at
/// the terminal's edge loses only the request id.
fn log_request(line: &AccessLine) {
    macro_rules! access_log {
        ($level:expr) => {
            tracing::event!(
                target: "archsim::request",
                $level,
                status = line.status,
                method = line.method,
                path = line.path,
                // Two decimals: enough for three figures down to a tenth of a millisecond.
                modelled_ms = format!("{:.2}", line.modelled_ms),
                stopped_at = line.stopped_at,
                request_id = line.request_id,
                "request"
            )
        };
    }
    match line.status {
        500.. => access_log!(tracing::Level::ERROR),
        400..=499 => access_log!(tracing::Level::WARN),
        _ => access_log!(tracing::Level::INFO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::log_capture::{CaptureLayer, LogBuffer};
    use tracing::Level;
    use tracing_subscriber::prelude::*;

    fn level_logged_for(status: u16) -> Level {
        let buffer = LogBuffer::new();
        let subscriber = tracing_subscriber::registry().with(CaptureLayer::new(buffer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            log_request(&AccessLine {
                status,
                method: "GET",
                path: "/api/v1/projects",
                modelled_ms: 3.0,
                stopped_at: "-",
                request_id: "-",
            });
        });
        let lines = buffer.drain();
        assert_eq!(lines.len(), 1, "one line per request");
        lines[0].level
    }

    #[test]
    fn failed_requests_are_logged_at_warn_and_server_errors_at_error() {
        for status in [200, 201, 304] {
            assert_eq!(level_logged_for(status), Level::INFO, "{status}");
        }
        for status in [401, 403, 404, 422, 429] {
            assert_eq!(level_logged_for(status), Level::WARN, "{status}");
        }
        for status in [500, 503] {
            assert_eq!(level_logged_for(status), Level::ERROR, "{status}");
        }
    }
}
