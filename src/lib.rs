//! papermap: find related papers and draw topic maps from paper abstracts.
//!
//! A [`PaperMap`] holds papers, their sentence embeddings (all-MiniLM-L6-v2 by default), a
//! nearest-neighbour index and topics. Build one, add papers, ask what is related, search by
//! free text, fit topics, and save it to a library directory that [`PaperMap::open`] reads back:
//!
#![cfg_attr(feature = "embed", doc = "```")]
// Without the model (the bring-your-own-vectors build) the example cannot embed: shown, not run.
#![cfg_attr(not(feature = "embed"), doc = "```ignore")]
//! use papermap::{Paper, PaperMap};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut map = PaperMap::builder().model("all-MiniLM-L6-v2").build()?;
//! let report = map.add_papers([
//!     Paper::new("Summarizing recorded talks", "We turn videos of scientific talks into short text summaries."),
//!     Paper::new("Protein structure prediction", "A deep network predicts how amino-acid chains fold."),
//!     Paper::new("Lecture transcription", "Speech recognition for long classroom recordings."),
//! ])?;
//! assert_eq!(report.embedded, 3);
//!
//! let hits = map.search("summaries of conference presentations", 2)?;
//! assert_eq!(hits[0].title, "Summarizing recorded talks");
//!
//! let talk = &hits[0].id;
//! let related = map.related(talk, 2)?;
//! assert!(related.iter().all(|hit| &hit.id != talk));
//! assert_eq!(related[0].title, "Lecture transcription");
//!
//! let dir = tempfile::tempdir()?;
//! map.save(dir.path())?;
//! let reopened = PaperMap::open(dir.path())?;
//! assert_eq!(reopened.related(talk, 2)?, related);
//! # Ok(())
//! # }
//! ```
//!
//! # Pieces
//!
//! - [`corpus`]: [`Paper`] and the readers of arXiv digest markdown, JSON Lines and directories.
//! - [`embed`] (feature `embed`, on by default): the candle sentence-transformer. Without it
//!   (`default-features = false`), bring your own vectors: describe their model with
//!   [`PaperMapBuilder::fingerprint`], then [`PaperMap::add_embedded`] and
//!   [`PaperMap::search_vector`].
//! - [`index`]: exact and HNSW nearest-neighbour search. A library uses the exact index below
//!   [`DEFAULT_HNSW_THRESHOLD`] papers and HNSW from there on.
//! - [`topics`]: k-means topics with keywords and labels.
//!
//! # The library directory
//!
//! Format 2, laid out as tantivy lays out an index: immutable segments and a manifest.
//! `manifest.json` records the format version, the model's fingerprint, and each segment's files
//! with their sizes and xxh3 checksums. A segment holds its papers (`.papers`: JSON records read
//! one at a time through an offset table), their ids sorted for lookup and their text hashes
//! (`.keys`), the vectors (`.npy`, which `numpy.load(path, mmap_mode="r")` reads) and a
//! bitset of removed rows (`.deletes`). Opening maps the files and checks their sizes, headers
//! and footers, so it takes milliseconds at any size; [`PaperMap::check`] reads every byte. A
//! save writes only what changed (a segment of the new papers, the removals, the topics), then
//! swaps the manifest atomically: a process killed mid-save leaves the previous state openable.
//! Segments of similar size are merged as they pile up. Libraries of format 1 open, and their
//! next save upgrades them. Opening refuses a library of another model.
#![warn(missing_docs)]

mod builder;
#[cfg(feature = "embed")]
mod embedding;
mod error;
mod filter;
mod library;
mod library_digest_map;
#[cfg(feature = "embed")]
mod library_embed;
mod library_eval;
mod library_filter;
mod library_map;
mod library_rank;
mod library_topics;
mod library_write;
mod origin;
mod rank_model;
mod store;

pub use builder::{PaperMapBuilder, DEFAULT_HNSW_THRESHOLD, DEFAULT_SEGMENT_GRAPH_ROWS};
pub use error::{PaperMapError, Result};
pub use filter::MetadataFilter;
pub use library::{AddReport, PaperMap, ScoredPaper};
pub use library_eval::{
    LabelMiss, LabelScores, LabelTest, Stability, TopicEvalOptions, TopicEvaluation,
};
pub use library_map::library_title;
pub use library_rank::{
    Profile, Ranked, Ranking, BACKGROUND_WEIGHT, DISLIKE_WEIGHT, PROFILE_NEIGHBOURS,
};
pub use library_write::SAVE_RETRIES;
pub use papermap_corpus::{ModelFingerprint, Precision};
pub use store::{FORMAT_VERSION, MANIFEST_FILE};

pub use papermap_corpus as corpus;
pub use papermap_corpus::{read_path, read_paths, Diagnostic, LoadReport, Paper};
#[cfg(feature = "embed")]
pub use papermap_embed as embed;
pub use papermap_index as index;
pub use papermap_index::HnswParams;
pub use papermap_topics as topics;
pub use papermap_topics::{
    MapConfig, NeighbourGraph, Topic, TopicConfig, TopicGroup, TopicMap, TopicModel,
};
pub use papermap_topics::{Progress as TopicProgress, Stage as TopicStage};
