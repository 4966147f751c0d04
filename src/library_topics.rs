//! Topics of a library: fitted on demand and stored with it. They stay when papers are added,
//! changed or removed: every paper's topic is its nearest centroid, the rule the fit itself ends
//! with, so a fitted paper keeps its topic and a new one joins the nearest. A refit is explicit.

use std::sync::OnceLock;

use ndarray::Array2;
use papermap_topics::{Progress, TopicConfig, TopicDoc, TopicModel};

use crate::error::{PaperMapError, Result};

use crate::store::TopicsFile;
use crate::PaperMap;

/// What loading a stored topics file gave: the model, or the file at fault and what is wrong.
type Loaded = OnceLock<std::result::Result<TopicModel, (std::path::PathBuf, String)>>;

/// The library's topics: none, in their files (the table and the whole model each parsed on
/// first use), or fitted in memory.
pub(crate) enum TopicsSlot {
    None,
    /// The files, the table loaded from them, and the whole model.
    Stored(TopicsFile, Box<Loaded>, Box<Loaded>),
    Model(TopicModel),
}

/// `cell`'s model, loading it with `load` the first time; a file that does not load is an error
/// naming it, never "no topics".
fn loaded<'a>(
    file: &TopicsFile,
    cell: &'a Loaded,
    load: impl FnOnce() -> Result<TopicModel>,
) -> Result<&'a TopicModel> {
    let result = cell.get_or_init(|| {
        load().map_err(|e| match e {
            PaperMapError::Corrupt { path, detail } => (path, detail),
            other => (file.path(), other.to_string()),
        })
    });
    result.as_ref().map_err(|(path, e)| {
        PaperMapError::corrupt(
            path,
            format!("{e}; `papermap topics LIB --refit` fits the topics anew"),
        )
    })
}

impl TopicsSlot {
    /// The whole model, per-paper arrays included.
    pub(crate) fn get(&self) -> Result<Option<&TopicModel>> {
        match self {
            TopicsSlot::None => Ok(None),
            TopicsSlot::Stored(file, _, whole) => loaded(file, whole, || file.load()).map(Some),
            TopicsSlot::Model(model) => Ok(Some(model)),
        }
    }

    /// The topics without reading the per-paper arrays of a stored model (they may be empty).
    pub(crate) fn table(&self) -> Result<Option<&TopicModel>> {
        match self {
            TopicsSlot::Stored(file, table, whole) => match whole.get() {
                Some(Ok(model)) => Ok(Some(model)),
                _ => loaded(file, table, || file.load_table()).map(Some),
            },
            other => other.get(),
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
        let reusable = self.topics.table()?.is_some_and(|t| &t.config == config);
        if !reusable {
            let model = TopicModel::fit_with_progress(
                self.embedding_matrix().view(),
                &self.topic_docs()?,
                config,
                progress,
            )?;
            self.topics = TopicsSlot::Model(model);
        }
        Ok(self.topics.get()?.expect("set above"))
    }

    /// The fitted topics without their per-paper arrays: each topic's label, keywords, size,
    /// representatives and centroid, the groups and the configuration, read in O(k) from a
    /// stored library (its `assignments`, `doc_ids` and kept layout `positions` may then be
    /// empty; [`fitted_topics`](Self::fitted_topics) has them). What `papermap topics` shows.
    pub fn topic_table(&self) -> Result<Option<&TopicModel>> {
        self.topics.table()
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

    /// The topics fitted last, if any. A stored topics file that is damaged is an error naming
    /// it (a refit with [`refit_topics`](Self::refit_topics) replaces it).
    pub fn fitted_topics(&self) -> Result<Option<&TopicModel>> {
        self.topics.get()
    }

    /// The topic of paper `id`: its nearest centroid (O(k·d), no scan of the library), which for
    /// a paper of the fit is the topic the fit gave it. `None` for an unknown id.
    pub fn topic_of(&self, id: &str) -> Result<Option<usize>> {
        let model = self.topics.table()?.ok_or(PaperMapError::NoTopics)?;
        let Some(vector) = self.vector(id)? else {
            return Ok(None);
        };
        Ok(Some(model.nearest_topic(vector)?))
    }

    /// Every paper with its topic, in [`papers`](Self::papers) order, assigned in blocks by
    /// nearest centroid (as [`topic_of`](Self::topic_of), which sums in another order: a paper
    /// within float rounding of two centroids may get the other one there).
    pub fn topic_assignments(&self) -> Result<impl Iterator<Item = Result<(String, usize)>> + '_> {
        let model = self.topics.table()?.ok_or(PaperMapError::NoTopics)?;
        let topics = self.assign_all(model)?;
        Ok(self
            .locations()
            .zip(topics)
            .map(move |(loc, topic)| Ok((self.paper_at(loc)?.id, topic))))
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
    pub(crate) fn docs(&self, with_text: bool) -> Result<Vec<TopicDoc>> {
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
