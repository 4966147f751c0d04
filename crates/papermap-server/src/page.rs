//! `GET /`: the live map. The library's kept map (the page `papermap map --html` writes) with
//! `api` set, so the page searches by meaning and lists related papers through this server,
//! and with the papers written through the server since it started flagged. Drawn once per
//! snapshot (seconds at a million papers) and kept until the next write.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use papermap::MapConfig;

use crate::error::ApiError;
use crate::state::{Server, Snapshot};

/// Where the page finds the API.
const API_BASE: &str = "/v1";

/// `GET /`.
pub async fn live_map(State(server): State<Arc<Server>>) -> Response {
    match page(&server).await {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            html,
        )
            .into_response(),
        // A person opened this in a browser: the reason as a page, with the fix.
        Err(e) => (
            e.status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!(
                "<!DOCTYPE html><meta charset=\"utf-8\"><title>papermap</title><p>{}</p>",
                e.message
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            ),
        )
            .into_response(),
    }
}

async fn page(server: &Arc<Server>) -> Result<Bytes, ApiError> {
    let loaded = server.loaded()?;
    let snapshot = loaded.snapshot();
    // One drawing per snapshot: later callers wait for it, then share it.
    let mut cached = loaded.page.lock().await;
    if let Some((version, html)) = cached.as_ref() {
        if *version == snapshot.version {
            return Ok(html.clone());
        }
    }
    let server2 = server.clone();
    let drawn = snapshot.clone();
    let html = tokio::task::spawn_blocking(move || draw(&server2, &drawn))
        .await
        .map_err(|e| ApiError::internal(format!("drawing the map failed: {e}")))??;
    *cached = Some((snapshot.version, html.clone()));
    Ok(html)
}

fn draw(server: &Server, snapshot: &Snapshot) -> Result<Bytes, ApiError> {
    let config = MapConfig {
        link_template: server.options.link_template.clone(),
        title: papermap::library_title(&server.options.dir),
        ..MapConfig::default()
    };
    let mut map = snapshot.map.kept_map(&config).map_err(|e| match e {
        papermap::PaperMapError::NoKeptMap => ApiError::conflict(
            "no_kept_map",
            format!(
                "the library keeps no map yet: lay one out once with `papermap map {} --html map.html`, then restart the server",
                server.options.dir.display()
            ),
        ),
        e => e.into(),
    })?;
    map.api = Some(API_BASE.to_string());
    if !snapshot.session.is_empty() {
        for point in &mut map.points {
            point.today = snapshot.session.contains(&point.id);
        }
    }
    Ok(Bytes::from(map.to_html()))
}
