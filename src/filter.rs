//! Metadata filters for search: `year=2025`, `label_top=cs`, `categories=cs.CL`.

use serde_json::Value;

use papermap_corpus::Paper;

/// A conjunction of `field = value` conditions on [`Paper::metadata`].
///
/// A condition holds when the field equals the value, or when the field is an array that
/// contains it. Values compare as text, so `year=2025` matches both `2025` and `"2025"`.
/// An empty filter accepts every paper.
///
/// ```
/// use papermap::{MetadataFilter, Paper};
///
/// let mut paper = Paper::new("Title", "Abstract.");
/// paper.metadata.insert("categories".into(), serde_json::json!(["cs.CL", "cs.LG"]));
/// paper.metadata.insert("year".into(), serde_json::json!(2025));
/// assert!(MetadataFilter::new().eq("categories", "cs.LG").eq("year", "2025").matches(&paper));
/// assert!(!MetadataFilter::new().eq("year", "2024").matches(&paper));
/// assert!(MetadataFilter::parse(["year=2025"]).unwrap().matches(&paper));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataFilter {
    conditions: Vec<(String, String)>,
}

impl MetadataFilter {
    /// A filter that accepts everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the condition `field = value`.
    pub fn eq(mut self, field: impl Into<String>, value: impl Into<String>) -> Self {
        self.conditions.push((field.into(), value.into()));
        self
    }

    /// Parses `field=value` strings (as given to `papermap search --where`).
    pub fn parse<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Result<Self, String> {
        items.into_iter().try_fold(Self::new(), |filter, item| {
            let item = item.as_ref();
            match item.split_once('=') {
                Some((field, value)) if !field.trim().is_empty() => {
                    Ok(filter.eq(field.trim(), value.trim()))
                }
                _ => Err(format!(
                    "filter {item:?} is not FIELD=VALUE (e.g. year=2025 or categories=cs.CL)"
                )),
            }
        })
    }

    /// Whether the filter has no conditions.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// Whether `paper` meets every condition.
    pub fn matches(&self, paper: &Paper) -> bool {
        self.conditions
            .iter()
            .all(|(field, value)| paper.metadata.get(field).is_some_and(|v| holds(v, value)))
    }
}

fn holds(field: &Value, value: &str) -> bool {
    match field {
        Value::String(s) => s == value,
        Value::Number(n) => n.to_string() == value,
        Value::Bool(b) => b.to_string() == value,
        Value::Array(items) => items.iter().any(|item| holds(item, value)),
        Value::Null | Value::Object(_) => false,
    }
}
