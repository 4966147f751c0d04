//! A segment: papers added together, written once and then only mapped.
//!
//! Files of segment 7: `seg000007.papers` (each paper's JSON, read on demand through an offset
//! table), `seg000007.keys` (ids hashed and sorted for binary search; each row's text hash for
//! the embedding cache), `seg000007.npy` (the f32 vectors, which numpy can map), and from
//! [`GRAPH_ROWS`] rows on `seg000007.graph` (papermap's HNSW graph with its f16 traversal copy).
//! Removed rows are a bitset in `seg000007.g<generation>.deletes`, a new file whenever it changes.
//! `seg000007.facets` is the metadata column filters read ([`super::facets`]); segments written
//! before it existed have none and are filtered by reading each candidate's JSON.

use std::borrow::Cow;
use std::path::Path;

use papermap_corpus::Paper;
use papermap_index::{build_graph, dot, GraphView, HnswParams};
use rayon::prelude::*;

use super::facets::{self, Facets};
use crate::error::{PaperMapError, Result};
use crate::filter::MetadataFilter;
use papermap_store::{npy, u64_at, FaultPoint, FileEntry, FileWriter, Mapped, HEADER};

const PAPERS: &[u8; 8] = b"papers\0\0";
const KEYS: &[u8; 8] = b"keys\0\0\0\0";
const DELETES: &[u8; 8] = b"deletes\0";
const VERSION: u32 = 1;
/// Papers serialised at a time while writing a segment.
const CHUNK: usize = 65_536;
/// Text hashes keep the first 16 bytes of the sha256 of a paper's embedded text.
pub(crate) type TextHash = [u8; 16];

/// The fields of a paper a hit shows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PaperHead {
    pub id: String,
    pub title: String,
    pub link: Option<String>,
}

/// [`PaperHead`] as it is decoded: strings borrowed from the mapped record where they hold no
/// escapes; every other field skipped unparsed.
#[derive(serde::Deserialize)]
struct BorrowedHead<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    title: Cow<'a, str>,
    #[serde(default, borrow)]
    link: Option<Cow<'a, str>>,
}

/// A record's id only, for the id lookup.
#[derive(serde::Deserialize)]
struct BorrowedId<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

/// Rows marked in a removed-rows bitset.
pub(crate) fn count_set(bits: &[u64]) -> usize {
    bits.iter().map(|w| w.count_ones() as usize).sum()
}

/// The hash an id is looked up by.
fn id_hash(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes())
}

/// The first 16 bytes of the paper's text digest: the embedding cache's key.
pub(crate) fn text_hash(paper: &Paper) -> TextHash {
    let digest = paper.text_digest();
    digest[..16].try_into().expect("16 of 32 bytes")
}

/// Segment data in memory, about to be written.
pub(crate) struct NewSegment<'a> {
    pub papers: &'a [Paper],
    pub vectors: &'a [f32],
    pub hashes: &'a [TextHash],
    pub dim: usize,
    /// Build an HNSW graph with these parameters (segments from the map's HNSW threshold on).
    pub graph: Option<HnswParams>,
}

fn name(id: u64, ext: &str) -> String {
    format!("seg{id:06}.{ext}")
}

/// Writes the files of segment `id`; returns their manifest entries. `progress(done, total)`
/// follows the graph build, by far the longest part.
pub(crate) fn write(
    dir: &Path,
    id: u64,
    seg: &NewSegment,
    fault: &mut FaultPoint,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<FileEntry>> {
    let n = seg.papers.len();
    let mut files = Vec::new();

    // Papers: the JSON of each, then the offset table, then the count. Serialised in chunks
    // (twice: lengths first, for the header) so a large segment is never held as text whole.
    // A paper that does not serialise is an error, never an empty record.
    let encode = |p: &Paper| {
        serde_json::to_vec(p).map_err(|e| PaperMapError::BadPaper {
            id: p.id.clone(),
            reason: format!("does not serialise: {e}"),
        })
    };
    let mut lengths: Vec<u64> = Vec::with_capacity(n);
    for chunk in seg.papers.chunks(CHUNK) {
        let chunk: Vec<u64> = chunk
            .par_iter()
            .map(|p| encode(p).map(|b| b.len() as u64))
            .collect::<Result<_>>()?;
        lengths.extend(chunk);
    }
    let text: u64 = lengths.iter().sum();
    let pad = text.next_multiple_of(8) - text;
    let payload = text + pad + (n as u64 + 1) * 8 + 8;
    let mut w = FileWriter::framed(dir, &name(id, "papers"), "papers", PAPERS, VERSION, payload)?;
    for chunk in seg.papers.chunks(CHUNK) {
        let blobs: Vec<Vec<u8>> = chunk.par_iter().map(encode).collect::<Result<_>>()?;
        for blob in blobs {
            w.write_all(&blob)?;
        }
    }
    w.write_all(&[0u8; 8][..pad as usize])?;
    let mut offsets = Vec::with_capacity((n + 1) * 8);
    let mut at = 0u64;
    offsets.extend(at.to_le_bytes());
    for len in lengths {
        at += len;
        offsets.extend(at.to_le_bytes());
    }
    w.write_all(&offsets)?;
    w.write_all(&(n as u64).to_le_bytes())?;
    files.push(w.finish_framed()?);
    fault.step();

    // Keys: (id hash, row) sorted, then text hashes by row.
    let mut table: Vec<(u64, u64)> = seg
        .papers
        .iter()
        .enumerate()
        .map(|(row, p)| (id_hash(&p.id), row as u64))
        .collect();
    table.par_sort_unstable();
    let payload = (8 + n * 16 + n * 16) as u64;
    let mut w = FileWriter::framed(dir, &name(id, "keys"), "keys", KEYS, VERSION, payload)?;
    w.write_all(&(n as u64).to_le_bytes())?;
    let mut buf = Vec::with_capacity(n * 16);
    for (hash, row) in table {
        buf.extend(hash.to_le_bytes());
        buf.extend(row.to_le_bytes());
    }
    w.write_all(&buf)?;
    w.write_all(seg.hashes.as_flattened())?;
    files.push(w.finish_framed()?);
    fault.step();

    files.push(npy::write(dir, &name(id, "npy"), seg.vectors, n, seg.dim)?);
    fault.step();

    files.push(facets::write(dir, &name(id, "facets"), seg.papers)?);
    fault.step();

    if let Some(params) = &seg.graph {
        let graph = build_graph(seg.vectors, seg.dim, params, progress)?;
        let mut w = FileWriter::create(dir, &name(id, "graph"), "graph")?;
        graph
            .write(&mut w)
            .map_err(PaperMapError::io(dir.join(name(id, "graph"))))?;
        drop(graph);
        files.push(w.finish()?);
        fault.step();
    }
    Ok(files)
}

/// Writes segment `id`'s removed rows as of `generation`.
pub(crate) fn write_deletes(
    dir: &Path,
    id: u64,
    generation: u64,
    rows: usize,
    bits: &[u64],
) -> Result<FileEntry> {
    let file = name(id, &format!("g{generation:06}.deletes"));
    let payload = (8 + bits.len() * 8) as u64;
    let mut w = FileWriter::framed(dir, &file, "deletes", DELETES, VERSION, payload)?;
    w.write_all(&(rows as u64).to_le_bytes())?;
    let bytes: Vec<u8> = bits.iter().flat_map(|b| b.to_le_bytes()).collect();
    w.write_all(&bytes)?;
    Ok(w.finish_framed()?)
}

/// A segment as the manifest lists it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct SegmentEntry {
    pub id: u64,
    pub rows: usize,
    /// Rows removed since the segment was written.
    pub deleted: usize,
    pub files: Vec<FileEntry>,
}

/// Bytes of all a segment's files, as its manifest entry records them.
fn entry_bytes(entry: &SegmentEntry) -> u64 {
    entry
        .files
        .iter()
        .fold(0u64, |sum, f| sum.saturating_add(f.bytes))
}

impl SegmentEntry {
    pub fn file(&self, role: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.role == role)
    }
}

/// A segment opened from disk: its files mapped, nothing parsed.
#[derive(Debug)]
pub(crate) struct Segment {
    pub entry: SegmentEntry,
    papers: Mapped,
    keys: Mapped,
    vectors: Mapped,
    vectors_at: usize,
    dim: usize,
    /// The HNSW graph over the rows, mapped; `None`: small segments are scanned.
    graph: Option<GraphView<Mapped>>,
    /// The metadata column; `None` in segments written before it existed.
    facets: Option<Facets>,
    /// Removed rows as of the manifest (the map keeps its own, possibly newer, copy).
    pub deleted: Vec<u64>,
}

impl Segment {
    /// Maps the segment's files, checking sizes, headers and footers (not checksums).
    pub fn open(dir: &Path, entry: SegmentEntry, dim: usize) -> Result<Segment> {
        let need = |role: &str| {
            entry.file(role).ok_or_else(|| {
                PaperMapError::corrupt(
                    dir.join(crate::MANIFEST_FILE),
                    format!("segment {} lists no {role} file", entry.id),
                )
            })
        };
        let papers = Mapped::open(dir, need("papers")?)?;
        let keys = Mapped::open(dir, need("keys")?)?;
        let vectors = Mapped::open(dir, need("vectors")?)?;
        let n = entry.rows;
        let manifest = dir.join(crate::MANIFEST_FILE);
        // Values from the manifest bound every slice below: refuse the impossible ones first.
        if entry.deleted > n
            || n.checked_mul(32)
                .is_none_or(|b| b as u64 > entry_bytes(&entry))
        {
            let detail = format!(
                "segment {} records {n} rows ({} removed), more than its files can hold",
                entry.id, entry.deleted
            );
            return Err(PaperMapError::corrupt(manifest, detail));
        }
        let vectors_at = npy::check(&vectors, entry.rows, dim)?;
        let p = papers.payload(PAPERS, VERSION)?;
        if p.len() < 8 || u64_at(p, p.len() - 8) as usize != n || p.len() < (n + 2) * 8 {
            return Err(PaperMapError::corrupt(
                &papers.path,
                format!("does not hold the {n} papers the manifest records"),
            ));
        }
        let k = keys.payload(KEYS, VERSION)?;
        if k.len() != 8 + 32 * n || u64_at(k, 0) as usize != n {
            return Err(PaperMapError::corrupt(
                &keys.path,
                format!("does not hold the {n} keys the manifest records"),
            ));
        }
        let mut deleted = vec![0u64; n.div_ceil(64)];
        if let Some(del) = entry.file("deletes") {
            let file = Mapped::open(dir, del)?;
            let d = file.payload(DELETES, VERSION)?;
            if d.len() != 8 + deleted.len() * 8 || u64_at(d, 0) as usize != n {
                return Err(PaperMapError::corrupt(
                    &file.path,
                    format!("is not a bitset of {n} rows"),
                ));
            }
            for (i, word) in deleted.iter_mut().enumerate() {
                *word = u64_at(d, 8 + i * 8);
            }
            let count = count_set(&deleted);
            if count != entry.deleted {
                return Err(PaperMapError::corrupt(
                    &file.path,
                    format!(
                        "marks {count} rows removed, the manifest records {}",
                        entry.deleted
                    ),
                ));
            }
        }
        let graph = match entry.file("graph") {
            None => None,
            Some(file) => {
                let mapped = Mapped::open(dir, file)?;
                let path = mapped.path.clone();
                let view = GraphView::new(mapped)
                    .and_then(|v| v.expect_shape(dim, n).map(|()| v))
                    .map_err(|e| PaperMapError::corrupt(&path, e.to_string()))?;
                Some(view)
            }
        };
        let facets = match entry.file("facets") {
            None => None,
            Some(file) => Some(Facets::open(dir, file, n)?),
        };
        Ok(Segment {
            entry,
            papers,
            keys,
            vectors,
            vectors_at,
            dim,
            graph,
            facets,
            deleted,
        })
    }

    pub fn rows(&self) -> usize {
        self.entry.rows
    }

    /// The library directory the segment's files are in.
    pub fn dir(&self) -> &Path {
        self.papers.path.parent().unwrap_or(Path::new("."))
    }

    /// Reads every file completely and compares its checksum with the manifest's.
    pub fn verify(&self, dir: &Path) -> Result<()> {
        for (mapped, role) in [
            (&self.papers, "papers"),
            (&self.keys, "keys"),
            (&self.vectors, "vectors"),
        ] {
            mapped.verify(self.entry.file(role).expect("opened with it"))?;
        }
        if let Some(del) = self.entry.file("deletes") {
            Mapped::open(dir, del)?.verify(del)?;
        }
        if let (Some(graph), Some(entry)) = (&self.graph, self.entry.file("graph")) {
            graph.bytes().verify(entry)?;
        }
        if let (Some(facets), Some(entry)) = (&self.facets, self.entry.file("facets")) {
            facets.verify(entry)?;
        }
        // Every paper must parse: a flipped byte that kept the checksum is impossible, but a
        // file written by a buggy writer is worth knowing about.
        (0..self.rows())
            .into_par_iter()
            .try_for_each(|row| self.paper(row).map(drop))
    }

    /// Paper `row`'s JSON record.
    fn record(&self, row: usize) -> Result<&[u8]> {
        let p = self.papers.payload(PAPERS, VERSION)?;
        let n = self.rows();
        let table = p.len() - 8 - (n + 1) * 8;
        let (start, end) = (
            u64_at(p, table + row * 8) as usize,
            u64_at(p, table + row * 8 + 8) as usize,
        );
        if start > end || end > table {
            return Err(PaperMapError::corrupt(
                &self.papers.path,
                format!("offset table damaged at paper {row}"),
            ));
        }
        Ok(&p[start..end])
    }

    /// Decodes paper `row`'s record as `T` (the whole paper, or the few fields a caller needs).
    fn decode<'a, T: serde::Deserialize<'a>>(&'a self, row: usize) -> Result<T> {
        serde_json::from_slice(self.record(row)?)
            .map_err(|e| PaperMapError::corrupt(&self.papers.path, format!("paper {row}: {e}")))
    }

    /// Paper `row`, parsed from its JSON.
    pub fn paper(&self, row: usize) -> Result<Paper> {
        self.decode(row)
    }

    /// Paper `row`'s id, title and link, without allocating its abstract and metadata: what a
    /// hit shows.
    pub fn head(&self, row: usize) -> Result<PaperHead> {
        let head: BorrowedHead = self.decode(row)?;
        Ok(PaperHead {
            id: head.id.into_owned(),
            title: head.title.into_owned(),
            link: head.link.map(Cow::into_owned),
        })
    }

    /// The row of `id`, removed or not.
    pub fn find(&self, id: &str) -> Result<Option<usize>> {
        let k = &self.keys.bytes()[HEADER + 8..];
        let n = self.rows();
        let hash = id_hash(id);
        let key_at = |i: usize| u64_at(k, i * 16);
        // First entry with this hash, then every entry sharing it (ids whose hashes collide).
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if key_at(mid) < hash {
                lo = mid + 1
            } else {
                hi = mid
            }
        }
        while lo < n && key_at(lo) == hash {
            let row = u64_at(k, lo * 16 + 8) as usize;
            if row < n && self.decode::<BorrowedId>(row)?.id == id {
                return Ok(Some(row));
            }
            lo += 1;
        }
        Ok(None)
    }

    pub fn text_hash(&self, row: usize) -> TextHash {
        let k = &self.keys.bytes()[HEADER + 8 + self.rows() * 16..];
        k[row * 16..row * 16 + 16].try_into().expect("16 bytes")
    }

    pub fn vector(&self, row: usize) -> &[f32] {
        let all = npy::rows(&self.vectors, self.vectors_at, self.rows() * self.dim);
        &all[row * self.dim..(row + 1) * self.dim]
    }

    /// All vectors, row-major.
    pub fn vectors(&self) -> &[f32] {
        npy::rows(&self.vectors, self.vectors_at, self.rows() * self.dim)
    }

    /// The rows meeting `filter` (ascending, removed ones included) from the metadata column;
    /// `None` where the segment has none.
    pub fn filter_rows(&self, filter: &MetadataFilter) -> Result<Option<Vec<u32>>> {
        self.facets.as_ref().map(|f| f.rows(filter)).transpose()
    }

    /// Whether queries on this segment walk an HNSW graph (else they scan it).
    pub fn has_graph(&self) -> bool {
        self.graph.is_some()
    }

    /// The best `k` rows for `query` among those `accept` lets through: (score, row). With a
    /// graph, `ef` is the beam width (at least `k`).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        accept: &(dyn Fn(usize) -> bool + Sync),
    ) -> Result<Vec<(f32, usize)>> {
        search_rows(
            self.graph.as_ref(),
            self.vectors(),
            self.dim,
            query,
            k,
            ef,
            accept,
        )
    }
}

/// The best `k` rows of `vectors` (row-major, `dim` wide) for `query` among those `accept` lets
/// through, best first: through `graph` (beam width `ef`, at least `k`) when there is one, else
/// by a scan on all cores. Segments and the map's unsaved papers both search through this.
pub(crate) fn search_rows<B: AsRef<[u8]>>(
    graph: Option<&GraphView<B>>,
    vectors: &[f32],
    dim: usize,
    query: &[f32],
    k: usize,
    ef: usize,
    accept: &(dyn Fn(usize) -> bool + Sync),
) -> Result<Vec<(f32, usize)>> {
    let mut hits: Vec<(f32, usize)> = match graph {
        Some(graph) => {
            let accept_row = |row: u32| accept(row as usize);
            let found = graph.search_best(vectors, query, k, ef.max(k), Some(&accept_row))?;
            found
                .into_iter()
                .map(|(score, row)| (score, row as usize))
                .collect()
        }
        // A small scan runs on the caller's thread: a hop into rayon's pool and back costs
        // more than scanning a few thousand rows, and a server thread would sit blocked on it.
        None if vectors.len() <= dim * SCAN_CHUNK_ROWS => {
            best_in_chunk(vectors, 0, dim, query, k, accept)
        }
        None => vectors
            .par_chunks(dim * SCAN_CHUNK_ROWS)
            .enumerate()
            .flat_map_iter(|(chunk, rows)| {
                best_in_chunk(rows, chunk * SCAN_CHUNK_ROWS, dim, query, k, accept)
            })
            .collect(),
    };
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    hits.truncate(k);
    Ok(hits)
}

/// Rows per task of a parallel scan; a scan of at most this many rows is not split.
const SCAN_CHUNK_ROWS: usize = 4096;

/// The best `k` accepted rows of one chunk of a scan, best first; `first` is the chunk's first
/// row number.
fn best_in_chunk(
    rows: &[f32],
    first: usize,
    dim: usize,
    query: &[f32],
    k: usize,
    accept: &(dyn Fn(usize) -> bool + Sync),
) -> Vec<(f32, usize)> {
    let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
    if k == 0 {
        // Nothing asked; the comparison below reads the worst kept score.
        return best;
    }
    for (i, v) in rows.chunks_exact(dim).enumerate() {
        let row = first + i;
        if !accept(row) {
            continue;
        }
        let score = dot(query, v);
        if best.len() < k || score > best[best.len() - 1].0 {
            let at = best.partition_point(|b| b.0 >= score);
            best.insert(at, (score, row));
            best.truncate(k);
        }
    }
    best
}
