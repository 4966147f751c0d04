//! [`PaperMap`]: papers, their vectors, the index and the topics, kept consistent.
//!
//! A map is the library's segments (mapped from disk, never parsed whole) plus the papers added
//! since it was opened (`fresh`, in memory until the next save) and the rows removed since.
//! Reading a paper decodes one JSON record; a query searches every segment and the fresh papers
//! and merges the hits.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use papermap_corpus::Paper;
use papermap_index::{build_graph, l2_normalize, AlignedBytes, GraphView, HnswParams};
use serde::Serialize;

use crate::error::{PaperMapError, Result};
use crate::library_topics::TopicsSlot;
use crate::origin::Origins;
use crate::store::segment::{count_set, search_rows, PaperHead};
use crate::store::{self, Opened, Segment, TextHash};
use crate::{MetadataFilter, ModelFingerprint, PaperMapBuilder};

/// A paper found by [`PaperMap::related`] or [`PaperMap::search`]; serialises as
/// `{"id","title","score"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredPaper {
    /// The paper's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Cosine similarity to the query, -1..=1.
    pub score: f32,
    /// The paper's own link, where it has one; not part of the JSON form (callers that show
    /// links add theirs, e.g. an arXiv abstract page built from the id).
    #[serde(skip)]
    pub link: Option<String>,
}

/// What [`PaperMap::add_papers`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AddReport {
    /// Papers whose id was new.
    pub added: usize,
    /// Papers already present whose embedded text (title or abstract) changed.
    pub updated: usize,
    /// Papers already present with the same text (their other fields are refreshed).
    pub unchanged: usize,
    /// Texts actually run through the model; texts already in the library are reused.
    pub embedded: usize,
}

/// Where a paper is: a row of a segment, or a fresh (unsaved) one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loc {
    Segment(usize, usize),
    Fresh(usize),
}

/// Papers added since the map was opened; rows replaced again are marked dead, not moved.
#[derive(Default)]
pub(crate) struct Fresh {
    pub papers: Vec<Paper>,
    pub hashes: Vec<TextHash>,
    pub vectors: Vec<f32>,
    pub live: Vec<bool>,
    pub positions: HashMap<String, usize>,
    /// Built on the first query once the fresh papers reach the HNSW threshold.
    pub index: OnceLock<GraphView<AlignedBytes>>,
}

/// A library of papers: embeddings, a nearest-neighbour index and topics, saved to and opened
/// from a directory. See the [crate docs](crate) for an example.
pub struct PaperMap {
    pub(crate) fingerprint: ModelFingerprint,
    pub(crate) segments: Vec<Segment>,
    /// Removed rows of each segment, as of now (the segment holds those of its manifest).
    pub(crate) deleted: Vec<Vec<u64>>,
    pub(crate) fresh: Fresh,
    pub(crate) hnsw_threshold: usize,
    pub(crate) segment_graph_rows: usize,
    pub(crate) hnsw_params: HnswParams,
    pub(crate) topics: TopicsSlot,
    /// Where this map was read or written, so a save never overwrites another writer's work.
    pub(crate) origins: Origins,
    #[cfg(feature = "embed")]
    pub(crate) embedder: crate::embedding::LazyEmbedder,
}

impl std::fmt::Debug for PaperMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaperMap")
            .field("model", &self.fingerprint.to_string())
            .field("papers", &self.len())
            .field("segments", &self.segments.len())
            .field("index", &self.index_kind())
            .finish()
    }
}

/// The beam width for a segment of `rows` beside a largest one of `largest` rows: `ef` scaled by
/// the segment's share, never below `k`. Every query walks every segment's graph, and a small
/// segment walked at the full `ef` costs nearly what the big one does (a walk grows with log n):
/// 7 segments of 5,000 rows beside 1,000,000 took related queries at c = 64 from ~5,000 to ~1,000
/// QPS, and back to ~3,400 with this beam (`benches/segments_load.sh`). A segment holds a
/// share of the best `k` about in proportion to its rows, and a walk of beam `k` finds a small
/// graph's own best `k`: on that library, the same recall against an exact search.
fn segment_beam(ef: usize, k: usize, rows: usize, largest: usize) -> usize {
    let scaled = (ef as u128 * rows as u128).div_ceil(largest.max(1) as u128) as usize;
    scaled.clamp(k, ef.max(k))
}

pub(crate) fn is_set(bits: &[u64], row: usize) -> bool {
    bits[row / 64] >> (row % 64) & 1 == 1
}

impl PaperMap {
    /// Starts configuring a map.
    pub fn builder() -> PaperMapBuilder {
        PaperMapBuilder::default()
    }

    /// Opens the library in `dir` with its own model; see [`PaperMapBuilder::open`].
    pub fn open(dir: impl AsRef<Path>) -> Result<PaperMap> {
        PaperMap::builder().open(dir)
    }

    /// Reads every byte of the library in `dir` against the checksums in its manifest and
    /// parses every paper; returns the number of papers. Opening checks only sizes, headers and
    /// footers, so run this to find damage inside a file (`papermap check`).
    pub fn check(dir: impl AsRef<Path>) -> Result<usize> {
        store::check(dir.as_ref())
    }

    #[allow(unused_mut)]
    pub(crate) fn assemble(
        mut builder: PaperMapBuilder,
        fingerprint: ModelFingerprint,
        opened: Option<(Opened, &Path)>,
    ) -> Result<Self> {
        let mut map = PaperMap {
            #[cfg(feature = "embed")]
            embedder: crate::embedding::LazyEmbedder::new(&mut builder, &fingerprint),
            fingerprint,
            segments: Vec::new(),
            deleted: Vec::new(),
            fresh: Fresh::default(),
            hnsw_threshold: builder.hnsw_threshold,
            segment_graph_rows: builder.segment_graph_rows,
            hnsw_params: builder.hnsw_params,
            topics: TopicsSlot::None,
            origins: Origins::default(),
        };
        if let Some((opened, dir)) = opened {
            let generation = opened.generation;
            map.load(opened);
            map.origins.record(dir, generation);
        }
        Ok(map)
    }

    /// Replaces the map's contents with what `open` found (fresh papers and removals dropped).
    pub(crate) fn load(&mut self, opened: Opened) {
        self.deleted = opened.segments.iter().map(|s| s.deleted.clone()).collect();
        self.segments = opened.segments;
        self.fresh = Fresh::default();
        self.topics = match opened.topics {
            Some(file) => TopicsSlot::Stored(file, Box::default(), Box::default()),
            None => TopicsSlot::None,
        };
        if let Some(legacy) = opened.legacy {
            // Format 1: everything in memory, as a fresh segment the next save writes.
            let dim = self.dim();
            for (paper, row) in legacy
                .papers
                .into_iter()
                .zip(legacy.vectors.chunks_exact(dim))
            {
                let hash = crate::store::segment::text_hash(&paper);
                self.push_fresh(paper, hash, row);
            }
            self.topics = legacy.topics.map_or(TopicsSlot::None, TopicsSlot::Model);
        }
    }

    /// The model whose vectors this library holds.
    pub fn fingerprint(&self) -> &ModelFingerprint {
        &self.fingerprint
    }

    /// Number of papers.
    pub fn len(&self) -> usize {
        let stored: usize = self
            .segments
            .iter()
            .zip(&self.deleted)
            .map(|(s, d)| s.rows() - count_set(d))
            .sum();
        stored + self.fresh.live.iter().filter(|&&l| l).count()
    }

    /// Whether the library holds no papers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn dim(&self) -> usize {
        self.fingerprint.dimension
    }

    /// Where paper `id` is, if the library holds it.
    pub(crate) fn locate(&self, id: &str) -> Result<Option<Loc>> {
        if let Some(&row) = self.fresh.positions.get(id) {
            return Ok(Some(Loc::Fresh(row)));
        }
        for (s, segment) in self.segments.iter().enumerate().rev() {
            if let Some(row) = segment.find(id)? {
                if !is_set(&self.deleted[s], row) {
                    return Ok(Some(Loc::Segment(s, row)));
                }
            }
        }
        Ok(None)
    }

    pub(crate) fn paper_at(&self, loc: Loc) -> Result<Paper> {
        match loc {
            Loc::Segment(s, row) => self.segments[s].paper(row),
            Loc::Fresh(row) => Ok(self.fresh.papers[row].clone()),
        }
    }

    /// A paper's id, title and link, decoding nothing else: what a hit shows.
    pub(crate) fn head_at(&self, loc: Loc) -> Result<PaperHead> {
        match loc {
            Loc::Segment(s, row) => self.segments[s].head(row),
            Loc::Fresh(row) => {
                let p = &self.fresh.papers[row];
                Ok(PaperHead {
                    id: p.id.clone(),
                    title: p.title.clone(),
                    link: p.link.clone(),
                })
            }
        }
    }

    pub(crate) fn vector_at(&self, loc: Loc) -> &[f32] {
        let dim = self.dim();
        match loc {
            Loc::Segment(s, row) => self.segments[s].vector(row),
            Loc::Fresh(row) => &self.fresh.vectors[row * dim..(row + 1) * dim],
        }
    }

    pub(crate) fn text_hash_at(&self, loc: Loc) -> TextHash {
        match loc {
            Loc::Segment(s, row) => self.segments[s].text_hash(row),
            Loc::Fresh(row) => self.fresh.hashes[row],
        }
    }

    /// Every live paper's place, segments first (in row order), then fresh papers.
    pub(crate) fn locations(&self) -> impl Iterator<Item = Loc> + '_ {
        let stored = self.segments.iter().enumerate().flat_map(move |(s, seg)| {
            (0..seg.rows())
                .filter(move |&row| !is_set(&self.deleted[s], row))
                .map(move |row| Loc::Segment(s, row))
        });
        let fresh = (0..self.fresh.papers.len())
            .filter(|&row| self.fresh.live[row])
            .map(Loc::Fresh);
        stored.chain(fresh)
    }

    /// Every paper, decoded (O(papers): for exports and topic fitting, not for queries).
    pub fn papers(&self) -> Result<Vec<Paper>> {
        self.locations().map(|loc| self.paper_at(loc)).collect()
    }

    /// The paper with this id.
    pub fn paper(&self, id: &str) -> Result<Option<Paper>> {
        self.locate(id)?.map(|loc| self.paper_at(loc)).transpose()
    }

    /// The embedding of the paper with this id (unit length).
    pub fn vector(&self, id: &str) -> Result<Option<&[f32]>> {
        Ok(self.locate(id)?.map(|loc| self.vector_at(loc)))
    }

    /// `"hnsw"` when a part of the library is searched through an HNSW graph (segments of
    /// at least the builder's HNSW threshold, or of its segment graph rows in a library that
    /// large), else `"exact"`.
    pub fn index_kind(&self) -> &'static str {
        let graph = self.segments.iter().any(Segment::has_graph);
        match graph || self.fresh.papers.len() >= self.hnsw_threshold {
            true => "hnsw",
            false => "exact",
        }
    }

    /// The `k` papers most similar to paper `id`, best first; never the paper itself.
    pub fn related(&self, id: &str, k: usize) -> Result<Vec<ScoredPaper>> {
        let loc = self
            .locate(id)?
            .ok_or_else(|| PaperMapError::UnknownId { id: id.into() })?;
        let query = self.vector_at(loc).to_vec();
        let hits = self.nearest(&query, k, &|l| l != loc)?;
        self.scored(hits)
    }

    /// The `k` papers most similar to a query vector of this library's model, among papers
    /// that pass `filter`. The query is normalised here.
    pub fn search_vector(
        &self,
        query: &[f32],
        k: usize,
        filter: &MetadataFilter,
    ) -> Result<Vec<ScoredPaper>> {
        if self.is_empty() {
            return Err(PaperMapError::EmptyLibrary);
        }
        let mut query = query.to_vec();
        l2_normalize(&mut query).map_err(|e| PaperMapError::BadVector {
            id: "<query>".into(),
            reason: e.to_string(),
        })?;
        if query.len() != self.dim() {
            return Err(PaperMapError::BadVector {
                id: "<query>".into(),
                reason: format!("{} values, the model makes {}", query.len(), self.dim()),
            });
        }
        let hits = match filter.is_empty() {
            true => self.nearest(&query, k, &|_| true)?,
            false => self.filtered_nearest(&query, k, filter)?,
        };
        self.scored(hits)
    }

    /// The best `k` accepted papers over every segment and the fresh ones: (score, place).
    pub(crate) fn nearest(
        &self,
        query: &[f32],
        k: usize,
        accept: &(dyn Fn(Loc) -> bool + Sync),
    ) -> Result<Vec<(f32, Loc)>> {
        self.nearest_with_ef(query, k, self.hnsw_params.ef_search, accept)
    }

    /// [`nearest`](Self::nearest) with the HNSW beam width `ef` (at least `k`).
    pub(crate) fn nearest_with_ef(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        accept: &(dyn Fn(Loc) -> bool + Sync),
    ) -> Result<Vec<(f32, Loc)>> {
        let mut hits = Vec::new();
        let largest = self.segments.iter().map(Segment::rows).max().unwrap_or(0);
        for (s, segment) in self.segments.iter().enumerate() {
            let deleted = &self.deleted[s];
            let ef = segment_beam(ef, k, segment.rows(), largest);
            let found = segment.search(query, k, ef, &|row| {
                !is_set(deleted, row) && accept(Loc::Segment(s, row))
            })?;
            hits.extend(
                found
                    .into_iter()
                    .map(|(score, row)| (score, Loc::Segment(s, row))),
            );
        }
        hits.extend(self.fresh_nearest(query, k, ef, accept)?);
        hits.sort_by(|a, b| b.0.total_cmp(&a.0));
        hits.truncate(k);
        Ok(hits)
    }

    /// The unsaved papers' best hits, through the same search as a segment's: a scan, or from
    /// the HNSW threshold on a graph built on the first query (and dropped when they change).
    pub(crate) fn fresh_nearest(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        accept: &(dyn Fn(Loc) -> bool + Sync),
    ) -> Result<Vec<(f32, Loc)>> {
        let fresh = &self.fresh;
        let graph = match fresh.papers.len() >= self.hnsw_threshold {
            false => None,
            true => match fresh.index.get() {
                Some(graph) => Some(graph),
                None => {
                    let data = build_graph(
                        &fresh.vectors,
                        self.dim(),
                        &self.hnsw_params,
                        &mut |_, _| {},
                    )?;
                    let view = GraphView::new(data.into_bytes())
                        .map_err(papermap_index::IndexError::from)?;
                    Some(fresh.index.get_or_init(|| view))
                }
            },
        };
        let ok = |row: usize| fresh.live[row] && accept(Loc::Fresh(row));
        let hits = search_rows(graph, &fresh.vectors, self.dim(), query, k, ef, &ok)?;
        Ok(hits
            .into_iter()
            .map(|(score, row)| (score, Loc::Fresh(row)))
            .collect())
    }

    /// Hits with titles and ids, best first, ties by id.
    fn scored(&self, hits: Vec<(f32, Loc)>) -> Result<Vec<ScoredPaper>> {
        let mut out = hits
            .into_iter()
            .map(|(score, loc)| {
                let head = self.head_at(loc)?;
                Ok(ScoredPaper {
                    id: head.id,
                    title: head.title,
                    score,
                    link: head.link,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::segment_beam;

    #[test]
    fn a_segment_beam_follows_its_share_between_k_and_ef() {
        // The largest segment, and one as large, get the whole beam.
        assert_eq!(segment_beam(96, 10, 1_000_000, 1_000_000), 96);
        // Half the rows, half the beam (rounded up); a small one gets k.
        assert_eq!(segment_beam(96, 10, 500_001, 1_000_000), 49);
        assert_eq!(segment_beam(96, 10, 5_000, 1_000_000), 10);
        // k above ef asks for k everywhere; an empty library does not divide by zero.
        assert_eq!(segment_beam(96, 200, 1_000_000, 1_000_000), 200);
        assert_eq!(segment_beam(96, 10, 0, 0), 10);
    }
}
