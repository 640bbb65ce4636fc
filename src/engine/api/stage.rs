//! What every stage layer shares: its context, the trace recorder, body buffering, and the
//! dispatch from a stage kind to the code that implements it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

use super::context::BufferedBody;
use super::error::ApiError;
use crate::engine::core::Core;
use crate::engine::trace::{Outcome, StageTimer, TraceRecorder};
use crate::scenario::{Stage, StageKind};

/// A stage layer's state: the engine core and the scenario stage it implements.
#[derive(Clone)]
pub struct StageCtx {
    /// Shared engine state.
    pub core: Arc<Core>,
    /// The stage.
    pub stage: Arc<Stage>,
}

impl StageCtx {
    /// A context for `stage`.
    pub fn new(core: &Arc<Core>, stage: &Stage) -> Self {
        Self {
            core: core.clone(),
            stage: Arc::new(stage.clone()),
        }
    }

    /// Applies the stage's modelled latency to the request and starts timing its own code.
    pub async fn enter(&self, trace: &TraceRecorder) -> StageTimer {
        let modelled = self.core.model_latency(&self.stage, trace).await;
        StageTimer::start(&self.stage.id, self.stage.kind, modelled)
    }

    /// The context of the first stage of `kind`, if the scenario has one.
    pub fn of_kind(core: &Arc<Core>, kind: StageKind) -> Option<Self> {
        core.stages_of(kind).next().map(|s| Self::new(core, s))
    }
}

/// The request's trace recorder (a detached one if the caller did not attach any).
pub fn recorder(request: &Request) -> TraceRecorder {
    request
        .extensions()
        .get::<TraceRecorder>()
        .cloned()
        .unwrap_or_default()
}

/// Runs the rest of the pipeline as a pass of this stage: the timer pauses while inner stages
/// run, and the stage is recorded as passed with `detail` once the response is back.
pub async fn pass_through(
    timer: StageTimer,
    recorder: &TraceRecorder,
    detail: Value,
    request: Request,
    next: Next,
) -> Response {
    let mut timer = timer;
    timer.pause();
    let response = next.run(request).await;
    timer.finish_paused(recorder, Outcome::Pass, detail);
    response
}

/// Ends the request at this stage with `error`, recording a rejection with `detail`.
pub fn reject(
    timer: StageTimer,
    recorder: &TraceRecorder,
    error: ApiError,
    mut detail: Value,
) -> Response {
    if let Some(map) = detail.as_object_mut() {
        map.insert("error".into(), serde_json::json!(error.code));
    }
    let outcome = if error.status.is_server_error() {
        Outcome::Error
    } else {
        Outcome::Reject
    };
    timer.finish(recorder, outcome, detail);
    error.into_response()
}

/// Reads the body once, up to `limit` bytes, and keeps it for later stages. Over the limit is a
/// 413; a body that fails to arrive is a 400.
pub async fn buffer_body(request: Request, limit: usize) -> Result<(Request, Bytes), ApiError> {
    if let Some(BufferedBody(bytes)) = request.extensions().get::<BufferedBody>().cloned() {
        return Ok((request, bytes));
    }
    let (mut parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|error| {
        let too_large = std::error::Error::source(&error)
            .is_some_and(|e| e.is::<http_body_util::LengthLimitError>())
            || error.to_string().contains("length limit");
        if too_large {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the request body is larger than {limit} bytes"),
            )
        } else {
            ApiError::bad_request("body_unreadable", "the request body could not be read")
        }
    })?;
    parts.extensions.insert(BufferedBody(bytes.clone()));
    Ok((Request::from_parts(parts, Body::from(bytes.clone())), bytes))
}

/// Replaces the buffered body (after sanitising).
pub fn replace_body(request: Request, bytes: Bytes) -> Request {
    let (mut parts, _) = request.into_parts();
    parts.extensions.insert(BufferedBody(bytes.clone()));
    Request::from_parts(parts, Body::from(bytes))
}

/// The middleware entry point of every stage layer: dispatches on the stage kind.
pub async fn stage_layer(State(ctx): State<StageCtx>, request: Request, next: Next) -> Response {
    match ctx.stage.kind {
        StageKind::Dns => crate::engine::edge::dns(ctx, request, next).await,
        StageKind::Cdn => crate::engine::edge::cdn(ctx, request, next).await,
        StageKind::Waf => crate::engine::edge::waf(ctx, request, next).await,
        StageKind::Gateway => super::gateway::gateway(ctx, request, next).await,
        StageKind::RequestId => super::input::request_id(ctx, request, next).await,
        StageKind::Sanitize => super::input::sanitize(ctx, request, next).await,
        StageKind::Validate => super::input::validate(ctx, request, next).await,
        StageKind::RateLimit => super::security::rate_limit(ctx, request, next).await,
        StageKind::Auth => super::security::auth(ctx, request, next).await,
        StageKind::Tenant => super::security::tenant(ctx, request, next).await,
        StageKind::Rbac => super::security::rbac(ctx, request, next).await,
        // Load balancing, the controller's stages and the response are not middleware: they
        // are run by the balancer service, the handler and the root layer.
        StageKind::LoadBalancer
        | StageKind::Controller
        | StageKind::Cache
        | StageKind::Database
        | StageKind::BrokerPublish
        | StageKind::Response => next.run(request).await,
    }
}
