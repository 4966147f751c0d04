//! Where model files live on disk, in what order they are looked for, and how they are verified.

use std::path::{Path, PathBuf};

use crate::error::{EmbedError, Result};
use crate::registry::ModelSpec;

/// Environment variable naming a model directory that overrides the cache.
pub const MODEL_DIR_ENV: &str = "PAPERMAP_MODEL_DIR";
/// Environment variable naming papermap's home (the model cache lives in `$PAPERMAP_HOME/models`).
pub const HOME_ENV: &str = "PAPERMAP_HOME";

/// papermap's data home: `$PAPERMAP_HOME`, else `<platform cache dir>/papermap`, else `./.papermap`.
pub fn papermap_home() -> PathBuf {
    match std::env::var_os(HOME_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => dirs::cache_dir()
            .map(|d| d.join("papermap"))
            .unwrap_or_else(|| PathBuf::from(".papermap")),
    }
}

/// The folder the papermap cache keeps `spec` in. The revision is part of the path so that a registry update
/// never mixes files of two revisions.
pub fn cache_dir(spec: &ModelSpec) -> PathBuf {
    papermap_home()
        .join("models")
        .join(&spec.name)
        .join(&spec.revision)
}

/// Where a model's files were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    /// A directory passed explicitly (API or `--model-dir`).
    Explicit,
    /// `$PAPERMAP_MODEL_DIR`.
    EnvDir,
    /// papermap's own cache.
    Cache,
    /// The Hugging Face cache (filled by hf-hub or the Python libraries).
    HfCache,
    /// Downloaded from the Hugging Face Hub just now.
    Hub,
}

/// A verified model directory.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// The model's registry entry.
    pub spec: ModelSpec,
    /// The folder holding the files listed in the spec.
    pub dir: PathBuf,
    /// Where it was found.
    pub source: ModelSource,
}

impl ModelFiles {
    /// Path of one of the model's files.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }
}

/// sha256 of a file, hex-encoded (papermap-store's one SHA-256 helper).
pub fn sha256_file(path: &Path) -> Result<String> {
    papermap_store::sha256_file(path).map_err(|e| match e {
        papermap_store::StoreError::Io { source, .. } => EmbedError::io(path, source),
        other => EmbedError::io(path, std::io::Error::other(other)),
    })
}

/// Checks that `dir` holds every file of `spec` with the pinned sha256.
pub fn verify_dir(spec: &ModelSpec, dir: &Path) -> Result<()> {
    for (relative, expected) in &spec.files {
        let path = dir.join(relative);
        if !path.is_file() {
            return Err(EmbedError::MissingFile {
                model: spec.name.clone(),
                path,
            });
        }
        let actual = sha256_file(&path)?;
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(EmbedError::Checksum {
                model: spec.name.clone(),
                path,
                expected: expected.clone(),
                actual,
            });
        }
    }
    Ok(())
}

/// True when every file of `spec` is present in `dir` (checksums not read).
pub(crate) fn is_complete(spec: &ModelSpec, dir: &Path) -> bool {
    spec.files.keys().all(|f| dir.join(f).is_file())
}

/// The snapshot folder of `spec` in the Hugging Face cache, when it holds every file.
pub fn hf_cache_dir(spec: &ModelSpec) -> Option<PathBuf> {
    let cache = hf_hub::Cache::from_env();
    let repo = cache.repo(hf_hub::Repo::with_revision(
        spec.repo.clone(),
        hf_hub::RepoType::Model,
        spec.revision.clone(),
    ));
    let config = repo.get("config.json")?;
    let dir = config.parent()?.to_path_buf();
    is_complete(spec, &dir).then_some(dir)
}

/// Finds `spec`'s files: `explicit`, then `$PAPERMAP_MODEL_DIR`, then papermap's cache, then the Hugging Face
/// cache, then (with the `hub` feature) the hub itself. Whatever is found is verified against the pinned sha256s:
/// a directory that is there but wrong is an error, never silently skipped in favour of the next place.
pub fn locate(spec: &ModelSpec, explicit: Option<&Path>) -> Result<ModelFiles> {
    let found = |dir: PathBuf, source: ModelSource| -> Result<ModelFiles> {
        verify_dir(spec, &dir)?;
        Ok(ModelFiles {
            spec: spec.clone(),
            dir,
            source,
        })
    };
    if let Some(dir) = explicit {
        return found(dir.to_path_buf(), ModelSource::Explicit);
    }
    if let Some(dir) = std::env::var_os(MODEL_DIR_ENV).filter(|d| !d.is_empty()) {
        return found(PathBuf::from(dir), ModelSource::EnvDir);
    }
    let cached = cache_dir(spec);
    if cached.exists() {
        return found(cached, ModelSource::Cache);
    }
    if let Some(dir) = hf_cache_dir(spec) {
        return found(dir, ModelSource::HfCache);
    }
    #[cfg(feature = "hub")]
    if let Ok(dir) = crate::fetch::download_from_hub(spec) {
        return found(dir, ModelSource::Hub);
    }
    Err(EmbedError::ModelNotFound {
        model: spec.name.clone(),
        searched: format!(
            "${MODEL_DIR_ENV} (unset), {}, the Hugging Face cache{}",
            cached.display(),
            if cfg!(feature = "hub") {
                ", the Hugging Face Hub"
            } else {
                ""
            }
        ),
    })
}
