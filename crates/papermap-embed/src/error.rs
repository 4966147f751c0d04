use std::path::PathBuf;

/// Everything that can go wrong while finding, fetching, loading or running a model.
///
/// Each message names the input at fault and, where there is one, the command that fixes it.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The registry has no model of that name.
    #[error("unknown model `{name}` (known: {known}); add a [[model]] entry to models.toml (PAPERMAP_MODELS) or pick a known name")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The names the registry knows, comma-separated.
        known: String,
    },
    /// The registry file could not be read or parsed.
    #[error("model registry {path}: {message}")]
    Registry {
        /// The registry file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// No copy of the model was found anywhere it is looked for.
    #[error("model `{model}` is not available locally (looked in: {searched}); run `papermap model fetch {model}` or pass --model-dir DIR")]
    ModelNotFound {
        /// The model name.
        model: String,
        /// The places searched, in order.
        searched: String,
    },
    /// A file the registry lists is absent from a model directory.
    #[error("{path}: model file missing; run `papermap model fetch {model} --force` or point --model-dir at a complete copy")]
    MissingFile {
        /// The model name.
        model: String,
        /// The missing file.
        path: PathBuf,
    },
    /// A model file does not have the sha256 the registry pins.
    #[error("{path}: checksum mismatch (expected sha256 {expected}, found {actual}); the file is corrupt or from another revision: run `papermap model fetch {model} --force`")]
    Checksum {
        /// The model name.
        model: String,
        /// The file at fault.
        path: PathBuf,
        /// The sha256 from models.toml.
        expected: String,
        /// The sha256 of the file on disk.
        actual: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A model configuration file is malformed or describes something papermap cannot run.
    #[error("{path}: {message}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The tokenizer could not be loaded or failed on an input.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A tensor operation failed.
    #[error("model computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// Neither the hub nor the mirror could provide the model.
    #[error("fetching model `{model}` failed: {message}")]
    Fetch {
        /// The model name.
        model: String,
        /// Every source tried and why it failed.
        message: String,
    },
    /// An option given to the embedder is out of range.
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
}

impl EmbedError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EmbedError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = EmbedError> = std::result::Result<T, E>;
