//! Publishing a file atomically: the one way papermap replaces a file that readers may be
//! looking at (a library's or an index's manifest, a command's output).
//!
//! The content goes to a temp file beside the target (`.NAME.XXXXXX.tmp`, so a cleanup can tell
//! leftovers by name), is fsynced, renamed over the target, and the directory is fsynced so the
//! rename itself survives a crash. A reader sees the old file or the new one, never a mix; a
//! writer killed midway leaves the target untouched.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Replaces `path` with what `write` produces, atomically (see the module docs). The file is
/// readable by others as a normally created file would be (temp files start as 0600).
pub fn replace(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = target_dir(path);
    let name = path
        .file_name()
        .map_or_else(|| "file".to_string(), |n| n.to_string_lossy().into_owned());
    let staged = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    {
        let mut out = BufWriter::with_capacity(1 << 20, staged.as_file());
        write(&mut out)?;
        out.flush()?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        staged
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    staged.as_file().sync_all()?;
    staged.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// The directory `path` is written into (`.` for a bare file name): where [`replace`] stages
/// its temp file, so it must exist for the write to succeed.
pub fn target_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Fsyncs a directory, so that files created or renamed in it survive a crash (a no-op where
/// directories cannot be opened as files).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = (dir, File::open);
    Ok(())
}

/// Whether `name` is a temp file [`replace`] left behind when killed before its rename.
pub fn is_leftover(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_the_old_file_when_the_write_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        replace(&path, |w| w.write_all(b"first")).unwrap();
        replace(&path, |w| w.write_all(b"second")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let err = replace(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        // Nothing but the target is left in the directory.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["manifest.json"]);
        assert!(is_leftover(".manifest.json.a1b2c3.tmp") && !is_leftover("manifest.json"));
    }
}
