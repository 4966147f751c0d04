//! The identity of the model whose vectors accompany papers: one type for every crate that stores
//! or checks vectors (the embedder, the library, inputs that bring their own vectors).

use serde::{Deserialize, Serialize};

/// What identifies the vectors a model makes. A library records it and refuses vectors of any
/// other model, so embeddings of two models are never mixed.
///
/// papermap-embed makes it from a registry entry (`ModelSpec::fingerprint`); callers who bring
/// their own vectors describe their model here.
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
    /// The string a vector index stores to tie itself to this model.
    pub fn index_key(&self) -> String {
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
