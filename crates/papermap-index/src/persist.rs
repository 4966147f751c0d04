//! On-disk layout of a standalone index: a manifest (the commit point) plus generation-named
//! data files, written and checked through the file protocol the library uses
//! (`papermap_store`: files written once and xxh3-checksummed while written, framed or `.npy`,
//! the manifest replaced atomically, unreferenced files removed after the commit).
//!
//! Format 3 (written): `g000007-keys.pmk` (framed, kind `idxkeys`: the keys by dense id as a
//! JSON list, `null` for a removed entry), `g000007-vectors.npy` (f32 rows, numpy can map them)
//! and for HNSW `g000007-graph.pmg` (papermap's graph file with its own header and footer).
//! Formats 1 and 2 (read, never written) recorded SHA-256 checksums and kept keys and vectors
//! unframed (`keys.json`, `vectors.f32`); format 1 stored an hnsw_rs dump as the graph.

use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use papermap_store::{is_generation_file, npy, FileEntry, FileWriter, Mapped};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::{IndexError, Result};

/// Name of the manifest inside an index directory.
pub const MANIFEST_FILE: &str = "manifest.json";
const FORMAT: &str = "papermap-index";
/// Highest on-disk format version this build writes and reads.
///
/// 3: files written through the library's file protocol (xxh3 checksums, framed keys, `.npy`
/// vectors). 2: SHA-256 checksums, `keys.json`, `vectors.f32`, papermap's graph file.
/// 1: an hnsw_rs dump as the graph (exported into papermap's graph on open).
pub const FORMAT_VERSION: u32 = 3;
const KEYS_KIND: &[u8; 8] = b"idxkeys\0";
const KEYS_VERSION: u32 = 1;

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
    /// Format 3: every data file with its size and xxh3. Formats 1–2 recorded `sha256`
    /// instead (kept in `legacy_sha256`, in the same order, and `xxh3` left empty).
    #[serde(deserialize_with = "entries")]
    pub files: Vec<FileEntry>,
    #[serde(skip)]
    pub legacy_sha256: Vec<String>,
    pub written_by: String,
}

/// A manifest's file list in any format version (`xxh3` empty where it recorded `sha256`).
fn entries<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<FileEntry>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Any {
        role: String,
        name: String,
        bytes: u64,
        #[serde(default)]
        xxh3: String,
    }
    let list: Vec<Any> = serde::Deserialize::deserialize(d)?;
    Ok(list
        .into_iter()
        .map(|f| FileEntry {
            role: f.role,
            name: f.name,
            bytes: f.bytes,
            xxh3: f.xxh3,
        })
        .collect())
}

impl Manifest {
    pub fn entry(&self, dir: &Path, role: &str) -> Result<&FileEntry> {
        self.files
            .iter()
            .find(|f| f.role == role)
            .ok_or_else(|| IndexError::Corrupt {
                path: dir.join(MANIFEST_FILE),
                detail: format!("manifest lists no {role} file"),
            })
    }

    pub fn file(&self, dir: &Path, role: &str) -> Result<PathBuf> {
        Ok(dir.join(&self.entry(dir, role)?.name))
    }
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
    let m = parse_manifest(&path, &text)?;
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

fn parse_manifest(path: &Path, text: &str) -> Result<Manifest> {
    let corrupt = |e: serde_json::Error| IndexError::Corrupt {
        path: path.into(),
        detail: format!("manifest does not parse: {e}"),
    };
    let mut m: Manifest = serde_json::from_str(text).map_err(corrupt)?;
    if m.format_version < 3 {
        #[derive(serde::Deserialize)]
        struct Legacy {
            files: Vec<LegacyEntry>,
        }
        #[derive(serde::Deserialize)]
        struct LegacyEntry {
            sha256: String,
        }
        let legacy: Legacy = serde_json::from_str(text).map_err(corrupt)?;
        m.legacy_sha256 = legacy.files.into_iter().map(|f| f.sha256).collect();
    }
    Ok(m)
}

/// Checks that every listed file exists with the recorded size and checksum (xxh3; SHA-256 in
/// formats 1–2). An index is loaded whole into memory, so reading every byte costs little more.
pub(crate) fn verify_files(dir: &Path, m: &Manifest) -> Result<()> {
    m.files.par_iter().enumerate().try_for_each(|(i, f)| {
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
        let (expected, got) = match m.legacy_sha256.get(i) {
            Some(sha) => (sha.clone(), sha256_file(&path)?),
            None => (f.xxh3.clone(), Mapped::open(dir, f)?.checksum()),
        };
        if got != expected {
            return Err(IndexError::ChecksumMismatch {
                path,
                expected,
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
        // Leftovers of a save that crashed before its commit; never referenced by a manifest.
        remove_unreferenced(dir, previous.as_ref())?;
        Ok(Writer {
            dir: dir.into(),
            generation,
            files: Vec::new(),
        })
    }

    /// `g000007-<suffix>`.
    fn name(&self, suffix: &str) -> String {
        format!("g{:06}-{suffix}", self.generation % 1_000_000)
    }

    /// The keys by dense id (`None` for a removed entry), framed.
    pub fn keys<'a>(&mut self, slots: impl Iterator<Item = Option<&'a str>>) -> Result<()> {
        let slots: Vec<Option<&str>> = slots.collect();
        let json = serde_json::to_vec(&slots).map_err(|e| IndexError::Io {
            path: self.dir.clone(),
            source: io::Error::other(e),
        })?;
        let name = self.name("keys.pmk");
        // Role "keys"; the frame's kind (`idxkeys`) tells an index's keys from a library segment's.
        let payload = json.len() as u64;
        let mut w = FileWriter::framed(&self.dir, &name, "keys", KEYS_KIND, KEYS_VERSION, payload)?;
        w.write_all(&json)?;
        self.files.push(w.finish_framed()?);
        Ok(())
    }

    /// `rows × dim` f32 vectors as `.npy`.
    pub fn vectors(&mut self, values: &[f32], rows: usize, dim: usize) -> Result<()> {
        let name = self.name("vectors.npy");
        self.files
            .push(npy::write(&self.dir, &name, values, rows, dim)?);
        Ok(())
    }

    /// The graph file's bytes (it carries its own header and footer).
    pub fn graph(&mut self, bytes: &[u8]) -> Result<()> {
        let name = self.name("graph.pmg");
        let mut w = FileWriter::create(&self.dir, &name, "graph")?;
        w.write_all(bytes)?;
        self.files.push(w.finish()?);
        Ok(())
    }

    /// Atomically publishes the manifest, then deletes older generations.
    pub fn commit(mut self, mut manifest: Manifest) -> Result<()> {
        manifest.format = FORMAT.into();
        manifest.format_version = FORMAT_VERSION;
        manifest.generation = self.generation;
        manifest.files = std::mem::take(&mut self.files);
        manifest.legacy_sha256.clear();
        manifest.written_by = concat!("papermap-index ", env!("CARGO_PKG_VERSION")).into();
        let path = self.dir.join(MANIFEST_FILE);
        let text = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
        papermap_store::commit_manifest(&path, &text)?;
        remove_unreferenced(&self.dir, Some(&manifest))
    }
}

fn remove_unreferenced(dir: &Path, keep: Option<&Manifest>) -> Result<()> {
    let keep: Vec<String> = keep
        .into_iter()
        .flat_map(|m| m.files.iter().map(|f| f.name.clone()))
        .collect();
    Ok(papermap_store::remove_unreferenced(
        dir,
        &keep,
        is_generation_file,
    )?)
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
    match parse_manifest(&path, &text) {
        Ok(m) if m.format == FORMAT => Ok(Some(m)),
        _ => Err(IndexError::Corrupt {
            path,
            detail: "not overwriting an unreadable manifest; move the directory away or delete it to save here".into(),
        }),
    }
}

/// The keys of a verified index directory.
pub(crate) fn read_keys(dir: &Path, m: &Manifest) -> Result<crate::keys::KeyMap> {
    let entry = m.entry(dir, "keys")?;
    let path = dir.join(&entry.name);
    let corrupt = |detail: String| IndexError::Corrupt {
        path: path.clone(),
        detail,
    };
    let list: Vec<Option<String>> = if m.format_version >= 3 {
        let file = Mapped::open(dir, entry)?;
        serde_json::from_slice(file.payload(KEYS_KIND, KEYS_VERSION)?)
    } else {
        serde_json::from_slice(&fs::read(&path).map_err(IndexError::io(&path))?)
    }
    .map_err(|e| corrupt(format!("keys do not parse: {e}")))?;
    if list.len() != m.slots {
        let detail = format!("{} key slots, manifest records {}", list.len(), m.slots);
        return Err(corrupt(detail));
    }
    crate::keys::KeyMap::from_slots(list).map_err(corrupt)
}

/// The f32 vectors (`slots × dim`) of a verified index directory, copied into memory.
pub(crate) fn read_vectors(dir: &Path, m: &Manifest) -> Result<Vec<f32>> {
    let entry = m.entry(dir, "vectors")?;
    let file = Mapped::open(dir, entry)?;
    let len = m.slots * m.dim;
    let bytes = if m.format_version >= 3 {
        let at = npy::check(&file, m.slots, m.dim)?;
        &file.bytes()[at..]
    } else {
        file.bytes()
    };
    if bytes.len() != len * 4 {
        return Err(IndexError::Corrupt {
            path: file.path.clone(),
            detail: format!("{} bytes, expected {len} f32 values", bytes.len()),
        });
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}
