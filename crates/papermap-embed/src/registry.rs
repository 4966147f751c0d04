//! The model registry: `models.toml`, which names each model, where it comes from and what its files hash to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{EmbedError, Result};
use crate::pooling::PoolingMode;

/// The registry that ships with papermap (the workspace's `models.toml`).
const BUILTIN_REGISTRY: &str = include_str!("../../../models.toml");

/// Environment variable naming a user `models.toml` that replaces the built-in registry.
pub const MODELS_ENV: &str = "PAPERMAP_MODELS";

/// One model as `models.toml` describes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Short name used on the command line, e.g. `all-MiniLM-L6-v2`.
    pub name: String,
    /// Hugging Face repository id.
    pub repo: String,
    /// Pinned hub revision (commit) the checksums belong to.
    pub revision: String,
    /// Embedding dimension.
    pub dimension: usize,
    /// Maximum tokens per text, `[CLS]` and `[SEP]` included; longer texts are truncated.
    pub max_seq_length: usize,
    /// Pooling used when the model folder has no `1_Pooling/config.json`.
    #[serde(default)]
    pub pooling: PoolingMode,
    /// Whether embeddings are L2-normalised.
    #[serde(default = "yes")]
    pub normalize: bool,
    /// Relative file path -> expected sha256 (hex).
    pub files: BTreeMap<String, String>,
    /// Where to get the same files when the hub is unreachable.
    #[serde(default)]
    pub mirror: Option<PypiMirror>,
}

fn yes() -> bool {
    true
}

/// A PyPI wheel that carries a model's files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PypiMirror {
    /// Package name on PyPI.
    pub package: String,
    /// Exact package version.
    pub version: String,
    /// Folder inside the wheel that holds the model files.
    pub path: String,
}

impl ModelSpec {
    /// The sha256 pinned for the weights file, used to fingerprint what a vector was made with.
    pub fn weights_sha256(&self) -> &str {
        self.files
            .get("model.safetensors")
            .map(String::as_str)
            .unwrap_or("")
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    default: String,
    #[serde(rename = "model")]
    models: Vec<ModelSpec>,
}

/// All models papermap can load, and which one is the default.
#[derive(Debug, Clone)]
pub struct ModelRegistry {
    default: String,
    models: Vec<ModelSpec>,
}

impl ModelRegistry {
    /// The registry in effect: the file named by `PAPERMAP_MODELS`, else the built-in one.
    pub fn from_env() -> Result<Self> {
        match std::env::var_os(MODELS_ENV) {
            Some(path) if !path.is_empty() => Self::load(Path::new(&path)),
            _ => Ok(Self::builtin()),
        }
    }

    /// The registry compiled into papermap.
    pub fn builtin() -> Self {
        Self::parse(BUILTIN_REGISTRY, Path::new("<built-in models.toml>"))
            .expect("the built-in models.toml is checked by the test suite")
    }

    /// Reads a registry file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| EmbedError::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses registry text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        let err = |message: String| EmbedError::Registry {
            path: PathBuf::from(origin),
            message,
        };
        let file: RegistryFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        for spec in &file.models {
            for (name, hash) in &spec.files {
                if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(err(format!(
                        "model `{}`: file `{name}` needs a 64-hex-digit sha256, got `{hash}`",
                        spec.name
                    )));
                }
            }
            for required in ["config.json", "tokenizer.json", "model.safetensors"] {
                if !spec.files.contains_key(required) {
                    return Err(err(format!(
                        "model `{}` must list `{required}` under [model.files]",
                        spec.name
                    )));
                }
            }
            if spec.dimension == 0 || spec.max_seq_length < 2 {
                return Err(err(format!(
                    "model `{}`: dimension must be > 0 and max_seq_length >= 2",
                    spec.name
                )));
            }
        }
        let registry = ModelRegistry {
            default: file.default,
            models: file.models,
        };
        if registry.find(&registry.default).is_none() {
            return Err(err(format!(
                "default model `{}` has no [[model]] entry",
                registry.default
            )));
        }
        Ok(registry)
    }

    fn find(&self, name: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.name == name)
    }

    /// Looks a model up by name.
    pub fn get(&self, name: &str) -> Result<&ModelSpec> {
        self.find(name).ok_or_else(|| EmbedError::UnknownModel {
            name: name.to_string(),
            known: self
                .models
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// The default model.
    pub fn default_model(&self) -> &ModelSpec {
        self.find(&self.default)
            .expect("checked when the registry was parsed")
    }

    /// Every model, in file order.
    pub fn models(&self) -> &[ModelSpec] {
        &self.models
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_registry_parses_and_has_default() {
        let registry = ModelRegistry::builtin();
        let spec = registry.default_model();
        assert_eq!(spec.name, "all-MiniLM-L6-v2");
        assert_eq!(spec.dimension, 384);
        assert_eq!(spec.max_seq_length, 256);
        assert!(spec.mirror.is_some());
    }

    #[test]
    fn unknown_model_lists_known_names() {
        let err = ModelRegistry::builtin().get("nope").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("nope") && msg.contains("all-MiniLM-L6-v2"),
            "{msg}"
        );
    }

    #[test]
    fn bad_hash_is_refused() {
        let text = BUILTIN_REGISTRY.replacen("953f9c0d", "zz", 1);
        let err = ModelRegistry::parse(&text, Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");
    }

    #[test]
    fn missing_default_entry_is_refused() {
        let text =
            BUILTIN_REGISTRY.replacen("default = \"all-MiniLM-L6-v2\"", "default = \"other\"", 1);
        let err = ModelRegistry::parse(&text, Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("other"), "{err}");
    }
}
