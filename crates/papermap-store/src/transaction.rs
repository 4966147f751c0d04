//! The write policy of every papermap directory (a library, a standalone index), written once.
//!
//! A save is a [`Transaction`]: [`Layout::begin`] creates the directory, takes the advisory lock
//! ([`LOCK_FILE`], held until the transaction ends, so saves of several processes take turns),
//! reads the manifest it will replace and refuses to go on where going on could lose data:
//! - a directory holding files the owner did not write, or another format's manifest
//!   ([`StoreError::Foreign`]): its cleanup would delete someone else's files;
//! - a manifest that does not parse ([`StoreError::Corrupt`]): never overwrite what someone may
//!   still recover;
//! - a newer format version ([`StoreError::UnsupportedVersion`]): its data files are not ours
//!   to judge;
//! - another generation than the one the caller read ([`StoreError::Conflict`]).
//!
//! The new generation is the old one plus one. Data files go under fresh names, the manifest is
//! committed last ([`crate::commit_manifest`]), and only then are unreferenced files deleted.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Result, StoreError};
use crate::files::{commit_manifest, is_temp_manifest, remove_unreferenced, FaultPoint};

/// The advisory lock file a save holds, in the directory it saves to.
pub const LOCK_FILE: &str = ".papermap.lock";

/// What a directory's owner tells the write policy about its format.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// The `format` field of its manifests, e.g. `"papermap-library"`.
    pub format: &'static str,
    /// Highest format version this build reads (and the one it writes).
    pub version: u32,
    /// The manifest's file name.
    pub manifest: &'static str,
    /// Whether a file name is one of the owner's data files (files of older generations and
    /// leftovers of killed saves are deleted; any other file makes the directory foreign).
    pub is_data_file: fn(&str) -> bool,
}

/// The fields every manifest of every format version has.
#[derive(Debug, Clone, Deserialize)]
pub struct Head {
    /// Which kind of directory wrote it.
    pub format: String,
    /// Its format version.
    pub format_version: u32,
    /// The save that wrote it (0 where an old format recorded none).
    #[serde(default)]
    pub generation: u64,
}

/// A manifest as read: its checked head and its text, for the owner to parse further.
#[derive(Debug, Clone)]
pub struct Found {
    /// Format, version and generation, checked against the layout.
    pub head: Head,
    /// The whole manifest.
    pub text: String,
}

impl Layout {
    /// The manifest's path in `dir`.
    pub fn manifest_path(&self, dir: &Path) -> PathBuf {
        dir.join(self.manifest)
    }

    /// Reads `dir`'s manifest: `None` where there is none, [`StoreError::Foreign`] for another
    /// format's, [`StoreError::Corrupt`] for one that does not parse,
    /// [`StoreError::UnsupportedVersion`] for version 0 or one newer than this build's.
    pub fn read(&self, dir: &Path) -> Result<Option<Found>> {
        let path = self.manifest_path(dir);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Err(StoreError::corrupt(&path, "manifest is not UTF-8"))
            }
            Err(e) => return Err(StoreError::io(&path)(e)),
        };
        let head: Head = serde_json::from_str(&text).map_err(|e| {
            // Another tool's JSON file is not damage of ours.
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) if v.get("format").and_then(|f| f.as_str()) != Some(self.format) => {
                    StoreError::Foreign { dir: dir.into() }
                }
                _ => StoreError::corrupt(&path, format!("manifest does not parse: {e}")),
            }
        })?;
        if head.format != self.format {
            return Err(StoreError::Foreign { dir: dir.into() });
        }
        if head.format_version == 0 || head.format_version > self.version {
            return Err(StoreError::UnsupportedVersion {
                dir: dir.into(),
                found: head.format_version,
                supported: self.version,
            });
        }
        Ok(Some(Found { head, text }))
    }

    /// Whether a save to `dir` would be accepted (see the module docs); creates nothing.
    /// Returns what it would replace.
    pub fn check_target(&self, dir: &Path) -> Result<Option<Found>> {
        match self.read(dir)? {
            Some(found) => Ok(Some(found)),
            None if self.holds_only_own_files(dir)? => Ok(None),
            None => Err(StoreError::Foreign { dir: dir.into() }),
        }
    }

    /// Starts a save to `dir`. With `expected` set, refuses ([`StoreError::Conflict`]) unless the
    /// directory still holds that generation (0: no library yet).
    pub fn begin(&self, dir: &Path, expected: Option<u64>) -> Result<Transaction> {
        self.check_target(dir)?;
        fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = File::create(&lock_path).map_err(StoreError::io(&lock_path))?;
        lock.lock().map_err(StoreError::io(&lock_path))?;
        // Read again under the lock: another save may have committed meanwhile.
        let previous = self.check_target(dir)?;
        let found = previous.as_ref().map_or(0, |f| f.head.generation);
        if found == u64::MAX {
            let detail = "records generation 2^64 - 1: no save can follow it";
            return Err(StoreError::corrupt(self.manifest_path(dir), detail));
        }
        if let Some(opened) = expected.filter(|&g| g != found) {
            return Err(StoreError::Conflict {
                dir: dir.into(),
                opened,
                found,
            });
        }
        Ok(Transaction {
            layout: *self,
            dir: dir.into(),
            _lock: lock,
            previous,
            fault: FaultPoint::from_env(),
        })
    }

    /// Whether a file name is one a save of this layout writes.
    fn is_own_file(&self, name: &str) -> bool {
        name == LOCK_FILE || (self.is_data_file)(name) || is_temp_manifest(name)
    }

    fn holds_only_own_files(&self, dir: &Path) -> Result<bool> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(StoreError::io(dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(StoreError::io(dir))?;
            if !self.is_own_file(&entry.file_name().to_string_lossy()) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// A save in progress: holds the directory's lock until it is committed or dropped.
#[derive(Debug)]
pub struct Transaction {
    layout: Layout,
    dir: PathBuf,
    _lock: File,
    previous: Option<Found>,
    /// Counts durable steps (tests abort a save at each, see [`FaultPoint`]).
    pub fault: FaultPoint,
}

impl Transaction {
    /// The directory saved to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest this save replaces, if any.
    pub fn previous(&self) -> Option<&Found> {
        self.previous.as_ref()
    }

    /// The generation this save writes: the previous one plus one ([`Layout::begin`] refuses a
    /// manifest at the last generation).
    pub fn generation(&self) -> u64 {
        self.previous.as_ref().map_or(0, |f| f.head.generation) + 1
    }

    /// Deletes data files `keep` does not name (leftovers of a save killed before its commit):
    /// call it with the files of the previous manifest before writing any.
    pub fn remove_leftovers(&self, keep: &[String]) -> Result<()> {
        remove_unreferenced(&self.dir, keep, self.layout.is_data_file)
    }

    /// Publishes `manifest` atomically (the commit point), then deletes every data file it does
    /// not name (`keep`). Returns the generation written. Once the manifest is committed the save
    /// has happened: a file that cannot be deleted then stays for the next save's
    /// [`remove_leftovers`](Self::remove_leftovers), and the commit still reports success (an
    /// error would make the caller believe another writer saved).
    pub fn commit(mut self, manifest: &[u8], keep: &[String]) -> Result<u64> {
        commit_manifest(&self.layout.manifest_path(&self.dir), manifest)?;
        self.fault.step();
        let _ = remove_unreferenced(&self.dir, keep, self.layout.is_data_file);
        Ok(self.generation())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST: Layout = Layout {
        format: "papermap-test",
        version: 2,
        manifest: "manifest.json",
        is_data_file: |n| n.ends_with(".bin"),
    };

    fn manifest(version: u32, generation: u64) -> Vec<u8> {
        format!(
            r#"{{"format":"papermap-test","format_version":{version},"generation":{generation}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn generations_follow_each_other_and_a_stale_reader_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let t = TEST.begin(dir.path(), Some(0)).unwrap();
        assert_eq!(t.generation(), 1);
        assert_eq!(t.commit(&manifest(2, 1), &[]).unwrap(), 1);
        let err = TEST.begin(dir.path(), Some(0)).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Conflict {
                    opened: 0,
                    found: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(TEST.begin(dir.path(), None).unwrap().generation(), 2);
        // The last generation has no successor: refused, never wrapped to "no library".
        fs::write(dir.path().join("manifest.json"), manifest(2, u64::MAX)).unwrap();
        let err = TEST.begin(dir.path(), Some(u64::MAX)).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn foreign_damaged_and_newer_directories_are_never_saved_into() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
        let err = TEST.begin(dir.path(), None).unwrap_err();
        assert!(matches!(err, StoreError::Foreign { .. }), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        fs::write(&path, br#"{"format":"other-tool","format_version":1}"#).unwrap();
        assert!(matches!(
            TEST.begin(dir.path(), None),
            Err(StoreError::Foreign { .. })
        ));
        fs::write(&path, br#"{"format":"papermap-test","format_ver"#).unwrap();
        assert!(matches!(
            TEST.begin(dir.path(), None),
            Err(StoreError::Corrupt { .. })
        ));
        fs::write(&path, manifest(3, 1)).unwrap();
        let err = TEST.begin(dir.path(), None).unwrap_err();
        assert!(
            matches!(err, StoreError::UnsupportedVersion { found: 3, .. }),
            "{err}"
        );
        fs::write(&path, manifest(0, 1)).unwrap();
        assert!(TEST.begin(dir.path(), None).is_err());
        // Nothing was deleted or replaced by any refusal.
        assert_eq!(fs::read(&path).unwrap(), manifest(0, 1));
    }

    #[test]
    fn a_commit_removes_unreferenced_data_files_and_keeps_foreign_ones_out() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.bin", "b.bin"] {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        // Only own files (data files, lock, temp manifests): a killed first save, not foreign.
        let t = TEST.begin(dir.path(), None).unwrap();
        t.remove_leftovers(&["a.bin".into()]).unwrap();
        assert!(!dir.path().join("b.bin").exists());
        fs::write(dir.path().join("c.bin"), b"x").unwrap();
        t.commit(&manifest(2, 1), &["c.bin".into()]).unwrap();
        assert!(!dir.path().join("a.bin").exists());
        assert!(dir.path().join("c.bin").exists());
    }
}
