//! The identity of the model whose vectors a library holds.

use serde::{Deserialize, Serialize};

/// What identifies the vectors a model makes. A library records it and refuses vectors of any
/// other model, so embeddings of two models are never mixed.
///
/// With the `embed` feature it comes from the loaded model ([`From`] the embedder's
/// fingerprint); without it, callers who bring their own vectors describe their model here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelFingerprint {
    /// Model name, e.g. `all-MiniLM-L6-v2`.
    pub name: String,
    /// Revision of the weights (a Hub commit, a version tag).
    pub revision: String,
    /// sha256 of the weights file, hex.
    pub weights_sha256: String,
    /// Embedding dimension.
    pub dimension: usize,
}

impl ModelFingerprint {
    /// The string the vector index stores to tie itself to this model.
    pub(crate) fn index_key(&self) -> String {
        format!("{}@{}#{}", self.name, self.revision, self.weights_sha256)
    }
}

impl std::fmt::Display for ModelFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = self
            .weights_sha256
            .get(..12)
            .unwrap_or(&self.weights_sha256);
        write!(
            f,
            "{}@{} (weights {short}, dim {})",
            self.name, self.revision, self.dimension
        )
    }
}

#[cfg(feature = "embed")]
impl From<&papermap_embed::ModelFingerprint> for ModelFingerprint {
    fn from(f: &papermap_embed::ModelFingerprint) -> Self {
        ModelFingerprint {
            name: f.name.clone(),
            revision: f.revision.clone(),
            weights_sha256: f.weights_sha256.clone(),
            dimension: f.dimension,
        }
    }
}
