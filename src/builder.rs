//! [`PaperMapBuilder`]: chooses the model and the index, then creates or opens a library.

use std::path::Path;
#[cfg(feature = "embed")]
use std::path::PathBuf;

use papermap_index::HnswParams;

use crate::error::{PaperMapError, Result};
use crate::{store, ModelFingerprint, PaperMap};

/// Libraries with fewer papers than this use the exact index; from this size on, HNSW.
///
/// An exact scan of 20 000 × 384-d vectors reads 30 MB per query, a few milliseconds on
/// one core, and is exact; building an HNSW graph costs far more than that below this size.
pub const DEFAULT_HNSW_THRESHOLD: usize = 20_000;

/// In a library that uses HNSW, a saved segment of at least this many rows gets its own graph.
///
/// Every query visits every segment, and one without a graph is scanned whole. Tiered merging
/// (a factor of 8) lets up to 7 segments of one tier stand side by side, so with graphs only
/// from [`DEFAULT_HNSW_THRESHOLD`] rows a library could scan up to 7 × 19,999 rows (200 MB of
/// vectors) per query beside its big graph (7 × 5,000 rows beside 1,000,000 cut related queries
/// ~10× at 64 concurrent: `benches/segments_load.sh`). A small graph walked with a beam of k
/// reads less than a scan of even 800 rows: 7 × 800 rows beside 1,000,000 answered 1.2-1.7× more
/// related queries with graphs from 512 rows than with scans (graphs from 4,096), at the same
/// recall; the graph adds ~0.06 s to a save of 800 papers and ~0.4 s to one of 5,000.
pub const DEFAULT_SEGMENT_GRAPH_ROWS: usize = 512;

/// Configures a [`PaperMap`]: the embedding model, the index, then [`build`](Self::build) a new
/// library or [`open`](Self::open) a saved one.
pub struct PaperMapBuilder {
    #[cfg(feature = "embed")]
    pub(crate) model: Option<String>,
    #[cfg(feature = "embed")]
    pub(crate) model_dir: Option<PathBuf>,
    #[cfg(feature = "embed")]
    pub(crate) threads: Option<usize>,
    #[cfg(feature = "embed")]
    pub(crate) precision: Option<crate::Precision>,
    #[cfg(feature = "embed")]
    pub(crate) embedder: Option<std::sync::Arc<papermap_embed::Embedder>>,
    pub(crate) fingerprint: Option<ModelFingerprint>,
    pub(crate) hnsw_threshold: usize,
    pub(crate) segment_graph_rows: usize,
    pub(crate) hnsw_params: HnswParams,
}

impl Default for PaperMapBuilder {
    fn default() -> Self {
        PaperMapBuilder {
            #[cfg(feature = "embed")]
            model: None,
            #[cfg(feature = "embed")]
            model_dir: None,
            #[cfg(feature = "embed")]
            threads: None,
            #[cfg(feature = "embed")]
            precision: None,
            #[cfg(feature = "embed")]
            embedder: None,
            fingerprint: None,
            hnsw_threshold: DEFAULT_HNSW_THRESHOLD,
            segment_graph_rows: DEFAULT_SEGMENT_GRAPH_ROWS,
            hnsw_params: HnswParams::default(),
        }
    }
}

impl PaperMapBuilder {
    /// Embedding model by registry name (default: the registry's default, all-MiniLM-L6-v2).
    /// The model is loaded the first time text has to be embedded.
    #[cfg(feature = "embed")]
    pub fn model(mut self, name: impl Into<String>) -> Self {
        self.model = Some(name.into());
        self
    }

    /// Load the model's files from this directory instead of the caches.
    #[cfg(feature = "embed")]
    pub fn model_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.model_dir = Some(dir.into());
        self
    }

    /// The arithmetic of the embedder's products (default f32, the exact path; see
    /// [`papermap_embed::EmbedderBuilder::precision`]). A library keeps vectors of one precision: opening
    /// one with another precision is refused, and with none chosen the library's own is used.
    #[cfg(feature = "embed")]
    pub fn precision(mut self, precision: crate::Precision) -> Self {
        self.precision = Some(precision);
        self
    }

    /// Embedding threads (default: `$PAPERMAP_THREADS`, else all cores).
    #[cfg(feature = "embed")]
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Use an embedder that is already loaded.
    #[cfg(feature = "embed")]
    pub fn embedder(mut self, embedder: papermap_embed::Embedder) -> Self {
        self.embedder = Some(std::sync::Arc::new(embedder));
        self
    }

    /// Use an embedder that other maps share (a server opens a new map for every write and
    /// keeps one model in memory for all of them).
    #[cfg(feature = "embed")]
    pub fn shared_embedder(mut self, embedder: std::sync::Arc<papermap_embed::Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    /// The model of vectors you bring yourself ([`PaperMap::add_embedded`],
    /// [`PaperMap::search_vector`]); without the `embed` feature this is required.
    pub fn fingerprint(mut self, fingerprint: ModelFingerprint) -> Self {
        self.fingerprint = Some(fingerprint);
        self
    }

    /// Use HNSW once the library holds this many papers (default [`DEFAULT_HNSW_THRESHOLD`]).
    pub fn hnsw_threshold(mut self, papers: usize) -> Self {
        self.hnsw_threshold = papers;
        self
    }

    /// Once the library uses HNSW, give each saved segment of at least this many rows a graph
    /// (default [`DEFAULT_SEGMENT_GRAPH_ROWS`]); smaller segments are scanned per query.
    pub fn segment_graph_rows(mut self, rows: usize) -> Self {
        self.segment_graph_rows = rows;
        self
    }

    /// HNSW construction and search parameters.
    pub fn hnsw_params(mut self, params: HnswParams) -> Self {
        self.hnsw_params = params;
        self
    }

    /// The model the caller chose, if any; resolving a registry name does not load weights.
    fn requested_fingerprint(&self) -> Result<Option<ModelFingerprint>> {
        if let Some(f) = &self.fingerprint {
            return Ok(Some(f.clone()));
        }
        #[cfg(feature = "embed")]
        {
            if let Some(embedder) = &self.embedder {
                return Ok(Some(embedder.fingerprint().clone()));
            }
            if self.model.is_some() || self.precision.is_some() {
                let registry = papermap_embed::ModelRegistry::from_env()?;
                let spec = match &self.model {
                    Some(name) => registry.get(name)?,
                    None => registry.default_model(),
                };
                let precision = self.precision.unwrap_or_default();
                return Ok(Some(spec.fingerprint().with_precision(precision)));
            }
        }
        Ok(None)
    }

    /// An empty library for the chosen model.
    pub fn build(self) -> Result<PaperMap> {
        self.hnsw_params.validate()?;
        let fingerprint = match self.requested_fingerprint()? {
            Some(f) => f,
            None => default_fingerprint()?,
        };
        PaperMap::assemble(self, fingerprint, None)
    }

    /// Opens the library saved in `dir`, verifying every file. A library built with another
    /// model than the one chosen here is refused; with no model chosen, the library's own
    /// model is used.
    pub fn open(self, dir: impl AsRef<Path>) -> Result<PaperMap> {
        let dir = dir.as_ref();
        self.hnsw_params.validate()?;
        let stored_model = store::read_fingerprint(dir)?;
        if let Some(requested) = self.requested_fingerprint()? {
            if requested != stored_model {
                return Err(PaperMapError::ModelMismatch {
                    dir: dir.into(),
                    library: stored_model.to_string(),
                    requested: requested.to_string(),
                });
            }
        }
        let opened = store::open(dir)?;
        let fingerprint = opened.fingerprint.clone();
        PaperMap::assemble(self, fingerprint, Some((opened, dir)))
    }
}

#[cfg(feature = "embed")]
fn default_fingerprint() -> Result<ModelFingerprint> {
    let registry = papermap_embed::ModelRegistry::from_env()?;
    Ok(registry.default_model().fingerprint())
}

#[cfg(not(feature = "embed"))]
fn default_fingerprint() -> Result<ModelFingerprint> {
    Err(PaperMapError::InvalidSetting(
        "no model: built without the `embed` feature, describe the model of your vectors \
         with PaperMapBuilder::fingerprint"
            .into(),
    ))
}
