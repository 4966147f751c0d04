//! The library's topic map: laid out on its own HNSW graph, and kept. Once a map is laid out
//! (`place_map`), its positions are stored with the topics; later maps place papers added since
//! beside their nearest neighbours on it and move no one else, until an explicit relayout.

use std::collections::HashMap;

use papermap_topics::{
    pca_start, MapConfig, NeighbourGraph, Progress, StoredLayout, TopicMap, TopicModel,
};

use crate::error::{PaperMapError, Result};
use crate::library::Loc;
use crate::library_topics::TopicsSlot;
use crate::PaperMap;

/// Neighbours a paper added since the layout is placed among (their similarity-weighted mean).
pub(crate) const PLACE_AMONG: usize = 10;
/// HNSW beam width of the map's neighbour queries. At 20,000 papers, k = 15, the graph's recall
/// against the exact one was 0.9998 at the library's default 96, 0.9992 at 48 and 0.9970 at 32
/// (`map_bench --compare-exact`); 48 answers about 1.4 times as fast.
const GRAPH_EF: usize = 48;
/// Vectors assigned to topics per matrix multiply.
const ASSIGN_BLOCK: usize = 4096;

/// Every live paper's dense row (its place in [`PaperMap::papers`] order).
pub(crate) struct DenseRows {
    pub(crate) locs: Vec<Loc>,
    segments: Vec<Vec<u32>>,
    fresh: Vec<u32>,
}

impl DenseRows {
    pub(crate) fn of(map: &PaperMap) -> DenseRows {
        let locs: Vec<Loc> = map.locations().collect();
        let mut segments: Vec<Vec<u32>> = map
            .segments
            .iter()
            .map(|s| vec![u32::MAX; s.rows()])
            .collect();
        let mut fresh = vec![u32::MAX; map.fresh.papers.len()];
        for (i, loc) in locs.iter().enumerate() {
            match *loc {
                Loc::Segment(s, row) => segments[s][row] = i as u32,
                Loc::Fresh(row) => fresh[row] = i as u32,
            }
        }
        DenseRows {
            locs,
            segments,
            fresh,
        }
    }

    pub(crate) fn row_of(&self, loc: Loc) -> usize {
        match loc {
            Loc::Segment(s, row) => self.segments[s][row] as usize,
            Loc::Fresh(row) => self.fresh[row] as usize,
        }
    }
}

/// A library's name for a page title: its directory's name, not the path it was opened by.
pub fn library_title(dir: &std::path::Path) -> String {
    let absolute = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    absolute
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "papermap".to_string())
}

impl PaperMap {
    /// A 2-D map of the papers coloured by the fitted topics, laid out afresh (see
    /// [`TopicMap::to_svg`], [`TopicMap::to_html`]); papers the topics were not fitted on are
    /// flagged `added`. [`place_map`](Self::place_map) keeps the layout.
    pub fn topic_map(&self, config: &MapConfig) -> Result<TopicMap> {
        self.topic_map_with_progress(config, &mut |_| {})
    }

    /// [`topic_map`](Self::topic_map), reporting neighbour-search and layout progress.
    pub fn topic_map_with_progress(
        &self,
        config: &MapConfig,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<TopicMap> {
        let fitted = self.topics.get()?.ok_or(PaperMapError::NoTopics)?;
        // The map shows ids and titles only: leaving the abstracts out saves about a gigabyte
        // at 1,000,000 papers.
        let docs = self.docs(false)?;
        let model = self.current(fitted, &docs)?;
        let k = config.n_neighbors.max(TopicMap::SCORE_NEIGHBOURS);
        let graph = self.neighbour_graph(k, progress)?;
        // The start reads the vectors where they are mapped: no n × d copy (1.5 GB at 1,000,000).
        let locs: Vec<Loc> = self.locations().collect();
        let start = pca_start(
            locs.len(),
            self.dim(),
            |i| self.vector_at(locs[i]),
            config.seed,
        );
        let mut map = TopicMap::build_with_start(start, &model, &docs, &graph, config, progress)?;
        mark_added(&mut map, fitted);
        Ok(map)
    }

    /// The library's kept map as it stands, read-only: papers added since the layout are placed
    /// beside their nearest mapped neighbours (flagged `added`), nobody else moves, nothing is
    /// laid out or written (a server draws it from a shared snapshot). A library without a
    /// kept layout is [`PaperMapError::NoKeptMap`].
    pub fn kept_map(&self, config: &MapConfig) -> Result<TopicMap> {
        let fitted = self.topics.get()?.ok_or(PaperMapError::NoKeptMap)?;
        let stored = fitted.layout.as_ref().ok_or(PaperMapError::NoKeptMap)?;
        self.extend_layout(fitted, stored, config)
    }

    /// The library's map, kept: laid out once (or again when `relayout`) and stored with the
    /// topics (saved with the next [`save`](Self::save)); after that, papers added since are
    /// placed at the similarity-weighted mean of their nearest mapped neighbours and flagged
    /// `added`, and every other paper stays where it was.
    pub fn place_map(
        &mut self,
        config: &MapConfig,
        relayout: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<TopicMap> {
        let fitted = self.topics.get()?.ok_or(PaperMapError::NoTopics)?;
        if let (Some(stored), false) = (&fitted.layout, relayout) {
            return self.extend_layout(fitted, stored, config);
        }
        let mut map = self.topic_map_with_progress(config, progress)?;
        // A map laid out now has nothing added since it was made.
        map.points.iter_mut().for_each(|p| p.added = false);
        let mut kept = fitted.clone();
        kept.doc_ids = map.points.iter().map(|p| p.id.clone()).collect();
        kept.assignments = map.points.iter().map(|p| p.topic).collect();
        kept.layout = Some(StoredLayout {
            positions: map.points.iter().map(|p| [p.x, p.y]).collect(),
            neighbourhood_preservation: map.neighbourhood_preservation,
        });
        self.topics = TopicsSlot::Model(kept);
        Ok(map)
    }

    /// The stored layout with the papers added since placed beside their neighbours.
    pub(crate) fn extend_layout(
        &self,
        fitted: &TopicModel,
        stored: &StoredLayout,
        config: &MapConfig,
    ) -> Result<TopicMap> {
        let docs = self.docs(false)?;
        let placed: HashMap<&str, [f32; 2]> = fitted
            .doc_ids
            .iter()
            .map(String::as_str)
            .zip(stored.positions.iter().copied())
            .collect();
        let rows = DenseRows::of(self);
        let known: Vec<Option<[f32; 2]>> = docs
            .iter()
            .map(|d| placed.get(d.id.as_str()).copied())
            .collect();
        let mut positions = Vec::with_capacity(docs.len());
        for (i, at) in known.iter().enumerate() {
            let at = match at {
                Some(p) => *p,
                None => {
                    let me = rows.locs[i];
                    let hits = self.nearest(self.vector_at(me), PLACE_AMONG, &|loc| {
                        loc != me && known[rows.row_of(loc)].is_some()
                    })?;
                    beside(&hits, |loc| {
                        known[rows.row_of(loc)].expect("accepted above")
                    })
                }
            };
            positions.push(at);
        }
        let model = self.current(fitted, &docs)?;
        let mut map = TopicMap::from_positions(
            &model,
            &docs,
            &positions,
            stored.neighbourhood_preservation,
            config,
        )?;
        // Added since the layout: exactly the papers it did not place.
        for (point, at) in map.points.iter_mut().zip(&known) {
            point.added = at.is_none();
        }
        Ok(map)
    }

    /// The fitted model over the papers as they are now: each in its nearest topic (the fit's
    /// own rule), assigned in blocks.
    fn current(
        &self,
        fitted: &TopicModel,
        docs: &[papermap_topics::TopicDoc],
    ) -> Result<TopicModel> {
        let mut model = fitted.clone();
        model.assignments = self.assign_all(fitted)?;
        model.doc_ids = docs.iter().map(|d| d.id.clone()).collect();
        model.layout = None;
        Ok(model)
    }

    /// Every paper's nearest topic of `model`, in [`papers`](Self::papers) order, a block of
    /// vectors per matrix multiply (no n × d copy of the library).
    pub(crate) fn assign_all(&self, model: &TopicModel) -> Result<Vec<usize>> {
        let dim = self.dim();
        let locs: Vec<Loc> = self.locations().collect();
        let mut assignments = Vec::with_capacity(locs.len());
        for block in locs.chunks(ASSIGN_BLOCK) {
            let mut rows = Vec::with_capacity(block.len() * dim);
            for &loc in block {
                rows.extend_from_slice(self.vector_at(loc));
            }
            let rows = ndarray::Array2::from_shape_vec((block.len(), dim), rows)
                .expect("rows of the model's width");
            assignments.extend(model.assign(rows.view())?);
        }
        Ok(assignments)
    }

    /// Each paper's `k` nearest others, rows in [`papers`](Self::papers) order: from the
    /// library's own index (the HNSW graphs, queried in parallel on all cores) where it has
    /// one, else exactly (the library is then below the HNSW threshold, so this stays small).
    pub fn neighbour_graph(
        &self,
        k: usize,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<NeighbourGraph> {
        if self.index_kind() == "exact" {
            return Ok(NeighbourGraph::exact(
                self.embedding_matrix().view(),
                k,
                progress,
            ));
        }
        let rows = DenseRows::of(self);
        NeighbourGraph::from_queries(
            rows.locs.len(),
            k,
            |i| {
                let me = rows.locs[i];
                let ef = GRAPH_EF.max(k);
                let hits = self.nearest_with_ef(self.vector_at(me), k, ef, &|loc| loc != me)?;
                Ok(hits
                    .into_iter()
                    .map(|(score, loc)| (rows.row_of(loc), score))
                    .collect())
            },
            progress,
        )
    }
}

/// Similarity-weighted mean position of `hits` (the origin when there are none).
pub(crate) fn beside(hits: &[(f32, Loc)], position: impl Fn(Loc) -> [f32; 2]) -> [f32; 2] {
    let (mut x, mut y, mut total) = (0.0f64, 0.0f64, 0.0f64);
    for &(score, loc) in hits {
        let w = (score.max(0.0) as f64) + 1e-6;
        let p = position(loc);
        x += w * p[0] as f64;
        y += w * p[1] as f64;
        total += w;
    }
    if total == 0.0 {
        return [0.0, 0.0];
    }
    [(x / total) as f32, (y / total) as f32]
}

/// Flags the points of papers `fitted` has never seen.
fn mark_added(map: &mut TopicMap, fitted: &TopicModel) {
    let known: std::collections::HashSet<&str> =
        fitted.doc_ids.iter().map(String::as_str).collect();
    for point in &mut map.points {
        point.added = !known.contains(point.id.as_str());
    }
}
