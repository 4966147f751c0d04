//! The endpoints that write: `POST /v1/papers` and `DELETE /v1/papers/{id}`, behind the bearer
//! token. A request is read and checked whole before anything is written: a bad paper anywhere
//! in it is a 400 and the library is untouched.

use std::path::Path as FsPath;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use axum::Json;
use papermap::corpus::{parse_jsonl, JsonlFields};
use serde_json::{json, Value};

use crate::body::body_text;
use crate::error::ApiError;
use crate::state::Server;

/// Lets a write through only with the server's bearer token (compared in constant time).
pub async fn require_token(
    State(server): State<Arc<Server>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let options = &server.options;
    if options.read_only {
        return Err(ApiError::forbidden(
            "read_only",
            "this server is read-only (--read-only): write with `papermap index`, or restart the server without --read-only",
        ));
    }
    let Some(token) = &options.token else {
        return Err(ApiError::forbidden(
            "writes_disabled",
            "writes are disabled: start the server with --token-file FILE and send `Authorization: Bearer <token>`",
        ));
    };
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if same(given.trim().as_bytes(), token.as_bytes()) => Ok(next.run(request).await),
        Some(_) => Err(ApiError::unauthorized("the bearer token is wrong")),
        None => Err(ApiError::unauthorized(
            "writes need `Authorization: Bearer <token>` with the token of the server's --token-file",
        )),
    }
}

/// Equality whose time does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `POST /v1/papers`: a JSON array of paper objects, or JSON Lines of them (the fields of
/// `papermap index`'s JSON Lines; an `embedding` array is used as the paper's vector). Embeds
/// what is new or changed, saves, answers what changed.
pub async fn add_papers(
    State(server): State<Arc<Server>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let text = body_text(body, server.options.max_body_bytes)?;
    let entries = parse_papers(&text)?;
    let loaded = server.loaded()?;
    let writer = loaded.writer.clone().lock_owned().await;
    let server2 = server.clone();
    let touched: Vec<String> = entries.papers.iter().map(|p| p.id.clone()).collect();
    // The write runs to its end on a blocking thread even if the client goes away; it holds the
    // writer lock until then.
    let (report, papers) = tokio::task::spawn_blocking(move || {
        let _writer = writer;
        let loaded = server2.loaded()?;
        loaded.write(&server2.options.dir, &touched, |map| {
            let report = map.add_papers_with_vectors(entries.papers, entries.embeddings, |_| {})?;
            Ok((report, map.len()))
        })
    })
    .await
    .map_err(|e| {
        ApiError::internal(format!("the write failed: {e}; the library is unchanged"))
    })??;
    Ok(Json(json!({
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "embedded": report.embedded,
        "papers": papers,
    })))
}

/// `DELETE /v1/papers/{id}`.
pub async fn remove_paper(
    State(server): State<Arc<Server>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let loaded = server.loaded()?;
    if loaded.snapshot().map.paper(&id)?.is_none() {
        return Err(ApiError::not_found(format!(
            "no paper with id {id:?} in the library"
        )));
    }
    let writer = loaded.writer.clone().lock_owned().await;
    let server2 = server.clone();
    let papers = tokio::task::spawn_blocking(move || {
        let _writer = writer;
        let loaded = server2.loaded()?;
        loaded.write(&server2.options.dir, &[], |map| {
            match map.remove([&id])? {
                // Removed by another process meanwhile: nothing to save, still a 404.
                0 => Err(papermap::PaperMapError::UnknownId { id: id.clone() }),
                _ => Ok(map.len()),
            }
        })
    })
    .await
    .map_err(|e| {
        ApiError::internal(format!("the removal failed: {e}; the library is unchanged"))
    })??;
    Ok(Json(json!({"removed": 1, "papers": papers})))
}

/// The papers of a request body, or a 400 naming the first bad entry.
fn parse_papers(text: &str) -> Result<papermap::corpus::Entries, ApiError> {
    let label = FsPath::new("request body");
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let lines = if trimmed.starts_with('[') {
        let items: Vec<Value> = serde_json::from_str(trimmed).map_err(|e| {
            ApiError::bad_request(format!(
                "body: {e}; send a JSON array of paper objects or JSON Lines"
            ))
        })?;
        let mut lines = String::with_capacity(text.len());
        for (i, item) in items.iter().enumerate() {
            if !item.is_object() {
                return Err(ApiError::bad_request(format!(
                    "body: item {} is not a JSON object: each paper is {{\"id\", \"title\", \"abstract\", ..}}",
                    i + 1
                )));
            }
            lines.push_str(&item.to_string());
            lines.push('\n');
        }
        lines
    } else {
        trimmed.to_string()
    };
    let entries = parse_jsonl(lines.as_bytes(), label, &JsonlFields::default()).into_entries();
    if let Some(d) = entries.diagnostics.first() {
        return Err(ApiError::bad_request(format!(
            "body: paper {}: {}; nothing was written",
            d.line,
            d.reason.trim_end_matches("; skipped")
        )));
    }
    if entries.papers.is_empty() {
        return Err(ApiError::bad_request(
            "the body holds no papers: send a JSON array (or JSON Lines) of {\"id\", \"title\", \"abstract\"} objects",
        ));
    }
    Ok(entries)
}
