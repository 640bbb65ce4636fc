//! Writes (create, update, delete): the tenant checks of the body's references and the write
//! (the database stage), cache invalidation, and the route's events.

use std::sync::PoisonError;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::limits::{check_limits, limit_error};
use super::shared::{
    AppState, Call, HandlerStage, finish, finish_query, finish_query_with_outbox, outcome_of,
    row_not_found, singular, table_of,
};
use crate::engine::broker::PublishError;
use crate::engine::pipeline::error::ApiError;
use crate::engine::store::{
    OUTBOX_LEASE_MS, OutboxEvent, OutboxInsert, QueryRecord, Returning, StoreError,
    delete_statement, insert_statement, update_statement,
};
use crate::engine::trace::detail::{
    CacheDetail, CacheResult, DatabaseDetail, DeferredEvent, FieldProblem, OutboxWrite,
    PublishDetail, PublishedEvent, RefusedEvent, TenantCheck, WriteChecks,
};
use crate::engine::trace::{Outcome, StageDetail, TraceRecorder};
use crate::scenario::{Action, AutoValue, PublishMode, Table};

/// A create, update or delete of the route's table.
pub(super) async fn write(
    app: &AppState,
    trace: &TraceRecorder,
    call: &Call,
) -> Result<Response, ApiError> {
    let core = &app.core;
    let table = table_of(core, call)?;
    let mut values = call.body.clone();
    if call.route.action == Action::Create {
        for column in &table.columns {
            match column.auto {
                Some(AutoValue::Now) => {
                    values.insert(column.name.clone(), json!(core.clock.rfc3339()));
                }
                Some(AutoValue::CurrentUser) => {
                    values.insert(column.name.clone(), json!(call.user_id));
                }
                None => {}
            }
        }
    }
    let outboxed =
        call.route.publish_mode == PublishMode::Outbox && !call.route.publishes.is_empty();
    let (record, outbox) = database_write(app, trace, call, table, &values, outboxed).await?;
    invalidate(app, trace, call, table).await;
    let row = record
        .rows
        .first()
        .cloned()
        .map(Value::Object)
        .unwrap_or(Value::Null);
    if outboxed {
        publish_outbox(app, trace, outbox).await;
    } else {
        publish(app, trace, call, table, &row).await?;
    }
    let response = match call.route.action {
        Action::Create => {
            let location = format!(
                "{}/{}",
                call.route.path,
                row.get("id").cloned().unwrap_or(Value::Null)
            );
            let mut response =
                (StatusCode::CREATED, axum::Json(json!({ "data": row }))).into_response();
            if let Ok(value) = location.parse() {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        Action::Delete => StatusCode::NO_CONTENT.into_response(),
        _ => axum::Json(json!({ "data": row })).into_response(),
    };
    Ok(response)
}

/// The database stage of a write: first the tenant check of every reference in the body, then
/// the write itself — with `outbox`, the write and the route's events in one transaction. All of
/// it is one stage, with one modelled latency, and the trace shows every statement.
async fn database_write(
    app: &AppState,
    trace: &TraceRecorder,
    call: &Call,
    table: &Table,
    values: &Map<String, Value>,
    outbox: bool,
) -> Result<(QueryRecord, Vec<OutboxInsert>), ApiError> {
    let core = &app.core;
    let stage = HandlerStage::new(app.database.as_ref(), trace);
    let extra = core.faults.db_extra_ms();
    // The connection is held until the write (and its outbox rows) ran.
    let (run, _connection) = stage.enter_database(core, extra).await?;
    let (tenant, problems) = match tenant_checks(app, call, table) {
        Ok(checked) => checked,
        Err(error) => {
            return finish_query(run, extra, WriteChecks::default(), Err(error))
                .map(|r| (r, Vec::new()));
        }
    };
    let mut checks = WriteChecks {
        tenant,
        limits: Vec::new(),
    };
    if !problems.is_empty() {
        let error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "the body refers to rows that do not exist in this tenant",
        )
        .with_detail(
            "fields",
            serde_json::to_value(&problems).unwrap_or_default(),
        );
        if let Some(run) = run {
            let detail = DatabaseDetail::of_checks(checks);
            run.fail(
                outcome_of(&error),
                StageDetail::Database(detail),
                error.code,
            );
        }
        return Err(error);
    }
    // Held through the write: see `limits`.
    let _limits = core.limits.lock().unwrap_or_else(PoisonError::into_inner);
    match check_limits(core, call, table) {
        Ok((limits, problems)) => {
            checks.limits = limits;
            if !problems.is_empty() {
                let error = limit_error(&problems);
                if let Some(run) = run {
                    let detail = DatabaseDetail::of_checks(checks);
                    run.fail(Outcome::Reject, StageDetail::Database(detail), error.code);
                }
                return Err(error);
            }
        }
        Err(error) => {
            return finish_query(run, extra, checks, Err(error)).map(|r| (r, Vec::new()));
        }
    }
    if outbox {
        let result = write_with_outbox(app, call, table, values);
        let inserts = result.as_ref().map(|(_, i)| i.clone()).unwrap_or_default();
        let writes = inserts
            .iter()
            .map(|insert| OutboxWrite {
                outbox_id: insert.row.id,
                topic: insert.row.topic.clone(),
                event: insert.row.event.clone(),
                sql: insert.query.sql.clone(),
                params: insert.query.params.clone(),
            })
            .collect();
        let if_missing = by_id(call).then(|| row_not_found(table, call.id));
        let record = finish_query_with_outbox(
            run,
            extra,
            checks,
            writes,
            if_missing,
            result.map(|(r, _)| r),
        )?;
        return Ok((record, inserts));
    }
    let store = &core.store;
    let result = match (call.route.action, call.id) {
        (Action::Create, _) => store.insert(&table.name, call.tenant_id, values),
        (Action::Update, Some(id)) => store.update(&table.name, call.tenant_id, id, values),
        (Action::Delete, Some(id)) => store.delete(&table.name, call.tenant_id, id),
        _ => {
            let error = ApiError::internal("write without an id");
            if let Some(run) = run {
                run.fail(
                    Outcome::Error,
                    StageDetail::Database(DatabaseDetail::default()),
                    error.code,
                );
            }
            return Err(error);
        }
    };
    let if_missing = by_id(call).then(|| row_not_found(table, call.id));
    finish_query_with_outbox(run, extra, checks, Vec::new(), if_missing, result)
        .map(|record| (record, Vec::new()))
}

/// Whether the write names its row (an update or a delete): matching none is a 404, decided by
/// the database stage.
fn by_id(call: &Call) -> bool {
    call.route.action != Action::Create
}

/// The write and its events, in one transaction (see `store::outbox`).
fn write_with_outbox(
    app: &AppState,
    call: &Call,
    table: &Table,
    values: &Map<String, Value>,
) -> Result<(QueryRecord, Vec<OutboxInsert>), StoreError> {
    let store = &app.core.store;
    let statement = match (call.route.action, call.id) {
        (Action::Create, _) => insert_statement(table, call.tenant_id, values, Returning::Rows)?,
        (Action::Update, Some(id)) => {
            match update_statement(table, call.tenant_id, id, values, Returning::Rows)? {
                Some(statement) => statement,
                // Nothing to set: nothing changed, so there is nothing to announce.
                None => return Ok((store.get(&table.name, call.tenant_id, id)?, Vec::new())),
            }
        }
        (Action::Delete, Some(id)) => delete_statement(table, call.tenant_id, id)?,
        _ => return Err(StoreError::UnknownTable(table.name.clone())),
    };
    let now_ms = app.core.clock.elapsed().as_millis() as u64;
    store.write_with_outbox(
        table,
        call.tenant_id,
        statement,
        now_ms,
        now_ms + OUTBOX_LEASE_MS,
        |row| {
            call.route
                .publishes
                .iter()
                .map(|p| OutboxEvent {
                    topic: p.topic.clone(),
                    event: p.event.clone(),
                    payload: json!({ "tenant": call.tenant, "table": table.name, "row": row }),
                    key: None,
                })
                .collect()
        },
    )
}

/// The publish stage of an outbox route: right after the commit, hands each outbox row to the
/// broker and marks it relayed. A topic without room is not an error: the row stays in the
/// outbox, the relay is woken to publish it when there is room, and the request succeeds.
async fn publish_outbox(app: &AppState, trace: &TraceRecorder, outbox: Vec<OutboxInsert>) {
    let stage = HandlerStage::new(app.publish.as_ref(), trace);
    let run = stage.enter(0.0).await;
    let core = &app.core;
    let mut published = Vec::new();
    let mut deferred = Vec::new();
    for insert in outbox {
        let row = insert.row;
        let now_ms = core.clock.elapsed().as_millis() as u64;
        // Keep the outbox's order: once one event waits, the rest wait behind it, and an event
        // never overtakes older ones of its topic that the relay has not published yet.
        let attempt = if !deferred.is_empty() {
            Err("waiting behind an earlier event of this request".to_string())
        } else if core
            .store
            .older_pending(&row.topic, row.id)
            .unwrap_or(false)
        {
            Err(format!(
                "waiting behind older events for `{}` in the outbox (first in, first out)",
                row.topic
            ))
        } else {
            core.broker
                .try_publish_keyed(&row.topic, &row.event, row.payload.clone(), row.key.clone())
                .map_err(|error| error.to_string())
        };
        match attempt {
            Ok(id) => {
                // The broker has it; if marking fails the relay publishes it again later
                // (at least once), which idempotent consumers absorb.
                let _ = core.store.mark_relayed(row.id, now_ms, id);
                published.push(PublishedEvent {
                    id,
                    outbox_id: Some(row.id),
                    topic: row.topic,
                    event: row.event,
                    payload: row.payload,
                });
            }
            Err(reason) => {
                let _ = core.store.release_outbox(row.id, now_ms);
                deferred.push(DeferredEvent {
                    outbox_id: row.id,
                    topic: row.topic,
                    event: row.event,
                    reason,
                });
            }
        }
    }
    if !deferred.is_empty() {
        core.outbox_wake.notify_one();
    }
    let detail = PublishDetail {
        mode: PublishMode::Outbox,
        published,
        deferred,
        refused: None,
    };
    finish(run, Outcome::Pass, StageDetail::BrokerPublish(detail));
}

/// Checks that every reference in the body names a row of the caller's tenant: a foreign key only
/// proves the row exists somewhere. Returns the checks that ran and the fields that failed.
fn tenant_checks(
    app: &AppState,
    call: &Call,
    table: &Table,
) -> Result<(Vec<TenantCheck>, Vec<FieldProblem>), StoreError> {
    let core = &app.core;
    let mut checks = Vec::new();
    let mut problems = Vec::new();
    for column in table
        .columns
        .iter()
        .filter(|c| call.body.contains_key(&c.name))
    {
        let (Some(fk), Some(value)) = (
            &column.references,
            call.body.get(&column.name).and_then(Value::as_i64),
        ) else {
            continue;
        };
        let scoped = core
            .scenario
            .table(&fk.table)
            .is_some_and(|t| t.tenant_scoped);
        if !scoped {
            continue;
        }
        let (found, query) = core
            .store
            .exists_in_tenant(&fk.table, value, call.tenant_id)?;
        checks.push(TenantCheck {
            field: column.name.clone(),
            sql: query.sql,
            params: query.params,
            found,
        });
        if !found {
            problems.push(FieldProblem::new(
                &column.name,
                format!("no {} with id {value} in this tenant", singular(&fk.table)),
            ));
        }
    }
    Ok((checks, problems))
}

/// Cache-aside: a write makes this tenant's cached reads of the table stale.
async fn invalidate(app: &AppState, trace: &TraceRecorder, call: &Call, table: &Table) {
    let core = &app.core;
    let run = HandlerStage::new(app.cache.as_ref(), trace)
        .enter(0.0)
        .await;
    // The reads a write makes stale are exactly the tenant's list of the table and, for an
    // update or delete, the row's own entry.
    let list_key = format!("t{}:{}:list", call.tenant_id, table.name);
    let row_key = call
        .id
        .map(|id| format!("t{}:{}:{id}", call.tenant_id, table.name));
    let keys: Vec<String> = std::iter::once(list_key).chain(row_key).collect();
    let invalidated: Vec<String> = keys
        .iter()
        .filter(|key| core.cache.invalidate(key))
        .cloned()
        .collect();
    let detail = CacheDetail {
        keys: Some(keys),
        invalidated: Some(invalidated),
        ..CacheDetail::of(CacheResult::Invalidate)
    };
    finish(run, Outcome::Pass, StageDetail::Cache(detail));
}

/// Publishes the route's events about the written `row`. A refused publish fails the request
/// (503 with `Retry-After`) rather than dropping the event silently.
async fn publish(
    app: &AppState,
    trace: &TraceRecorder,
    call: &Call,
    table: &Table,
    row: &Value,
) -> Result<(), ApiError> {
    let stage = HandlerStage::new(app.publish.as_ref(), trace);
    if call.route.publishes.is_empty() {
        stage.skip("this route publishes no events").await;
        return Ok(());
    }
    let run = stage.enter(0.0).await;
    let mut published = Vec::new();
    for p in &call.route.publishes {
        let payload = json!({ "tenant": call.tenant, "table": table.name, "row": row });
        match app
            .core
            .broker
            .publish(&p.topic, &p.event, payload.clone())
            .await
        {
            Ok(id) => published.push(PublishedEvent {
                id,
                outbox_id: None,
                topic: p.topic.clone(),
                event: p.event.clone(),
                payload,
            }),
            Err(error) => {
                // The row is written but its event could not be queued: refuse loudly so the
                // client retries, rather than dropping the event silently.
                let retry_after = match &error {
                    PublishError::Full { retry_after, .. } => retry_after.as_secs().max(1),
                    PublishError::UnknownTopic(_) => 1,
                };
                // The dual write's failure mode: the row is committed, its event is not.
                app.core.metrics.record_orphan();
                let detail = PublishDetail {
                    mode: PublishMode::Direct,
                    published,
                    deferred: Vec::new(),
                    refused: Some(RefusedEvent {
                        topic: p.topic.clone(),
                        event: p.event.clone(),
                        error: error.to_string(),
                    }),
                };
                finish(run, Outcome::Reject, StageDetail::BrokerPublish(detail));
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "queue_full",
                    format!("{error}; try again shortly"),
                )
                .with_header(header::RETRY_AFTER, &retry_after.to_string()));
            }
        }
    }
    let detail = PublishDetail {
        mode: PublishMode::Direct,
        published,
        deferred: Vec::new(),
        refused: None,
    };
    finish(run, Outcome::Pass, StageDetail::BrokerPublish(detail));
    Ok(())
}
