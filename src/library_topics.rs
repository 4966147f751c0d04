//! Topics of a library: fitted on demand, stored with it, dropped when its texts change.

use std::sync::OnceLock;

use ndarray::Array2;
use papermap_topics::{
    MapConfig, NeighbourGraph, Progress, TopicConfig, TopicDoc, TopicMap, TopicModel,
};

use crate::error::{PaperMapError, Result};
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
    /// Fitted topics are kept (and saved) with the library and reused while the papers and
    /// the configuration stay the same; adding or changing papers drops them.
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

    /// The topics fitted last, if the papers have not changed since.
    pub fn fitted_topics(&self) -> Option<&TopicModel> {
        self.topics.get()
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
        let model = self.topics.get().ok_or(PaperMapError::NoTopics)?;
        let docs = self.topic_docs()?;
        let k = config.n_neighbors.max(TopicMap::SCORE_NEIGHBOURS);
        let graph = self.neighbour_graph(k, progress)?;
        Ok(TopicMap::build_with_neighbours(
            self.embedding_matrix().view(),
            model,
            &docs,
            &graph,
            config,
            progress,
        )?)
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
        self.locations()
            .map(|loc| {
                let p = self.paper_at(loc)?;
                Ok(TopicDoc {
                    id: p.id,
                    title: p.title,
                    text: p.abstract_text,
                })
            })
            .collect()
    }
}
