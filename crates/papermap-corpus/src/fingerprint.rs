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
    /// The arithmetic the vectors were computed in. Vectors of two precisions differ (by up to 1% in
    /// cosine for int8), so a library refuses to mix them. Absent in fingerprints written before
    /// precisions existed, which were all f32.
    #[serde(default, skip_serializing_if = "Precision::is_f32")]
    pub precision: Precision,
}

/// The arithmetic of the encoder's matrix products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 throughout: the vectors of sentence-transformers to float precision (the default).
    #[default]
    F32,
    /// bf16 products with f32 accumulation (AMX or AVX512_BF16); everything else in f32.
    Bf16,
    /// int8 products (weights per output channel, activations per token) with i32 accumulation.
    Int8,
}

impl Precision {
    /// Every precision, default first.
    pub const ALL: [Precision; 3] = [Precision::F32, Precision::Bf16, Precision::Int8];

    /// True for the default, f32.
    pub fn is_f32(&self) -> bool {
        *self == Precision::F32
    }

    /// The name the CLI and the fingerprint use: `f32`, `bf16` or `int8`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::Int8 => "int8",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Precision::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown precision `{s}` (known: f32, bf16, int8)"))
    }
}

impl ModelFingerprint {
    /// The string a vector index stores to tie itself to this model.
    pub fn index_key(&self) -> String {
        let key = format!("{}@{}#{}", self.name, self.revision, self.weights_sha256);
        match self.precision {
            Precision::F32 => key,
            other => format!("{key}+{other}"),
        }
    }

    /// The same model's fingerprint for vectors computed in `precision`.
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
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
            "{}@{} (weights {short}, dim {}{})",
            self.name,
            self.revision,
            self.dimension,
            match self.precision {
                Precision::F32 => String::new(),
                other => format!(", {other}"),
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minilm() -> ModelFingerprint {
        ModelFingerprint {
            name: "all-MiniLM-L6-v2".into(),
            revision: "c9745ed1".into(),
            weights_sha256: "53aa5117".into(),
            dimension: 384,
            precision: Precision::F32,
        }
    }

    #[test]
    fn f32_fingerprints_read_and_write_as_before_precisions_existed() {
        let old = r#"{"name":"all-MiniLM-L6-v2","revision":"c9745ed1","weights_sha256":"53aa5117","dimension":384}"#;
        let parsed: ModelFingerprint = serde_json::from_str(old).unwrap();
        assert_eq!(parsed, minilm());
        assert_eq!(serde_json::to_string(&parsed).unwrap(), old);
    }

    #[test]
    fn other_precisions_are_marked_and_differ() {
        let int8 = minilm().with_precision(Precision::Int8);
        assert_ne!(int8, minilm());
        assert_ne!(int8.index_key(), minilm().index_key());
        let json = serde_json::to_string(&int8).unwrap();
        assert!(json.contains(r#""precision":"int8""#), "{json}");
        assert_eq!(
            serde_json::from_str::<ModelFingerprint>(&json).unwrap(),
            int8
        );
        assert!(int8.to_string().ends_with(", int8)"), "{int8}");
        assert_eq!("bf16".parse::<Precision>(), Ok(Precision::Bf16));
        assert!("fp16"
            .parse::<Precision>()
            .unwrap_err()
            .contains("f32, bf16, int8"));
    }
}
