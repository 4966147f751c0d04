//! Adding papers by text and searching by text: the parts of [`PaperMap`] that run the model.

use std::collections::HashMap;

use papermap_corpus::Paper;

use crate::error::{PaperMapError, Result};
use crate::library::Loc;
use crate::store::TextHash;
use crate::{AddReport, MetadataFilter, PaperMap, ScoredPaper};

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
        let pending = self.plan(papers.into_iter().collect())?;
        let dim = self.dim();
        // Texts the library holds under any id: looked up only when something needs a vector.
        let needed = pending.iter().any(|p| !p.unchanged(self));
        let known: HashMap<TextHash, Loc> = match needed {
            true => self
                .locations()
                .map(|loc| (self.text_hash_at(loc), loc))
                .collect(),
            false => HashMap::new(),
        };
        let mut texts = Vec::new();
        let mut fresh: HashMap<TextHash, usize> = HashMap::new();
        for p in pending.iter().filter(|p| !p.unchanged(self)) {
            if !known.contains_key(&p.hash) && !fresh.contains_key(&p.hash) {
                fresh.insert(p.hash, texts.len());
                texts.push(p.paper.embedding_text());
            }
        }
        let embedded = self.embedder.embed(&self.fingerprint, &texts, progress)?;
        let mut rows = Vec::with_capacity(pending.len() * dim);
        for p in &pending {
            match (known.get(&p.hash), fresh.get(&p.hash)) {
                (Some(&loc), _) => rows.extend_from_slice(self.vector_at(loc)),
                (None, Some(&j)) => rows.extend_from_slice(&embedded[j * dim..(j + 1) * dim]),
                // Unchanged: its vector stays; the row is a placeholder `apply` skips.
                (None, None) => rows.extend(std::iter::repeat_n(0.0, dim)),
            }
        }
        drop((known, fresh));
        let mut report = self.apply(pending, rows)?;
        report.embedded = texts.len();
        Ok(report)
    }

    /// Adds papers of which some bring their own vector (`vectors[i]` for `papers[i]`, as a
    /// JSON Lines `embedding` or an `.npy` row): those are added as they are
    /// ([`add_embedded`](Self::add_embedded) checks them), the others embedded as by
    /// [`add_papers`](Self::add_papers). The rules of `papermap index` and of the server's
    /// `POST /v1/papers`.
    pub fn add_papers_with_vectors(
        &mut self,
        papers: Vec<Paper>,
        vectors: Vec<Option<Vec<f32>>>,
        progress: impl FnMut(papermap_embed::EmbedProgress) + Send,
    ) -> Result<AddReport> {
        let (mut given, mut rows, mut rest) = (Vec::new(), Vec::new(), Vec::new());
        for (paper, vector) in papers.into_iter().zip(vectors) {
            match vector {
                // Checked one by one: concatenated rows of wrong widths could still add up.
                Some(v) if v.len() != self.dim() => {
                    return Err(PaperMapError::BadVector {
                        id: paper.id,
                        reason: format!("{} values long, the model makes {}", v.len(), self.dim()),
                    })
                }
                Some(v) => {
                    given.push(paper);
                    rows.extend_from_slice(&v);
                }
                None => rest.push(paper),
            }
        }
        let mut report = AddReport::default();
        if !given.is_empty() {
            report = self.add_embedded(given, &rows)?;
        }
        if !rest.is_empty() {
            let embedded = self.add_papers_with_progress(rest, progress)?;
            report.added += embedded.added;
            report.updated += embedded.updated;
            report.unchanged += embedded.unchanged;
            report.embedded += embedded.embedded;
        }
        Ok(report)
    }

    /// The library's embedder, loaded now if needed: to share with other maps
    /// ([`PaperMapBuilder::shared_embedder`](crate::PaperMapBuilder::shared_embedder)) or to
    /// embed texts of several callers in one batch.
    pub fn embedder(&self) -> Result<std::sync::Arc<papermap_embed::Embedder>> {
        Ok(self.embedder.get(&self.fingerprint)?.clone())
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

    /// The embeddings of `papers` (their [`Paper::embedding_text`]) by the library's model,
    /// row-major: what [`rank_embedded`](Self::rank_embedded) and
    /// [`digest_map`](Self::digest_map) take.
    pub fn embed_papers(&self, papers: &[Paper]) -> Result<Vec<f32>> {
        let texts: Vec<String> = papers.iter().map(Paper::embedding_text).collect();
        let embedder = self.embedder.get(&self.fingerprint)?;
        Ok(embedder.embed(&texts)?.into_vec())
    }

    /// The embedding of `text` by the library's model.
    pub fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        let embedder = self.embedder.get(&self.fingerprint)?;
        Ok(embedder.embed(&[text])?.into_vec())
    }
}
