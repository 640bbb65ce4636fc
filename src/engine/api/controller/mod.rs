//! The controller and the stages it drives: cache (cache-aside), database and event publishing.
//!
//! ```text
//!  read:   controller ─▶ cache ─hit─────────────────────────▶ response
//!                          └─miss─▶ database ─▶ cache.put ──▶ response
//!  write:  controller ─▶ database (tenant checks, limits, write) ─▶ cache.invalidate ─▶ publish ─▶ response
//!  login:  controller ─▶ database (user by email; Argon2id off the async threads) ─▶ token
//! ```
//!
//! Every query is scoped by the tenant the request was authorised for, never by an id the
//! client chose: another tenant's row is simply not found.
//!
//! A create may carry an `Idempotency-Key`: the controller claims it before anything runs and
//! keeps the answer, so a retry gets the first response back (see `idempotency`).

mod idempotency;
mod limits;
mod login;
mod read;
mod shared;
mod write;

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use self::idempotency::Gate;
pub use self::shared::AppState;
use self::shared::{Call, HandlerStage, outcome_of};
use crate::engine::pipeline::context::{
    BufferedBody, HostTenant, Instance, MatchedRoute, Principal,
};
use crate::engine::pipeline::error::ApiError;
use crate::engine::pipeline::recorder;
use crate::engine::trace::detail::ControllerDetail;
use crate::engine::trace::{Outcome, StageDetail, TraceRecorder};
use crate::scenario::Action;

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
            .and_then(canonical_id)
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
    // Only creates take a key: repeating a read, an update or a delete changes nothing more.
    let key = match route.action {
        Action::Create => idempotency::key_of(request.headers()),
        _ => Ok(None),
    };
    let (gate, idempotency) = idempotency::gate(
        &app.core,
        &call,
        key,
        request.method().as_str(),
        request.uri().path(),
    );
    let replayed = matches!(gate, Gate::Answer(Ok(_)));
    let detail = ControllerDetail {
        action: route.action,
        route: format!("{} {}", route.method, route.path),
        table: route.table.clone(),
        tenant_id: call.tenant_id,
        user_id: call.user_id,
        id: call.id,
        instance: instance.name(),
        idempotency,
    };
    if let Some(run) = run.as_mut() {
        run.pause();
    }
    let (verdict, response) = match gate {
        Gate::Run => split(run_action(&app, &trace, &call, instance).await),
        Gate::RunKeyed(claim) => run_keyed(&app, &trace, call, instance, claim).await,
        Gate::Answer(answer) => split(answer),
    };
    if let Some(run) = run {
        let detail = StageDetail::Controller(detail);
        match verdict {
            // Answered from the stored response, like a cache hit: nothing after ran.
            Ok(()) if replayed => run.finish(Outcome::Hit, detail),
            Ok(()) => run.finish(Outcome::Pass, detail),
            // The stage that decides is the stage that rejects: a 404 the database's query
            // decided, a 409 its constraint raised, a 503 from a full topic are theirs; the
            // controller only passed the request on.
            Err(_) if trace.refused() => run.finish(Outcome::Pass, detail),
            Err((outcome, code)) => run.fail(outcome, detail, code),
        }
    }
    response
}

/// How the action ended, for the controller's record (`Err`: its outcome and error code), and
/// the response.
type Verdict = (Result<(), (Outcome, &'static str)>, Response);

fn split(result: Result<Response, ApiError>) -> Verdict {
    match result {
        Ok(response) => (Ok(()), response),
        Err(error) => (Err((outcome_of(&error), error.code)), error.into_response()),
    }
}

/// Runs the action of a request that claimed a new idempotency key, then keeps its response for
/// the key. It runs as a task of its own: a client that gives up and disconnects drops this
/// request, but a write that has started still finishes and its answer is still kept — else
/// the retry that client is about to send would find the key free and pay a second time.
async fn run_keyed(
    app: &AppState,
    trace: &TraceRecorder,
    call: Call,
    instance: Instance,
    claim: idempotency::KeyClaim,
) -> Verdict {
    let (app, trace) = (app.clone(), trace.clone());
    let task = tokio::spawn(async move {
        let (verdict, response) = split(run_action(&app, &trace, &call, instance).await);
        (verdict, claim.settle(response).await)
    });
    match task.await {
        Ok(done) => done,
        // The task panicked: its claim was released while unwinding, so a retry runs again.
        Err(error) => split(Err(ApiError::internal(format!(
            "the action behind an idempotency key failed: {error}"
        )))),
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

/// An id as the API writes them: decimal digits without a sign or a leading zero. `+1`, `01`
/// and `1e0` name no row — otherwise one row would have many URLs (and many cache keys).
fn canonical_id(segment: &str) -> Option<i64> {
    let digits = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    let canonical = segment == "0" || !segment.starts_with('0');
    (digits && canonical)
        .then(|| segment.parse().ok())
        .flatten()
}

#[cfg(test)]
mod id_tests {
    use super::canonical_id;

    #[test]
    fn only_plain_decimal_ids_name_a_row() {
        assert_eq!(canonical_id("1"), Some(1));
        assert_eq!(canonical_id("0"), Some(0));
        assert_eq!(canonical_id("1234"), Some(1234));
        for alias in ["+1", "-1", "01", "1e0", " 1", "", "99999999999999999999"] {
            assert_eq!(canonical_id(alias), None, "{alias:?}");
        }
    }
}
