//! The request pipeline: each middleware stage is a [`Stage`] that only decides, and one
//! [`Pipeline`] service walks the stage list and does the bookkeeping for all of them.
//!
//! ```text
//!            ┌──────────────────── Pipeline (one tower service) ─────────────────────┐
//!  request ─▶│ stage 1: latency, decide ─pass─▶ stage 2 … ─pass─▶ stage N ─pass─▶ inner ──┐
//!            │            │ reject / answer        │ reject / answer                    │  │
//!            │            ▼                        ▼                                    │  │
//!  response ◀│ stage 1: respond, record ◀──── stage 2 … respond, record ◀───────────────┘◀─┘
//!            └───────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! A stage's [`Stage::decide`] looks at the request (and may add to it: the tenant, the caller,
//! the matched route) and returns a [`Decision`]: pass it on, skip, answer it here (a CDN hit) or
//! reject it with an [`ApiError`]. Everything else is the walker's job, the same for every stage:
//! applying the stage's modelled latency, timing the stage's own code (paused while later stages
//! and the handler run), recording the stage in the trace — and recording it even when its code
//! panics or the request is dropped, through the drop guard of [`record::StageRun`].
//!
//! The engine runs two pipelines: the edge stages (dns, cdn, waf) in front of the load balancer,
//! and the middleware stages (gateway … rbac) inside each app instance, as a route layer (so they
//! run only once a route matched). The stages the handler drives (controller, cache, database,
//! publish) and the load balancer and response stages use the same [`record::StageRun`].

pub mod body;
pub mod context;
pub mod edge;
pub mod error;
pub mod gateway;
pub mod input;
pub mod record;
pub mod security;
pub mod stage;

pub use self::stage::{Decision, Respond, Stage, StageCtx, recorder};

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use tower::{Layer, Service, ServiceExt};
use tracing::Instrument;

use self::record::StageRun;
use crate::engine::core::Core;
use crate::engine::latency::SeededRng;
use crate::engine::trace::{Outcome, StageDetail};
use crate::scenario::StageKind;

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

/// Mixed into the scenario seed for the request-id stream, so request ids have a random stream of
/// their own: adding or removing a stage (or a request) shifts no other draw.
const REQUEST_ID_STREAM: u64 = 0x7265_7175_6573_7469; // "requesti"

/// The stage implementations, by kind (static dispatch: one match per call, no boxed futures).
pub enum AnyStage {
    /// See [`edge::Dns`].
    Dns(edge::Dns),
    /// See [`edge::Cdn`].
    Cdn(edge::Cdn),
    /// See [`edge::Waf`].
    Waf(edge::Waf),
    /// See [`gateway::Gateway`].
    Gateway(gateway::Gateway),
    /// See [`input::RequestIds`].
    RequestId(input::RequestIds),
    /// See [`input::Sanitize`].
    Sanitize(input::Sanitize),
    /// See [`input::Validate`].
    Validate(input::Validate),
    /// See [`security::RateLimit`].
    RateLimit(security::RateLimit),
    /// See [`security::Auth`].
    Auth(security::Auth),
    /// See [`security::Tenant`].
    Tenant(security::Tenant),
    /// See [`security::Rbac`].
    Rbac(security::Rbac),
}

impl AnyStage {
    /// The implementation of stage kind `kind`, if it is a middleware or edge stage (`ids` is the
    /// request-id stream).
    pub fn for_kind(kind: StageKind, ids: &Arc<SeededRng>) -> Option<Self> {
        Some(match kind {
            StageKind::Dns => Self::Dns(edge::Dns),
            StageKind::Cdn => Self::Cdn(edge::Cdn),
            StageKind::Waf => Self::Waf(edge::Waf),
            StageKind::Gateway => Self::Gateway(gateway::Gateway),
            StageKind::RequestId => Self::RequestId(input::RequestIds::new(ids.clone())),
            StageKind::Sanitize => Self::Sanitize(input::Sanitize),
            StageKind::Validate => Self::Validate(input::Validate),
            StageKind::RateLimit => Self::RateLimit(security::RateLimit),
            StageKind::Auth => Self::Auth(security::Auth),
            StageKind::Tenant => Self::Tenant(security::Tenant),
            StageKind::Rbac => Self::Rbac(security::Rbac),
            // Load balancing, the controller's stages and the response are not middleware: they
            // are run by the balancer service, the handler and the root layer.
            StageKind::LoadBalancer
            | StageKind::Controller
            | StageKind::Cache
            | StageKind::Database
            | StageKind::BrokerPublish
            | StageKind::Response => return None,
        })
    }
}

/// Calls `$call` on whichever stage `$any` holds.
macro_rules! dispatch {
    ($any:expr, $stage:ident => $call:expr) => {
        match $any {
            AnyStage::Dns($stage) => $call,
            AnyStage::Cdn($stage) => $call,
            AnyStage::Waf($stage) => $call,
            AnyStage::Gateway($stage) => $call,
            AnyStage::RequestId($stage) => $call,
            AnyStage::Sanitize($stage) => $call,
            AnyStage::Validate($stage) => $call,
            AnyStage::RateLimit($stage) => $call,
            AnyStage::Auth($stage) => $call,
            AnyStage::Tenant($stage) => $call,
            AnyStage::Rbac($stage) => $call,
        }
    };
}

impl Stage for AnyStage {
    async fn decide(&self, ctx: &StageCtx, request: &mut Request) -> Decision {
        dispatch!(self, stage => stage.decide(ctx, request).await)
    }

    fn respond(&self, ctx: &StageCtx, detail: StageDetail, response: Response) -> Respond {
        dispatch!(self, stage => stage.respond(ctx, detail, response))
    }
}

/// A list of stages run as one service, in order.
pub struct Pipeline<S = AnyStage> {
    stages: Vec<(StageCtx, S)>,
}

impl Pipeline {
    /// The scenario's stages of the given kinds, in pipeline order. `ids` is the request-id
    /// stream (see [`request_ids`]).
    pub fn of_kinds(core: &Arc<Core>, kinds: &[StageKind], ids: &Arc<SeededRng>) -> Self {
        let stages = core
            .topology
            .order()
            .filter(|s| kinds.contains(&s.kind))
            .filter_map(|s| Some((StageCtx::new(core, s), AnyStage::for_kind(s.kind, ids)?)))
            .collect();
        Self { stages }
    }
}

/// The request-id stream of an engine: its own seeded generator, apart from the engine's shared
/// one (see [`REQUEST_ID_STREAM`]).
pub fn request_ids(core: &Core) -> Arc<SeededRng> {
    Arc::new(SeededRng::new(core.scenario.meta.seed ^ REQUEST_ID_STREAM))
}

type BoxResponse = Pin<Box<dyn Future<Output = Response> + Send>>;

impl<S: Stage + 'static> Pipeline<S> {
    /// A pipeline of `stages`, run in the given order.
    #[cfg(test)]
    pub fn new(stages: Vec<(StageCtx, S)>) -> Self {
        Self { stages }
    }

    /// The pipeline as a tower layer around an inner service (the load balancer, a handler).
    pub fn layer(self) -> PipelineLayer<S> {
        PipelineLayer {
            pipeline: Arc::new(self),
        }
    }

    /// Runs stages `from..` on `request`, then `inner`, and records each stage as the response
    /// comes back through it.
    fn walk<I>(self: Arc<Self>, from: usize, mut request: Request, inner: I) -> BoxResponse
    where
        I: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
        I::Future: Send,
    {
        Box::pin(async move {
            let trace = recorder(&request);
            // Stages that passed the request on, innermost last, with their pass detail (room
            // for all of them at once: growing it moved every detail so far).
            let mut passed: Vec<(usize, StageRun, StageDetail)> =
                Vec::with_capacity(self.stages.len().saturating_sub(from));
            let mut index = from;
            let mut response = loop {
                let Some((ctx, stage)) = self.stages.get(index) else {
                    break match inner.oneshot(request).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    };
                };
                let mut run = StageRun::enter(ctx, &trace).await;
                match stage.decide(ctx, &mut request).await {
                    Decision::Pass(detail) => {
                        run.pause();
                        passed.push((index, run, detail));
                    }
                    Decision::PassWithin(detail, span) => {
                        run.pause();
                        passed.push((index, run, detail));
                        // The rest runs as its own future so the span covers exactly it.
                        break self
                            .clone()
                            .walk(index + 1, request, inner)
                            .instrument(span)
                            .await;
                    }
                    Decision::Skip(detail) => run.finish(Outcome::Skip, detail),
                    Decision::Answer(outcome, detail, response) => {
                        run.finish(outcome, detail);
                        break response;
                    }
                    Decision::Reject(error, detail) => break run.refuse(error, detail),
                }
                index += 1;
            };
            while let Some((index, mut run, detail)) = passed.pop() {
                run.resume();
                let Some((ctx, stage)) = self.stages.get(index) else {
                    continue;
                };
                let finished = match stage.respond(ctx, detail, response) {
                    Respond::Now(finished) => finished,
                    Respond::Later(work) => work.await,
                };
                response = run.end(finished);
            }
            response
        })
    }
}

/// [`Pipeline`] as a tower layer.
pub struct PipelineLayer<S = AnyStage> {
    pipeline: Arc<Pipeline<S>>,
}

impl<S> PipelineLayer<S> {
    /// Whether the pipeline has no stages (the layer would only pass requests through).
    pub fn is_empty(&self) -> bool {
        self.pipeline.stages.is_empty()
    }
}

impl<S> Clone for PipelineLayer<S> {
    fn clone(&self) -> Self {
        Self {
            pipeline: self.pipeline.clone(),
        }
    }
}

impl<S, I> Layer<I> for PipelineLayer<S> {
    type Service = PipelineService<S, I>;

    fn layer(&self, inner: I) -> Self::Service {
        PipelineService {
            pipeline: self.pipeline.clone(),
            inner,
        }
    }
}

/// [`Pipeline`] in front of an inner service.
pub struct PipelineService<S, I> {
    pipeline: Arc<Pipeline<S>>,
    inner: I,
}

impl<S, I: Clone> Clone for PipelineService<S, I> {
    fn clone(&self) -> Self {
        Self {
            pipeline: self.pipeline.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<S, I> Service<Request> for PipelineService<S, I>
where
    S: Stage + 'static,
    I: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    I::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The inner service is readied by `oneshot` when the request gets there.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let walk = self.pipeline.clone().walk(0, request, self.inner.clone());
        Box::pin(async move { Ok(walk.await) })
    }
}

#[cfg(test)]
mod tests;
