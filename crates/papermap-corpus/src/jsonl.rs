//! The JSON Lines reader: one paper object per line, field names configurable.

use std::path::Path;

use serde_json::{Map, Value};

use crate::paper::{normalize_abstract, normalize_title};
use crate::{ArxivId, DiagnosticKind, LoadReport, Paper};

/// Which JSON fields hold which paper field. Every other field of an object goes into
/// [`Paper::metadata`] unchanged (e.g. `label`, `label_top`, `categories`).
///
/// The defaults read papermap's own field names, which are also those of the labelled arXiv
/// file (`id`, `title`, `abstract`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonlFields {
    /// The paper's id (string or number); an arXiv id in any form is normalised.
    pub id: String,
    /// The title (string, required).
    pub title: String,
    /// The English abstract (string, required).
    pub abstract_text: String,
    /// Authors: an array of strings, or one string separated by commas or semicolons.
    pub authors: String,
    /// A URL; also a source of the arXiv id when the id field is absent.
    pub link: String,
    /// A translated title.
    pub title_translated: String,
    /// A translated abstract.
    pub abstract_translated: String,
    /// A vector computed for the paper (array of numbers, what `papermap embed` writes); kept
    /// beside the paper (see [`LoadReport::embedding`]), never in its metadata.
    pub embedding: String,
}

impl Default for JsonlFields {
    fn default() -> JsonlFields {
        JsonlFields {
            id: "id".into(),
            title: "title".into(),
            abstract_text: "abstract".into(),
            authors: "authors".into(),
            link: "link".into(),
            title_translated: "title_translated".into(),
            abstract_translated: "abstract_translated".into(),
            embedding: "embedding".into(),
        }
    }
}

/// Reads JSON Lines held in memory; `file` only labels diagnostics.
///
/// Never fails and never panics: a line that is not a JSON object, lacks a title or an
/// abstract, or has a field of the wrong type is reported and skipped; the others load.
/// Blank lines are ignored.
pub fn parse_jsonl(bytes: &[u8], file: &Path, fields: &JsonlFields) -> LoadReport {
    parse_jsonl_keeping(bytes, file, fields, false)
}

/// [`parse_jsonl`]; with `keep_title_only`, an object with a title but no abstract loads (its
/// text is its title) with a [`DiagnosticKind::TitleOnly`] note instead of being skipped.
pub(crate) fn parse_jsonl_keeping(
    bytes: &[u8],
    file: &Path,
    fields: &JsonlFields,
    keep_title_only: bool,
) -> LoadReport {
    let mut report = LoadReport::new();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.trim_ascii_start().starts_with(b"[") {
        let reason = "this is a JSON array; papermap reads JSON Lines (one object per line): \
                      convert it with `jq -c '.[]'`";
        report.report(file, 1, DiagnosticKind::UnsupportedFile, reason);
        return report;
    }
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let number = index + 1;
        match read_object(line, fields, keep_title_only) {
            Ok((paper, embedding)) => {
                if paper.abstract_text.is_empty() {
                    let reason = format!(
                        "\"{}\" has no `{}` text (the abstract field); read on its title alone",
                        paper.title, fields.abstract_text
                    );
                    report.report(file, number, DiagnosticKind::TitleOnly, reason);
                }
                report.push_paper_with_embedding(paper, embedding, file, number);
            }
            Err(Skip::Embedding(reason)) => report.report(
                file,
                number,
                DiagnosticKind::BadEmbedding,
                reason + "; skipped",
            ),
            Err(Skip::Entry(reason)) => report.report(
                file,
                number,
                DiagnosticKind::SkippedEntry,
                reason + "; skipped",
            ),
        }
    }
    report
}

/// Why an entry was skipped.
enum Skip {
    Entry(String),
    Embedding(String),
}

impl From<String> for Skip {
    fn from(reason: String) -> Skip {
        Skip::Entry(reason)
    }
}

fn read_object(
    line: &[u8],
    fields: &JsonlFields,
    keep_title_only: bool,
) -> Result<(Paper, Option<Vec<f32>>), Skip> {
    let value: Value =
        serde_json::from_slice(line).map_err(|err| format!("not valid JSON ({err})"))?;
    let Value::Object(mut object) = value else {
        return Err(Skip::Entry(format!(
            "expected a JSON object, found {}",
            type_name(&value)
        )));
    };
    let embedding = take_embedding(&mut object, &fields.embedding).map_err(Skip::Embedding)?;

    let title = take_text(&mut object, &fields.title)?.map(|t| normalize_title(&t));
    let abstract_text =
        take_text(&mut object, &fields.abstract_text)?.map(|a| normalize_abstract(&a));
    let (title, abstract_text) = match (title, abstract_text) {
        (Some(title), Some(abstract_text)) if !title.is_empty() && !abstract_text.is_empty() => {
            (title, abstract_text)
        }
        (Some(title), _) if !title.is_empty() && keep_title_only => (title, String::new()),
        (Some(title), _) if !title.is_empty() => {
            return Err(Skip::Entry(format!(
                "\"{title}\" has no `{}` text (the abstract field)",
                fields.abstract_text
            )))
        }
        _ => {
            return Err(Skip::Entry(format!(
                "no `{}` text (the title field)",
                fields.title
            )))
        }
    };

    let mut paper = Paper::new(&title, &abstract_text);
    let given_id = match object.remove(&fields.id) {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.trim().to_string()).filter(|id| !id.is_empty()),
        Some(Value::Number(id)) => Some(id.to_string()),
        Some(other) => {
            return Err(Skip::Entry(format!(
                "field `{}` (the id) must be a string or number, found {}",
                fields.id,
                type_name(&other)
            )))
        }
    };
    paper.link = take_text(&mut object, &fields.link)?.filter(|link| !link.trim().is_empty());
    paper.authors = take_authors(&mut object, &fields.authors)?;
    paper.title_translated =
        take_text(&mut object, &fields.title_translated)?.filter(|t| !t.is_empty());
    paper.abstract_translated =
        take_text(&mut object, &fields.abstract_translated)?.filter(|t| !t.is_empty());

    let arxiv_id = match &given_id {
        Some(id) => ArxivId::parse(id),
        None => paper.link.as_deref().and_then(ArxivId::parse),
    };
    if let Some(id) = arxiv_id.as_ref().map(ToString::to_string).or(given_id) {
        paper.id = id;
    }

    // Mapped fields were removed above: whatever is left is metadata.
    paper.metadata.extend(object);
    if let Some(id) = arxiv_id {
        paper
            .metadata
            .entry("year".to_string())
            .or_insert_with(|| id.year().into());
    }
    Ok((paper, embedding))
}

/// Removes the embedding field: `Ok(None)` when absent or null, an error unless it is a
/// non-empty array of numbers that fit an `f32`.
fn take_embedding(object: &mut Map<String, Value>, name: &str) -> Result<Option<Vec<f32>>, String> {
    let items = match object.remove(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(other) => {
            return Err(format!(
                "field `{name}` must be a non-empty array of numbers, found {}",
                type_name(&other)
            ))
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item.as_f64().map(|x| x as f32) {
            Some(x) if x.is_finite() => Ok(x),
            _ => Err(format!(
                "field `{name}`: value {i} is {item}, not a finite 32-bit number"
            )),
        })
        .collect::<Result<Vec<f32>, String>>()
        .map(Some)
}

/// Removes a string field; `Ok(None)` when absent or null.
fn take_text(object: &mut Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match object.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(format!(
            "field `{name}` must be a string, found {}",
            type_name(&other)
        )),
    }
}

fn take_authors(object: &mut Map<String, Value>, name: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = match object.remove(name) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => text.split([',', ';']).map(str::to_string).collect(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(author) => Ok(author),
                other => Err(format!(
                    "field `{name}` must hold strings, found {}",
                    type_name(&other)
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "field `{name}` must be a string or an array of strings, found {}",
                type_name(&other)
            ))
        }
    };
    Ok(names
        .iter()
        .map(|author| normalize_title(author))
        .filter(|author| !author.is_empty())
        .collect())
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
