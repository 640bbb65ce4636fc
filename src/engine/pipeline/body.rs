//! The request body, read once: the first stage that needs it buffers it (within a size limit)
//! and later stages and the handler share the bytes.

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use bytes::Bytes;

use super::context::BufferedBody;
use super::error::ApiError;

/// Reads the body once, up to `limit` bytes, and keeps it for later stages. Over the limit is a
/// 413; a body that fails to arrive is a 400.
pub async fn buffer_body(request: &mut Request, limit: usize) -> Result<Bytes, ApiError> {
    if let Some(BufferedBody(bytes)) = request.extensions().get::<BufferedBody>().cloned() {
        return Ok(bytes);
    }
    let body = std::mem::take(request.body_mut());
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|error| {
        let too_large = std::error::Error::source(&error)
            .is_some_and(|e| e.is::<http_body_util::LengthLimitError>())
            || error.to_string().contains("length limit");
        if too_large {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the request body is larger than {limit} bytes"),
            )
        } else {
            ApiError::bad_request("body_unreadable", "the request body could not be read")
        }
    })?;
    replace_body(request, bytes.clone());
    Ok(bytes)
}

/// Replaces the buffered body (after sanitising).
pub fn replace_body(request: &mut Request, bytes: Bytes) {
    request.extensions_mut().insert(BufferedBody(bytes.clone()));
    *request.body_mut() = Body::from(bytes);
}
