//! Opening and creating libraries from command-line options.

use std::path::Path;

use papermap::{PaperMap, PaperMapBuilder};

use crate::ModelArgs;

/// A map builder configured by `--model`, `--model-dir`, `--threads` and `--precision`.
pub fn builder(args: &ModelArgs) -> PaperMapBuilder {
    let mut builder = PaperMap::builder();
    if let Some(name) = &args.model {
        builder = builder.model(name);
    }
    if let Some(dir) = &args.model_dir {
        builder = builder.model_dir(dir);
    }
    if let Some(threads) = args.threads {
        builder = builder.threads(threads);
    }
    if let Some(precision) = args.precision {
        builder = builder.precision(precision);
    }
    builder
}

/// Opens the library in `dir`; the error names the directory.
pub fn open(dir: &Path, args: &ModelArgs) -> anyhow::Result<PaperMap> {
    Ok(builder(args).open(dir)?)
}

/// Whether `dir` holds a library manifest (it may still fail to open).
pub fn exists(dir: &Path) -> bool {
    dir.join(papermap::MANIFEST_FILE).is_file()
}

/// A title cut to `width` characters, with an ellipsis when cut.
pub fn clip(text: &str, width: usize) -> String {
    match text.char_indices().nth(width.saturating_sub(1)) {
        Some((at, _)) if text[at..].chars().nth(1).is_some() => format!("{}…", &text[..at]),
        _ => text.to_string(),
    }
}
