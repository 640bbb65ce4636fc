//! Login: email and password for an access token.
//!
//! Argon2id verification is deliberately slow CPU work (milliseconds), so it runs on tokio's
//! blocking pool rather than on an async worker thread, where it would stall every other request
//! sharing that thread. (Tokio does not advance a paused clock while a blocking task runs, so
//! virtual runs stay deterministic.)

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::shared::{AppState, Call, HandlerStage, finish};
use crate::engine::pipeline::error::ApiError;
use crate::engine::store::{dummy_hash, verify_password};
use crate::engine::trace::detail::DatabaseDetail;
use crate::engine::trace::{Outcome, StageDetail, TraceRecorder};
use crate::scenario::TokenKind;

/// Checks the body's email and password and answers with a fresh token.
pub(super) async fn issue_token(
    app: &AppState,
    trace: &TraceRecorder,
    call: &Call,
) -> Result<Response, ApiError> {
    let core = &app.core;
    let text = |field: &str| {
        call.body
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (email, password) = (text("email"), text("password"));
    let invalid = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "email or password is wrong",
        )
    };
    let stage = HandlerStage::new(app.database.as_ref(), trace);
    let (run, connection) = stage
        .enter_database(core, core.faults.db_extra_ms())
        .await?;
    let found = match core.store.user_by_email(&email) {
        Ok(found) => found,
        Err(error) => {
            let api_error = ApiError::internal(&error);
            if let Some(run) = run {
                run.fail(
                    Outcome::Error,
                    StageDetail::Database(DatabaseDetail::default()),
                    error.to_string(),
                );
            }
            return Err(api_error);
        }
    };
    // The look-up is the only statement: the password check runs on the app, not the database.
    drop(connection);
    let Some(user) = found else {
        // The same work as a wrong password, so the answer's timing tells nothing.
        let _ = tokio::task::spawn_blocking(move || verify_password(dummy_hash(), &password)).await;
        let detail = DatabaseDetail {
            lookup: Some("users by email".into()),
            rows: Some(0),
            password: Some(
                "no such user: a dummy argon2id hash was checked, so the answer takes as long as \
                 a wrong password"
                    .into(),
            ),
            ..DatabaseDetail::default()
        };
        finish(run, Outcome::Pass, StageDetail::Database(detail));
        return Err(invalid());
    };
    let hash = user.password_hash.clone();
    let verified =
        match tokio::task::spawn_blocking(move || verify_password(&hash, &password)).await {
            Ok(verified) => verified,
            Err(error) => {
                if let Some(run) = run {
                    run.fail(
                        Outcome::Error,
                        StageDetail::Database(DatabaseDetail::default()),
                        "password check failed",
                    );
                }
                return Err(ApiError::internal(error));
            }
        };
    let same_tenant = user.tenant_id == call.tenant_id;
    let detail = DatabaseDetail {
        sql: Some(user.query.sql.clone()),
        params: Some(user.query.params.clone()),
        rows: Some(1),
        plan: Some(user.query.plan.clone()),
        password: Some(
            if verified {
                "argon2id hash verified"
            } else {
                "argon2id hash did not match"
            }
            .into(),
        ),
        tenant_matches_host: Some(same_tenant),
        ..DatabaseDetail::default()
    };
    finish(run, Outcome::Pass, StageDetail::Database(detail));
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
