//! `Idempotency-Key` on creates: a client that retries a request it never got an answer to gets
//! the first answer back instead of a second payment.
//!
//! ```text
//!  POST /payments, Idempotency-Key: k
//!      controller ── claim (tenant, k) ──┬─ new ──────────▶ run the create ─▶ keep status + body
//!                                        │                         └─ 5xx ─▶ forget the key
//!                                        ├─ finished ─────▶ stored response + Idempotent-Replayed: true
//!                                        ├─ still running ▶ 409 idempotency_in_progress
//!                                        └─ other request ▶ 422 idempotency_key_reused
//! ```
//!
//! Two requests are the same when their method, path, caller and body (keys sorted) are equal:
//! that text is the stored fingerprint, compared exactly. A 5xx is not kept, so a retry of a
//! request that failed on the server's side runs again; 2xx and 4xx answers are final. A keyed
//! action runs as a task of its own, so a client that disconnects does not cut it short; the
//! claim is also a drop guard, so an action that panics forgets its key rather than leaving it
//! in progress for ever.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::shared::Call;
use crate::engine::core::Core;
use crate::engine::pipeline::error::ApiError;
use crate::engine::store::{Claim, KeyedRequest, StoredResponse};
use crate::engine::trace::detail::{IdempotencyDetail, IdempotencyOutcome};

/// The request header a client puts its key in.
const KEY_HEADER: &str = "idempotency-key";

/// The response header that marks a replayed response.
const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Longest key accepted, in characters.
const MAX_KEY_LEN: usize = 255;

/// Largest response body kept for a key; a create answers with one row, far below this.
const MAX_STORED_BODY: usize = 1 << 20;

/// The request's key: `None` without the header; a 400 when it is not 1 to 255 visible ASCII
/// characters, or is sent more than once.
pub(super) fn key_of(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(KEY_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    let valid = values.next().is_none()
        && (1..=MAX_KEY_LEN).contains(&bytes.len())
        && bytes.iter().all(u8::is_ascii_graphic);
    if !valid {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            format!(
                "the Idempotency-Key header must be sent once, as 1 to {MAX_KEY_LEN} visible \
                 ASCII characters (letters, digits, punctuation; no spaces)"
            ),
        ));
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// What the key lets the controller do.
pub(super) enum Gate {
    /// No key: run the action as usual.
    Run,
    /// A new key: run the action, then [settle](KeyClaim::settle) the claim with its response.
    RunKeyed(KeyClaim),
    /// Answered without running the action: a replay or a refusal.
    Answer(Result<Response, ApiError>),
}

/// Decides what a request with `key` (as [`key_of`] read it) may do, claiming the key when it
/// is new. Also returns what the trace shows about it.
pub(super) fn gate(
    core: &Arc<Core>,
    call: &Call,
    key: Result<Option<String>, ApiError>,
    method: &str,
    path: &str,
) -> (Gate, Option<IdempotencyDetail>) {
    let key = match key {
        Ok(Some(key)) => key,
        Ok(None) => return (Gate::Run, None),
        Err(error) => return (Gate::Answer(Err(error)), None),
    };
    let request = KeyedRequest {
        tenant_id: call.tenant_id,
        key,
        method: method.to_string(),
        path: path.to_string(),
        fingerprint: fingerprint(call, method, path),
    };
    let now_ms = core.clock.elapsed().as_millis() as u64;
    let claim = match core.store.claim_idempotency_key(&request, now_ms) {
        Ok(claim) => claim,
        Err(error) => return (Gate::Answer(Err(ApiError::internal(error))), None),
    };
    let key = request.key;
    let detail = |outcome, replayed_status| {
        Some(IdempotencyDetail {
            key: key.clone(),
            outcome,
            replayed_status,
        })
    };
    match claim {
        Claim::First => {
            let detail = detail(IdempotencyOutcome::First, None);
            let claim = KeyClaim {
                core: core.clone(),
                tenant_id: call.tenant_id,
                key,
                settled: false,
            };
            (Gate::RunKeyed(claim), detail)
        }
        Claim::Replay(stored) => {
            let detail = detail(IdempotencyOutcome::Replayed, Some(stored.status));
            (Gate::Answer(Ok(replay(stored))), detail)
        }
        Claim::InProgress => {
            let error = ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                format!(
                    "a request with Idempotency-Key `{key}` is still being processed; retry \
                     once it has finished to get its response"
                ),
            )
            .with_header(header::RETRY_AFTER, "1");
            (
                Gate::Answer(Err(error)),
                detail(IdempotencyOutcome::InProgress, None),
            )
        }
        Claim::Reused { method, path } => {
            let error = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                format!(
                    "Idempotency-Key `{key}` was already used for a different request (first \
                     sent as {method} {path}, with another body or by another user); a new \
                     request needs a new key"
                ),
            );
            (
                Gate::Answer(Err(error)),
                detail(IdempotencyOutcome::Reused, None),
            )
        }
    }
}

/// What makes two requests with one key "the same": method, path, caller and the body with its
/// object keys sorted, as one text (compared exactly, so no hash can collide).
fn fingerprint(call: &Call, method: &str, path: &str) -> String {
    let caller = call
        .user_id
        .map_or_else(|| "-".to_string(), |id| id.to_string());
    let body = canonical(&Value::Object(call.body.clone()));
    format!("{method} {path}\nuser {caller}\n{body}")
}

/// `value` with every object's keys in sorted order, so `{"a":1,"b":2}` and `{"b":2,"a":1}` give
/// the same text.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The stored response, sent again as it was, marked as a replay.
fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let has_body = !stored.body.is_empty();
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if has_body {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if let Some(location) = stored.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(
        HeaderName::from_static(REPLAYED_HEADER),
        HeaderValue::from_static("true"),
    );
    response
}

/// A key this request claimed: settled with its response, or forgotten when dropped unsettled.
pub(super) struct KeyClaim {
    core: Arc<Core>,
    tenant_id: i64,
    key: String,
    settled: bool,
}

impl KeyClaim {
    /// Keeps `response` for the key (a 2xx or 4xx) and returns it unchanged; a 5xx is not kept,
    /// so a retry runs afresh.
    pub(super) async fn settle(mut self, response: Response) -> Response {
        if response.status().is_server_error() {
            return response;
        }
        let (parts, body) = response.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_STORED_BODY).await {
            Ok(bytes) => bytes,
            Err(error) => {
                let error = format!("could not read a response to keep for its key: {error}");
                return ApiError::internal(error).into_response();
            }
        };
        let stored = StoredResponse {
            status: parts.status.as_u16(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
            location: parts
                .headers
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        };
        match self
            .core
            .store
            .complete_idempotency_key(self.tenant_id, &self.key, &stored)
        {
            Ok(()) => self.settled = true,
            // The answer still goes back; the key is forgotten (on drop), so a retry runs again.
            Err(error) => {
                tracing::warn!(%error, "could not keep a response for its idempotency key")
            }
        }
        Response::from_parts(parts, Body::from(bytes))
    }
}

impl Drop for KeyClaim {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        if let Err(error) = self
            .core
            .store
            .release_idempotency_key(self.tenant_id, &self.key)
        {
            tracing::warn!(%error, "could not release an idempotency key");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                KEY_HEADER,
                HeaderValue::from_str(value).expect("header text"),
            );
        }
        headers
    }

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters_sent_once() {
        assert_eq!(key_of(&headers(&[])).ok(), Some(None));
        assert_eq!(
            key_of(&headers(&["pay-2026-01-28/7"])).ok(),
            Some(Some("pay-2026-01-28/7".to_string()))
        );
        let longest = "k".repeat(MAX_KEY_LEN);
        assert_eq!(key_of(&headers(&[&longest])).ok(), Some(Some(longest)));
        let too_long = "k".repeat(MAX_KEY_LEN + 1);
        for bad in [
            &[""][..],
            &["a key"],
            &["tab\tkey"],
            &[&too_long],
            &["a", "b"],
        ] {
            let error = key_of(&headers(bad)).expect_err("refused");
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
            assert_eq!(error.code, "invalid_idempotency_key");
        }
    }

    #[test]
    fn the_canonical_body_does_not_depend_on_key_order() {
        let a: Value =
            serde_json::from_str(r#"{"b":{"y":1,"x":[{"q":1,"p":2}]},"a":2}"#).expect("json");
        let b: Value =
            serde_json::from_str(r#"{"a":2,"b":{"x":[{"p":2,"q":1}],"y":1}}"#).expect("json");
        assert_eq!(canonical(&a).to_string(), canonical(&b).to_string());
        assert_eq!(
            canonical(&a).to_string(),
            r#"{"a":2,"b":{"x":[{"p":2,"q":1}],"y":1}}"#
        );
    }
}
