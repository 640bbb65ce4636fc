//! The controller and the stages it drives: cache (cache-aside), database and event publishing.
//!
//! ```text
//!  read:   controller ─▶ cache ─hit─────────────────────────▶ response
//!                          └─miss─▶ database ─▶ cache.put ──▶ response
//!  write:  controller ─▶ database ─▶ cache.invalidate ─▶ publish ─▶ response
//! ```
//!
//! Every query is scoped by the tenant the request was authorised for, never by an id the
//! client chose: another tenant's row is simply not found.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::context::{BufferedBody, HostTenant, Instance, MatchedRoute, Principal};
use super::error::ApiError;
use super::stage::{StageCtx, recorder};
use crate::engine::cache::Lookup;
use crate::engine::core::Core;
use crate::engine::store::{ConstraintKind, QueryRecord, StoreError};
use crate::engine::trace::{Outcome, StageTimer, TraceRecorder};
use crate::scenario::{Action, AutoValue, StageKind, Table, TokenKind};

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

/// A stage the handler runs: entered lazily, recorded once.
struct HandlerStage<'a> {
    ctx: Option<&'a StageCtx>,
    trace: &'a TraceRecorder,
}

impl<'a> HandlerStage<'a> {
    async fn enter(&self, extra_ms: f64) -> Option<StageTimer> {
        let ctx = self.ctx?;
        let mut timer = ctx.enter(self.trace).await;
        if extra_ms > 0.0 {
            self.trace.delay(extra_ms).await;
            timer.add_modelled(extra_ms);
        }
        Some(timer)
    }

    fn record(&self, timer: Option<StageTimer>, outcome: Outcome, detail: Value) {
        if let Some(timer) = timer {
            timer.finish(self.trace, outcome, detail);
        }
    }

    async fn skip(&self, reason: &str) {
        let timer = self.enter(0.0).await;
        self.record(timer, Outcome::Skip, json!({ "reason": reason }));
    }
}

/// What the controller knows about the request.
struct Call {
    route: Arc<crate::scenario::Route>,
    tenant_id: i64,
    tenant: String,
    user_id: Option<i64>,
    id: Option<i64>,
    body: Map<String, Value>,
}

fn query_detail(record: &QueryRecord) -> Value {
    json!({
        "sql": record.sql,
        "params": record.params,
        "rows": record.rows.len(),
        "rows_affected": record.rows_affected,
        "plan": record.plan,
        "result": record.rows.iter().take(5).collect::<Vec<_>>(),
    })
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

    let controller = HandlerStage {
        ctx: app.controller.as_ref(),
        trace: &trace,
    };
    let mut timer = controller.enter(0.0).await;
    let detail = json!({
        "action": route.action,
        "route": format!("{} {}", route.method, route.path),
        "table": route.table,
        "tenant_id": call.tenant_id,
        "user_id": call.user_id,
        "id": call.id,
        "instance": instance.name(),
    });
    if let Some(t) = timer.as_mut() {
        t.pause();
    }
    let result = run_action(&app, &trace, &call, instance).await;
    let outcome = match &result {
        Ok(_) => Outcome::Pass,
        Err(error) if error.status.is_server_error() => Outcome::Error,
        Err(_) => Outcome::Reject,
    };
    if let Some(timer) = timer {
        let mut detail = detail;
        if let (Err(error), Some(map)) = (&result, detail.as_object_mut()) {
            map.insert("error".into(), json!(error.code));
        }
        timer.finish_paused(&trace, outcome, detail);
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
        Action::IssueToken => issue_token(app, trace, call).await,
        Action::List | Action::Get => read(app, trace, call).await,
        Action::Create | Action::Update | Action::Delete => write(app, trace, call).await,
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
    F: FnOnce(&crate::engine::store::Store) -> Result<QueryRecord, StoreError>,
{
    let stage = HandlerStage {
        ctx: app.database.as_ref(),
        trace,
    };
    let extra = app.core.faults.db_extra_ms();
    let timer = stage.enter(extra).await;
    match query(&app.core.store) {
        Ok(record) => {
            let mut detail = query_detail(&record);
            if extra > 0.0
                && let Some(map) = detail.as_object_mut()
            {
                map.insert("fault".into(), json!(format!("slow database: +{extra} ms")));
            }
            stage.record(timer, Outcome::Pass, detail);
            Ok(record)
        }
        Err(error) => {
            let api_error = store_error(&error);
            let outcome = if api_error.status.is_server_error() {
                Outcome::Error
            } else {
                Outcome::Reject
            };
            stage.record(timer, outcome, json!({ "error": error.to_string() }));
            Err(api_error)
        }
    }
}

async fn read(app: &AppState, trace: &TraceRecorder, call: &Call) -> Result<Response, ApiError> {
    let core = &app.core;
    let table = table_of(core, call)?;
    let key = match call.id {
        Some(id) => format!("t{}:{}:{id}", call.tenant_id, table.name),
        None => format!("t{}:{}:list", call.tenant_id, table.name),
    };
    let cache = HandlerStage {
        ctx: app.cache.as_ref(),
        trace,
    };
    let cache_timer = match call.route.cache_ttl {
        Some(_) => cache.enter(0.0).await,
        None => {
            cache.skip("this route is not cached").await;
            None
        }
    };
    let mut cache_timer = cache_timer;
    let mut expired = false;
    if let Some(timer) = cache_timer.take() {
        match core.cache.get(&key) {
            Lookup::Hit { value, ttl_left } => {
                cache.record(Some(timer), Outcome::Hit, json!({ "key": key, "result": "hit", "ttl_left_s": round3(ttl_left.as_secs_f64()), "bytes": value.len() }));
                return Ok(json_bytes_response(value));
            }
            Lookup::Miss {
                expired: was_expired,
            } => {
                expired = was_expired;
                let mut timer = timer;
                timer.pause();
                cache_timer = Some(timer);
            }
        }
    }
    let record = match call.id {
        Some(id) => {
            database_stage(app, trace, |store| {
                store.get(&table.name, call.tenant_id, id)
            })
            .await?
        }
        None => {
            database_stage(app, trace, |store| {
                store.list(&table.name, call.tenant_id, LIST_LIMIT)
            })
            .await?
        }
    };
    let body = match call.id {
        Some(_) => match record.rows.first() {
            Some(row) => json!({ "data": row }),
            None => {
                if let Some(timer) = cache_timer {
                    timer.finish_paused(trace, Outcome::Miss, json!({ "key": key, "result": "miss", "expired": expired, "stored": false }));
                }
                return Err(row_not_found(table, call.id));
            }
        },
        None => json!({ "data": record.rows, "count": record.rows.len() }),
    };
    // Serialised once: the cache keeps the response bytes, so a hit is a cheap copy of them.
    let bytes = bytes::Bytes::from(serde_json::to_vec(&body).map_err(ApiError::internal)?);
    if let (Some(mut timer), Some(ttl)) = (cache_timer, call.route.cache_ttl) {
        timer.resume();
        core.cache.put(key.clone(), bytes.clone(), ttl);
        timer.finish(trace, Outcome::Miss, json!({ "key": key, "result": "miss", "expired": expired, "stored": true, "ttl_s": ttl.as_secs_f64(), "bytes": bytes.len() }));
    }
    Ok(json_bytes_response(bytes))
}

/// A 200 response with an already-serialised JSON body.
fn json_bytes_response(body: bytes::Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
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

async fn write(app: &AppState, trace: &TraceRecorder, call: &Call) -> Result<Response, ApiError> {
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
    // A foreign key only proves the row exists somewhere; it must exist in *this* tenant.
    let mut reference_errors = Vec::new();
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
        if scoped
            && !core
                .store
                .exists_in_tenant(&fk.table, value, call.tenant_id)
                .map_err(ApiError::internal)?
        {
            reference_errors.push(json!({ "field": column.name, "problem": format!("no {} with id {value} in this tenant", singular(&fk.table)) }));
        }
    }
    if !reference_errors.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "the body refers to rows that do not exist in this tenant",
        )
        .with_detail("fields", Value::Array(reference_errors)));
    }
    let record = match (call.route.action, call.id) {
        (Action::Create, _) => {
            database_stage(app, trace, |store| {
                store.insert(&table.name, call.tenant_id, &values)
            })
            .await?
        }
        (Action::Update, Some(id)) => {
            database_stage(app, trace, |store| {
                store.update(&table.name, call.tenant_id, id, &values)
            })
            .await?
        }
        (Action::Delete, Some(id)) => {
            database_stage(app, trace, |store| {
                store.delete(&table.name, call.tenant_id, id)
            })
            .await?
        }
        _ => return Err(ApiError::internal("write without an id")),
    };
    if call.route.action != Action::Create && record.rows_affected == 0 {
        return Err(row_not_found(table, call.id));
    }
    // Cache-aside: a write makes this tenant's cached reads of the table stale.
    let cache = HandlerStage {
        ctx: app.cache.as_ref(),
        trace,
    };
    let timer = cache.enter(0.0).await;
    // The reads a write makes stale are exactly the tenant's list of the table and, for an
    // update or delete, the row's own entry.
    let list_key = format!("t{}:{}:list", call.tenant_id, table.name);
    let row_key = call
        .id
        .map(|id| format!("t{}:{}:{id}", call.tenant_id, table.name));
    let invalidated: Vec<String> = std::iter::once(list_key.clone())
        .chain(row_key.clone())
        .filter(|key| core.cache.invalidate(key))
        .collect();
    cache.record(
        timer,
        Outcome::Pass,
        json!({ "result": "invalidate", "keys": std::iter::once(list_key).chain(row_key).collect::<Vec<_>>(), "invalidated": invalidated }),
    );

    let row = record
        .rows
        .first()
        .cloned()
        .map(Value::Object)
        .unwrap_or(Value::Null);
    let publish = HandlerStage {
        ctx: app.publish.as_ref(),
        trace,
    };
    if call.route.publishes.is_empty() {
        publish.skip("this route publishes no events").await;
    } else {
        let timer = publish.enter(0.0).await;
        let mut published = Vec::new();
        for p in &call.route.publishes {
            let payload = json!({ "tenant": call.tenant, "table": table.name, "row": row });
            match core
                .broker
                .publish(&p.topic, &p.event, payload.clone())
                .await
            {
                Ok(id) => published.push(
                    json!({ "id": id, "topic": p.topic, "event": p.event, "payload": payload }),
                ),
                Err(error) => {
                    // The row is written but its event could not be queued: refuse loudly so the
                    // client retries, rather than dropping the event silently.
                    let retry_after = match &error {
                        crate::engine::broker::PublishError::Full { retry_after, .. } => {
                            retry_after.as_secs().max(1)
                        }
                        crate::engine::broker::PublishError::UnknownTopic(_) => 1,
                    };
                    publish.record(timer, Outcome::Reject, json!({ "published": published, "refused": { "topic": p.topic, "event": p.event, "error": error.to_string() } }));
                    return Err(ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "queue_full",
                        format!("{error}; try again shortly"),
                    )
                    .with_header(header::RETRY_AFTER, &retry_after.to_string()));
                }
            }
        }
        publish.record(timer, Outcome::Pass, json!({ "published": published }));
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

async fn issue_token(
    app: &AppState,
    trace: &TraceRecorder,
    call: &Call,
) -> Result<Response, ApiError> {
    let core = &app.core;
    let email = call
        .body
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let password = call
        .body
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let invalid = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "email or password is wrong",
        )
    };
    let stage = HandlerStage {
        ctx: app.database.as_ref(),
        trace,
    };
    let timer = stage.enter(core.faults.db_extra_ms()).await;
    let found = core
        .store
        .user_by_email(&email)
        .map_err(ApiError::internal)?;
    let Some(user) = found else {
        stage.record(
            timer,
            Outcome::Pass,
            json!({ "lookup": "users by email", "rows": 0 }),
        );
        return Err(invalid());
    };
    let verified = crate::engine::store::verify_password(&user.password_hash, &password);
    let same_tenant = user.tenant_id == call.tenant_id;
    stage.record(
        timer,
        Outcome::Pass,
        json!({
            "sql": user.query.sql,
            "params": user.query.params,
            "rows": 1,
            "plan": user.query.plan,
            "password": if verified { "argon2id hash verified" } else { "argon2id hash did not match" },
            "tenant_matches_host": same_tenant,
        }),
    );
    // One answer for a wrong password, an unknown email and another tenant's user: no hints.
    if !verified || !same_tenant {
        return Err(invalid());
    }
    let persona = core
        .scenario
        .personas
        .iter()
        .find(|p| p.id == user.id)
        .ok_or_else(invalid)?;
    let ttl = core.tokens.default_ttl_s();
    let claims = core
        .tokens
        .claims_for(&core.scenario, persona, core.clock.unix_secs(), ttl);
    let token = core
        .tokens
        .mint(TokenKind::Valid, claims)
        .unwrap_or_default();
    Ok(
        axum::Json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": ttl }))
            .into_response(),
    )
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
