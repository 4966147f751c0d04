//! Topics of a library: fitted on demand and stored with it. They stay when papers are added,
//! changed or removed: every paper's topic is its nearest centroid, the rule the fit itself ends
//! with, so a fitted paper keeps its topic and a new one joins the nearest. A refit is explicit.

use std::sync::OnceLock;

use ndarray::Array2;
use papermap_topics::{
    MapConfig, NeighbourGraph, Progress, TopicConfig, TopicDoc, TopicMap, TopicModel,
};

use crate::error::{PaperMapError, Result};

/// Papers assigned to topics per matrix multiply in [`PaperMap::topic_assignments`].
const ASSIGN_BLOCK: usize = 4096;
use crate::library::Loc;
use crate::store::TopicsFile;
use crate::PaperMap;

/// The library's topics: none, in their file (parsed on first use), or fitted in memory.
pub(crate) enum TopicsSlot {
    None,
    Stored(TopicsFile, OnceLock<Option<TopicModel>>),
    Model(TopicModel),
}

impl TopicsSlot {
    fn get(&self) -> Option<&TopicModel> {
        match self {
            TopicsSlot::None => None,
            // A damaged topics file reads as no topics: they are refitted, and `check` names it.
            TopicsSlot::Stored(file, cell) => cell.get_or_init(|| file.load().ok()).as_ref(),
            TopicsSlot::Model(model) => Some(model),
        }
    }
}

impl PaperMap {
    /// Topics with `k` clusters, or `None` to choose k by silhouette (default range 8..=40).
    /// Fitted topics are kept (and saved) with the library and reused while the configuration
    /// stays the same, also after papers are added or removed (they join their nearest topic,
    /// see [`topic_of`](Self::topic_of)); [`refit_topics`](Self::refit_topics) fits anew.
    pub fn topics(&mut self, k: Option<usize>) -> Result<&TopicModel> {
        self.topics_with(&TopicConfig {
            k,
            ..TopicConfig::default()
        })
    }

    /// [`topics`](Self::topics) with a full configuration.
    pub fn topics_with(&mut self, config: &TopicConfig) -> Result<&TopicModel> {
        self.topics_with_progress(config, &mut |_| {})
    }

    /// [`topics_with`](Self::topics_with), reporting k-means progress.
    pub fn topics_with_progress(
        &mut self,
        config: &TopicConfig,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<&TopicModel> {
        if self.is_empty() {
            return Err(PaperMapError::EmptyLibrary);
        }
        let reusable = self.topics.get().is_some_and(|t| &t.config == config);
        if !reusable {
            let model = TopicModel::fit_with_progress(
                self.embedding_matrix().view(),
                &self.topic_docs()?,
                config,
                progress,
            )?;
            self.topics = TopicsSlot::Model(model);
        }
        Ok(self.topics.get().expect("set above"))
    }

    /// Fits topics anew with `config`, replacing the library's (saved with the next `save`).
    pub fn refit_topics(
        &mut self,
        config: &TopicConfig,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<&TopicModel> {
        self.topics = TopicsSlot::None;
        self.topics_with_progress(config, progress)
    }

    /// The topics fitted last, if any.
    pub fn fitted_topics(&self) -> Option<&TopicModel> {
        self.topics.get()
    }

    /// The topic of paper `id`: its nearest centroid (O(k·d), no scan of the library), which for
    /// a paper of the fit is the topic the fit gave it. `None` for an unknown id.
    pub fn topic_of(&self, id: &str) -> Result<Option<usize>> {
        let model = self.topics.get().ok_or(PaperMapError::NoTopics)?;
        let Some(vector) = self.vector(id)? else {
            return Ok(None);
        };
        let row = ndarray::ArrayView2::from_shape((1, vector.len()), vector)
            .expect("one row of the model's width");
        Ok(model.assign(row)?.first().copied())
    }

    /// Every paper with its topic, in [`papers`](Self::papers) order, assigned in blocks by
    /// nearest centroid (as [`topic_of`](Self::topic_of)).
    pub fn topic_assignments(&self) -> Result<impl Iterator<Item = Result<(String, usize)>> + '_> {
        let model = self.topics.get().ok_or(PaperMapError::NoTopics)?;
        let locs: Vec<Loc> = self.locations().collect();
        let dim = self.dim();
        let blocks = (0..locs.len()).step_by(ASSIGN_BLOCK).map(move |start| {
            let block = &locs[start..(start + ASSIGN_BLOCK).min(locs.len())];
            let mut rows = Vec::with_capacity(block.len() * dim);
            for &loc in block {
                rows.extend_from_slice(self.vector_at(loc));
            }
            let rows = Array2::from_shape_vec((block.len(), dim), rows).expect("rows of dim");
            let topics = model.assign(rows.view())?;
            block
                .iter()
                .zip(topics)
                .map(|(&loc, topic)| Ok((self.paper_at(loc)?.id, topic)))
                .collect::<Result<Vec<_>>>()
        });
        Ok(blocks.flat_map(|block| match block {
            Ok(pairs) => pairs.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(e)],
        }))
    }

    /// A 2-D map of the papers coloured by the fitted topics (see [`TopicMap::to_svg`],
    /// [`TopicMap::to_html`]).
    pub fn topic_map(&self, config: &MapConfig) -> Result<TopicMap> {
        self.topic_map_with_progress(config, &mut |_| {})
    }

    /// [`topic_map`](Self::topic_map), reporting neighbour-search and layout progress.
    pub fn topic_map_with_progress(
        &self,
        config: &MapConfig,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<TopicMap> {
        let fitted = self.topics.get().ok_or(PaperMapError::NoTopics)?;
        // The map shows ids and titles only: leaving the abstracts out saves about a gigabyte
        // at 1,000,000 papers.
        let docs = self.docs(false)?;
        let matrix = self.embedding_matrix();
        // The papers as they are now, each in its nearest topic (the fit's own rule).
        let mut model = fitted.clone();
        model.assignments = fitted.assign(matrix.view())?;
        model.doc_ids = docs.iter().map(|d| d.id.clone()).collect();
        let k = config.n_neighbors.max(TopicMap::SCORE_NEIGHBOURS);
        let graph = self.neighbour_graph(k, progress)?;
        let mut map = TopicMap::build_with_neighbours(
            matrix.view(),
            &model,
            &docs,
            &graph,
            config,
            progress,
        )?;
        let known: std::collections::HashSet<&str> =
            fitted.doc_ids.iter().map(String::as_str).collect();
        for point in &mut map.points {
            point.added = !known.contains(point.id.as_str());
        }
        Ok(map)
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
        let locs: Vec<Loc> = self.locations().collect();
        // Row of each location in `locs` order: per segment row, and per fresh paper.
        let mut rows: Vec<Vec<u32>> = self
            .segments
            .iter()
            .map(|s| vec![u32::MAX; s.rows()])
            .collect();
        let mut fresh_rows = vec![u32::MAX; self.fresh.papers.len()];
        for (i, loc) in locs.iter().enumerate() {
            match *loc {
                Loc::Segment(s, row) => rows[s][row] = i as u32,
                Loc::Fresh(row) => fresh_rows[row] = i as u32,
            }
        }
        let row_of = |loc: Loc| match loc {
            Loc::Segment(s, row) => rows[s][row] as usize,
            Loc::Fresh(row) => fresh_rows[row] as usize,
        };
        NeighbourGraph::from_queries(
            locs.len(),
            k,
            |i| {
                let me = locs[i];
                let hits = self.nearest(self.vector_at(me), k, &|loc| loc != me)?;
                Ok(hits
                    .into_iter()
                    .map(|(score, loc)| (row_of(loc), score))
                    .collect())
            },
            progress,
        )
    }

    /// The embeddings as an `n × dim` matrix, one row per paper in [`papers`](Self::papers)
    /// order (a copy: the library's own vectors stay mapped).
    pub fn embedding_matrix(&self) -> Array2<f32> {
        let dim = self.dim();
        let mut values = Vec::with_capacity(self.len() * dim);
        for loc in self.locations() {
            values.extend_from_slice(self.vector_at(loc));
        }
        Array2::from_shape_vec((values.len() / dim, dim), values)
            .expect("rows of the model's dimension")
    }

    /// The papers as the topic model sees them: id, title, abstract.
    pub fn topic_docs(&self) -> Result<Vec<TopicDoc>> {
        self.docs(true)
    }

    /// Id and title of every paper, and the abstract when `with_text`.
    fn docs(&self, with_text: bool) -> Result<Vec<TopicDoc>> {
        self.locations()
            .map(|loc| {
                let p = self.paper_at(loc)?;
                Ok(TopicDoc {
                    id: p.id,
                    title: p.title,
                    text: if with_text {
                        p.abstract_text
                    } else {
                        String::new()
                    },
                })
            })
            .collect()
    }
}
