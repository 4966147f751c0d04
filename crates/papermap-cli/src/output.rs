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
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(".".as_ref());
    let staged = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temp file in {}", dir.display()))?;
    let mut out = BufWriter::new(staged.as_file());
    write(&mut out)?;
    out.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    drop(out);
    staged.as_file().sync_all()?;
    #[cfg(unix)]
    {
        // tempfile creates 0600; a result is as readable as the user's other files.
        use std::os::unix::fs::PermissionsExt;
        staged
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    staged
        .persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
