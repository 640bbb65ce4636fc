//! What the controller's actions share: the handler state, the request as the controller sees
//! it, and the bookkeeping of the stages the handler runs itself (cache, database, publish).

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::engine::core::Core;
use crate::engine::db_pool::Connection;
use crate::engine::pipeline::StageCtx;
use crate::engine::pipeline::error::ApiError;
use crate::engine::pipeline::record::StageRun;
use crate::engine::store::{ConstraintKind, QueryRecord, Store, StoreError};
use crate::engine::trace::detail::{DatabaseDetail, OutboxWrite, WriteChecks};
use crate::engine::trace::{Outcome, StageDetail, TraceRecorder};
use crate::scenario::{Route, StageKind, TENANT_COLUMN, Table};

/// Most rows a list returns.
pub const LIST_LIMIT: usize = 100;

/// The handler's state: the core and the stages it runs itself.
#[derive(Clone)]
pub struct AppState {
    /// Shared engine state.
    pub core: Arc<Core>,
    pub(super) controller: Option<StageCtx>,
    pub(super) cache: Option<StageCtx>,
    pub(super) database: Option<StageCtx>,
    pub(super) publish: Option<StageCtx>,
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
pub(super) struct HandlerStage<'a> {
    ctx: Option<&'a StageCtx>,
    trace: &'a TraceRecorder,
}

impl<'a> HandlerStage<'a> {
    pub(super) fn new(ctx: Option<&'a StageCtx>, trace: &'a TraceRecorder) -> Self {
        Self { ctx, trace }
    }

    /// Applies the stage's modelled latency (plus `extra_ms`) and starts timing it.
    pub(super) async fn enter(&self, extra_ms: f64) -> Option<StageRun> {
        let ctx = self.ctx?;
        Some(StageRun::enter_with(ctx, self.trace, extra_ms).await)
    }

    /// Enters the database stage: first waits for a pooled connection (when the scenario bounds
    /// the pool), then applies the stage's modelled latency (plus `extra_ms`) while holding it.
    /// The connection goes back to the pool when the returned [`Connection`] is dropped, so the
    /// caller keeps it until its statements have run. A query that gets no connection in time
    /// is recorded as the stage's error and refused with 503 `database_busy`.
    pub(super) async fn enter_database(
        &self,
        core: &Core,
        extra_ms: f64,
    ) -> Result<(Option<StageRun>, Option<Connection>), ApiError> {
        let Some(pool) = &core.db_pool else {
            return Ok((self.enter(extra_ms).await, None));
        };
        match pool.acquire().await {
            Ok((connection, wait)) => {
                let run = self
                    .enter(extra_ms)
                    .await
                    .map(|run| run.with_pool_wait(wait));
                Ok((run, Some(connection)))
            }
            Err(wait) => {
                let error = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_busy",
                    "the database is too busy to take this request; try again shortly",
                )
                .with_header(axum::http::header::RETRY_AFTER, "1");
                if let Some(ctx) = self.ctx {
                    StageRun::start(&ctx.stage.id, ctx.stage.kind, 0.0, self.trace)
                        .with_pool_wait(wait)
                        .fail(
                            Outcome::Error,
                            StageDetail::Database(DatabaseDetail::default()),
                            error.code,
                        );
                }
                Err(error)
            }
        }
    }

    /// Records the stage as skipped, saying why.
    pub(super) async fn skip(&self, reason: &str) {
        if let Some(run) = self.enter(0.0).await {
            run.finish(Outcome::Skip, StageDetail::skipped(reason));
        }
    }
}

/// Records `run` (if the stage exists) with `outcome` and `detail`.
pub(super) fn finish(run: Option<StageRun>, outcome: Outcome, detail: StageDetail) {
    if let Some(run) = run {
        run.finish(outcome, detail);
    }
}

/// The outcome of a stage that ended with `error`.
pub(super) fn outcome_of(error: &ApiError) -> Outcome {
    if error.status.is_server_error() {
        Outcome::Error
    } else {
        Outcome::Reject
    }
}

/// What the controller knows about the request.
pub(super) struct Call {
    pub(super) route: Arc<Route>,
    pub(super) tenant_id: i64,
    pub(super) tenant: String,
    pub(super) user_id: Option<i64>,
    pub(super) id: Option<i64>,
    pub(super) body: Map<String, Value>,
}

pub(super) fn store_error(error: &StoreError) -> ApiError {
    match error {
        StoreError::Constraint {
            kind: ConstraintKind::Unique,
            message,
        } => {
            let (table, columns) = constrained_columns(message);
            let unique = columns
                .iter()
                .filter(|c| c.as_str() != TENANT_COLUMN)
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>();
            let what = if unique.is_empty() {
                "the same key".to_string()
            } else {
                format!("the same {}", unique.join(" and "))
            };
            let scope = if columns.iter().any(|c| c == TENANT_COLUMN) {
                " in this tenant"
            } else {
                ""
            };
            ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("a row of `{table}` with {what} already exists{scope}"),
            )
        }
        StoreError::Constraint {
            kind: ConstraintKind::ForeignKey,
            ..
        } => ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "the change would break a reference between rows (a foreign key)",
        ),
        StoreError::Constraint {
            kind: ConstraintKind::NotNull,
            message,
        } => {
            let (table, columns) = constrained_columns(message);
            let column = columns.first().map_or("a field", String::as_str);
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "constraint_failed",
                format!("`{column}` of `{table}` is required"),
            )
        }
        // SQLite names a failed CHECK by its SQL expression: say what the schema allows
        // instead of showing it.
        StoreError::Constraint { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "constraint_failed",
            "a value is outside what the schema allows (a boolean that is not true or false, \
             or a text longer than its column's max_length)",
        ),
        other => ApiError::internal(other),
    }
}

/// The table and columns of SQLite's constraint message, e.g. `UNIQUE constraint failed:
/// projects.tenant_id, projects.name` → (`projects`, [`tenant_id`, `name`]).
fn constrained_columns(message: &str) -> (String, Vec<String>) {
    let list = message.split_once(": ").map_or("", |(_, list)| list);
    let mut table = String::from("the table");
    let columns = list
        .split(", ")
        .filter_map(|qualified| {
            let (t, column) = qualified.trim().split_once('.')?;
            table = t.to_string();
            Some(column.to_string())
        })
        .collect();
    (table, columns)
}

pub(super) fn table_of<'a>(core: &'a Core, call: &Call) -> Result<&'a Table, ApiError> {
    call.route
        .table
        .as_deref()
        .and_then(|t| core.scenario.table(t))
        .ok_or_else(|| ApiError::internal("route without a table"))
}

/// Runs `query` as the database stage (with its modelled latency and any slow-database fault).
/// `if_missing` is the answer when the statement matched no row (a get by id): the database
/// stage decides it, so the database stage refuses.
pub(super) async fn database_stage<F>(
    app: &AppState,
    trace: &TraceRecorder,
    if_missing: Option<ApiError>,
    query: F,
) -> Result<QueryRecord, ApiError>
where
    F: FnOnce(&Store) -> Result<QueryRecord, StoreError>,
{
    let stage = HandlerStage::new(app.database.as_ref(), trace);
    let extra = app.core.faults.db_extra_ms();
    let (run, _connection) = stage.enter_database(&app.core, extra).await?;
    let result = query(&app.core.store);
    finish_query_with_outbox(
        run,
        extra,
        WriteChecks::default(),
        Vec::new(),
        if_missing,
        result,
    )
}

/// Records the database stage's `result` (with the checks that ran before a write).
pub(super) fn finish_query(
    run: Option<StageRun>,
    extra_ms: f64,
    checks: WriteChecks,
    result: Result<QueryRecord, StoreError>,
) -> Result<QueryRecord, ApiError> {
    finish_query_with_outbox(run, extra_ms, checks, Vec::new(), None, result)
}

/// [`finish_query`] for a write that also wrote outbox rows in its transaction.
/// `if_missing`: the error to answer, from this stage, when the statement matched no row.
pub(super) fn finish_query_with_outbox(
    run: Option<StageRun>,
    extra_ms: f64,
    checks: WriteChecks,
    outbox: Vec<OutboxWrite>,
    if_missing: Option<ApiError>,
    result: Result<QueryRecord, StoreError>,
) -> Result<QueryRecord, ApiError> {
    match result {
        Ok(record) => {
            let mut detail = DatabaseDetail::of_query(&record);
            if extra_ms > 0.0 {
                detail.fault = Some(format!("slow database: +{extra_ms} ms"));
            }
            detail.tenant_checks = checks.tenant;
            detail.limit_checks = checks.limits;
            detail.outbox = outbox;
            let matched = !record.rows.is_empty() || record.rows_affected > 0;
            match if_missing {
                Some(error) if !matched => {
                    if let Some(run) = run {
                        run.fail(Outcome::Reject, StageDetail::Database(detail), error.code);
                    }
                    Err(error)
                }
                _ => {
                    finish(run, Outcome::Pass, StageDetail::Database(detail));
                    Ok(record)
                }
            }
        }
        Err(error) => {
            let api_error = store_error(&error);
            if let Some(run) = run {
                let detail = DatabaseDetail::of_checks(checks);
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
pub(super) fn row_not_found(table: &Table, id: Option<i64>) -> ApiError {
    ApiError::not_found(
        "not_found",
        format!(
            "no {} with id {} in this tenant",
            singular(&table.name),
            id.unwrap_or_default()
        ),
    )
}

pub(super) fn singular(table: &str) -> &str {
    table.strip_suffix('s').unwrap_or(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message_of(kind: ConstraintKind, sqlite: &str) -> (StatusCode, String) {
        let error = store_error(&StoreError::Constraint {
            kind,
            message: sqlite.to_string(),
        });
        (error.status, error.message.clone())
    }

    #[test]
    fn a_broken_constraint_is_named_in_the_schemas_words_not_sqlites() {
        let (status, message) = message_of(
            ConstraintKind::Unique,
            "UNIQUE constraint failed: projects.tenant_id, projects.name",
        );
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(
            message,
            "a row of `projects` with the same `name` already exists in this tenant"
        );
        let (_, message) = message_of(
            ConstraintKind::NotNull,
            "NOT NULL constraint failed: projects.name",
        );
        assert_eq!(message, "`name` of `projects` is required");
        let (status, message) = message_of(
            ConstraintKind::Check,
            "CHECK constraint failed: length(name) <= 80",
        );
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        for sql in ["UNIQUE", "constraint failed", "length(", "<="] {
            assert!(!message.contains(sql), "{message}");
        }
    }
}
