//! Input stages: request id + logging, sanitising, and body validation against the route's table.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::body::{buffer_body, replace_body};
use super::context::MatchedRoute;
use super::error::ApiError;
use super::stage::{Decision, Finished, Respond, Stage, StageCtx, recorder};
use crate::engine::latency::SeededRng;
use crate::engine::trace::StageDetail;
use crate::engine::trace::detail::{FieldProblem, RequestIdDetail, SanitizeDetail, ValidateDetail};
use crate::scenario::{Action, Column, ColumnType, Table, plain_number};

/// Longest text field sanitize lets through, in characters (columns may set tighter limits).
pub const MAX_FIELD_CHARS: usize = 4096;

/// The response header that carries the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Request id: a unique id in the `x-request-id` response header and in every log line emitted
/// while the request runs (the rest of the pipeline and the handler run inside its span).
pub struct RequestIds {
    /// The engine's request-id stream (apart from the shared RNG, so ids shift no other draw).
    rng: Arc<SeededRng>,
}

impl RequestIds {
    /// The stage, drawing ids from `rng`.
    pub fn new(rng: Arc<SeededRng>) -> Self {
        Self { rng }
    }
}

impl Stage for RequestIds {
    async fn decide(&self, _: &StageCtx, request: &mut Request) -> Decision {
        let id = format!("req-{:016x}", self.rng.next_u64());
        recorder(request).set_request_id(&id);
        let span = tracing::info_span!("request", request_id = %id);
        span.in_scope(|| {
            tracing::debug!(method = %request.method(), path = %request.uri().path(), "request received");
        });
        let detail = RequestIdDetail {
            request_id: id,
            header: REQUEST_ID_HEADER,
            logged: true,
        };
        Decision::PassWithin(StageDetail::RequestId(detail), span)
    }

    fn respond(&self, _: &StageCtx, detail: StageDetail, mut response: Response) -> Respond {
        if let StageDetail::RequestId(id) = &detail {
            if let Ok(value) = HeaderValue::from_str(&id.request_id) {
                response.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            tracing::debug!(request_id = %id.request_id, status = response.status().as_u16(), "response sent");
        }
        Respond::Now(Finished::pass(detail, response))
    }
}

/// A problem sanitize found.
fn control_char(text: &str) -> Option<char> {
    text.chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
}

/// Walks a JSON value: trims strings, reports control characters and over-long fields.
fn clean(
    value: &mut Value,
    path: &str,
    trimmed: &mut Vec<String>,
    problems: &mut Vec<FieldProblem>,
) {
    match value {
        Value::String(text) => {
            if let Some(c) = control_char(text) {
                problems.push(FieldProblem::new(
                    path,
                    format!("contains the control character U+{:04X}", c as u32),
                ));
            } else if text.chars().count() > MAX_FIELD_CHARS {
                problems.push(FieldProblem::new(
                    path,
                    format!("is longer than {MAX_FIELD_CHARS} characters"),
                ));
            }
            let trimmed_text = text.trim();
            if trimmed_text.len() != text.len() {
                *text = trimmed_text.to_string();
                trimmed.push(path.to_string());
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                clean(item, &format!("{path}[{i}]"), trimmed, problems);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                clean(item, &child, trimmed, problems);
            }
        }
        _ => {}
    }
}

/// Sanitize: refuse control characters and over-long fields in the path, query and JSON body;
/// trim text.
pub struct Sanitize;

impl Stage for Sanitize {
    async fn decide(&self, ctx: &StageCtx, request: &mut Request) -> Decision {
        let limit = ctx.core.scenario.edge.max_body_bytes as usize;
        let reject = |error, detail| Decision::Reject(error, StageDetail::Sanitize(detail));
        if let Some(name) = [header::AUTHORIZATION, header::CONTENT_TYPE]
            .into_iter()
            .find(|name| request.headers().get_all(name).iter().count() > 1)
        {
            // Two values of a single-valued header: a proxy may check one and the app read the
            // other, so neither is trusted.
            let error = ApiError::bad_request(
                "duplicate_header",
                format!("the request has more than one {name} header"),
            );
            return reject(error, SanitizeDetail::default());
        }
        let body = match buffer_body(request, limit).await {
            Ok(body) => body,
            Err(error) => return reject(error, SanitizeDetail::default()),
        };
        if let Some(error) = duplicate_key_error(&body) {
            return reject(error, SanitizeDetail::default());
        }
        let target = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let decoded = percent_decode(&target);
        if let Some(c) = control_char(&decoded) {
            let error = ApiError::bad_request(
                "invalid_characters",
                format!("the URL contains the control character U+{:04X}", c as u32),
            );
            let detail = SanitizeDetail {
                target: Some(target),
                ..SanitizeDetail::default()
            };
            return reject(error, detail);
        }
        let mut trimmed = Vec::new();
        let mut problems = Vec::new();
        let mut checked = 0;
        if !body.is_empty()
            && let Ok(mut json_body) = serde_json::from_slice::<Value>(&body)
        {
            checked = count_strings(&json_body);
            clean(&mut json_body, "", &mut trimmed, &mut problems);
            if !problems.is_empty() {
                let error = ApiError::bad_request(
                    "invalid_input",
                    "the body contains characters or lengths that are not accepted",
                )
                .with_detail(
                    "fields",
                    serde_json::to_value(&problems).unwrap_or_default(),
                );
                let detail = SanitizeDetail {
                    problems: Some(problems),
                    ..SanitizeDetail::default()
                };
                return reject(error, detail);
            }
            if !trimmed.is_empty() {
                let bytes = serde_json::to_vec(&json_body).unwrap_or_default();
                replace_body(request, Bytes::from(bytes));
            }
        }
        Decision::Pass(StageDetail::Sanitize(SanitizeDetail {
            target: Some(target),
            text_fields_checked: Some(checked),
            trimmed: Some(trimmed),
            max_field_chars: Some(MAX_FIELD_CHARS),
            problems: None,
        }))
    }
}

fn count_strings(value: &Value) -> usize {
    match value {
        Value::String(_) => 1,
        Value::Array(items) => items.iter().map(count_strings).sum(),
        Value::Object(map) => map.values().map(count_strings).sum(),
        _ => 0,
    }
}

/// Decodes `%XX` escapes (invalid escapes are kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex_digit(bytes[i + 1]), hex_digit(bytes[i + 2]))
        {
            out.push(high << 4 | low);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_digit(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

/// Whether a client may send this column: not one the server owns (the id, the tenant, `auto`
/// and `server_owned` columns, the password hash; see [`Table::is_server_owned`]).
pub fn client_writable(table: &Table, column: &Column) -> bool {
    !table.is_server_owned(column)
}

/// What a field problem says about a field the server owns.
pub const SERVER_OWNED_PROBLEM: &str = "is set by the server; leave it out";

fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer => "an integer",
        ColumnType::Real => "a number",
        ColumnType::Text => "a string",
        ColumnType::Boolean => "true or false",
        ColumnType::Timestamp => "an RFC 3339 timestamp string",
    }
}

/// Checks a JSON object against a table's writable columns; returns the field errors.
pub fn check_fields(table: &Table, body: &Map<String, Value>, creating: bool) -> Vec<FieldProblem> {
    let mut errors = Vec::new();
    for (name, value) in body {
        let Some(column) = table.column(name) else {
            errors.push(FieldProblem::new(name, "unknown field"));
            continue;
        };
        if !client_writable(table, column) {
            errors.push(FieldProblem::new(name, SERVER_OWNED_PROBLEM));
        } else if value.is_null() {
            if !column.nullable {
                errors.push(FieldProblem::new(name, "may not be null"));
            }
        } else if column.ty == ColumnType::Integer && value.is_u64() && !value.is_i64() {
            errors.push(FieldProblem::new(
                name,
                "is larger than the largest integer (9223372036854775807)",
            ));
        } else if !column.ty.accepts(value) {
            errors.push(FieldProblem::new(
                name,
                format!("must be {}", type_name(column.ty)),
            ));
        } else if let (Some(max), Some(text)) = (column.max_length, value.as_str()) {
            if text.chars().count() > max as usize {
                errors.push(FieldProblem::new(
                    name,
                    format!("is longer than {max} characters"),
                ));
            } else if text.is_empty() && !column.nullable {
                errors.push(FieldProblem::new(name, "may not be empty"));
            }
        } else if let Some(number) = value.as_f64() {
            match (column.min, column.max) {
                (Some(min), _) if number < min => errors.push(FieldProblem::new(
                    name,
                    format!("must be at least {}", plain_number(min)),
                )),
                (_, Some(max)) if number > max => errors.push(FieldProblem::new(
                    name,
                    format!("must be at most {}", plain_number(max)),
                )),
                _ => {}
            }
        }
    }
    if creating {
        for column in table
            .columns
            .iter()
            .filter(|c| client_writable(table, c) && c.required_on_create(table))
        {
            if !body.contains_key(&column.name) {
                errors.push(FieldProblem::new(&column.name, "is required"));
            }
        }
    }
    errors
}

/// Validate: a JSON body must parse (400) and fit the route's table columns (422, every field).
pub struct Validate;

impl Stage for Validate {
    async fn decide(&self, ctx: &StageCtx, request: &mut Request) -> Decision {
        let route = request
            .extensions()
            .get::<MatchedRoute>()
            .map(|r| r.0.clone());
        let Some(route) = route.filter(|r| {
            matches!(
                r.action,
                Action::Create | Action::Update | Action::IssueToken
            )
        }) else {
            return Decision::skip("no request body is expected on this route");
        };
        let reject = |error, detail| Decision::Reject(error, StageDetail::Validate(detail));
        let limit = ctx.core.scenario.edge.max_body_bytes as usize;
        let body = match buffer_body(request, limit).await {
            Ok(body) => body,
            Err(error) => return reject(error, ValidateDetail::default()),
        };
        if !body.is_empty() && !is_json_content_type(request) {
            let error = ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be sent as Content-Type: application/json",
            );
            let detail = ValidateDetail {
                body_bytes: Some(body.len()),
                ..ValidateDetail::default()
            };
            return reject(error, detail);
        }
        if let Some(error) = duplicate_key_error(&body) {
            return reject(error, ValidateDetail::default());
        }
        let parsed: Value = match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(error) => {
                let message = if body.is_empty() {
                    "a JSON body is required".to_string()
                } else {
                    format!("the body is not valid JSON: {error}")
                };
                let detail = ValidateDetail {
                    body_bytes: Some(body.len()),
                    parse_error: Some(error.to_string()),
                    ..ValidateDetail::default()
                };
                return reject(ApiError::bad_request("malformed_json", message), detail);
            }
        };
        let Some(object) = parsed.as_object() else {
            return reject(
                ApiError::bad_request("malformed_json", "the body must be a JSON object"),
                ValidateDetail::default(),
            );
        };
        let table = route
            .table
            .as_deref()
            .and_then(|t| ctx.core.scenario.table(t))
            .filter(|_| route.action != Action::IssueToken);
        let (schema, errors) = match (route.action, table) {
            (Action::IssueToken, _) => ("login".to_string(), check_login(object)),
            (action, Some(table)) => (
                table.name.clone(),
                check_fields(table, object, action == Action::Create),
            ),
            (_, None) => (String::new(), Vec::new()),
        };
        let fields: Vec<String> = object.keys().cloned().collect();
        let server_owned = table.map(|t| {
            t.server_owned_columns()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
        });
        if !errors.is_empty() {
            let error = field_errors(&errors);
            let detail = ValidateDetail {
                against: Some(schema),
                fields: Some(fields),
                errors: Some(errors),
                server_owned,
                ..ValidateDetail::default()
            };
            return reject(error, detail);
        }
        Decision::Pass(StageDetail::Validate(ValidateDetail {
            against: Some(schema),
            fields: Some(fields),
            errors: Some(Vec::new()),
            server_owned,
            ..ValidateDetail::default()
        }))
    }
}

/// The 422 for a body with field errors. Sending a field the server owns is its own code,
/// `server_owned_field`, whose message names the fields: it is a different mistake from a
/// wrong value (the client must stop sending the field, not fix it).
fn field_errors(errors: &[FieldProblem]) -> ApiError {
    let owned: Vec<String> = errors
        .iter()
        .filter(|e| e.problem == SERVER_OWNED_PROBLEM)
        .map(|e| format!("`{}`", e.field))
        .collect();
    let (code, message) = match owned.as_slice() {
        [] => {
            let count = errors.len();
            let plural = if count == 1 { "" } else { "s" };
            (
                "validation_failed",
                format!("{count} field error{plural} in the body"),
            )
        }
        [one] => (
            "server_owned_field",
            format!("{one} is set by the server; leave it out"),
        ),
        [init @ .., last] => (
            "server_owned_field",
            format!(
                "{} and {last} are set by the server; leave them out",
                init.join(", ")
            ),
        ),
    };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
        .with_detail("fields", serde_json::to_value(errors).unwrap_or_default())
}

/// Whether the request's content type is JSON (`application/json` or `…+json`, any
/// parameters). A body under any other type is refused: a browser sends `text/plain` and form
/// bodies across origins without asking first.
fn is_json_content_type(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|essence| essence == "application/json" || essence.ends_with("+json"))
}

/// The 400 for a JSON body in which one object has the same key twice: parsers disagree on
/// which value wins, so the body means different things to different readers.
fn duplicate_key_error(body: &[u8]) -> Option<ApiError> {
    let key = duplicate_key(body)?;
    Some(ApiError::bad_request(
        "duplicate_key",
        format!("the key `{key}` appears more than once in one object of the body"),
    ))
}

/// The first key that appears twice in one object of the JSON `body`, at any depth (`None`
/// when every object's keys are unique, or when the body is not JSON at all).
fn duplicate_key(body: &[u8]) -> Option<String> {
    use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

    const MARK: &str = "duplicate key ";

    /// Any JSON value, walked only to look for repeated keys.
    struct Unique;

    impl<'de> Deserialize<'de> for Unique {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(UniqueVisitor)
        }
    }

    struct UniqueVisitor;

    impl<'de> Visitor<'de> for UniqueVisitor {
        type Value = Unique;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_unit<E>(self) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
            while seq.next_element::<Unique>()?.is_some() {}
            Ok(Unique)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    return Err(de::Error::custom(format!("{MARK}{key}\u{0}")));
                }
                map.next_value::<Unique>()?;
            }
            Ok(Unique)
        }
    }

    let error = serde_json::from_slice::<Unique>(body).err()?;
    let text = error.to_string();
    let key = text.strip_prefix(MARK)?.split('\u{0}').next()?;
    Some(key.to_string())
}

fn check_login(body: &Map<String, Value>) -> Vec<FieldProblem> {
    let mut errors = Vec::new();
    for field in ["email", "password"] {
        match body.get(field) {
            Some(Value::String(text)) if !text.is_empty() => {}
            Some(_) => errors.push(FieldProblem::new(field, "must be a non-empty string")),
            None => errors.push(FieldProblem::new(field, "is required")),
        }
    }
    for key in body
        .keys()
        .filter(|k| !matches!(k.as_str(), "email" | "password"))
    {
        errors.push(FieldProblem::new(key, "unknown field"));
    }
    errors
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn percent_decoding_reveals_hidden_control_characters() {
        assert_eq!(percent_decode("/a%00b"), "/a\u{0}b");
        assert_eq!(percent_decode("/a%zzb"), "/a%zzb");
        assert_eq!(
            percent_decode("/é%"),
            "/é%",
            "no panic on multi-byte text or a trailing %"
        );
        assert!(control_char(&percent_decode("/api/v1/projects?q=%1b[31m")).is_some());
    }

    #[test]
    fn a_key_twice_in_one_object_is_found_at_any_depth() {
        assert_eq!(duplicate_key(br#"{"a": 1, "a": 2}"#).as_deref(), Some("a"));
        assert_eq!(
            duplicate_key(br#"{"x": [{"b": 1, "c": {"d": 1, "d": 2}}]}"#).as_deref(),
            Some("d")
        );
        assert_eq!(duplicate_key(br#"{"a": {"a": 1}, "b": [{"a": 2}]}"#), None);
        assert_eq!(duplicate_key(b"not json"), None);
        assert_eq!(duplicate_key(b""), None);
    }

    #[test]
    fn clean_trims_and_reports_by_field_path() {
        let mut body = json!({ "name": "  Launch  ", "tags": ["ok", "bad\u{7}"] });
        let (mut trimmed, mut problems) = (Vec::new(), Vec::new());
        clean(&mut body, "", &mut trimmed, &mut problems);
        assert_eq!(body["name"], "Launch");
        assert_eq!(trimmed, ["name"]);
        assert_eq!(problems[0].field, "tags[1]");
    }
}
