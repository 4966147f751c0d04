//! The library directories a map was opened from or saved to, and at which generation.
//!
//! A save into one of them must find the generation this map last saw there; otherwise another
//! writer saved in between and overwriting would silently drop its papers.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// Directories (canonical paths) with the generation this map last read or wrote there.
#[derive(Debug, Default)]
pub(crate) struct Origins(Mutex<Vec<(PathBuf, u64)>>);

impl Origins {
    /// Remembers that `dir` held `generation` when this map read or wrote it.
    pub fn record(&self, dir: &Path, generation: u64) {
        // Only a directory deleted under us, or an unreadable parent, lands here: it is then
        // treated as unknown, as a fresh save target is.
        let Some(dir) = canonical(dir) else { return };
        let mut known = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match known.iter_mut().find(|(d, _)| *d == dir) {
            Some(entry) => entry.1 = generation,
            None => known.push((dir, generation)),
        }
    }

    /// The generation a save into `dir` must find there, if this map has seen `dir` before.
    pub fn expected(&self, dir: &Path) -> Option<u64> {
        let dir = canonical(dir)?;
        let known = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        known.iter().find(|(d, _)| *d == dir).map(|&(_, g)| g)
    }
}

/// `dir` with symlinks and `..` resolved; for a directory not created yet, its parent's.
fn canonical(dir: &Path) -> Option<PathBuf> {
    dir.canonicalize().ok().or_else(|| {
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.canonicalize().ok()?,
            _ => std::env::current_dir().ok()?,
        };
        Some(parent.join(dir.file_name()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_directory_by_any_path_is_one_origin() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("lib");
        let origins = Origins::default();
        // Not created yet: known by its parent's canonical path.
        origins.record(&lib, 0);
        std::fs::create_dir(&lib).unwrap();
        assert_eq!(origins.expected(&lib), Some(0));
        origins.record(&tmp.path().join("lib/../lib"), 3);
        assert_eq!(origins.expected(&lib), Some(3));
        assert_eq!(origins.expected(tmp.path()), None);
    }
}
