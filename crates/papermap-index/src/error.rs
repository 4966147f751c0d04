//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong when building, searching, saving or opening an index.
///
/// Each variant names the input at fault and, where there is one, the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// A construction or search parameter is out of range.
    #[error("invalid parameter {name} = {value}: {fix}")]
    InvalidParameter {
        /// Parameter name, e.g. `m`.
        name: &'static str,
        /// The rejected value.
        value: String,
        /// What an acceptable value looks like.
        fix: &'static str,
    },
    /// A vector's length differs from the index dimension.
    #[error("{subject} has {got} dimensions but the index has {expected}; embed it with the same model as the index")]
    DimensionMismatch {
        /// Which input: `key "…"` or `query`.
        subject: String,
        /// The index dimension.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
    /// A vector holds NaN or infinity.
    #[error("{subject} has a non-finite value at position {position}; check the embedding step")]
    NonFinite {
        /// Which input: `key "…"` or `query`.
        subject: String,
        /// Index of the first bad component.
        position: usize,
    },
    /// A vector is not unit length, so its dot products are not cosine similarities.
    #[error("{subject} has L2 norm {norm} but must have norm 1; normalise it first (papermap_index::l2_normalize)")]
    NotNormalized {
        /// Which input: `key "…"` or `query`.
        subject: String,
        /// Its actual norm.
        norm: f32,
    },
    /// `add` was given a key the index already holds.
    #[error("key {key:?} is already in the index; use upsert to replace its vector")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// A batch has a number of rows that does not match its keys.
    #[error("batch has {keys} keys but {values} values; expected keys × dim = {expected} values")]
    BatchShape {
        /// Number of keys.
        keys: usize,
        /// Number of f32 values in the row buffer.
        values: usize,
        /// keys × dim.
        expected: usize,
    },
    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file the manifest lists, or the manifest itself, is absent.
    #[error(
        "index file {path} is missing; the index directory is incomplete, rebuild or restore it"
    )]
    MissingFile {
        /// The missing file.
        path: PathBuf,
    },
    /// A file is shorter or longer than the manifest records.
    #[error("index file {path} has {got} bytes but the manifest records {expected}; it was truncated or replaced, rebuild the index")]
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// Size recorded in the manifest.
        expected: u64,
        /// Size on disk.
        got: u64,
    },
    /// A file's SHA-256 differs from the manifest.
    #[error("index file {path} is corrupt: sha256 {got} differs from {expected} in the manifest; rebuild the index")]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// Digest recorded in the manifest.
        expected: String,
        /// Digest of the file on disk.
        got: String,
    },
    /// The index was written by a newer (or foreign) format.
    #[error("index at {dir} has format version {found}; this build reads versions up to {supported}, upgrade papermap-index")]
    UnsupportedVersion {
        /// The index directory.
        dir: PathBuf,
        /// Version in the manifest.
        found: u32,
        /// Highest version this build reads.
        supported: u32,
    },
    /// The index was built with different embeddings than the caller expects.
    #[error("index at {dir} was built for {found:?} but the caller expects {expected:?}; rebuild the index with the current model")]
    FingerprintMismatch {
        /// The index directory.
        dir: PathBuf,
        /// Fingerprint the caller expects.
        expected: String,
        /// Fingerprint in the manifest.
        found: String,
    },
    /// The index holds vectors of another dimension than the caller expects.
    #[error("index at {dir} holds {found}-dimensional vectors but the caller expects {expected}; rebuild the index with the current model")]
    DimensionChanged {
        /// The index directory.
        dir: PathBuf,
        /// Dimension the caller expects.
        expected: usize,
        /// Dimension in the manifest.
        found: usize,
    },
    /// The directory holds another kind of index than the one asked for.
    #[error("index at {dir} is a {found} index, not {expected}; open it with VectorIndex::open")]
    KindMismatch {
        /// The index directory.
        dir: PathBuf,
        /// Kind asked for.
        expected: &'static str,
        /// Kind in the manifest.
        found: String,
    },
    /// A save was pointed at a directory holding files papermap-index did not write there (or a
    /// library): its cleanup could delete them.
    #[error("{dir} holds files papermap-index did not write there; save the index to an empty or new directory")]
    Foreign {
        /// The directory.
        dir: PathBuf,
    },
    /// A file passed its checksum but its content is inconsistent (or is not ours at all).
    #[error("index file {path} is not a valid papermap index: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Bytes that are not a papermap graph file this build can open, or a graph that does
    /// not belong to the vectors it is searched with.
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
}

/// Shorthand for results of this crate.
pub type Result<T, E = IndexError> = std::result::Result<T, E>;

impl IndexError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> IndexError {
        let path = path.into();
        move |source| IndexError::Io { path, source }
    }
}

/// The file layer's errors read as the index's own.
impl From<papermap_store::StoreError> for IndexError {
    fn from(e: papermap_store::StoreError) -> Self {
        match e {
            papermap_store::StoreError::Io { path, source } => IndexError::Io { path, source },
            papermap_store::StoreError::Corrupt { path, detail } => {
                IndexError::Corrupt { path, detail }
            }
            papermap_store::StoreError::Foreign { dir } => IndexError::Foreign { dir },
            papermap_store::StoreError::UnsupportedVersion {
                dir,
                found,
                supported,
            } => IndexError::UnsupportedVersion {
                dir,
                found,
                supported,
            },
            // Index saves name no expected generation; should a caller ever do so, say what happened.
            e @ papermap_store::StoreError::Conflict { .. } => IndexError::Corrupt {
                path: match &e {
                    papermap_store::StoreError::Conflict { dir, .. } => dir.clone(),
                    _ => unreachable!(),
                },
                detail: e.to_string(),
            },
        }
    }
}
