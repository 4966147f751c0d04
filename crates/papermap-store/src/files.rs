//! How every data file is written (checksummed while written, fsynced, never rewritten), framed
//! (header and footer, so a truncated, swapped or foreign file is refused by looking at its ends
//! only), mapped, and how a manifest naming them is committed.
//!
//! A framed file is `[header 64 B][payload][footer 16 B]`:
//! header = `PAPERMAP` magic, an 8-byte kind (`papers`, `keys`, `deletes`, ...), the kind's
//! version (u32), padding, the payload length (u64 at byte 24); footer = the payload length
//! again and `PMAP-END`. The vectors are a plain `.npy` file instead (so that numpy can map
//! them), checked by its own header and exact size. Every file's size and xxh3-64 are in the
//! manifest: opening checks sizes, headers and footers; `check` reads every byte.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::error::{Result, StoreError};

const MAGIC: &[u8; 8] = b"PAPERMAP";
const END: &[u8; 8] = b"PMAP-END";
/// Bytes before a framed file's payload.
pub const HEADER: usize = 64;
/// Bytes after a framed file's payload.
pub const FOOTER: usize = 16;

/// A data file as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// What the file holds: `papers`, `keys`, `vectors`, `graph`, `deletes`, `topics`.
    pub role: String,
    /// File name inside the directory.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// xxh3-64 of the whole file, hex.
    pub xxh3: String,
}

/// Test hook: with the `fault-injection` feature, `PAPERMAP_FAULT_AFTER_FILES=N` aborts the
/// process right after the N-th durable step of a save, so the crash tests kill a save at every
/// point without timing. Without the feature (every build a user makes) no environment is read
/// and [`step`](Self::step) does nothing.
#[derive(Debug)]
pub struct FaultPoint {
    #[cfg(feature = "fault-injection")]
    remaining: Option<u64>,
}

impl FaultPoint {
    /// Reads `PAPERMAP_FAULT_AFTER_FILES` (`fault-injection` builds only).
    pub fn from_env() -> FaultPoint {
        FaultPoint {
            #[cfg(feature = "fault-injection")]
            remaining: std::env::var("PAPERMAP_FAULT_AFTER_FILES")
                .ok()
                .and_then(|v| v.parse().ok()),
        }
    }

    /// Called after each durable step of a save.
    pub fn step(&mut self) {
        #[cfg(feature = "fault-injection")]
        if let Some(n) = self.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                std::process::abort();
            }
        }
    }
}

/// Writes one new data file, hashing every byte on the way.
pub struct FileWriter {
    path: PathBuf,
    role: String,
    out: BufWriter<File>,
    hasher: Xxh3,
    bytes: u64,
}

impl FileWriter {
    /// Creates `dir/name`; it must not exist (data files are never rewritten).
    pub fn create(dir: &Path, name: &str, role: &str) -> Result<FileWriter> {
        let path = dir.join(name);
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(StoreError::io(&path))?;
        Ok(FileWriter {
            path,
            role: role.into(),
            out: BufWriter::with_capacity(1 << 20, file),
            hasher: Xxh3::new(),
            bytes: 0,
        })
    }

    /// A framed file of `role` (its manifest entry's) and `kind` (in its header: what its payload
    /// holds, so that files of the same role but another layout are told apart): writes the
    /// header; the payload must then be exactly `payload` bytes.
    pub fn framed(
        dir: &Path,
        name: &str,
        role: &str,
        kind: &[u8; 8],
        version: u32,
        payload: u64,
    ) -> Result<FileWriter> {
        let mut w = FileWriter::create(dir, name, role)?;
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(MAGIC);
        header[8..16].copy_from_slice(kind);
        header[16..20].copy_from_slice(&version.to_le_bytes());
        header[24..32].copy_from_slice(&payload.to_le_bytes());
        w.write_all(&header)?;
        Ok(w)
    }

    /// [`Write::write_all`] with the error naming the file.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        Write::write_all(self, bytes).map_err(StoreError::io(&self.path))
    }

    /// Closes a framed file: footer, fsync.
    pub fn finish_framed(mut self) -> Result<FileEntry> {
        let payload = self.bytes - HEADER as u64;
        let mut footer = [0u8; FOOTER];
        footer[..8].copy_from_slice(&payload.to_le_bytes());
        footer[8..].copy_from_slice(END);
        self.write_all(&footer)?;
        self.finish()
    }

    /// Flushes, fsyncs and returns the manifest entry.
    pub fn finish(self) -> Result<FileEntry> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| StoreError::io(&self.path)(e.into_error()))?;
        file.sync_all().map_err(StoreError::io(&self.path))?;
        Ok(FileEntry {
            role: self.role,
            name: self
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bytes: self.bytes,
            xxh3: format!("{:016x}", self.hasher.digest()),
        })
    }
}

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write_all(buf)?;
        self.hasher.update(buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A data file mapped read-only, its size checked against the manifest.
#[derive(Debug)]
pub struct Mapped {
    /// Where the file is (for error messages).
    pub path: PathBuf,
    map: Mmap,
}

impl Mapped {
    /// Maps `dir/entry.name`, refusing a missing file or one of another size than recorded.
    pub fn open(dir: &Path, entry: &FileEntry) -> Result<Mapped> {
        let path = dir.join(&entry.name);
        // A manifest names files inside its directory only: never a path out of it.
        if !is_plain_name(&entry.name) {
            let detail = format!("the manifest names {:?}, not a file name", entry.name);
            return Err(StoreError::corrupt(dir.join(&entry.name), detail));
        }
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::corrupt(&path, "file is missing"))
            }
            Err(e) => return Err(StoreError::io(&path)(e)),
        };
        let len = file.metadata().map_err(StoreError::io(&path))?.len();
        if len != entry.bytes {
            let detail = format!("{len} bytes, the manifest records {}", entry.bytes);
            return Err(StoreError::corrupt(&path, detail));
        }
        // SAFETY: data files are written once and never modified in place (saves add
        // new files and replace the manifest), so the mapped bytes do not change under us.
        let map = unsafe { Mmap::map(&file) }.map_err(StoreError::io(&path))?;
        Ok(Mapped { path, map })
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The payload of a framed file of `kind`, after checking header and footer.
    pub fn payload(&self, kind: &[u8; 8], version: u32) -> Result<&[u8]> {
        let b = self.bytes();
        let bad = |detail: String| Err(StoreError::corrupt(&self.path, detail));
        if b.len() < HEADER + FOOTER || &b[..8] != MAGIC {
            return bad("not a papermap data file (no PAPERMAP header)".into());
        }
        if &b[8..16] != kind {
            let found = String::from_utf8_lossy(&b[8..16])
                .trim_end_matches('\0')
                .to_string();
            let want = String::from_utf8_lossy(kind)
                .trim_end_matches('\0')
                .to_string();
            return bad(format!(
                "holds {found:?} data where {want:?} was expected (files swapped?)"
            ));
        }
        let found = u32::from_le_bytes(b[16..20].try_into().expect("4 bytes"));
        if found != version {
            return bad(format!(
                "{} version {found}; this papermap reads version {version}",
                String::from_utf8_lossy(kind).trim_end_matches('\0')
            ));
        }
        let len = u64_at(b, 24) as usize;
        let tail = &b[b.len() - FOOTER..];
        if len != b.len() - HEADER - FOOTER || u64_at(tail, 0) as usize != len || &tail[8..] != END
        {
            return bad("truncated or damaged (header and footer disagree)".into());
        }
        Ok(&b[HEADER..HEADER + len])
    }

    /// The xxh3-64 of every byte, hex, as [`FileEntry::xxh3`] records it.
    pub fn checksum(&self) -> String {
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(self.bytes()))
    }

    /// Reads every byte and compares the checksum with the manifest's.
    pub fn verify(&self, entry: &FileEntry) -> Result<()> {
        let sum = self.checksum();
        if sum != entry.xxh3 {
            let detail = format!("xxh3 {sum} differs from {} in the manifest", entry.xxh3);
            return Err(StoreError::corrupt(&self.path, detail));
        }
        Ok(())
    }
}

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

/// Whether `name` is one file name (no separator, not `.` or `..`, not empty): what a manifest
/// may name, so that no manifest reaches outside its directory.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// The little-endian u64 at byte `at` (callers check bounds).
pub fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Publishes a manifest: the commit point of a save, replaced atomically through the one
/// helper every papermap file replacement uses ([`crate::atomic::replace`]).
pub fn commit_manifest(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::atomic::replace(path, |w| w.write_all(bytes)).map_err(StoreError::io(path))
}

/// Deletes the data files (and directories) in `dir` that `is_data_file` recognises and `keep`
/// does not name, and temp manifests a killed save left behind. Run before a save (leftovers of
/// a crashed one) and after its commit (files of older generations).
pub fn remove_unreferenced(
    dir: &Path,
    keep: &[String],
    is_data_file: impl Fn(&str) -> bool,
) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(StoreError::io(dir))? {
        let entry = entry.map_err(StoreError::io(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let stale = is_data_file(name) && !keep.iter().any(|k| k == name);
        if stale || is_temp_manifest(name) {
            let path = entry.path();
            let is_dir = entry.file_type().map_err(StoreError::io(&path))?.is_dir();
            let removed = match is_dir {
                true => fs::remove_dir_all(&path),
                false => fs::remove_file(&path),
            };
            removed.map_err(StoreError::io(&path))?;
        }
    }
    Ok(())
}

/// Whether `name` is a generation-named data file, `g000007-…`: a standalone index's files, and a
/// format-1 library's.
pub fn is_generation_file(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 8 && b[0] == b'g' && b[1..7].iter().all(u8::is_ascii_digit) && b[7] == b'-'
}

/// A temp file [`commit_manifest`] left behind when killed before its rename.
pub fn is_temp_manifest(name: &str) -> bool {
    name.starts_with(".manifest") && crate::atomic::is_leftover(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(dir: &Path, name: &str, kind: &[u8; 8], payload: &[u8]) -> FileEntry {
        let role = String::from_utf8_lossy(kind)
            .trim_end_matches('\0')
            .to_string();
        let mut w = FileWriter::framed(dir, name, &role, kind, 1, payload.len() as u64).unwrap();
        w.write_all(payload).unwrap();
        w.finish_framed().unwrap()
    }

    #[test]
    fn framed_files_round_trip_and_refuse_swaps_truncation_and_flipped_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let entry = framed(dir.path(), "a.keys", b"keys\0\0\0\0", b"hello");
        assert_eq!((entry.role.as_str(), entry.bytes), ("keys", 5 + 80));
        let file = Mapped::open(dir.path(), &entry).unwrap();
        assert_eq!(file.payload(b"keys\0\0\0\0", 1).unwrap(), b"hello");
        file.verify(&entry).unwrap();
        // Another kind or version than asked for.
        let err = file.payload(b"papers\0\0", 1).unwrap_err().to_string();
        assert!(err.contains("swapped"), "{err}");
        assert!(file.payload(b"keys\0\0\0\0", 2).is_err());
        // Data files are written once: the name can not be reused.
        assert!(FileWriter::create(dir.path(), "a.keys", "keys").is_err());
        // A flipped byte fails the checksum; a cut file its recorded size and its frame.
        let path = dir.path().join("a.keys");
        let mut bytes = fs::read(&path).unwrap();
        bytes[HEADER + 1] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let flipped = Mapped::open(dir.path(), &entry).unwrap();
        assert!(flipped
            .verify(&entry)
            .unwrap_err()
            .to_string()
            .contains("xxh3"));
        fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(Mapped::open(dir.path(), &entry).is_err());
        let cut = FileEntry {
            bytes: entry.bytes - 3,
            ..entry
        };
        let err = Mapped::open(dir.path(), &cut).unwrap();
        let err = err.payload(b"keys\0\0\0\0", 1).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn remove_unreferenced_keeps_named_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["d1.bin", "d2.bin", "notes.txt", ".manifest.json.x1.tmp"] {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        let keep = vec!["d2.bin".to_string()];
        remove_unreferenced(dir.path(), &keep, |n| n.ends_with(".bin")).unwrap();
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["d2.bin", "notes.txt"]);
        commit_manifest(&dir.path().join("manifest.json"), b"{}").unwrap();
        assert_eq!(fs::read(dir.path().join("manifest.json")).unwrap(), b"{}");
    }
}
