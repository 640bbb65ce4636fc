//! JSON errors: every refusal has the same shape, `{"error": {"status", "code", "message"}}`,
//! plus optional details (the fields a 422 rejects, the permissions a 403 misses).

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An API error response.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code, e.g. `forbidden`.
    pub code: &'static str,
    /// Human explanation.
    pub message: String,
    /// Extra members of the `error` object (boxed: most errors have none).
    pub details: Option<Box<Map<String, Value>>>,
    /// Extra response headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            headers: Vec::new(),
        }
    }

    /// Adds a member to the `error` object.
    pub fn with_detail(mut self, key: &str, value: Value) -> Self {
        self.details
            .get_or_insert_with(Box::default)
            .insert(key.to_string(), value);
        self
    }

    /// Adds a response header (values that are not valid header text are dropped).
    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("status".into(), json!(self.status.as_u16()));
        error.insert("code".into(), json!(self.code));
        error.insert("message".into(), json!(self.message));
        if let Some(details) = &self.details {
            error.extend(details.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        json!({ "error": error })
    }

    /// 400 Bad Request.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 Not Found.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 500 Internal Server Error (the message is logged; the client gets a generic one).
    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!(error = %message, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle the request",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_the_documented_shape() {
        let error = ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "missing permission projects.write",
        )
        .with_detail("missing_permissions", json!(["projects.write"]));
        assert_eq!(
            error.body(),
            json!({"error": {"status": 403, "code": "forbidden", "message": "missing permission projects.write",
                             "missing_permissions": ["projects.write"]}})
        );
    }
}
