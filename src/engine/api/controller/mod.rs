//! The controller and the stages it drives: cache (cache-aside), database and event publishing.
//!
//! ```text
//!  read:   controller ─▶ cache ─hit─────────────────────────▶ response
//!                          └─miss─▶ database ─▶ cache.put ──▶ response
//!  write:  controller ─▶ database (tenant checks, write) ─▶ cache.invalidate ─▶ publish ─▶ response
//!  login:  controller ─▶ database (user by email; Argon2id off the async threads) ─▶ token
//! ```
//!
//! Every query is scoped by the tenant the request was authorised for, never by an id the
//! client chose: another tenant's row is simply not found.

mod login;
mod read;
mod write;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::engine::core::Core;
use crate::engine::pipeline::context::{
    BufferedBody, HostTenant, Instance, MatchedRoute, Principal,
};
use crate::engine::pipeline::error::ApiError;
use crate::engine::pipeline::record::StageRun;
use crate::engine::pipeline::{StageCtx, recorder};
use crate::engine::store::{ConstraintKind, QueryRecord, Store, StoreError};
use crate::engine::trace::detail::{ControllerDetail, DatabaseDetail};
use crate::engine::trace::{Outcome, StageDetail, TraceRecorder};
use crate::scenario::{Action, Route, StageKind, Table};

/// Most rows a list returns.
pub const LIST_LIMIT: usize = 100;

/// The handler's state: the core and the stages it runs itself.
#[derive(Clone)]
pub struct AppState {
    /// Shared engine state.
    pub core: Arc<Core>,
    controller: Option<StageCtx>,
    cache: Option<StageCtx>,
    database: Option<StageCtx>,
    publish: Option<StageCtx>,
}

impl AppState {
    /// The handler state for `core`'s scenario.
    pub fn new(core: &Arc<Core>) -> Self {
        Self {
            core: core.clone(),
            controller: StageCtx::of_kind(core, StageKind::Controller),
            cache: StageCtx::of_kind(core, StageKind::Cache),
            database: StageCtx::of_kind(core, StageKind::Database),
            publish: StageCtx::of_kind(core, StageKind::BrokerPublish),
        }
    }
}

/// A stage the handler runs, when the scenario has it: the same [`StageRun`] bookkeeping as the
/// pipeline's stages, for a stage that may be absent.
struct HandlerStage<'a> {
    ctx: Option<&'a StageCtx>,
    trace: &'a TraceRecorder,
}

impl<'a> HandlerStage<'a> {
    fn new(ctx: Option<&'a StageCtx>, trace: &'a TraceRecorder) -> Self {
        Self { ctx, trace }
    }

    /// Applies the stage's modelled latency (plus `extra_ms`) and starts timing it.
    async fn enter(&self, extra_ms: f64) -> Option<StageRun> {
        let ctx = self.ctx?;
        Some(StageRun::enter_with(ctx, self.trace, extra_ms).await)
    }

    /// Records the stage as skipped, saying why.
    async fn skip(&self, reason: &str) {
        if let Some(run) = self.enter(0.0).await {
            run.finish(Outcome::Skip, StageDetail::skipped(reason));
        }
    }
}

/// Records `run` (if the stage exists) with `outcome` and `detail`.
fn finish(run: Option<StageRun>, outcome: Outcome, detail: StageDetail) {
    if let Some(run) = run {
        run.finish(outcome, detail);
    }
}

/// The outcome of a stage that ended with `error`.
fn outcome_of(error: &ApiError) -> Outcome {
    if error.status.is_server_error() {
        Outcome::Error
    } else {
        Outcome::Reject
    }
}

/// What the controller knows about the request.
struct Call {
    route: Arc<Route>,
    tenant_id: i64,
    tenant: String,
    user_id: Option<i64>,
    id: Option<i64>,
    body: Map<String, Value>,
}

fn store_error(error: &StoreError) -> ApiError {
    match error {
        StoreError::Constraint {
            kind: ConstraintKind::Unique,
            message,
        } => ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("a row with the same unique value exists ({message})"),
        ),
        StoreError::Constraint {
            kind: ConstraintKind::ForeignKey,
            ..
        } => ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "the change would break a reference between rows (a foreign key)",
        ),
        StoreError::Constraint { message, .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "constraint_failed",
            message.clone(),
        ),
        other => ApiError::internal(other),
    }
}

/// The request handler of every API route.
pub async fn handle(State(app): State<AppState>, request: Request) -> Response {
    let trace = recorder(&request);
    let Some(route) = request
        .extensions()
        .get::<MatchedRoute>()
        .map(|r| r.0.clone())
    else {
        return ApiError::internal("handler without a matched route").into_response();
    };
    let tenant = request.extensions().get::<HostTenant>().cloned();
    let principal = request.extensions().get::<Principal>().cloned();
    let instance = request
        .extensions()
        .get::<Instance>()
        .copied()
        .unwrap_or(Instance(0));
    let (tenant_id, tenant_name) = match (&tenant, &principal) {
        (Some(host), _) => (host.id, host.subdomain.clone()),
        (None, Some(p)) => (
            app.core.scenario.tenant(&p.claims.tid).map_or(0, |t| t.id),
            p.claims.tid.clone(),
        ),
        (None, None) => (0, String::new()),
    };
    let id = if route.path.ends_with("{id}") {
        match request
            .uri()
            .path()
            .rsplit('/')
            .next()
            .and_then(|s| s.parse::<i64>().ok())
        {
            Some(id) => Some(id),
            None => {
                let error = ApiError::not_found("not_found", "ids are whole numbers; no such row");
                return error.into_response();
            }
        }
    } else {
        None
    };
    let body = request
        .extensions()
        .get::<BufferedBody>()
        .and_then(|b| serde_json::from_slice::<Value>(&b.0).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let call = Call {
        route: route.clone(),
        tenant_id,
        tenant: tenant_name,
        user_id: principal.as_ref().map(|p| p.user_id),
        id,
        body,
    };

    let controller = HandlerStage::new(app.controller.as_ref(), &trace);
    let mut run = controller.enter(0.0).await;
    let detail = ControllerDetail {
        action: route.action,
        route: format!("{} {}", route.method, route.path),
        table: route.table.clone(),
        tenant_id: call.tenant_id,
        user_id: call.user_id,
        id: call.id,
        instance: instance.name(),
    };
    if let Some(run) = run.as_mut() {
        run.pause();
    }
    let result = run_action(&app, &trace, &call, instance).await;
    if let Some(run) = run {
        let detail = StageDetail::Controller(detail);
        match &result {
            Ok(_) => run.finish(Outcome::Pass, detail),
            Err(error) => run.fail(outcome_of(error), detail, error.code),
        }
    }
    match result {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn run_action(
    app: &AppState,
    trace: &TraceRecorder,
    call: &Call,
    instance: Instance,
) -> Result<Response, ApiError> {
    let core = &app.core;
    match call.route.action {
        Action::Health => Ok(axum::Json(json!({ "status": "ok", "instance": instance.name(), "scenario": core.scenario.meta.name })).into_response()),
        Action::IssueToken => login::issue_token(app, trace, call).await,
        Action::List | Action::Get => read::read(app, trace, call).await,
        Action::Create | Action::Update | Action::Delete => write::write(app, trace, call).await,
    }
}

fn table_of<'a>(core: &'a Core, call: &Call) -> Result<&'a Table, ApiError> {
    call.route
        .table
        .as_deref()
        .and_then(|t| core.scenario.table(t))
        .ok_or_else(|| ApiError::internal("route without a table"))
}

/// Runs `query` as the database stage (with its modelled latency and any slow-database fault).
async fn database_stage<F>(
    app: &AppState,
    trace: &TraceRecorder,
    query: F,
) -> Result<QueryRecord, ApiError>
where
    F: FnOnce(&Store) -> Result<QueryRecord, StoreError>,
{
    let stage = HandlerStage::new(app.database.as_ref(), trace);
    let extra = app.core.faults.db_extra_ms();
    let run = stage.enter(extra).await;
    let result = query(&app.core.store);
    finish_query(run, extra, Vec::new(), result)
}

/// Records the database stage's `result` (with the tenant checks that ran before it).
fn finish_query(
    run: Option<StageRun>,
    extra_ms: f64,
    tenant_checks: Vec<crate::engine::trace::detail::TenantCheck>,
    result: Result<QueryRecord, StoreError>,
) -> Result<QueryRecord, ApiError> {
    match result {
        Ok(record) => {
            let mut detail = DatabaseDetail::of_query(&record);
            if extra_ms > 0.0 {
                detail.fault = Some(format!("slow database: +{extra_ms} ms"));
            }
            detail.tenant_checks = tenant_checks;
            finish(run, Outcome::Pass, StageDetail::Database(detail));
            Ok(record)
        }
        Err(error) => {
            let api_error = store_error(&error);
            if let Some(run) = run {
                let detail = DatabaseDetail {
                    tenant_checks,
                    ..DatabaseDetail::default()
                };
                run.fail(
                    outcome_of(&api_error),
                    StageDetail::Database(detail),
                    error.to_string(),
                );
            }
            Err(api_error)
        }
    }
}

/// The 404 for a row id that is not in this tenant — the same answer whether the row exists in
/// another tenant or nowhere, so ids leak nothing.
fn row_not_found(table: &Table, id: Option<i64>) -> ApiError {
    ApiError::not_found(
        "not_found",
        format!(
            "no {} with id {} in this tenant",
            singular(&table.name),
            id.unwrap_or_default()
        ),
    )
}

fn singular(table: &str) -> &str {
    table.strip_suffix('s').unwrap_or(table)
}

/// The origin's handler for a static asset: a generated body of the declared size.
pub async fn asset(path: String, content_type: String, size: u32) -> Response {
    let header_line = format!("/* archsim static asset {path} */\n");
    let mut body = header_line.into_bytes();
    let filler = b"/* padding to the declared size of the asset */\n";
    while body.len() < size as usize {
        body.extend_from_slice(filler);
    }
    body.truncate(size as usize);
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}
