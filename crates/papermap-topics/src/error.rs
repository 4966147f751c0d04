//! The one error type of the crate.

use thiserror::Error;

/// Everything that can go wrong when fitting topics or building a map.
///
/// Each variant names the input at fault and, where there is one, the fix.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TopicError {
    /// The embedding matrix has no rows.
    #[error("embeddings: no documents (0 rows); topics need at least 2 documents")]
    NoDocuments,
    /// The embedding matrix has no columns.
    #[error("embeddings: vectors have 0 dimensions; pass an n x d matrix with d >= 1")]
    ZeroDimensions,
    /// `k = 0` was asked for.
    #[error("config.k = 0: ask for at least 1 topic, or None to choose k automatically")]
    ZeroK,
    /// More topics than documents were asked for.
    #[error("config.k = {k} but there are only {n} documents: k must be at most the number of documents")]
    KTooLarge {
        /// The requested number of topics.
        k: usize,
        /// The number of documents.
        n: usize,
    },
    /// A NaN or infinite value in the input.
    #[error(
        "embeddings: non-finite value ({value}) at row {row}, column {col}; re-embed that document"
    )]
    NonFinite {
        /// Row (document index) of the bad value.
        row: usize,
        /// Column of the bad value.
        col: usize,
        /// The value itself (NaN or ±inf).
        value: f32,
    },
    /// `docs` and the embedding matrix disagree on the number of documents.
    #[error("docs has {docs} entries but embeddings has {rows} rows: pass one TopicDoc per embedding row")]
    DocCountMismatch {
        /// Number of `TopicDoc`s.
        docs: usize,
        /// Number of embedding rows.
        rows: usize,
    },
    /// Vectors of a different width than the model was fitted on.
    #[error("embeddings have {found} dimensions but the topic model was fitted on {expected}: use the same embedder")]
    DimensionMismatch {
        /// Width the model expects.
        expected: usize,
        /// Width that was passed.
        found: usize,
    },
    /// The automatic k search has nothing to search.
    #[error(
        "config.k_range {min}..={max} is empty for {n} documents: silhouette needs 2 <= k < n"
    )]
    EmptyKRange {
        /// Lower end of the range.
        min: usize,
        /// Upper end of the range after clamping to the data.
        max: usize,
        /// The number of documents.
        n: usize,
    },
    /// A configuration value outside its domain.
    #[error("config.{field}: {reason}")]
    InvalidConfig {
        /// The offending field.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// The map was asked for a model fitted on other documents.
    #[error("topic model has {model} assignments but {docs} documents were passed: build the map from the documents the model was fitted on")]
    ModelMismatch {
        /// Number of documents the model knows.
        model: usize,
        /// Number of documents passed to the map.
        docs: usize,
    },
    /// A saved model that this version cannot read.
    #[error("topic model file: {0}")]
    CorruptModel(String),
    /// The reference linfa k-means failed (`reference` feature).
    #[error("linfa k-means: {0}")]
    Linfa(String),
}
