//! The topic map: every paper as a point in 2-D, coloured by topic.

use ndarray::ArrayView2;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

use crate::error::TopicError;
use crate::keywords::Keyword;
use crate::model::{TopicDoc, TopicModel};
use crate::projection::{knn_cosine, neighbourhood_preservation, umap_layout};
use crate::{validate_embeddings, Progress};

/// How to lay out the map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapConfig {
    /// Seed of the layout; the same input and seed give the same map.
    pub seed: u64,
    /// Neighbours per point in the graph the layout preserves (UMAP's `n_neighbors`).
    pub n_neighbors: usize,
    /// Layout epochs; 0 picks 500 up to 10,000 points and 200 beyond (UMAP's rule).
    pub epochs: usize,
    /// Repulsive samples per attractive one (UMAP's `negative_sample_rate`).
    pub negative_samples: usize,
    /// Points whose neighbourhoods are checked for [`TopicMap::neighbourhood_preservation`].
    pub score_sample: usize,
    /// Link of each point: `{id}` is replaced by the document id (e.g.
    /// `https://arxiv.org/abs/{id}`); `None` leaves points without links.
    pub link_template: Option<String>,
    /// Title of the SVG and HTML pages.
    pub title: String,
}

impl Default for MapConfig {
    fn default() -> Self {
        MapConfig {
            seed: 42,
            n_neighbors: 15,
            epochs: 0,
            negative_samples: 5,
            score_sample: 2000,
            link_template: None,
            title: "papermap topic map".into(),
        }
    }
}

/// One paper on the map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapPoint {
    /// Document id.
    pub id: String,
    /// Document title.
    pub title: String,
    /// Topic id.
    pub topic: usize,
    /// Horizontal position (layout units, about -10..10).
    pub x: f32,
    /// Vertical position (layout units, about -10..10).
    pub y: f32,
    /// Where clicking the point leads, if anywhere.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub link: Option<String>,
}

/// One topic on the map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapTopic {
    /// Topic id.
    pub id: usize,
    /// Label.
    pub label: String,
    /// Keywords with weights.
    pub keywords: Vec<Keyword>,
    /// Number of points.
    pub size: usize,
    /// Mean position of the topic's points.
    pub centre: [f32; 2],
}

/// A 2-D map of a fitted corpus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicMap {
    /// Page title.
    pub title: String,
    /// Mean share of each point's 10 nearest neighbours in embedding space that are also among its
    /// 10 nearest on the map (on a sample of `MapConfig::score_sample` points).
    pub neighbourhood_preservation: f64,
    /// The papers.
    pub points: Vec<MapPoint>,
    /// The topics.
    pub topics: Vec<MapTopic>,
}

/// Neighbours compared by the preservation score.
const SCORE_NEIGHBOURS: usize = 10;

impl TopicMap {
    /// Projects `embeddings` (the rows the model was fitted on, with their `docs`) to 2-D.
    ///
    /// Finds neighbours exactly, O(n² d): about a second per 10,000 papers squared on two cores;
    /// beyond some 50,000 papers use [`TopicMap::build_with_neighbours`] with an approximate graph.
    pub fn build(
        embeddings: ArrayView2<f32>,
        model: &TopicModel,
        docs: &[TopicDoc],
        config: &MapConfig,
    ) -> Result<TopicMap, TopicError> {
        Self::build_with_progress(embeddings, model, docs, config, &mut |_| {})
    }

    /// [`TopicMap::build`], reporting progress of the neighbour search and the layout.
    pub fn build_with_progress(
        embeddings: ArrayView2<f32>,
        model: &TopicModel,
        docs: &[TopicDoc],
        config: &MapConfig,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<TopicMap, TopicError> {
        check_inputs(embeddings, model, docs, config)?;
        let k = config.n_neighbors.max(SCORE_NEIGHBOURS);
        let knn = knn_cosine(embeddings, k, progress);
        Self::layout(embeddings, model, docs, config, &knn, progress)
    }

    /// [`TopicMap::build`] on a neighbour graph the caller already has (e.g. from an HNSW
    /// index): `neighbours[i]` lists row i's nearest rows, nearest first, without i. The
    /// preservation score is then measured against this graph.
    pub fn build_with_neighbours(
        embeddings: ArrayView2<f32>,
        model: &TopicModel,
        docs: &[TopicDoc],
        neighbours: &[Vec<usize>],
        config: &MapConfig,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<TopicMap, TopicError> {
        check_inputs(embeddings, model, docs, config)?;
        let n = embeddings.nrows();
        if neighbours.len() != n {
            return Err(TopicError::InvalidConfig {
                field: "neighbours",
                reason: format!(
                    "{} lists for {n} documents: pass one per row",
                    neighbours.len()
                ),
            });
        }
        if let Some(i) = (0..n).find(|&i| neighbours[i].iter().any(|&j| j >= n || j == i)) {
            return Err(TopicError::InvalidConfig {
                field: "neighbours",
                reason: format!("row {i} lists itself or a row >= {n}"),
            });
        }
        let knn: Vec<Vec<usize>> = neighbours
            .iter()
            .map(|l| {
                l.iter()
                    .take(config.n_neighbors.max(SCORE_NEIGHBOURS))
                    .copied()
                    .collect()
            })
            .collect();
        Self::layout(embeddings, model, docs, config, &knn, progress)
    }

    fn layout(
        x: ArrayView2<f32>,
        model: &TopicModel,
        docs: &[TopicDoc],
        config: &MapConfig,
        knn: &[Vec<usize>],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<TopicMap, TopicError> {
        let n = x.nrows();
        let epochs = match config.epochs {
            0 if n <= 10_000 => 500,
            0 => 200,
            e => e,
        };
        let graph: Vec<Vec<usize>> = knn
            .iter()
            .map(|l| l.iter().take(config.n_neighbors).copied().collect())
            .collect();
        let y = umap_layout(
            x,
            &graph,
            epochs,
            config.negative_samples,
            config.seed,
            progress,
        );
        let mut scored: Vec<usize> = if n <= config.score_sample {
            (0..n).collect()
        } else {
            let mut rng = Xoshiro256Plus::seed_from_u64(config.seed ^ 0x5c0e);
            sample(&mut rng, n, config.score_sample).into_vec()
        };
        scored.sort_unstable();
        let score = neighbourhood_preservation(knn, &y, SCORE_NEIGHBOURS, &scored);
        let points: Vec<MapPoint> = docs
            .iter()
            .zip(&y)
            .zip(&model.assignments)
            .map(|((doc, p), &topic)| MapPoint {
                id: doc.id.clone(),
                title: doc.title.clone(),
                topic,
                x: p[0],
                y: p[1],
                link: config
                    .link_template
                    .as_ref()
                    .map(|t| t.replace("{id}", &doc.id)),
            })
            .collect();
        let topics = model
            .topics
            .iter()
            .map(|t| {
                let members: Vec<&MapPoint> = points.iter().filter(|p| p.topic == t.id).collect();
                let m = members.len().max(1) as f32;
                MapTopic {
                    id: t.id,
                    label: t.label.clone(),
                    keywords: t.keywords.clone(),
                    size: members.len(),
                    centre: [
                        members.iter().map(|p| p.x).sum::<f32>() / m,
                        members.iter().map(|p| p.y).sum::<f32>() / m,
                    ],
                }
            })
            .collect();
        Ok(TopicMap {
            title: config.title.clone(),
            neighbourhood_preservation: score,
            points,
            topics,
        })
    }

    /// The map as JSON: `title`, `neighbourhood_preservation`, `points` (id, title, topic, x, y,
    /// link when set) and `topics` (id, label, keywords, size, centre).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a TopicMap always serialises")
    }
}

fn check_inputs(
    x: ArrayView2<f32>,
    model: &TopicModel,
    docs: &[TopicDoc],
    config: &MapConfig,
) -> Result<(), TopicError> {
    validate_embeddings(x)?;
    if docs.len() != x.nrows() {
        return Err(TopicError::DocCountMismatch {
            docs: docs.len(),
            rows: x.nrows(),
        });
    }
    if model.assignments.len() != docs.len() {
        return Err(TopicError::ModelMismatch {
            model: model.assignments.len(),
            docs: docs.len(),
        });
    }
    if x.ncols() != model.dimensions {
        return Err(TopicError::DimensionMismatch {
            expected: model.dimensions,
            found: x.ncols(),
        });
    }
    if config.n_neighbors == 0 {
        return Err(TopicError::InvalidConfig {
            field: "n_neighbors",
            reason: "must be at least 1".into(),
        });
    }
    Ok(())
}
