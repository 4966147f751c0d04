//! The paper record every reader produces.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ArxivId;

/// Prefix of ids made from a paper's content when it has no arXiv id.
pub const CONTENT_ID_PREFIX: &str = "sha256:";

/// Number of hex digits of the SHA-256 kept in a content id (64 bits).
const CONTENT_ID_HEX_DIGITS: usize = 16;

/// One paper: what papermap embeds, indexes and shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paper {
    /// The arXiv id without version (`2502.08279`, `hep-th/0101001`) when known, an id given
    /// by the source otherwise, else a content id (`sha256:` + 16 hex digits, see
    /// [`Paper::content_id`]).
    pub id: String,
    /// The title, on one line.
    pub title: String,
    /// The English abstract; paragraphs are separated by a single `\n`.
    #[serde(rename = "abstract")]
    pub abstract_text: String,
    /// Author names in the source's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    /// Where the paper can be read (PDF or abstract page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// A translated title, as given by the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_translated: Option<String>,
    /// A translated abstract, as given by the source; digests sometimes give only a one-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abstract_translated: Option<String>,
    /// Free metadata: `year`, `categories`, `label`, and any field a reader did not map.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl Paper {
    /// A paper with a content id and no optional fields; title and abstract are normalised
    /// with [`normalize_title`] and [`normalize_abstract`].
    pub fn new(title: &str, abstract_text: &str) -> Paper {
        let title = normalize_title(title);
        let abstract_text = normalize_abstract(abstract_text);
        Paper {
            id: Paper::content_id(&title, &abstract_text),
            title,
            abstract_text,
            authors: Vec::new(),
            link: None,
            title_translated: None,
            abstract_translated: None,
            metadata: BTreeMap::new(),
        }
    }

    /// The text to embed: `title + ". " + abstract`, the convention of the reference vectors.
    ///
    /// If either part is empty the other one is returned alone, without the separator.
    pub fn embedding_text(&self) -> String {
        join_embedding_text(&self.title, &self.abstract_text)
    }

    /// SHA-256 of [`Paper::embedding_text`] in lowercase hex: changes exactly when the
    /// embedded text does, so it can key an embedding cache.
    pub fn text_hash(&self) -> String {
        hex::encode(self.text_digest())
    }

    /// The SHA-256 of [`Paper::embedding_text`] as bytes ([`Paper::text_hash`] is its hex form).
    pub fn text_digest(&self) -> [u8; 32] {
        Sha256::digest(self.embedding_text().as_bytes()).into()
    }

    /// The id of a paper without an arXiv id: `sha256:` followed by the first 16 hex digits
    /// of the SHA-256 of its embedding text. Stable across runs and machines.
    pub fn content_id(title: &str, abstract_text: &str) -> String {
        let digest = Sha256::digest(join_embedding_text(title, abstract_text).as_bytes());
        let hex = hex::encode(digest);
        format!("{CONTENT_ID_PREFIX}{}", &hex[..CONTENT_ID_HEX_DIGITS])
    }

    /// The paper as one JSON Lines object in papermap's own form: the named fields, with the
    /// metadata flattened beside them (a named field wins over a metadata key of its name).
    /// [`parse_jsonl`](crate::parse_jsonl) reads it back to the same paper, so tools that hand
    /// papers to other processes (`papermap export`, the Spark job) never change ids or texts.
    pub fn to_json_object(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut object = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(named)) => named,
            _ => serde_json::Map::new(),
        };
        object.remove("metadata");
        for (key, value) in &self.metadata {
            if !object.contains_key(key) {
                object.insert(key.clone(), value.clone());
            }
        }
        object
    }

    /// The paper's arXiv id, if its id is one.
    pub fn arxiv_id(&self) -> Option<ArxivId> {
        ArxivId::parse(&self.id).filter(|parsed| parsed.as_str() == self.id)
    }
}

fn join_embedding_text(title: &str, abstract_text: &str) -> String {
    match (title.is_empty(), abstract_text.is_empty()) {
        (false, false) => format!("{title}. {abstract_text}"),
        (true, _) => abstract_text.to_string(),
        (false, true) => title.to_string(),
    }
}

/// Lines trimmed, blank lines dropped, the rest joined with `\n`: the form of the reference
/// vectors' texts, which keeps every paragraph of a multi-paragraph abstract.
pub fn normalize_abstract(text: &str) -> String {
    join_trimmed_lines(text, "\n")
}

/// Lines trimmed, blank lines dropped, the rest joined with one space.
pub fn normalize_title(text: &str) -> String {
    join_trimmed_lines(text, " ")
}

fn join_trimmed_lines(text: &str, separator: &str) -> String {
    let mut joined = String::with_capacity(text.len());
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        if !joined.is_empty() {
            joined.push_str(separator);
        }
        joined.push_str(line);
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_text_joins_title_and_abstract() {
        let paper = Paper::new("  A Title ", "First paragraph.  \n\n  Second paragraph.\n");
        assert_eq!(
            paper.embedding_text(),
            "A Title. First paragraph.\nSecond paragraph."
        );
        assert_eq!(Paper::new("Only title", "").embedding_text(), "Only title");
        assert_eq!(
            Paper::new("", "Only abstract").embedding_text(),
            "Only abstract"
        );
    }

    #[test]
    fn content_id_is_stable_and_content_sensitive() {
        let a = Paper::new("Title", "Abstract.");
        assert_eq!(a.id, Paper::new("Title", "Abstract.").id);
        assert_ne!(a.id, Paper::new("Title", "Abstract!").id);
        assert!(a.id.starts_with(CONTENT_ID_PREFIX));
        assert_eq!(a.id.len(), CONTENT_ID_PREFIX.len() + 16);
        // The id is a prefix of the full text hash.
        assert!(a.text_hash().starts_with(&a.id[CONTENT_ID_PREFIX.len()..]));
        assert_eq!(a.text_hash().len(), 64);
        assert_eq!(a.arxiv_id(), None);
    }

    #[test]
    fn json_object_reads_back_as_the_same_paper() {
        let mut paper = Paper::new("A title", "First paragraph.\nSecond one.");
        paper.id = "2502.08279".into();
        paper.authors = vec!["Ada Lovelace".into(), "Alan Turing".into()];
        paper.link = Some("https://arxiv.org/abs/2502.08279".into());
        paper.abstract_translated = Some("Resumen.".into());
        paper.metadata.insert("year".into(), 2025.into());
        paper.metadata.insert("label".into(), "cs.CL".into());
        let object = paper.to_json_object();
        assert_eq!(object["label"], "cs.CL");
        assert!(object.get("metadata").is_none());
        let line = serde_json::to_vec(&object).unwrap();
        let report =
            crate::parse_jsonl(&line, std::path::Path::new("x.jsonl"), &Default::default());
        assert_eq!(report.papers(), &[paper]);
        assert!(report.diagnostics().is_empty());
        assert_eq!(report.embedding(0), None);
    }

    #[test]
    fn serde_round_trip_uses_plain_field_names() {
        let mut paper = Paper::new("T", "A");
        paper.id = "2502.08279".into();
        paper.authors = vec!["Ada".into()];
        paper.metadata.insert("year".into(), 2025.into());
        let json = serde_json::to_value(&paper).unwrap();
        assert_eq!(json["abstract"], "A");
        assert!(json.get("link").is_none());
        let back: Paper = serde_json::from_value(json).unwrap();
        assert_eq!(back, paper);
        assert_eq!(back.arxiv_id().unwrap().as_str(), "2502.08279");
    }
}
