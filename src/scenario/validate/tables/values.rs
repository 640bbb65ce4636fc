//! Seed and default values as TOML gives them: normalising, naming their JSON type, and checking
//! timestamps.

use serde_json::Value as Json;

use crate::scenario::validate::Cx;
use crate::scenario::validate::rfc3339::{self, is_rfc3339};

/// Turns TOML-specific JSON shapes (date-times) into plain JSON values.
pub(super) fn normalize(value: &Json) -> Json {
    match value {
        Json::Object(map) if map.len() == 1 => match map.values().next() {
            Some(Json::String(text)) if map.contains_key("$__toml_private_datetime") => {
                Json::String(text.clone())
            }
            _ => value.clone(),
        },
        _ => value.clone(),
    }
}

pub(super) fn json_type_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(n) if n.is_f64() => "a float",
        Json::Number(_) => "an integer",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "a table",
    }
}

/// Reports a `timestamp` value (`what` names it) that is not RFC 3339.
pub(super) fn check_timestamp(cx: &mut Cx, span: std::ops::Range<usize>, value: &Json, what: &str) {
    if let Some(text) = value.as_str()
        && !is_rfc3339(text)
    {
        cx.error(
            span,
            format!("{what} is `{text}`, which is not an RFC 3339 timestamp"),
            format!(
                "write a date, `T`, a time and `Z` or an offset, e.g. \"{}\" or \
                 \"2026-01-12T10:00:00+01:00\"",
                rfc3339::EXAMPLE
            ),
        );
    }
}
