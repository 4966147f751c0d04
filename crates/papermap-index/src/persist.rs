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

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use papermap_store::{
    is_generation_file, npy, sha256_file, FileEntry, FileWriter, Layout, Mapped, StoreError,
    Transaction,
};
use rayon::prelude::*;

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
/// The write policy's view of an index directory (papermap-store owns the policy).
const LAYOUT: Layout = Layout {
    format: FORMAT,
    version: FORMAT_VERSION,
    manifest: MANIFEST_FILE,
    is_data_file: is_generation_file,
};
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
    let found = match LAYOUT.read(dir) {
        Ok(Some(found)) => found,
        Ok(None) => return Err(IndexError::MissingFile { path }),
        Err(StoreError::Foreign { .. }) => {
            let detail = format!("not a {FORMAT:?} manifest");
            return Err(IndexError::Corrupt { path, detail });
        }
        Err(e) => return Err(e.into()),
    };
    let m = parse_manifest(&path, &found.text)?;
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

/// One `save` in progress: a transaction of the write policy (lock, generation, refusals).
pub(crate) struct Writer {
    tx: Transaction,
    files: Vec<FileEntry>,
}

impl Writer {
    pub fn begin(dir: &Path) -> Result<Writer> {
        let tx = LAYOUT.begin(dir, None)?;
        // The policy read the head; the rest must parse too, or its files are not ours to judge.
        let path = dir.join(MANIFEST_FILE);
        let previous = match tx.previous() {
            None => None,
            Some(found) => Some(parse_manifest(&path, &found.text).map_err(|_| IndexError::Corrupt {
                path,
                detail: "not overwriting an unreadable manifest; move the directory away or delete it to save here".into(),
            })?),
        };
        // Leftovers of a save that crashed before its commit; never referenced by a manifest.
        tx.remove_leftovers(&file_names(previous.as_ref()))?;
        Ok(Writer {
            tx,
            files: Vec::new(),
        })
    }

    fn dir(&self) -> &Path {
        self.tx.dir()
    }

    /// `g000007-<suffix>`.
    fn name(&self, suffix: &str) -> String {
        format!("g{:06}-{suffix}", self.tx.generation() % 1_000_000)
    }

    /// The keys by dense id (`None` for a removed entry), framed.
    pub fn keys<'a>(&mut self, slots: impl Iterator<Item = Option<&'a str>>) -> Result<()> {
        let slots: Vec<Option<&str>> = slots.collect();
        let json = serde_json::to_vec(&slots).map_err(|e| IndexError::Io {
            path: self.dir().into(),
            source: io::Error::other(e),
        })?;
        let name = self.name("keys.pmk");
        // Role "keys"; the frame's kind (`idxkeys`) tells an index's keys from a library segment's.
        let payload = json.len() as u64;
        let mut w =
            FileWriter::framed(self.dir(), &name, "keys", KEYS_KIND, KEYS_VERSION, payload)?;
        w.write_all(&json)?;
        self.files.push(w.finish_framed()?);
        self.tx.fault.step();
        Ok(())
    }

    /// `rows × dim` f32 vectors as `.npy`.
    pub fn vectors(&mut self, values: &[f32], rows: usize, dim: usize) -> Result<()> {
        let name = self.name("vectors.npy");
        let entry = npy::write(self.dir(), &name, values, rows, dim)?;
        self.files.push(entry);
        self.tx.fault.step();
        Ok(())
    }

    /// The graph file's bytes (it carries its own header and footer).
    pub fn graph(&mut self, bytes: &[u8]) -> Result<()> {
        let name = self.name("graph.pmg");
        let mut w = FileWriter::create(self.dir(), &name, "graph")?;
        w.write_all(bytes)?;
        self.files.push(w.finish()?);
        self.tx.fault.step();
        Ok(())
    }

    /// Atomically publishes the manifest, then deletes older generations.
    pub fn commit(mut self, mut manifest: Manifest) -> Result<()> {
        manifest.format = FORMAT.into();
        manifest.format_version = FORMAT_VERSION;
        manifest.generation = self.tx.generation();
        manifest.files = std::mem::take(&mut self.files);
        manifest.legacy_sha256.clear();
        manifest.written_by = concat!("papermap-index ", env!("CARGO_PKG_VERSION")).into();
        let text = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
        let keep = file_names(Some(&manifest));
        self.tx.commit(&text, &keep)?;
        Ok(())
    }
}

fn file_names(m: Option<&Manifest>) -> Vec<String> {
    m.into_iter()
        .flat_map(|m| m.files.iter().map(|f| f.name.clone()))
        .collect()
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
