//! The server's errors: [`ApiError`] is what a request gets back (`{"error": {"code",
//! "message"}}` with a 4xx/5xx status), [`ServerError`] what stops the server from starting.

use std::path::PathBuf;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use papermap::PaperMapError;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The library or its model would not load.
    #[error(transparent)]
    Library(#[from] PaperMapError),
    /// The token file cannot be read or is empty.
    #[error("token file {}: {reason}; write one line of at least 16 characters into it (e.g. `openssl rand -hex 32 > FILE`)", path.display())]
    Token {
        /// The file given.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// An answer other than success: its status, a stable machine-readable `code` and a message
/// that names the input at fault and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code (`bad_request`, `not_found`, `payload_too_large`, `busy`, ...).
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// Seconds to wait before retrying (503 when the embedding queue is full).
    pub retry_after: Option<u32>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404: no such paper, topic or route.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 401: a write without the right bearer token.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: writes are not allowed on this server at all.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 409: the library is not in a state that can answer (no topics, no kept map).
    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// 413: the body is over the limit.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is over the server's limit of {limit} bytes: send fewer papers per request (or start the server with a larger --max-body-mib)"),
        )
    }

    /// 503 with `Retry-After`: the embedding queue is full.
    pub fn busy() -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the embedding queue is full: retry after a second",
            )
        }
    }

    /// 503: the library and model are still loading.
    pub fn loading() -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "loading",
                "the library and its model are still loading: retry shortly (GET /health says when it is ready)",
            )
        }
    }

    /// 500: something failed inside the server; the library is unchanged.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<PaperMapError> for ApiError {
    fn from(e: PaperMapError) -> ApiError {
        let message = e.to_string();
        match e {
            PaperMapError::UnknownId { .. } => ApiError::not_found(message),
            PaperMapError::BadVector { .. }
            | PaperMapError::VectorShape { .. }
            | PaperMapError::BadPaper { .. } => ApiError::bad_request(message),
            PaperMapError::EmptyLibrary => ApiError::conflict("empty_library", message),
            PaperMapError::NoTopics => ApiError::conflict("no_topics", message),
            PaperMapError::NoKeptMap => ApiError::conflict("no_kept_map", message),
            PaperMapError::Conflict { .. } => ApiError::conflict("write_conflict", message),
            _ => {
                tracing::error!("{message}");
                ApiError::internal(message)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"papermap\""),
            );
        }
        response
    }
}
