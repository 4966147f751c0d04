//! [`PaperMap`]: papers, their vectors, the index and the topics, kept consistent.

use std::collections::HashMap;
use std::path::Path;

use papermap_corpus::Paper;
use papermap_index::{l2_normalize, HnswParams, VectorIndex};
use papermap_topics::TopicModel;
use serde::Serialize;

use crate::error::{PaperMapError, Result};
use crate::origin::Origins;
use crate::store::{self, Snapshot, Stored};
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

/// A library of papers: embeddings, a nearest-neighbour index and topics, saved to and opened
/// from a directory. See the [crate docs](crate) for an example.
pub struct PaperMap {
    pub(crate) fingerprint: ModelFingerprint,
    papers: Vec<Paper>,
    positions: HashMap<String, usize>,
    hashes: Vec<String>,
    vectors: Vec<f32>,
    index: VectorIndex,
    hnsw_threshold: usize,
    hnsw_params: HnswParams,
    pub(crate) topics: Option<TopicModel>,
    /// Where this map was read or written, so a save never overwrites another writer's work.
    origins: Origins,
    #[cfg(feature = "embed")]
    pub(crate) embedder: crate::embedding::LazyEmbedder,
}

impl std::fmt::Debug for PaperMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaperMap")
            .field("model", &self.fingerprint.to_string())
            .field("papers", &self.papers.len())
            .field("index", &self.index.kind())
            .field("topics", &self.topics.as_ref().map(|t| t.topics.len()))
            .finish()
    }
}

/// One incoming paper that needs a vector.
struct Pending {
    paper: Paper,
    hash: String,
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

    #[allow(unused_mut)]
    pub(crate) fn empty(
        mut builder: PaperMapBuilder,
        fingerprint: ModelFingerprint,
    ) -> Result<Self> {
        let index = VectorIndex::exact(fingerprint.dimension)?;
        Self::assemble(
            &mut builder,
            fingerprint,
            Vec::new(),
            Vec::new(),
            index,
            None,
        )
    }

    #[allow(unused_mut)]
    pub(crate) fn from_stored(
        mut builder: PaperMapBuilder,
        stored: Stored,
        dir: &Path,
    ) -> Result<Self> {
        let Stored {
            generation,
            fingerprint,
            papers,
            vectors,
            index,
            topics,
        } = stored;
        let map = Self::assemble(&mut builder, fingerprint, papers, vectors, index, topics)?;
        map.origins.record(dir, generation);
        Ok(map)
    }

    fn assemble(
        builder: &mut PaperMapBuilder,
        fingerprint: ModelFingerprint,
        papers: Vec<Paper>,
        vectors: Vec<f32>,
        mut index: VectorIndex,
        topics: Option<TopicModel>,
    ) -> Result<Self> {
        index.set_fingerprint(fingerprint.index_key());
        let positions = papers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        let hashes = papers.iter().map(Paper::text_hash).collect();
        Ok(PaperMap {
            #[cfg(feature = "embed")]
            embedder: crate::embedding::LazyEmbedder::new(builder, &fingerprint.name),
            fingerprint,
            papers,
            positions,
            hashes,
            vectors,
            index,
            hnsw_threshold: builder.hnsw_threshold,
            hnsw_params: builder.hnsw_params,
            topics,
            origins: Origins::default(),
        })
    }

    /// The model whose vectors this library holds.
    pub fn fingerprint(&self) -> &ModelFingerprint {
        &self.fingerprint
    }

    /// Number of papers.
    pub fn len(&self) -> usize {
        self.papers.len()
    }

    /// Whether the library holds no papers.
    pub fn is_empty(&self) -> bool {
        self.papers.is_empty()
    }

    /// The papers, in the order they were first added.
    pub fn papers(&self) -> &[Paper] {
        &self.papers
    }

    /// The paper with this id.
    pub fn paper(&self, id: &str) -> Option<&Paper> {
        self.positions.get(id).map(|&i| &self.papers[i])
    }

    /// The embedding of the paper with this id (unit length).
    pub fn vector(&self, id: &str) -> Option<&[f32]> {
        self.positions.get(id).map(|&i| self.row(i))
    }

    /// All embeddings, row-major, one row per paper in [`papers`](Self::papers) order.
    pub fn vectors(&self) -> &[f32] {
        &self.vectors
    }

    /// `"exact"` or `"hnsw"`: the index answering queries now.
    pub fn index_kind(&self) -> &'static str {
        self.index.kind()
    }

    fn dim(&self) -> usize {
        self.fingerprint.dimension
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim()..(i + 1) * self.dim()]
    }

    /// Adds papers with vectors you computed with this library's model (`vectors` row-major,
    /// one row per paper; normalised here). Papers already present with the same text are
    /// left as they are apart from their other fields; a changed text replaces the vector.
    pub fn add_embedded(&mut self, papers: Vec<Paper>, vectors: &[f32]) -> Result<AddReport> {
        let dim = self.dim();
        if vectors.len() != papers.len() * dim {
            return Err(PaperMapError::VectorShape {
                papers: papers.len(),
                values: vectors.len(),
                dim,
                model: self.fingerprint.name.clone(),
            });
        }
        let given: HashMap<String, Vec<f32>> = papers
            .iter()
            .zip(vectors.chunks_exact(dim))
            .map(|(p, v)| (p.text_hash(), v.to_vec()))
            .collect();
        let (pending, mut report) = self.plan(papers);
        let mut rows = Vec::with_capacity(pending.len() * dim);
        for p in &pending {
            rows.extend_from_slice(&given[&p.hash]);
        }
        self.apply(pending, rows, &mut report)?;
        Ok(report)
    }

    /// Sorts incoming papers into unchanged ones (applied at once: only non-text fields can
    /// differ) and ones that need a vector. A repeated id: the last copy wins.
    fn plan(&mut self, papers: Vec<Paper>) -> (Vec<Pending>, AddReport) {
        let mut report = AddReport::default();
        let mut last: HashMap<String, usize> = HashMap::new();
        for (i, p) in papers.iter().enumerate() {
            last.insert(p.id.clone(), i);
        }
        let mut pending = Vec::new();
        for (i, paper) in papers.into_iter().enumerate() {
            if last[&paper.id] != i {
                continue;
            }
            let hash = paper.text_hash();
            match self.positions.get(&paper.id) {
                Some(&at) if self.hashes[at] == hash => {
                    report.unchanged += 1;
                    pending.push(Pending { paper, hash });
                }
                _ => pending.push(Pending { paper, hash }),
            }
        }
        (pending, report)
    }

    /// Stores `pending[i]` with row `i` of `rows`. Checks every row before changing anything.
    fn apply(
        &mut self,
        pending: Vec<Pending>,
        mut rows: Vec<f32>,
        report: &mut AddReport,
    ) -> Result<()> {
        let dim = self.dim();
        for (p, row) in pending.iter().zip(rows.chunks_exact_mut(dim)) {
            l2_normalize(row).map_err(|e| PaperMapError::BadVector {
                id: p.paper.id.clone(),
                reason: e.to_string(),
            })?;
        }
        let (mut new_keys, mut new_rows) = (Vec::new(), Vec::new());
        let mut text_changed = false;
        for (p, row) in pending.into_iter().zip(rows.chunks_exact(dim)) {
            match self.positions.get(&p.paper.id).copied() {
                Some(at) if self.hashes[at] == p.hash => self.papers[at] = p.paper,
                Some(at) => {
                    self.index.upsert(&p.paper.id, row)?;
                    self.vectors[at * dim..(at + 1) * dim].copy_from_slice(row);
                    self.papers[at] = p.paper;
                    self.hashes[at] = p.hash;
                    report.updated += 1;
                    text_changed = true;
                }
                None => {
                    self.positions.insert(p.paper.id.clone(), self.papers.len());
                    new_keys.push(p.paper.id.clone());
                    new_rows.extend_from_slice(row);
                    self.vectors.extend_from_slice(row);
                    self.papers.push(p.paper);
                    self.hashes.push(p.hash);
                    report.added += 1;
                    text_changed = true;
                }
            }
        }
        if self.index.kind() == "exact" && self.papers.len() >= self.hnsw_threshold {
            self.rebuild_index()?;
        } else if !new_keys.is_empty() {
            self.index.add_batch(&new_keys, &new_rows)?;
        }
        if text_changed {
            // Topics describe the corpus they were fitted on; refit with `topics`.
            self.topics = None;
        }
        Ok(())
    }

    /// Builds the index for the current size from the stored vectors.
    fn rebuild_index(&mut self) -> Result<()> {
        let mut index = match self.papers.len() >= self.hnsw_threshold {
            true => VectorIndex::hnsw(self.dim(), self.hnsw_params)?,
            false => VectorIndex::exact(self.dim())?,
        };
        index.set_fingerprint(self.fingerprint.index_key());
        let keys: Vec<&str> = self.papers.iter().map(|p| p.id.as_str()).collect();
        index.add_batch(&keys, &self.vectors)?;
        self.index = index;
        Ok(())
    }

    /// The `k` papers most similar to paper `id`, best first; never the paper itself.
    pub fn related(&self, id: &str, k: usize) -> Result<Vec<ScoredPaper>> {
        let query = self
            .vector(id)
            .ok_or_else(|| PaperMapError::UnknownId { id: id.into() })?;
        let hits = self.index.search_filtered(query, k, |key| key != id)?;
        Ok(self.scored(hits))
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
        let hits = match filter.is_empty() {
            true => self.index.search(&query, k)?,
            false => self.index.search_filtered(&query, k, |key| {
                self.paper(key).is_some_and(|p| filter.matches(p))
            })?,
        };
        Ok(self.scored(hits))
    }

    fn scored(&self, hits: Vec<papermap_index::Hit>) -> Vec<ScoredPaper> {
        hits.into_iter()
            .map(|hit| ScoredPaper {
                title: self
                    .paper(&hit.key)
                    .map(|p| p.title.clone())
                    .unwrap_or_default(),
                id: hit.key,
                score: hit.score,
            })
            .collect()
    }

    /// Checks, without writing anything, that [`PaperMap::save`] would accept `dir`: new, empty,
    /// or a library of the same model. Lets a caller refuse a foreign directory before long work.
    ///
    /// Also remembers what `dir` holds now, so that a later [`save`](Self::save) there fails
    /// with [`PaperMapError::Conflict`] if another writer saved a library in between.
    pub fn check_save_target(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let generation = store::check_save_target(dir, &self.fingerprint)?;
        self.origins.record(dir, generation);
        Ok(())
    }

    /// Writes the library to `dir` atomically: killed at any moment, `dir` still opens as its
    /// previous state. `dir` must be new, empty, or a library of the same model.
    ///
    /// Where this map was opened from or saved to `dir` before, `dir` must still hold what it
    /// saw then: if another writer saved in between, this is [`PaperMapError::Conflict`] and
    /// nothing is written (open the library again and repeat the change), never a silent
    /// overwrite of the other writer's papers.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let generation = store::save(
            dir,
            &Snapshot {
                fingerprint: &self.fingerprint,
                papers: &self.papers,
                vectors: &self.vectors,
                index: &self.index,
                topics: self.topics.as_ref(),
            },
            self.origins.expected(dir),
        )?;
        self.origins.record(dir, generation);
        Ok(())
    }
}

#[cfg(feature = "embed")]
impl PaperMap {
    /// Adds papers, embedding only texts the library does not hold yet (the cache is keyed by
    /// the text's sha256 and the library's model). A paper whose id is present and whose text
    /// changed is re-embedded and replaced.
    pub fn add_papers(&mut self, papers: impl IntoIterator<Item = Paper>) -> Result<AddReport> {
        self.add_papers_with_progress(papers, |_| {})
    }

    /// [`add_papers`](Self::add_papers), calling `progress` after every embedded batch.
    pub fn add_papers_with_progress(
        &mut self,
        papers: impl IntoIterator<Item = Paper>,
        progress: impl FnMut(papermap_embed::EmbedProgress) + Send,
    ) -> Result<AddReport> {
        let (pending, mut report) = self.plan(papers.into_iter().collect());
        let dim = self.dim();
        let known: HashMap<&str, usize> = self
            .hashes
            .iter()
            .enumerate()
            .map(|(i, h)| (h.as_str(), i))
            .collect();
        let mut texts = Vec::new();
        let mut fresh: HashMap<&str, usize> = HashMap::new();
        for p in &pending {
            if !known.contains_key(p.hash.as_str()) && !fresh.contains_key(p.hash.as_str()) {
                fresh.insert(&p.hash, texts.len());
                texts.push(p.paper.embedding_text());
            }
        }
        let embedded = self.embedder.embed(&self.fingerprint, &texts, progress)?;
        report.embedded = texts.len();
        let mut rows = Vec::with_capacity(pending.len() * dim);
        for p in &pending {
            match known.get(p.hash.as_str()) {
                Some(&i) => rows.extend_from_slice(self.row(i)),
                None => {
                    let j = fresh[p.hash.as_str()];
                    rows.extend_from_slice(&embedded[j * dim..(j + 1) * dim]);
                }
            }
        }
        drop((known, fresh));
        self.apply(pending, rows, &mut report)?;
        Ok(report)
    }

    /// The `k` papers most similar to free text, best first.
    pub fn search(&self, text: &str, k: usize) -> Result<Vec<ScoredPaper>> {
        self.search_where(text, k, &MetadataFilter::new())
    }

    /// [`search`](Self::search) among papers that pass `filter`.
    pub fn search_where(
        &self,
        text: &str,
        k: usize,
        filter: &MetadataFilter,
    ) -> Result<Vec<ScoredPaper>> {
        if self.is_empty() {
            return Err(PaperMapError::EmptyLibrary);
        }
        let query = self.embed_query(text)?;
        self.search_vector(&query, k, filter)
    }

    /// The embedding of `text` by the library's model.
    pub fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        let embedder = self.embedder.get(&self.fingerprint)?;
        Ok(embedder.embed(&[text])?.into_vec())
    }
}
