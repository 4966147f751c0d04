//! On-disk layout: a manifest (the commit point) plus generation-named data files.
//!
//! `save` writes every data file under a fresh generation prefix (`g000007-…`), fsyncs them,
//! then atomically replaces `manifest.json` (temp file + rename + directory fsync). A crash at
//! any point leaves either the old manifest with its complete old files, or the new one with its
//! complete new files. Files of older generations are deleted only after the commit.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::{IndexError, Result};

/// Name of the manifest inside an index directory.
pub const MANIFEST_FILE: &str = "manifest.json";
const FORMAT: &str = "papermap-index";
/// Highest on-disk format version this build writes and reads.
///
/// 2: HNSW indexes store papermap's own graph file (`graph.pmg`) and the f32 vectors
/// (`vectors.f32`). 1: HNSW indexes stored an hnsw_rs dump; still read (the graph is
/// exported from hnsw_rs on open), never written.
pub const FORMAT_VERSION: u32 = 2;

/// What the caller expects of an index it opens; anything else is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Identity of the embeddings, e.g. `"sentence-transformers/all-MiniLM-L6-v2@<revision>"`.
    pub fingerprint: String,
    /// Dimension of the embeddings.
    pub dim: usize,
}

impl Expected {
    /// Shorthand constructor.
    pub fn new(fingerprint: impl Into<String>, dim: usize) -> Self {
        Expected {
            fingerprint: fingerprint.into(),
            dim,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct FileEntry {
    pub role: String,
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub kind: String,
    pub metric: String,
    pub dim: usize,
    /// Live vectors.
    pub count: usize,
    /// Dense ids in use, tombstones included.
    pub slots: usize,
    pub fingerprint: String,
    pub generation: u64,
    #[serde(default)]
    pub hnsw: Option<crate::HnswParams>,
    pub files: Vec<FileEntry>,
    pub written_by: String,
}

impl Manifest {
    pub fn file(&self, dir: &Path, role: &str) -> Result<PathBuf> {
        self.files
            .iter()
            .find(|f| f.role == role)
            .map(|f| dir.join(&f.name))
            .ok_or_else(|| IndexError::Corrupt {
                path: dir.join(MANIFEST_FILE),
                detail: format!("manifest lists no {role} file"),
            })
    }
}

fn is_generation_file(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 8 && b[0] == b'g' && b[1..7].iter().all(u8::is_ascii_digit) && b[7] == b'-'
}

/// Reads the manifest and checks format, version, kind and the caller's expectations.
/// `kind: None` accepts any kind.
pub(crate) fn read_manifest(
    dir: &Path,
    expected: &Expected,
    kind: Option<&'static str>,
) -> Result<Manifest> {
    let path = dir.join(MANIFEST_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(IndexError::MissingFile { path })
        }
        Err(e) => return Err(IndexError::io(&path)(e)),
    };
    let m: Manifest = serde_json::from_str(&text).map_err(|e| IndexError::Corrupt {
        path: path.clone(),
        detail: format!("manifest does not parse: {e}"),
    })?;
    if m.format != FORMAT {
        return Err(IndexError::Corrupt {
            path,
            detail: format!("format is {:?}, not {FORMAT:?}", m.format),
        });
    }
    if m.format_version > FORMAT_VERSION || m.format_version == 0 {
        return Err(IndexError::UnsupportedVersion {
            dir: dir.into(),
            found: m.format_version,
            supported: FORMAT_VERSION,
        });
    }
    if let Some(kind) = kind {
        if m.kind != kind {
            return Err(IndexError::KindMismatch {
                dir: dir.into(),
                expected: kind,
                found: m.kind,
            });
        }
    }
    if m.metric != "cosine" {
        return Err(IndexError::Corrupt {
            path,
            detail: format!("metric {:?} is not supported (only cosine)", m.metric),
        });
    }
    if m.fingerprint != expected.fingerprint {
        return Err(IndexError::FingerprintMismatch {
            dir: dir.into(),
            expected: expected.fingerprint.clone(),
            found: m.fingerprint,
        });
    }
    if m.dim != expected.dim {
        return Err(IndexError::DimensionChanged {
            dir: dir.into(),
            expected: expected.dim,
            found: m.dim,
        });
    }
    if m.count > m.slots {
        return Err(IndexError::Corrupt {
            path,
            detail: format!("count {} exceeds slots {}", m.count, m.slots),
        });
    }
    Ok(m)
}

/// Checks that every listed file exists with the recorded size and SHA-256.
pub(crate) fn verify_files(dir: &Path, m: &Manifest) -> Result<()> {
    m.files.par_iter().try_for_each(|f| {
        let path = dir.join(&f.name);
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(IndexError::MissingFile { path })
            }
            Err(e) => return Err(IndexError::io(&path)(e)),
        };
        if meta.len() != f.bytes {
            return Err(IndexError::SizeMismatch {
                path,
                expected: f.bytes,
                got: meta.len(),
            });
        }
        let got = sha256_file(&path)?;
        if got != f.sha256 {
            return Err(IndexError::ChecksumMismatch {
                path,
                expected: f.sha256.clone(),
                got,
            });
        }
        Ok(())
    })
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut reader =
        BufReader::with_capacity(1 << 20, File::open(path).map_err(IndexError::io(path))?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf).map_err(IndexError::io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// One `save` in progress.
pub(crate) struct Writer {
    dir: PathBuf,
    generation: u64,
    files: Vec<FileEntry>,
}

impl Writer {
    pub fn begin(dir: &Path) -> Result<Writer> {
        fs::create_dir_all(dir).map_err(IndexError::io(dir))?;
        let previous = previous_manifest(dir)?;
        let generation = previous.as_ref().map_or(0, |m| m.generation) + 1;
        let writer = Writer {
            dir: dir.into(),
            generation,
            files: Vec::new(),
        };
        // Leftovers of a save that crashed before its commit; never referenced by a manifest.
        writer.remove_unreferenced(previous.as_ref())?;
        Ok(writer)
    }

    /// `g000007-<suffix>`.
    pub fn name(&self, suffix: &str) -> String {
        format!("g{:06}-{suffix}", self.generation % 1_000_000)
    }

    /// Writes a new file through `write`, fsyncs it and records its checksum.
    pub fn write_file(
        &mut self,
        role: &str,
        suffix: &str,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<()> {
        let name = self.name(suffix);
        let path = self.dir.join(&name);
        let file = File::create(&path).map_err(IndexError::io(&path))?;
        let mut out = HashingWriter {
            inner: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            bytes: 0,
        };
        write(&mut out).map_err(IndexError::io(&path))?;
        let HashingWriter {
            inner,
            hasher,
            bytes,
        } = out;
        let file = inner
            .into_inner()
            .map_err(|e| IndexError::io(&path)(e.into_error()))?;
        file.sync_all().map_err(IndexError::io(&path))?;
        self.files.push(FileEntry {
            role: role.into(),
            name,
            bytes,
            sha256: hex::encode(hasher.finalize()),
        });
        Ok(())
    }

    /// Atomically publishes the manifest, then deletes older generations.
    pub fn commit(self, mut manifest: Manifest) -> Result<()> {
        manifest.format = FORMAT.into();
        manifest.format_version = FORMAT_VERSION;
        manifest.generation = self.generation;
        manifest.files = self.files.clone();
        manifest.written_by = concat!("papermap-index ", env!("CARGO_PKG_VERSION")).into();
        let path = self.dir.join(MANIFEST_FILE);
        crate::atomic::replace(&path, |w| {
            serde_json::to_writer_pretty(w, &manifest).map_err(io::Error::other)
        })
        .map_err(IndexError::io(&path))?;
        self.remove_unreferenced(Some(&manifest))
    }

    fn remove_unreferenced(&self, keep: Option<&Manifest>) -> Result<()> {
        let entries = fs::read_dir(&self.dir).map_err(IndexError::io(&self.dir))?;
        for entry in entries {
            let entry = entry.map_err(IndexError::io(&self.dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let referenced = keep.is_some_and(|m| m.files.iter().any(|f| f.name == name));
            let stale_manifest = name.starts_with(".manifest") && crate::atomic::is_leftover(name);
            if (is_generation_file(name) && !referenced) || stale_manifest {
                let path = entry.path();
                fs::remove_file(&path).map_err(IndexError::io(&path))?;
            }
        }
        Ok(())
    }
}

/// The manifest a save will replace. One this build can not read (newer format, damaged) is
/// an error: replacing it would delete data files this build does not understand.
fn previous_manifest(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(IndexError::io(&path)(e)),
    };
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if let Some(found) = value.get("format_version").and_then(|v| v.as_u64()) {
        if found > FORMAT_VERSION as u64 {
            return Err(IndexError::UnsupportedVersion {
                dir: dir.into(),
                found: found.min(u32::MAX as u64) as u32,
                supported: FORMAT_VERSION,
            });
        }
    }
    match serde_json::from_value::<Manifest>(value) {
        Ok(m) if m.format == FORMAT => Ok(Some(m)),
        _ => Err(IndexError::Corrupt {
            path,
            detail: "not overwriting an unreadable manifest; move the directory away or delete it to save here".into(),
        }),
    }
}

struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Keys by dense id (`null` for a removed entry), as JSON.
pub(crate) fn write_keys<'a>(
    out: &mut dyn Write,
    slots: impl Iterator<Item = Option<&'a str>>,
) -> io::Result<()> {
    let slots: Vec<Option<&str>> = slots.collect();
    serde_json::to_writer(&mut *out, &slots)?;
    Ok(())
}

pub(crate) fn read_keys(path: &Path, slots: usize) -> Result<crate::keys::KeyMap> {
    let text = fs::read(path).map_err(IndexError::io(path))?;
    let corrupt = |detail: String| IndexError::Corrupt {
        path: path.into(),
        detail,
    };
    let list: Vec<Option<String>> =
        serde_json::from_slice(&text).map_err(|e| corrupt(format!("keys do not parse: {e}")))?;
    if list.len() != slots {
        return Err(corrupt(format!(
            "{} key slots, manifest records {slots}",
            list.len()
        )));
    }
    crate::keys::KeyMap::from_slots(list).map_err(corrupt)
}

/// Row-major little-endian f32.
pub(crate) fn write_f32s(out: &mut dyn Write, values: &[f32]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(1 << 16);
    for chunk in values.chunks(1 << 14) {
        buf.clear();
        chunk
            .iter()
            .for_each(|v| buf.extend_from_slice(&v.to_le_bytes()));
        out.write_all(&buf)?;
    }
    Ok(())
}

pub(crate) fn read_f32s(path: &Path, expected_len: usize) -> Result<Vec<f32>> {
    let bytes = fs::read(path).map_err(IndexError::io(path))?;
    if bytes.len() != expected_len * 4 {
        return Err(IndexError::Corrupt {
            path: path.into(),
            detail: format!("{} bytes, expected {expected_len} f32 values", bytes.len()),
        });
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}
