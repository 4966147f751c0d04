//! The library directory, format 2: immutable segments and a manifest, as tantivy keeps an index.
//!
//! `manifest.json` is the commit point: format version, generation, the model's fingerprint, the
//! live segments (each file with its size and xxh3-64) and the topics file. A save writes only
//! what changed (a segment for the papers added, a deletes bitset for each segment that lost
//! rows, the topics), fsyncs it, then replaces the manifest atomically; files no manifest names
//! are deleted after the commit. Killed at any moment, the directory opens as the old state or the
//! new one. Opening maps the files and checks their sizes, headers and footers; nothing is parsed
//! or hashed until asked (`PaperMap::check` reads every byte). Saves take turns on an advisory
//! lock (`.papermap.lock`); a save that finds another generation than the one its map saw is
//! refused ([`PaperMapError::Conflict`]). Format-1 libraries open (see `v1`) and are upgraded by
//! their next save. Segments of similar size are merged once [`MERGE_FACTOR`] of them pile up.
//! The write policy itself (lock, generation, refusals, commit, cleanup) is papermap-store's
//! `Layout`; this module owns what a library's manifest and files hold.
//!
//! Files are memory-mapped (as tantivy maps its segments): a process that has them mapped gets
//! SIGBUS if another program truncates or rewrites one in place. papermap never does (files are
//! written once; old ones are deleted only after a commit, and a deleted file stays readable while
//! mapped on Linux), so the hazard is outside editing; the README says so to users.

mod facets;
pub(crate) mod segment;
mod topics;
mod v1;

use std::fs::{self, File};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{PaperMapError, Result};
use crate::ModelFingerprint;
use papermap_store::{FaultPoint, FileEntry, Found, Layout, StoreError};
pub(crate) use segment::{NewSegment, Segment, SegmentEntry, TextHash};
pub(crate) use topics::TopicsFile;
pub(crate) use v1::Stored as LegacyLibrary;

/// Name of the manifest inside a library directory.
pub const MANIFEST_FILE: &str = "manifest.json";
const FORMAT: &str = "papermap-library";
/// Highest library format version this build reads; the one it writes. 4: topics as a table and
/// mapped per-paper rows (`topics`); 3: segments carry metadata columns and the topics file is
/// framed (older builds refuse it cleanly instead of misreading it); 2: segments and a
/// manifest; 1: one generation read whole (`v1`).
pub const FORMAT_VERSION: u32 = 4;
/// Largest vector dimension a manifest may record.
const MAX_DIMENSION: usize = 65_536;
/// Segments in one size tier (a power of this) that trigger a merge of that tier.
pub(crate) const MERGE_FACTOR: usize = 8;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    format: String,
    format_version: u32,
    generation: u64,
    model: ModelFingerprint,
    /// Live papers.
    papers: usize,
    next_segment: u64,
    segments: Vec<SegmentEntry>,
    /// The topic table (`topics`).
    #[serde(default)]
    topics: Option<FileEntry>,
    /// The topic rows (`topics`; format 4 on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic_rows: Option<FileEntry>,
    written_by: String,
}

/// The write policy's view of a library directory (papermap-store owns the policy).
const LAYOUT: Layout = Layout {
    format: FORMAT,
    version: FORMAT_VERSION,
    manifest: MANIFEST_FILE,
    is_data_file,
};

/// The fields every format version has: the policy's head, and the model.
struct Head {
    format_version: u32,
    generation: u64,
    model: ModelFingerprint,
}

#[derive(Deserialize)]
struct ModelField {
    model: ModelFingerprint,
}

/// The head of a manifest the policy read, with the model checked.
fn head_of(dir: &Path, found: &Found) -> Result<Head> {
    let path = dir.join(MANIFEST_FILE);
    let ModelField { model } = serde_json::from_str(&found.text)
        .map_err(|e| PaperMapError::corrupt(&path, format!("manifest does not parse: {e}")))?;
    // Every length below is a multiple of the dimension: 0 or an absurd one is damage.
    if !(1..=MAX_DIMENSION).contains(&model.dimension) {
        let detail = format!(
            "model dimension {} (papermap reads 1..={MAX_DIMENSION})",
            model.dimension
        );
        return Err(PaperMapError::corrupt(&path, detail));
    }
    Ok(Head {
        format_version: found.head.format_version,
        generation: found.head.generation,
        model,
    })
}

fn read_head(dir: &Path) -> Result<(Head, String)> {
    match LAYOUT.read(dir) {
        Ok(Some(found)) => Ok((head_of(dir, &found)?, found.text)),
        Ok(None) | Err(StoreError::Foreign { .. }) => {
            Err(PaperMapError::NotALibrary { dir: dir.into() })
        }
        Err(e) => Err(e.into()),
    }
}

/// A library as `open` found it.
pub(crate) struct Opened {
    pub generation: u64,
    pub fingerprint: ModelFingerprint,
    pub segments: Vec<Segment>,
    pub topics: Option<TopicsFile>,
    /// A format-1 library, read whole; the next save writes it as a segment.
    pub legacy: Option<LegacyLibrary>,
}

fn parse_manifest(dir: &Path, text: &str) -> Result<Manifest> {
    serde_json::from_str(text).map_err(|e| {
        PaperMapError::corrupt(
            dir.join(MANIFEST_FILE),
            format!("manifest does not parse: {e}"),
        )
    })
}

/// Reads only the manifest's model: what built the library at `dir`.
pub(crate) fn read_fingerprint(dir: &Path) -> Result<ModelFingerprint> {
    Ok(read_head(dir)?.0.model)
}

/// Opens the library at `dir`: maps every file and checks sizes, headers and footers.
pub(crate) fn open(dir: &Path) -> Result<Opened> {
    // A save that commits while we read may delete files of the generation we started from; the
    // manifest then names a newer one, which is what the caller wants anyway. A damaged file under
    // an unchanged manifest is an error at once.
    let mut retries = 3;
    loop {
        let (head, text) = read_head(dir)?;
        match open_generation(dir, head, &text) {
            Err(_)
                if retries > 0
                    && read_head(dir).is_ok_and(|(h, _)| h.generation != generation_of(&text)) =>
            {
                retries -= 1
            }
            result => return result,
        }
    }
}

fn generation_of(text: &str) -> u64 {
    serde_json::from_str::<papermap_store::Head>(text).map_or(0, |h| h.generation)
}

fn open_generation(dir: &Path, head: Head, text: &str) -> Result<Opened> {
    if head.format_version == 1 {
        let legacy = v1::load(dir, text)?;
        return Ok(Opened {
            generation: head.generation,
            fingerprint: head.model,
            segments: Vec::new(),
            topics: None,
            legacy: Some(legacy),
        });
    }
    let m = parse_manifest(dir, text)?;
    let dim = m.model.dimension;
    let segments = m
        .segments
        .iter()
        .map(|entry| Segment::open(dir, entry.clone(), dim))
        .collect::<Result<Vec<_>>>()?;
    let live = segments
        .iter()
        .try_fold(0usize, |sum, s| sum.checked_add(s.rows() - s.entry.deleted));
    if live != Some(m.papers) {
        let live = live.map_or("more than 2^64".into(), |n| n.to_string());
        let detail = format!(
            "segments hold {live} papers, the manifest records {}",
            m.papers
        );
        return Err(PaperMapError::corrupt(dir.join(MANIFEST_FILE), detail));
    }
    let topics = match (m.topics, m.topic_rows) {
        (None, None) => None,
        (Some(table), rows) => Some(TopicsFile::open(dir, table, rows)?),
        (None, Some(_)) => {
            let detail = "the manifest names topic rows without a topic table";
            return Err(PaperMapError::corrupt(dir.join(MANIFEST_FILE), detail));
        }
    };
    Ok(Opened {
        generation: m.generation,
        fingerprint: m.model,
        segments,
        topics,
        legacy: None,
    })
}

/// Opens `dir` and reads every byte of every file against its checksum. Returns the papers.
pub(crate) fn check(dir: &Path) -> Result<usize> {
    let opened = open(dir)?;
    let mut papers = 0;
    for segment in &opened.segments {
        segment.verify(dir)?;
        papers += segment.rows() - segment.entry.deleted;
    }
    if let Some(topics) = &opened.topics {
        topics.load()?;
    }
    if let Some(legacy) = &opened.legacy {
        papers = legacy.papers.len(); // format 1 verifies every sha256 on open
    }
    Ok(papers)
}

/// What `save` writes; borrowed from the map.
pub(crate) struct Snapshot<'a> {
    pub fingerprint: &'a ModelFingerprint,
    /// Segments kept, each with its current removed-rows bitset.
    pub segments: Vec<(&'a Segment, &'a [u64])>,
    /// Papers added since the map was opened.
    pub fresh: NewSegment<'a>,
    pub topics: Option<Topics<'a>>,
}

/// Topics to save: the file they are in already, or a model to write.
pub(crate) enum Topics<'a> {
    Stored(&'a TopicsFile),
    Model(&'a papermap_topics::TopicModel),
}

/// Whether [`save`] would accept `dir` for a library of `fingerprint`; creates nothing.
/// Returns the generation found there (0: none).
pub(crate) fn check_save_target(dir: &Path, fingerprint: &ModelFingerprint) -> Result<u64> {
    Ok(previous(dir, fingerprint)?.map_or(0, |(h, _)| h.generation))
}

/// Writes `snapshot` to `dir`; see the module docs. With `expected` set, refuses
/// ([`PaperMapError::Conflict`]) unless `dir` still holds that generation. Returns the
/// generation written.
pub(crate) fn save(
    dir: &Path,
    snapshot: &Snapshot,
    expected: Option<u64>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<u64> {
    check_save_target(dir, snapshot.fingerprint)?;
    let mut tx = LAYOUT.begin(dir, expected)?;
    let previous = tx.previous().cloned();
    if let Some(found) = &previous {
        check_model(dir, &head_of(dir, found)?, snapshot.fingerprint)?;
    }
    let old = match &previous {
        // Formats 2 to 4 share the manifest's shape (4 adds a field).
        Some(f) if f.head.format_version >= 2 => Some(parse_manifest(dir, &f.text)?),
        _ => None,
    };
    tx.remove_leftovers(&referenced(old.as_ref(), previous.as_ref()))?;
    let generation = tx.generation();
    let mut next_segment = old.as_ref().map_or(1, |m| m.next_segment);
    let fault = &mut tx.fault;
    let here = dir.canonicalize().ok();

    let mut segments = Vec::new();
    for &(segment, deleted) in &snapshot.segments {
        let mut entry = segment.entry.clone();
        let elsewhere = segment.dir().canonicalize().ok() != here;
        if elsewhere {
            entry = copy_segment(segment, dir, next_segment, fault)?;
            next_segment += 1;
        }
        if elsewhere || deleted != segment.deleted.as_slice() {
            entry.files.retain(|f| f.role != "deletes");
            entry.deleted = segment::count_set(deleted);
            if entry.deleted > 0 {
                let file = segment::write_deletes(dir, entry.id, generation, entry.rows, deleted)?;
                entry.files.push(file);
                fault.step();
            }
        }
        segments.push(entry);
    }
    if !snapshot.fresh.papers.is_empty() {
        let files = segment::write(dir, next_segment, &snapshot.fresh, fault, progress)?;
        segments.push(SegmentEntry {
            id: next_segment,
            rows: snapshot.fresh.papers.len(),
            deleted: 0,
            files,
        });
        next_segment += 1;
    }
    let (topics, topic_rows) = match &snapshot.topics {
        None => (None, None),
        Some(Topics::Stored(t)) if t.current_in(here.as_deref()) => {
            let (table, rows) = t.entries();
            (Some(table), rows)
        }
        Some(Topics::Stored(t)) => {
            let (table, rows) = topics::write(dir, generation, &t.load()?, fault)?;
            (Some(table), Some(rows))
        }
        Some(Topics::Model(m)) => {
            let (table, rows) = topics::write(dir, generation, m, fault)?;
            (Some(table), Some(rows))
        }
    };
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        generation,
        model: snapshot.fingerprint.clone(),
        papers: segments.iter().map(|s| s.rows - s.deleted).sum(),
        next_segment,
        segments,
        topics,
        topic_rows,
        written_by: concat!("papermap ", env!("CARGO_PKG_VERSION")).into(),
    };
    let text = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
    Ok(tx.commit(&text, &referenced(Some(&manifest), None))?)
}

/// Copies a segment's data files into `dir` as segment `id` (saving a map elsewhere).
fn copy_segment(
    segment: &Segment,
    dir: &Path,
    id: u64,
    fault: &mut FaultPoint,
) -> Result<SegmentEntry> {
    let mut entry = segment.entry.clone();
    entry.id = id;
    entry.files.retain(|f| f.role != "deletes");
    for file in &mut entry.files {
        let ext = file.name.rsplit('.').next().unwrap_or("bin").to_string();
        let from = segment.dir().join(&file.name);
        file.name = format!("seg{id:06}.{ext}");
        let to = dir.join(&file.name);
        fs::copy(&from, &to).map_err(PaperMapError::io(&to))?;
        File::open(&to)
            .and_then(|f| f.sync_all())
            .map_err(PaperMapError::io(&to))?;
        fault.step();
    }
    Ok(entry)
}

/// The library's head and manifest text, `None` for a directory that is missing or holds nothing
/// but what a save leaves before its first commit, and an error for a foreign directory, a
/// damaged manifest or another model's library.
fn previous(dir: &Path, fingerprint: &ModelFingerprint) -> Result<Option<(Head, String)>> {
    match LAYOUT.check_target(dir)? {
        None => Ok(None),
        Some(found) => {
            let head = head_of(dir, &found)?;
            check_model(dir, &head, fingerprint)?;
            Ok(Some((head, found.text)))
        }
    }
}

fn check_model(dir: &Path, head: &Head, fingerprint: &ModelFingerprint) -> Result<()> {
    if &head.model != fingerprint {
        return Err(PaperMapError::ModelMismatch {
            dir: dir.into(),
            library: head.model.to_string(),
            requested: fingerprint.to_string(),
        });
    }
    Ok(())
}

/// Names of the data files a manifest (format 2, or the format-1 text) refers to.
fn referenced(m: Option<&Manifest>, previous: Option<&Found>) -> Vec<String> {
    let mut names: Vec<String> = m
        .into_iter()
        .flat_map(|m| {
            let topics = m.topics.iter().chain(&m.topic_rows);
            m.segments.iter().flat_map(|s| &s.files).chain(topics)
        })
        .map(|f| f.name.clone())
        .collect();
    if let Some(found) = previous.filter(|f| f.head.format_version == 1) {
        names.extend(v1::file_names(&found.text));
    }
    names
}

/// Data files of formats 2–4 (`seg000001.*`, `topics.g000003.pmt` and `.pmr`, before them
/// `.json`) and format 1
/// (`g000002-*`).
fn is_data_file(name: &str) -> bool {
    let digits = |s: &[u8]| s.len() >= 6 && s[..6].iter().all(u8::is_ascii_digit);
    let b = name.as_bytes();
    (b.starts_with(b"seg") && digits(&b[3..]))
        || (b.starts_with(b"topics.g") && digits(&b[8..]))
        || papermap_store::is_generation_file(name)
}
