//! Topics of a library: fitted on demand, stored with it, dropped when its texts change.

use ndarray::ArrayView2;
use papermap_topics::{MapConfig, Progress, TopicConfig, TopicDoc, TopicMap, TopicModel};

use crate::error::{PaperMapError, Result};
use crate::PaperMap;

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
        let reusable = self.topics.as_ref().is_some_and(|t| &t.config == config);
        if !reusable {
            let model = TopicModel::fit_with_progress(
                self.embedding_matrix(),
                &self.topic_docs(),
                config,
                progress,
            )?;
            self.topics = Some(model);
        }
        Ok(self.topics.as_ref().expect("set above"))
    }

    /// The topics fitted last, if the papers have not changed since.
    pub fn fitted_topics(&self) -> Option<&TopicModel> {
        self.topics.as_ref()
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
        let model = self.topics.as_ref().ok_or(PaperMapError::NoTopics)?;
        let docs = self.topic_docs();
        Ok(TopicMap::build_with_progress(
            self.embedding_matrix(),
            model,
            &docs,
            config,
            progress,
        )?)
    }

    /// The embeddings as an `n × dim` matrix view.
    pub fn embedding_matrix(&self) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((self.len(), self.fingerprint.dimension), self.vectors())
            .expect("vectors hold len × dim values")
    }

    /// The papers as the topic model sees them: id, title, abstract.
    pub fn topic_docs(&self) -> Vec<TopicDoc> {
        self.papers()
            .iter()
            .map(|p| TopicDoc {
                id: p.id.clone(),
                title: p.title.clone(),
                text: p.abstract_text.clone(),
            })
            .collect()
    }
}
