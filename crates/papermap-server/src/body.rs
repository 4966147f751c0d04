//! Request bodies, for reads and writes alike: the size limit (refused from the declared length
//! before a byte is read, and cut at the limit when read) and UTF-8.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;
use crate::state::Server;

/// Answers 413 before reading a byte of a body whose declared `Content-Length` is over the
/// limit. Why: reading up to the limit first and then closing leaves the client still writing
/// into a closed connection (it sees a broken pipe, not the 413); a client that sends
/// `Expect: 100-continue` gets the JSON error without sending the body at all. Bodies without a
/// declared length (chunked) are cut at the limit when read ([`body_text`]).
pub async fn declared_length_limit(
    State(server): State<Arc<Server>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let limit = server.options.max_body_bytes;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => Err(ApiError::too_large(limit)),
        _ => Ok(next.run(request).await),
    }
}

/// The body as UTF-8 text: 413 over the limit, 400 when it is not UTF-8.
pub fn body_text(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<String, ApiError> {
    let bytes = body.map_err(|e| match e.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(limit),
        _ => ApiError::bad_request(format!("the request body could not be read: {e}")),
    })?;
    String::from_utf8(bytes.into()).map_err(|e| {
        ApiError::bad_request(format!(
            "the request body is not UTF-8 (invalid byte at offset {}): send JSON encoded as UTF-8",
            e.utf8_error().valid_up_to()
        ))
    })
}
