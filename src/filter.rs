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

    /// The `(field, value)` conditions, all of which must hold.
    pub(crate) fn conditions(&self) -> &[(String, String)] {
        &self.conditions
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

/// Every `(field, value)` term a condition can match on `paper`, the rule of [`holds`]: a
/// string, number or boolean as text, each element of an array (nested ones too).
pub(crate) fn paper_terms(paper: &Paper) -> impl Iterator<Item = (&str, String)> {
    fn walk(field: &Value, out: &mut Vec<String>) {
        match field {
            Value::String(s) => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            Value::Bool(b) => out.push(b.to_string()),
            Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            Value::Null | Value::Object(_) => {}
        }
    }
    paper.metadata.iter().flat_map(|(name, field)| {
        let mut values = Vec::new();
        walk(field, &mut values);
        values.into_iter().map(move |v| (name.as_str(), v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The column's terms are exactly what `matches` accepts.
    #[test]
    fn a_paper_matches_each_of_its_terms_and_no_other_value() {
        let mut paper = Paper::new("T", "A.");
        paper
            .metadata
            .insert("categories".into(), serde_json::json!(["cs.CL", ["cs.LG"]]));
        paper
            .metadata
            .insert("year".into(), serde_json::json!(2025));
        paper
            .metadata
            .insert("open".into(), serde_json::json!(true));
        paper
            .metadata
            .insert("extra".into(), serde_json::json!({"a": 1}));
        let terms: Vec<(&str, String)> = paper_terms(&paper).collect();
        assert_eq!(terms.len(), 4, "{terms:?}");
        for (field, value) in &terms {
            assert!(MetadataFilter::new()
                .eq(*field, value.as_str())
                .matches(&paper));
        }
        assert!(!MetadataFilter::new().eq("year", "2024").matches(&paper));
    }
}
