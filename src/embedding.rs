//! The embedder of a map, loaded on first use so that opening a library to list related
//! papers or topics needs no model files.

use std::sync::{Arc, OnceLock};

use papermap_embed::{EmbedProgress, Embedder, EmbedderBuilder};

use crate::error::{PaperMapError, Result};
use crate::ModelFingerprint;

pub(crate) struct LazyEmbedder {
    builder: EmbedderBuilder,
    loaded: OnceLock<Arc<Embedder>>,
}

impl LazyEmbedder {
    /// Loads the model of `fingerprint` (its precision included) with the builder's directory and thread
    /// settings when first needed.
    pub fn new(
        builder: &mut crate::PaperMapBuilder,
        fingerprint: &ModelFingerprint,
    ) -> LazyEmbedder {
        let loaded = OnceLock::new();
        if let Some(embedder) = builder.embedder.take() {
            let _ = loaded.set(embedder);
        }
        let mut config = Embedder::builder()
            .model(&fingerprint.name)
            .precision(fingerprint.precision);
        if let Some(dir) = &builder.model_dir {
            config = config.model_dir(dir);
        }
        if let Some(threads) = builder.threads {
            config = config.threads(threads);
        }
        LazyEmbedder {
            builder: config,
            loaded,
        }
    }

    /// The embedder, loaded now if needed; refused if it is not the library's model.
    pub fn get(&self, expected: &ModelFingerprint) -> Result<&Arc<Embedder>> {
        let embedder = match self.loaded.get() {
            Some(embedder) => embedder,
            None => {
                let embedder = Arc::new(self.builder.clone().build()?);
                self.loaded.get_or_init(|| embedder)
            }
        };
        let found = embedder.fingerprint().clone();
        if &found != expected {
            return Err(PaperMapError::NoEmbedder {
                reason: format!(
                    "the model loaded is {found} but the library's vectors come from {expected}"
                ),
            });
        }
        Ok(embedder)
    }

    /// Embeds `texts`, reporting progress.
    pub fn embed(
        &self,
        expected: &ModelFingerprint,
        texts: &[String],
        progress: impl FnMut(EmbedProgress) + Send,
    ) -> Result<Vec<f32>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let embedder = self.get(expected)?;
        Ok(embedder.embed_with_progress(texts, progress)?.into_vec())
    }
}
