//! Paper records and corpus readers for papermap.
//!
//! A [`Paper`] carries an id (the arXiv id when known, else a stable content hash), title,
//! abstract, authors, link, optional translations and free metadata. Its
//! [`Paper::embedding_text`] is `title + ". " + abstract`, the text the reference vectors embed.
//!
//! Readers turn arXiv digest markdown ([`parse_digest`]), JSON Lines ([`parse_jsonl`]) and
//! directories of such files ([`read_path`]) into a [`LoadReport`]: the papers, each id once,
//! and a [`Diagnostic`] (file, line, reason) for every entry skipped. Bad input never panics
//! and never stops the rest of a file from loading.
//!
//! ```
//! use std::path::Path;
//! use papermap_corpus::{parse_digest, DiagnosticKind};
//!
//! let digest = [
//!     "# Summarizing Talks",
//!     "**Authors**: Ada Lovelace, Alan Turing",
//!     "**Link**: [PDF](https://arxiv.org/pdf/2502.08279v2)",
//!     "**Abstract**: We summarize recorded talks.",
//!     "",
//!     "A second paragraph.",
//!     "---",
//!     "# An Entry Without Abstract",
//!     "**Authors**: Nobody",
//! ]
//! .join("\n");
//! let report = parse_digest(&digest, Path::new("digest.md"));
//! let [paper] = report.papers() else { panic!("one paper expected") };
//! assert_eq!(paper.id, "2502.08279");
//! assert_eq!(paper.authors, ["Ada Lovelace", "Alan Turing"]);
//! assert_eq!(
//!     paper.embedding_text(),
//!     "Summarizing Talks. We summarize recorded talks.\nA second paragraph."
//! );
//! let [skipped] = report.diagnostics() else { panic!("one diagnostic expected") };
//! assert_eq!((skipped.line, skipped.kind), (8, DiagnosticKind::SkippedEntry));
//! assert_eq!(
//!     skipped.to_string(),
//!     "digest.md:8: entry \"An Entry Without Abstract\" has no `**Abstract**:` text; skipped"
//! );
//! ```

mod arxiv_id;
mod digest;
mod error;
mod fingerprint;
mod jsonl;
mod paper;
mod report;
mod source;

pub use arxiv_id::ArxivId;
pub use digest::parse_digest;
pub use error::CorpusError;
pub use fingerprint::{ModelFingerprint, Precision};
pub use jsonl::{parse_jsonl, JsonlFields};
pub use paper::{normalize_abstract, normalize_title, Paper, CONTENT_ID_PREFIX};
pub use report::{Diagnostic, DiagnosticKind, Entries, LoadReport};
pub use source::{read_dir, read_path, read_path_with, read_paths, Format, ReadOptions};
