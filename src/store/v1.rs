//! Format 1 of the library directory, read-only: libraries written by papermap before
//! segments keep opening (all in memory, as format 1 always was); the next save upgrades them.
//!
//! Format 1 is a manifest plus one generation of files: `g000007-papers.jsonl`,
//! `…-embeddings.f32`, `…-topics.json` and the index in `…-index/`, each with its sha256.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use papermap_corpus::Paper;
use papermap_topics::TopicModel;

use crate::error::{PaperMapError, Result};
use crate::ModelFingerprint;
use crate::MANIFEST_FILE;

#[derive(Debug, Clone, Deserialize)]
struct FileEntry {
    role: String,
    name: String,
    bytes: u64,
    sha256: String,
}

/// The index a format-1 library kept (`…-index/manifest.json`): derived data, checked and then
/// rebuilt from the embeddings, so only its checksums and keys are read.
#[derive(Debug, Clone, Deserialize)]
struct IndexManifest {
    count: usize,
    files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Deserialize)]
struct Manifest {
    model: ModelFingerprint,
    papers: usize,
    files: Vec<FileEntry>,
}

/// What a format-1 library holds, checked.
pub(crate) struct Stored {
    pub papers: Vec<Paper>,
    pub vectors: Vec<f32>,
    pub topics: Option<TopicModel>,
}

/// The data files a format-1 manifest names (deleted once a format-2 save committed).
pub(crate) fn file_names(text: &str) -> Vec<String> {
    serde_json::from_str::<Manifest>(text)
        .map(|m| m.files.into_iter().map(|f| f.name).collect())
        .unwrap_or_default()
}

impl Manifest {
    fn file(&self, dir: &Path, role: &str) -> Result<(PathBuf, &FileEntry)> {
        let manifest = dir.join(MANIFEST_FILE);
        let f =
            self.files.iter().find(|f| f.role == role).ok_or_else(|| {
                PaperMapError::corrupt(&manifest, format!("lists no {role} file"))
            })?;
        Ok((join(dir, &manifest, &f.name)?, f))
    }
}

/// Reads a file and checks it against its manifest entry: a regular file of the recorded size
/// (checked before reading, so a damaged manifest cannot make it read a device or a huge file),
/// then its sha256, computed over the bytes returned.
fn read_checked(path: &Path, entry: &FileEntry) -> Result<Vec<u8>> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(PaperMapError::corrupt(path, "file is missing"))
        }
        Err(e) => return Err(PaperMapError::io(path)(e)),
    };
    if !meta.is_file() || meta.len() != entry.bytes {
        let detail = format!("{} bytes, the manifest records {}", meta.len(), entry.bytes);
        return Err(PaperMapError::corrupt(path, detail));
    }
    let bytes = fs::read(path).map_err(PaperMapError::io(path))?;
    let sha = papermap_store::sha256_hex(&bytes);
    if bytes.len() as u64 != entry.bytes || sha != entry.sha256 {
        let detail = format!("sha256 {sha} differs from {} in the manifest", entry.sha256);
        return Err(PaperMapError::corrupt(path, detail));
    }
    Ok(bytes)
}

/// `dir/name` for a name from a manifest, refusing one that is not a plain file name.
fn join(dir: &Path, manifest: &Path, name: &str) -> Result<PathBuf> {
    match papermap_store::is_plain_name(name) {
        true => Ok(dir.join(name)),
        false => Err(PaperMapError::corrupt(
            manifest,
            format!("names {name:?}, not a file name"),
        )),
    }
}

/// Reads the format-1 library at `dir` (manifest text already read), verifying every file.
pub(crate) fn load(dir: &Path, manifest: &str) -> Result<Stored> {
    let path = dir.join(MANIFEST_FILE);
    let m: Manifest = serde_json::from_str(manifest)
        .map_err(|e| PaperMapError::corrupt(&path, format!("manifest does not parse: {e}")))?;
    load_generation(dir, m)
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
    check_index(dir, &m, &papers)?;
    Ok(Stored {
        papers,
        vectors,
        topics,
    })
}

/// Checks the library's index: its manifest and files against their sha256, its keys against
/// the papers. Nothing else of it is read: the next save builds papermap's own graph.
fn check_index(dir: &Path, m: &Manifest, papers: &[Paper]) -> Result<()> {
    let (index_dir, entry) = m.file(dir, "index")?;
    let manifest_path = index_dir.join(MANIFEST_FILE);
    let text = read_checked(&manifest_path, entry)?;
    let index: IndexManifest = serde_json::from_slice(&text)
        .map_err(|e| PaperMapError::corrupt(&manifest_path, format!("does not parse: {e}")))?;
    let mut keys = None;
    for file in &index.files {
        let bytes = read_checked(&join(&index_dir, &manifest_path, &file.name)?, file)?;
        if file.role == "keys" {
            keys = Some(bytes);
        }
    }
    let differ = || PaperMapError::corrupt(&index_dir, "index keys differ from the papers");
    let keys: Vec<Option<String>> = serde_json::from_slice(&keys.ok_or_else(differ)?)
        .map_err(|e| PaperMapError::corrupt(&index_dir, format!("keys do not parse: {e}")))?;
    let mut keys: Vec<String> = keys.into_iter().flatten().collect();
    let mut ids: Vec<&str> = papers.iter().map(|p| p.id.as_str()).collect();
    keys.sort_unstable();
    ids.sort_unstable();
    if index.count != papers.len() || keys != ids {
        return Err(differ());
    }
    Ok(())
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
