//! The library directory: a manifest (the commit point) and generation-named data files.
//!
//! `save` writes every file of a new generation (`g000007-papers.jsonl`, `…-embeddings.f32`,
//! `…-topics.json`, the index in `…-index/`), fsyncs them, then replaces `manifest.json`
//! atomically (temp file, rename, directory fsync). Killed at any moment, the directory holds
//! either the old manifest and its complete files or the new ones; files of a generation no
//! manifest names are deleted by the next save. Concurrent saves take turns on an advisory lock
//! (`.papermap.lock`); the last one wins whole.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use papermap_corpus::Paper;
use papermap_index::{Expected, VectorIndex};
use papermap_topics::TopicModel;

use crate::error::{PaperMapError, Result};
use crate::ModelFingerprint;

/// Name of the manifest inside a library directory.
pub const MANIFEST_FILE: &str = "manifest.json";
const FORMAT: &str = "papermap-library";
/// Held (advisory, exclusive) for the whole of a save.
const LOCK_FILE: &str = ".papermap.lock";
/// Highest library format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileEntry {
    role: String,
    name: String,
    bytes: u64,
    sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    format: String,
    format_version: u32,
    generation: u64,
    model: ModelFingerprint,
    papers: usize,
    index_kind: String,
    files: Vec<FileEntry>,
    written_by: String,
}

/// What a library directory holds, checked.
pub(crate) struct Stored {
    pub generation: u64,
    pub fingerprint: ModelFingerprint,
    pub papers: Vec<Paper>,
    pub vectors: Vec<f32>,
    pub index: VectorIndex,
    pub topics: Option<TopicModel>,
}

/// What `save` writes; borrowed from the map.
pub(crate) struct Snapshot<'a> {
    pub fingerprint: &'a ModelFingerprint,
    pub papers: &'a [Paper],
    pub vectors: &'a [f32],
    pub index: &'a VectorIndex,
    pub topics: Option<&'a TopicModel>,
}

/// Reads only the manifest's model: what built the library at `dir`.
pub(crate) fn read_fingerprint(dir: &Path) -> Result<ModelFingerprint> {
    Ok(read_manifest(dir)?.model)
}

fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(PaperMapError::NotALibrary { dir: dir.into() })
        }
        Err(e) => return Err(PaperMapError::io(&path)(e)),
    };
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| PaperMapError::corrupt(&path, format!("manifest does not parse: {e}")))?;
    if manifest.format != FORMAT {
        return Err(PaperMapError::NotALibrary { dir: dir.into() });
    }
    if manifest.format_version == 0 || manifest.format_version > FORMAT_VERSION {
        return Err(PaperMapError::UnsupportedVersion {
            dir: dir.into(),
            found: manifest.format_version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(manifest)
}

impl Manifest {
    fn file(&self, dir: &Path, role: &str) -> Result<(PathBuf, &FileEntry)> {
        self.files
            .iter()
            .find(|f| f.role == role)
            .map(|f| (dir.join(&f.name), f))
            .ok_or_else(|| {
                PaperMapError::corrupt(dir.join(MANIFEST_FILE), format!("lists no {role} file"))
            })
    }
}

/// Reads a file and checks it against its manifest entry.
fn read_checked(path: &Path, entry: &FileEntry) -> Result<Vec<u8>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(PaperMapError::corrupt(path, "file is missing"))
        }
        Err(e) => return Err(PaperMapError::io(path)(e)),
    };
    if bytes.len() as u64 != entry.bytes {
        let detail = format!(
            "{} bytes, the manifest records {}",
            bytes.len(),
            entry.bytes
        );
        return Err(PaperMapError::corrupt(path, detail));
    }
    let sha = hex::encode(Sha256::digest(&bytes));
    if sha != entry.sha256 {
        let detail = format!("sha256 {sha} differs from {} in the manifest", entry.sha256);
        return Err(PaperMapError::corrupt(path, detail));
    }
    Ok(bytes)
}

/// Opens the library at `dir`, verifying every file.
pub(crate) fn load(dir: &Path) -> Result<Stored> {
    // Two saves that commit while we read delete the files of the generation we started from; the
    // manifest then names a newer generation, which is what the caller wants to read anyway. A damaged
    // file under an unchanged manifest is an error at once.
    let mut retries = 3;
    loop {
        let m = read_manifest(dir)?;
        let generation = m.generation;
        match load_generation(dir, m) {
            Err(_)
                if retries > 0 && read_manifest(dir).is_ok_and(|n| n.generation != generation) =>
            {
                retries -= 1
            }
            result => return result,
        }
    }
}

fn load_generation(dir: &Path, m: Manifest) -> Result<Stored> {
    let dim = m.model.dimension;
    let (path, entry) = m.file(dir, "papers")?;
    let papers = parse_papers(&path, &read_checked(&path, entry)?)?;
    if papers.len() != m.papers {
        let detail = format!("{} papers, the manifest records {}", papers.len(), m.papers);
        return Err(PaperMapError::corrupt(path, detail));
    }
    let (path, entry) = m.file(dir, "embeddings")?;
    let bytes = read_checked(&path, entry)?;
    if bytes.len() != papers.len() * dim * 4 {
        let detail = format!(
            "{} bytes for {} papers of dimension {dim}",
            bytes.len(),
            papers.len()
        );
        return Err(PaperMapError::corrupt(path, detail));
    }
    let vectors: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let topics = match m.files.iter().any(|f| f.role == "topics") {
        false => None,
        true => {
            let (path, entry) = m.file(dir, "topics")?;
            let bytes = read_checked(&path, entry)?;
            let text =
                String::from_utf8(bytes).map_err(|_| PaperMapError::corrupt(&path, "not UTF-8"))?;
            let model = TopicModel::from_json(&text)
                .map_err(|e| PaperMapError::corrupt(&path, e.to_string()))?;
            Some(model)
        }
    };
    let (index_dir, entry) = m.file(dir, "index")?;
    read_checked(&index_dir.join(papermap_index::MANIFEST_FILE), entry)?;
    let index = VectorIndex::open(&index_dir, &Expected::new(m.model.index_key(), dim))?;
    if index.len() != papers.len() || papers.iter().any(|p| !index.contains(&p.id)) {
        return Err(PaperMapError::corrupt(
            index_dir,
            "index keys differ from the papers",
        ));
    }
    Ok(Stored {
        generation: m.generation,
        fingerprint: m.model,
        papers,
        vectors,
        index,
        topics,
    })
}

fn parse_papers(path: &Path, bytes: &[u8]) -> Result<Vec<Paper>> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_slice(line)
                .map_err(|e| PaperMapError::corrupt(path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}

/// Whether [`save`] would accept `dir` for a library of `fingerprint`; creates nothing.
/// Returns the generation found there (0: none).
pub(crate) fn check_save_target(dir: &Path, fingerprint: &ModelFingerprint) -> Result<u64> {
    Ok(previous_manifest(dir, fingerprint)?.map_or(0, |m| m.generation))
}

/// Writes `snapshot` to `dir` atomically; see the module docs. With `expected` set, refuses
/// ([`PaperMapError::Conflict`]) unless `dir` still holds that generation. Returns the
/// generation written.
pub(crate) fn save(dir: &Path, snapshot: &Snapshot, expected: Option<u64>) -> Result<u64> {
    // Refuse a foreign or mismatched directory before creating anything in it.
    check_save_target(dir, snapshot.fingerprint)?;
    fs::create_dir_all(dir).map_err(PaperMapError::io(dir))?;
    // Saves from several processes take turns: each would otherwise pick the same generation names and
    // delete the other's files as unreferenced. The lock goes with the file descriptor, so a killed
    // writer never leaves it held.
    let lock_path = dir.join(LOCK_FILE);
    let lock = File::create(&lock_path).map_err(PaperMapError::io(&lock_path))?;
    lock.lock().map_err(PaperMapError::io(&lock_path))?;
    // Under the lock, the manifest that counts is the one the previous writer left.
    let previous = previous_manifest(dir, snapshot.fingerprint)?;
    let found = previous.as_ref().map_or(0, |m| m.generation);
    if let Some(opened) = expected.filter(|&g| g != found) {
        return Err(PaperMapError::Conflict {
            dir: dir.into(),
            opened,
            found,
        });
    }
    remove_unreferenced(dir, previous.as_ref())?;
    let generation = found + 1;
    let name = |suffix: &str| format!("g{:06}-{suffix}", generation % 1_000_000);

    let mut files = Vec::new();
    files.push(write_file(dir, "papers", &name("papers.jsonl"), |out| {
        for paper in snapshot.papers {
            serde_json::to_writer(&mut *out, paper)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })?);
    files.push(write_file(
        dir,
        "embeddings",
        &name("embeddings.f32"),
        |out| {
            for chunk in snapshot.vectors.chunks(1 << 14) {
                let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
                out.write_all(&bytes)?;
            }
            Ok(())
        },
    )?);
    if let Some(topics) = snapshot.topics {
        files.push(write_file(dir, "topics", &name("topics.json"), |out| {
            out.write_all(topics.to_json().as_bytes())
        })?);
    }
    let index_name = name("index");
    let index_dir = dir.join(&index_name);
    snapshot.index.save(&index_dir)?;
    let index_manifest = index_dir.join(papermap_index::MANIFEST_FILE);
    let bytes = fs::read(&index_manifest).map_err(PaperMapError::io(&index_manifest))?;
    files.push(FileEntry {
        role: "index".into(),
        name: index_name,
        bytes: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(&bytes)),
    });

    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        generation,
        model: snapshot.fingerprint.clone(),
        papers: snapshot.papers.len(),
        index_kind: snapshot.index.kind().into(),
        files,
        written_by: concat!("papermap ", env!("CARGO_PKG_VERSION")).into(),
    };
    commit(dir, &manifest)?;
    remove_unreferenced(dir, Some(&manifest))?;
    Ok(generation)
}

/// The library's manifest, `None` for a directory that is missing or holds nothing but what a save
/// leaves before its first commit (lock, generation files, temp manifest), and an
/// error for a foreign directory, a damaged manifest or another model's library.
fn previous_manifest(dir: &Path, fingerprint: &ModelFingerprint) -> Result<Option<Manifest>> {
    match read_manifest(dir) {
        Ok(m) if &m.model != fingerprint => Err(PaperMapError::ModelMismatch {
            dir: dir.into(),
            library: m.model.to_string(),
            requested: fingerprint.to_string(),
        }),
        Ok(m) => Ok(Some(m)),
        Err(PaperMapError::NotALibrary { .. }) if is_empty_or_missing(dir)? => Ok(None),
        Err(PaperMapError::NotALibrary { .. }) => Err(PaperMapError::NotEmpty { dir: dir.into() }),
        // Includes a damaged manifest: never overwrite what someone may still recover.
        Err(e) => Err(e),
    }
}

fn is_empty_or_missing(dir: &Path) -> Result<bool> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(PaperMapError::io(dir))?;
                if !is_own_leftover(&entry.file_name().to_string_lossy()) {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(PaperMapError::io(dir)(e)),
    }
}

/// Writes a new file through `write`, fsyncs it and returns its manifest entry.
fn write_file(
    dir: &Path,
    role: &str,
    name: &str,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<FileEntry> {
    let path = dir.join(name);
    let file = File::create(&path).map_err(PaperMapError::io(&path))?;
    let mut out = HashingWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    write(&mut out).map_err(PaperMapError::io(&path))?;
    let file = out
        .inner
        .into_inner()
        .map_err(|e| PaperMapError::io(&path)(e.into_error()))?;
    file.sync_all().map_err(PaperMapError::io(&path))?;
    Ok(FileEntry {
        role: role.into(),
        name: name.into(),
        bytes: out.bytes,
        sha256: hex::encode(out.hasher.finalize()),
    })
}

/// Publishes the manifest: temp file, fsync, rename over the old one, directory fsync.
fn commit(dir: &Path, manifest: &Manifest) -> Result<()> {
    let path = dir.join(MANIFEST_FILE);
    let mut tmp = tempfile::Builder::new()
        .prefix(".manifest")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(PaperMapError::io(dir))?;
    serde_json::to_writer_pretty(tmp.as_file_mut(), manifest)
        .map_err(|e| PaperMapError::io(&path)(e.into()))?;
    #[cfg(unix)]
    {
        // tempfile creates 0600; a library is as readable as the files beside it.
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::Permissions::from_mode(0o644);
        tmp.as_file()
            .set_permissions(mode)
            .map_err(PaperMapError::io(&path))?;
    }
    tmp.as_file().sync_all().map_err(PaperMapError::io(&path))?;
    tmp.persist(&path)
        .map_err(|e| PaperMapError::io(&path)(e.error))?;
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(PaperMapError::io(dir))?;
    Ok(())
}

/// Files a save creates before it commits: a directory holding only these is papermap's, not foreign.
fn is_own_leftover(name: &str) -> bool {
    name == LOCK_FILE || is_generation_name(name) || is_temp_manifest(name)
}

fn is_temp_manifest(name: &str) -> bool {
    name.starts_with(".manifest") && name.ends_with(".tmp")
}

fn is_generation_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 8 && b[0] == b'g' && b[1..7].iter().all(u8::is_ascii_digit) && b[7] == b'-'
}

/// Deletes generation files and directories that `keep` does not name, and stale temp manifests.
fn remove_unreferenced(dir: &Path, keep: Option<&Manifest>) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(PaperMapError::io(dir))? {
        let entry = entry.map_err(PaperMapError::io(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let referenced = keep.is_some_and(|m| m.files.iter().any(|f| f.name == name));
        let stale_manifest = is_temp_manifest(name);
        if (is_generation_name(name) && !referenced) || stale_manifest {
            let path = entry.path();
            let removed = match entry
                .file_type()
                .map_err(PaperMapError::io(&path))?
                .is_dir()
            {
                true => fs::remove_dir_all(&path),
                false => fs::remove_file(&path),
            };
            removed.map_err(PaperMapError::io(&path))?;
        }
    }
    Ok(())
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
