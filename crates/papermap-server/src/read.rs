//! The endpoints that only read: health, the library, search, a paper, its related papers,
//! topics, and embedding texts. Each runs on the snapshot of the moment it starts.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use papermap::topics::{shared_terms, TopicDoc};
use papermap::{MetadataFilter, Paper, PaperMap, ScoredPaper};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::body::body_text;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::Server;

/// Texts one `POST /v1/embed` may carry.
pub const MAX_EMBED_TEXTS: usize = 256;
/// Key terms listed per hit with `why=true`.
const WHY_TERMS: usize = 5;

type Shared = State<Arc<Server>>;

/// `GET /health`: 200 once the library and model are loaded, 503 before.
pub async fn health(State(server): Shared) -> Response {
    match server.loaded() {
        Ok(loaded) => {
            Json(json!({"status": "ready", "papers": loaded.snapshot().map.len()})).into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "loading"})),
        )
            .into_response(),
    }
}

/// `GET /v1/library`: counts, model, precision, index, topics, whether writes are taken.
pub async fn library(
    State(server): Shared,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    Params::parse(raw.as_deref(), &[])?;
    let snapshot = server.loaded()?.snapshot();
    let map = &snapshot.map;
    let model = map.fingerprint();
    let writes = match (&server.options.token, server.options.read_only) {
        (_, true) => "read-only",
        (None, false) => "disabled",
        (Some(_), false) => "token",
    };
    Ok(Json(json!({
        "papers": map.len(),
        "model": model.name,
        "precision": model.precision.to_string(),
        "dimension": model.dimension,
        "index": map.index_kind(),
        "topics": map.topic_table()?.map(|t| t.topics.len()),
        "writes": writes,
        "version": snapshot.version,
        "added_this_session": snapshot.session.len(),
    })))
}

/// `GET /v1/search?q=TEXT&k=10[&where=FIELD=VALUE..][&why=true]`.
pub async fn search(State(server): Shared, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let params = Params::parse(raw.as_deref(), &["q", "k", "where", "why"])?;
    let q = params.one("q")?.map(str::trim).unwrap_or("");
    if q.is_empty() {
        return Err(ApiError::bad_request(
            "query parameter `q` is missing or empty: give the text to search for, e.g. /v1/search?q=protein+design",
        ));
    }
    let k = params.k()?;
    let why = params.flag("why")?;
    let filter = MetadataFilter::parse(params.all("where"))
        .map_err(|e| ApiError::bad_request(format!("query parameter `where`: {e}")))?;
    let loaded = server.loaded()?;
    let vector = loaded.queue.embed(vec![q.to_string()]).await?;
    let snapshot = loaded.snapshot();
    let map = &snapshot.map;
    let hits = map.search_vector(&vector, k, &filter)?;
    let query = why.then(|| TopicDoc {
        id: String::new(),
        title: q.to_string(),
        text: String::new(),
    });
    let hits = hit_answers(map, &server, hits, query.as_ref())?;
    Ok(Json(SearchAnswer { query: q, hits }).into_response())
}

/// `GET /v1/papers/{id}` and `GET /v1/papers/{id}/related?k=10[&why=true]`. Ids may hold `/`
/// (old arXiv ids such as `hep-th/9901001`), as they are or percent-encoded.
pub async fn paper_or_related(
    State(server): Shared,
    Path(rest): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let snapshot = server.loaded()?.snapshot();
    let map = &snapshot.map;
    if let Some(id) = rest.strip_suffix("/related") {
        let params = Params::parse(raw.as_deref(), &["k", "why"])?;
        let (k, why) = (params.k()?, params.flag("why")?);
        let hits = map.related(id, k)?;
        let query = match why {
            true => Some(doc(&known(map, id)?)),
            false => None,
        };
        let hits = hit_answers(map, &server, hits, query.as_ref())?;
        return Ok(Json(RelatedAnswer { id, hits }).into_response());
    }
    Params::parse(raw.as_deref(), &[])?;
    let paper = known(map, &rest)?;
    let mut value = Value::Object(paper.to_json_object());
    let (topic, label) = topic_of(map, &paper.id)?;
    value["topic"] = json!(topic);
    value["topic_label"] = json!(label);
    value["link"] = json!(link(&server, &paper.id, paper.link.as_deref()));
    Ok(Json(value).into_response())
}

/// `GET /v1/topics`: every topic with its label, keywords, size and representative papers.
pub async fn topics(
    State(server): Shared,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    Params::parse(raw.as_deref(), &[])?;
    let snapshot = server.loaded()?.snapshot();
    let Some(model) = snapshot.map.topic_table()? else {
        return Err(ApiError::conflict(
            "no_topics",
            "the library has no topics yet: fit them with `papermap topics LIB` (or `papermap map LIB --html FILE`), then restart the server",
        ));
    };
    let topics: Vec<Value> = model
        .topics
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "label": t.label,
                "size": t.size,
                "keywords": t.keywords.iter().take(10).map(|k| &k.term).collect::<Vec<_>>(),
                "representatives": t.representatives.iter().take(5).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({"topics": topics})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmbedRequest {
    texts: Vec<String>,
}

/// `POST /v1/embed` with `{"texts": [..]}`: the vectors, batched with other callers'.
pub async fn embed(
    State(server): Shared,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body_text(body, server.options.max_body_bytes)?;
    let request: EmbedRequest = serde_json::from_str(&body)
        .map_err(|e| ApiError::bad_request(format!("body: {e}; send {{\"texts\": [\"..\"]}}")))?;
    if request.texts.is_empty() || request.texts.len() > MAX_EMBED_TEXTS {
        return Err(ApiError::bad_request(format!(
            "field `texts` holds {} texts: send 1 to {MAX_EMBED_TEXTS} per request",
            request.texts.len()
        )));
    }
    let loaded = server.loaded()?;
    let n = request.texts.len();
    let dim = loaded.queue.dim();
    let vectors = loaded.queue.embed(request.texts).await?;
    let rows: Vec<&[f32]> = vectors.chunks_exact(dim).collect();
    debug_assert_eq!(rows.len(), n);
    let model = loaded.snapshot().map.fingerprint().clone();
    Ok(Json(json!({
        "model": model.name,
        "precision": model.precision.to_string(),
        "dimension": dim,
        "vectors": rows,
    })))
}

fn known(map: &PaperMap, id: &str) -> Result<Paper, ApiError> {
    map.paper(id)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "no paper with id {id:?} in the library (arXiv ids have no version suffix)"
        ))
    })
}

fn doc(paper: &Paper) -> TopicDoc {
    TopicDoc {
        id: paper.id.clone(),
        title: paper.title.clone(),
        text: paper.abstract_text.clone(),
    }
}

/// A paper's own link, else the server's template where the id is an arXiv id.
fn link(server: &Server, id: &str, own: Option<&str>) -> Option<String> {
    if let Some(link) = own {
        return Some(link.to_string());
    }
    let template = server.options.link_template.as_ref()?;
    papermap::corpus::ArxivId::parse(id)
        .filter(|parsed| parsed.as_str() == id)
        .map(|_| template.replace("{id}", id))
}

/// The topic of `id` and its label; `(None, None)` when the library has no topics.
fn topic_of(map: &PaperMap, id: &str) -> Result<(Option<usize>, Option<String>), ApiError> {
    let Some(model) = map.topic_table()? else {
        return Ok((None, None));
    };
    let topic = map.topic_of(id)?;
    let label = topic
        .and_then(|t| model.topics.get(t))
        .map(|t| t.label.clone());
    Ok((topic, label))
}

/// One hit as the API answers it: the schema of every hit list in one type (search and related),
/// serialised directly rather than built as maps of `serde_json::Value` per request.
#[derive(Serialize)]
struct HitAnswer {
    link: Option<String>,
    id: String,
    title: String,
    /// As f64, the number the answer always carried (an f32 widened).
    score: f64,
    topic: Option<usize>,
    topic_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<Vec<String>>,
}

/// `GET /v1/search`'s answer.
#[derive(Serialize)]
struct SearchAnswer<'a> {
    query: &'a str,
    hits: Vec<HitAnswer>,
}

/// `GET /v1/papers/{id}/related`'s answer.
#[derive(Serialize)]
struct RelatedAnswer<'a> {
    id: &'a str,
    hits: Vec<HitAnswer>,
}

/// Hits with their topic and label, their link, and `why` (the key terms shared with `query`)
/// when one is given.
fn hit_answers(
    map: &PaperMap,
    server: &Server,
    hits: Vec<ScoredPaper>,
    query: Option<&TopicDoc>,
) -> Result<Vec<HitAnswer>, ApiError> {
    let topics = map.topic_table()?;
    hits.into_iter()
        .map(|hit| {
            let (topic, topic_label) = match topics {
                Some(_) => topic_of(map, &hit.id)?,
                None => (None, None),
            };
            let why = match query {
                Some(query) => Some(shared_terms(query, &doc(&known(map, &hit.id)?), WHY_TERMS)),
                None => None,
            };
            Ok(HitAnswer {
                link: link(server, &hit.id, hit.link.as_deref()),
                id: hit.id,
                title: hit.title,
                score: f64::from(hit.score),
                topic,
                topic_label,
                why,
            })
        })
        .collect()
}
