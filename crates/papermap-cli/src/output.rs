//! Where commands write their results: a file, replaced atomically, or stdout.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;

/// Runs `write` into `path` (or stdout when `None`). A file is written into a temp file beside
/// it, fsynced and renamed over it only once `write` succeeded, so a failed or killed command
/// never leaves a half-written file where the user expects a result.
pub fn write_atomically(
    path: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let Some(path) = path else {
        let stdout = std::io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        write(&mut out)?;
        return Ok(out.flush()?);
    };
    papermap_store::atomic::replace(path, |out| {
        write(out).map_err(|e| std::io::Error::other(format!("{e:#}")))
    })
    .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
