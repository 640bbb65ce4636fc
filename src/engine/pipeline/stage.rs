//! What a stage is: the [`Stage`] trait, its [`Decision`] and how it [`Finished`], and the
//! context it runs with. The bookkeeping around a stage is [`super::record::StageRun`]'s, and
//! walking the stages is [`super::Pipeline`]'s.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::engine::core::Core;
use crate::engine::trace::{Outcome, StageDetail, TraceRecorder};
use crate::scenario::{Stage as ScenarioStage, StageKind};

/// What a stage runs with: the engine core and the scenario stage it implements.
#[derive(Clone)]
pub struct StageCtx {
    /// Shared engine state.
    pub core: Arc<Core>,
    /// The scenario's stage (id, kind, modelled latency, texts).
    pub stage: Arc<ScenarioStage>,
}

impl StageCtx {
    /// A context for `stage`.
    pub fn new(core: &Arc<Core>, stage: &ScenarioStage) -> Self {
        Self {
            core: core.clone(),
            stage: Arc::new(stage.clone()),
        }
    }

    /// The context of the first stage of `kind`, if the scenario has one.
    pub fn of_kind(core: &Arc<Core>, kind: StageKind) -> Option<Self> {
        core.stages_of(kind).next().map(|s| Self::new(core, s))
    }
}

/// What a stage decided about a request.
pub enum Decision {
    /// Pass the request on; the stage is recorded as passed with this detail once the response is
    /// back (after [`Stage::respond`]).
    Pass(StageDetail),
    /// Pass the request on and run the rest of the pipeline, and the handler, inside `span`, so
    /// every log line emitted meanwhile carries its fields (the request id).
    PassWithin(StageDetail, tracing::Span),
    /// The stage does not apply: record it as skipped and pass the request on.
    Skip(StageDetail),
    /// Answer the request here with `response` (a cache hit): later stages do not run.
    Answer(Outcome, StageDetail, Response),
    /// Refuse the request: it ends here with the error's JSON response.
    Reject(ApiError, StageDetail),
}

impl Decision {
    /// Skip with a detail saying why.
    pub fn skip(reason: impl Into<String>) -> Self {
        Self::Skip(StageDetail::skipped(reason))
    }
}

/// How a stage ended: what the trace records and the response that goes back out.
pub struct Finished {
    /// The stage's outcome.
    pub outcome: Outcome,
    /// What it saw and did.
    pub detail: StageDetail,
    /// Its error code, when it refused or failed.
    pub error: Option<String>,
    /// The response.
    pub response: Response,
}

impl Finished {
    /// A pass with `detail`, handing `response` back unchanged.
    pub fn pass(detail: StageDetail, response: Response) -> Self {
        Self {
            outcome: Outcome::Pass,
            detail,
            error: None,
            response,
        }
    }

    /// The request ends at this stage with `error`: a rejection for a client error, an error for
    /// a server error.
    pub fn refused(error: ApiError, detail: StageDetail) -> Self {
        let outcome = if error.status.is_server_error() {
            Outcome::Error
        } else {
            Outcome::Reject
        };
        Self {
            outcome,
            detail,
            error: Some(error.code.to_string()),
            response: error.into_response(),
        }
    }
}

/// A stage's part in the response's trip back: finished at once, or after work it has to wait
/// for.
///
/// Not an `async fn`: most stages hand the response straight back, and an `async` respond would
/// make every stage's future as large as the largest stage's (the CDN's reading an origin's body
/// made it 1.6 KB), a block the pipeline then copied in and out on every stage of every request.
/// A stage that must wait boxes just that work.
#[allow(
    clippy::large_enum_variant,
    reason = "`Now` is the common case and is returned, not stored; boxing it would allocate on every stage"
)]
pub enum Respond {
    /// Finished synchronously.
    Now(Finished),
    /// Finishes when the future does.
    Later(Pin<Box<dyn Future<Output = Finished> + Send>>),
}

/// A middleware stage: its decision, and optionally its part in the response's trip back. The
/// bookkeeping around both is [`Pipeline`]'s.
pub trait Stage: Send + Sync {
    /// Decides what to do with `request` (and adds what it learned to its extensions).
    fn decide(
        &self,
        ctx: &StageCtx,
        request: &mut Request,
    ) -> impl Future<Output = Decision> + Send;

    /// Runs on the response of a request this stage passed on, timed as part of the stage; may
    /// change the response, the outcome (a cache miss) and the detail. By default records the
    /// pass with the decision's detail and hands the response back unchanged.
    fn respond(&self, ctx: &StageCtx, detail: StageDetail, response: Response) -> Respond {
        let _ = ctx;
        Respond::Now(Finished::pass(detail, response))
    }
}

/// Whether nobody will read this request's trace (generated traffic, HTTP clients): a stage may
/// then leave out the parts of its detail that cost to build and that only a trace shows.
pub fn trace_unread(request: &Request) -> bool {
    request
        .extensions()
        .get::<TraceRecorder>()
        .is_some_and(TraceRecorder::is_unread)
}

/// The request's trace recorder (a detached one if the caller did not attach any).
pub fn recorder(request: &Request) -> TraceRecorder {
    request
        .extensions()
        .get::<TraceRecorder>()
        .cloned()
        .unwrap_or_default()
}
