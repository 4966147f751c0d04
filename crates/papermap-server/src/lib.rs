//! papermap over HTTP: one process holds a library and its model and answers search, related
//! papers, topics, embedding and writes as JSON (axum on tokio), and serves the live map.
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET /health` | `{"status":"ready","papers":n}`; 503 `{"status":"loading"}` until loaded |
//! | `GET /v1/library` | papers, model, precision, dimension, index, topics, writes |
//! | `GET /v1/search?q=TEXT&k=10[&where=F=V][&why=true]` | `{"query","hits":[..]}` |
//! | `GET /v1/papers/{id}` | the paper, its topic and link |
//! | `GET /v1/papers/{id}/related?k=10[&why=true]` | `{"id","hits":[..]}` |
//! | `GET /v1/topics` | `{"topics":[{"id","label","size","keywords","representatives"}]}` |
//! | `POST /v1/embed` `{"texts":[..]}` | `{"model","dimension","vectors":[[..]]}` |
//! | `POST /v1/papers` (JSON array or JSON Lines) | `{"added","updated","unchanged","embedded","papers"}` |
//! | `DELETE /v1/papers/{id}` | `{"removed":1,"papers"}` |
//! | `GET /` | the live map: search by meaning, related papers on click, the session's papers flagged |
//!
//! A hit is `{"id","title","score","topic","topic_label","link"}` (and `"why"`: the key terms it
//! shares with the query or the paper, with `why=true`). Every error is
//! `{"error":{"code","message"}}` with a 4xx/5xx status: a bad parameter or body names the field
//! (400), an unknown id is 404, a body over the limit 413, a full embedding queue 503 with
//! `Retry-After`. Writes need `Authorization: Bearer <token>`; without a token (or with
//! `read_only`) they are refused.
//!
//! Readers never wait for a writer: see [`state`] for the snapshot protocol. Embedding requests
//! of concurrent callers are batched ([`EmbedQueue`]).
#![warn(missing_docs)]

mod batcher;
mod body;
mod error;
mod fault;
mod page;
mod params;
mod read;
pub mod state;
mod write;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use batcher::EmbedQueue;
pub use error::{ApiError, ServerError};
pub use params::MAX_K;
pub use read::MAX_EMBED_TEXTS;
pub use state::{ServeOptions, Server};

/// Answers shorter than this go uncompressed: gzip of a 1-2 kB answer (a `related` or `search`
/// of 10 hits) saves a kilobyte and cost 4-5% of the server's CPU per request under load; the
/// topics, long hit lists and embedded vectors are still compressed.
pub const COMPRESS_ABOVE_BYTES: u16 = 4096;

/// Every endpoint with its limits: body size, read timeout, gzip for long JSON, request tracing, and
/// a panic turned into a 500 instead of a dropped connection.
pub fn router(server: Arc<Server>) -> Router {
    let options = &server.options;
    let writes = Router::new()
        .route("/v1/papers", post(write::add_papers))
        .route(
            "/v1/papers/{*id}",
            axum::routing::delete(write::remove_paper),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            server.clone(),
            write::require_token,
        ));
    let reads = Router::new()
        .route("/v1/library", get(read::library))
        .route("/v1/search", get(read::search))
        .route("/v1/papers/{*id}", get(read::paper_or_related))
        .route("/v1/topics", get(read::topics))
        .route("/v1/embed", post(read::embed))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            options.read_timeout,
        ));
    let api = writes
        .merge(reads)
        .layer(
            CompressionLayer::new()
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES))),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .route("/", get(page::live_map))
        .route("/health", get(read::health))
        .merge(api)
        .layer(DefaultBodyLimit::max(options.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            server.clone(),
            body::declared_length_limit,
        ))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(TraceLayer::new_for_http())
        .with_state(server)
}

/// Serves `router(server)` on `listener` until `shutdown` resolves; then stops accepting,
/// lets the requests in flight finish, and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: Arc<Server>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(server))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "no endpoint {}: see GET /v1/library, /v1/search, /v1/papers/{{id}}, /v1/papers/{{id}}/related, /v1/topics, POST /v1/embed, /v1/papers",
        uri.path()
    ))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: format!("{method} is not allowed on {}", uri.path()),
        retry_after: None,
    }
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    tracing::error!("a request handler panicked");
    ApiError::internal("the server failed on this request; the library is unchanged")
        .into_response()
}
