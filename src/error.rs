//! The one error type of the pipeline.

use std::path::PathBuf;

/// Everything that can go wrong while building, querying, saving or opening a [`crate::PaperMap`].
///
/// Each message names the input at fault and, where there is one, the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PaperMapError {
    /// Loading or running the embedding model failed.
    #[cfg(feature = "embed")]
    #[error(transparent)]
    Embed(#[from] papermap_embed::EmbedError),
    /// The vector index refused an operation or a file.
    #[error(transparent)]
    Index(#[from] papermap_index::IndexError),
    /// Fitting topics failed.
    #[error(transparent)]
    Topics(#[from] papermap_topics::TopicError),
    /// The directory holds no library manifest.
    #[error("{}: not a papermap library (no {} in it); build one with `papermap index INPUT --out {}`", dir.display(), crate::store::MANIFEST_FILE, dir.display())]
    NotALibrary {
        /// The directory given.
        dir: PathBuf,
    },
    /// Saving would overwrite a directory that holds something other than a papermap library.
    #[error("{}: exists and is not a papermap library; refusing to write into it, pick an empty or new directory", dir.display())]
    NotEmpty {
        /// The directory given.
        dir: PathBuf,
    },
    /// The library was built with another model than the one asked for.
    #[error("library {} was built with model {library} but {requested} was asked for; open it without choosing a model, or rebuild it into a new directory with the new model", dir.display())]
    ModelMismatch {
        /// The library directory.
        dir: PathBuf,
        /// The model that built the library.
        library: String,
        /// The model the caller asked for.
        requested: String,
    },
    /// Another writer saved the library after this map was opened from it; saving would drop
    /// that writer's changes.
    #[error("library {} changed since it was opened (generation {opened}, now {found}): another process saved it; nothing was written; call PaperMap::rebase (it keeps this map's vectors) or open it again and repeat the change, then save", dir.display())]
    Conflict {
        /// The library directory.
        dir: PathBuf,
        /// The generation this map was opened at (or last saved as).
        opened: u64,
        /// The generation the directory holds now (0: no library).
        found: u64,
    },
    /// A library file is missing, truncated, fails its checksum or does not parse.
    #[error("library file {} is damaged: {detail}; restore the directory from a backup or rebuild it with `papermap index`", path.display())]
    Corrupt {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The library was written by a newer papermap.
    #[error("library {} has format version {found}; this build reads versions up to {supported}: upgrade papermap", dir.display())]
    UnsupportedVersion {
        /// The library directory.
        dir: PathBuf,
        /// Version in the manifest.
        found: u32,
        /// Highest version this build reads.
        supported: u32,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// No paper of that id is in the library.
    #[error("no paper with id {id:?} in the library; list ids with `papermap search` or check the spelling (arXiv ids have no version suffix)")]
    UnknownId {
        /// The id asked for.
        id: String,
    },
    /// The operation needs papers but the library has none.
    #[error("the library holds no papers; add some first (`papermap index INPUT --out DIR`)")]
    EmptyLibrary,
    /// A digest to rank holds no papers.
    #[error("the digest holds no papers: give a digest file with at least one entry")]
    EmptyDigest,
    /// None of a profile's liked ids is in the library.
    #[error("the profile is empty: none of its liked ids is in the library ({}); give ids of library papers, or no liked ids to rank against the whole library", unknown.join(", "))]
    EmptyProfile {
        /// The liked ids the library does not hold.
        unknown: Vec<String>,
    },
    /// A topic map was asked for before topics were fitted.
    #[error("the library has no topics yet (or its papers changed since): fit them first (`PaperMap::topics`, `papermap topics DIR`)")]
    NoTopics,
    /// A map of today's papers was asked for, but the library keeps no laid-out map to place
    /// them on.
    #[error("the library keeps no map yet: lay one out once with `papermap map LIB --html FILE` (`PaperMap::place_map` and a save); today's papers are then placed on it, never a new layout")]
    NoKeptMap,
    /// Free text was given but this map cannot embed it.
    #[error("cannot embed text: {reason}")]
    NoEmbedder {
        /// Why no embedder is available.
        reason: String,
    },
    /// Precomputed vectors do not fit the papers or the model.
    #[error("{papers} papers with {values} vector values: expected {papers} x {dim} = {} values (dimension of model {model})", papers * dim)]
    VectorShape {
        /// Papers given.
        papers: usize,
        /// f32 values given.
        values: usize,
        /// The model's dimension.
        dim: usize,
        /// The model's name.
        model: String,
    },
    /// A precomputed vector cannot be normalised (zero or non-finite).
    #[error("vector of paper {id:?} is {reason}; embeddings must be finite and non-zero")]
    BadVector {
        /// The paper.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A paper cannot be stored as given.
    #[error("paper {id:?} {reason}; fix or drop that paper")]
    BadPaper {
        /// The paper.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A metadata field asked for (e.g. a label to score topics against) that no paper has.
    #[error("no paper of the library has the metadata field {field:?}; fields the papers have: {}", if seen.is_empty() { "none".to_string() } else { seen.join(", ") })]
    NoSuchField {
        /// The field asked for.
        field: String,
        /// Fields that papers do have (a sample, sorted).
        seen: Vec<String>,
    },
    /// A builder setting is out of range or missing.
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
}

/// Result alias for this crate.
pub type Result<T, E = PaperMapError> = std::result::Result<T, E>;

impl PaperMapError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> PaperMapError {
        let path = path.into();
        move |source| PaperMapError::Io { path, source }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, detail: impl Into<String>) -> PaperMapError {
        PaperMapError::Corrupt {
            path: path.into(),
            detail: detail.into(),
        }
    }
}

/// The file layer's errors read as the library's: a damaged data file is a damaged library file.
impl From<papermap_store::StoreError> for PaperMapError {
    fn from(e: papermap_store::StoreError) -> Self {
        match e {
            papermap_store::StoreError::Io { path, source } => PaperMapError::Io { path, source },
            papermap_store::StoreError::Corrupt { path, detail } => {
                PaperMapError::Corrupt { path, detail }
            }
            papermap_store::StoreError::Foreign { dir } => PaperMapError::NotEmpty { dir },
            papermap_store::StoreError::UnsupportedVersion {
                dir,
                found,
                supported,
            } => PaperMapError::UnsupportedVersion {
                dir,
                found,
                supported,
            },
            papermap_store::StoreError::Conflict { dir, opened, found } => {
                PaperMapError::Conflict { dir, opened, found }
            }
        }
    }
}
