//! The topic map: every paper as a point in 2-D, coloured by topic.

use ndarray::ArrayView2;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

use crate::colours::colour_at;
use crate::error::TopicError;
use crate::keywords::Keyword;
use crate::model::{TopicDoc, TopicModel};
use crate::neighbours::NeighbourGraph;
use crate::projection::{neighbourhood_preservation, pca_2d};
use crate::umap::{self, Descent};
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
    /// Run the layout on one thread so that the same input and seed give the same bytes; by
    /// default it runs on all cores (Hogwild-style updates, not bit-reproducible).
    pub deterministic: bool,
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
            deterministic: false,
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
    /// Added to the library after the map was made (placed next to its neighbours).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub added: bool,
    /// One of the papers a [`MapList`] is about (e.g. today's digest), highlighted on the page.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub today: bool,
}

/// A list shown beside the map, in its own order (e.g. today's digest, best first); each item
/// is a point of the map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapList {
    /// Heading of the list.
    pub title: String,
    /// The items, in the order shown.
    pub items: Vec<MapListItem>,
}

/// One entry of a [`MapList`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapListItem {
    /// Index of its point in [`TopicMap::points`].
    pub point: usize,
    /// Its score, shown beside it.
    pub score: f32,
    /// Lines of detail under its title (e.g. why it ranks where it does).
    pub details: Vec<String>,
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
    /// Colour (`#rrggbb`): its hue is the direction of `centre` from the middle of the map.
    #[serde(default)]
    pub colour: String,
    /// The group it belongs to, if the model has groups.
    #[serde(default)]
    pub group: Option<usize>,
}

/// A group of topics on the map (the coarse level, labelled when zoomed out).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapGroup {
    /// Group id (index into [`TopicMap::groups`]).
    pub id: usize,
    /// Label.
    pub label: String,
    /// Its topics' ids.
    pub topics: Vec<usize>,
    /// Number of points.
    pub size: usize,
    /// Mean position of its points.
    pub centre: [f32; 2],
    /// Colour, by the same rule as its topics'.
    pub colour: String,
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
    /// Groups of topics (empty when the model has none).
    #[serde(default)]
    pub groups: Vec<MapGroup>,
    /// Link of each point, `{id}` standing for its id ([`MapConfig::link_template`]).
    #[serde(default)]
    pub link_template: Option<String>,
    /// A list shown beside the map (the page lists it above the topics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<MapList>,
    /// Where a server answers for this map (e.g. `/v1`, `papermap serve`): the page then
    /// searches by meaning through it and lists a clicked paper's related papers. `None` for a
    /// static page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
}

impl TopicMap {
    /// Neighbours compared by [`TopicMap::neighbourhood_preservation`]; a graph passed to
    /// [`TopicMap::build_with_neighbours`] should hold at least this many per point.
    pub const SCORE_NEIGHBOURS: usize = 10;

    /// Projects `embeddings` (the rows the model was fitted on, with their `docs`) to 2-D.
    ///
    /// Finds neighbours exactly, O(n² d) time: fine for tens of thousands of papers; beyond,
    /// pass a graph from an index to [`TopicMap::build_with_neighbours`] (the library does).
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
        let k = config.n_neighbors.max(Self::SCORE_NEIGHBOURS);
        let graph = NeighbourGraph::exact(embeddings, k, progress);
        let start = pca_2d(embeddings, config.seed);
        Self::layout(start, model, docs, config, &graph, progress)
    }

    /// [`TopicMap::build`] on a neighbour graph the caller already has (e.g. from an HNSW
    /// index, see [`NeighbourGraph::from_queries`]). The preservation score is measured
    /// against this graph.
    pub fn build_with_neighbours(
        embeddings: ArrayView2<f32>,
        model: &TopicModel,
        docs: &[TopicDoc],
        neighbours: &NeighbourGraph,
        config: &MapConfig,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<TopicMap, TopicError> {
        check_inputs(embeddings, model, docs, config)?;
        neighbours.validate(embeddings.nrows())?;
        let start = pca_2d(embeddings, config.seed);
        Self::layout(start, model, docs, config, neighbours, progress)
    }

    /// [`TopicMap::build_with_neighbours`] from a start the caller computed (see
    /// [`crate::pca_start`], which reads rows where they are): no embedding matrix at all, so a
    /// library's mapped vectors are never copied.
    pub fn build_with_start(
        start: Vec<[f32; 2]>,
        model: &TopicModel,
        docs: &[TopicDoc],
        neighbours: &NeighbourGraph,
        config: &MapConfig,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<TopicMap, TopicError> {
        check_model(model, docs)?;
        check_positions(&start, docs.len(), "start")?;
        check_n_neighbors(config)?;
        neighbours.validate(docs.len())?;
        Self::layout(start, model, docs, config, neighbours, progress)
    }

    fn layout(
        start: Vec<[f32; 2]>,
        model: &TopicModel,
        docs: &[TopicDoc],
        config: &MapConfig,
        graph: &NeighbourGraph,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<TopicMap, TopicError> {
        let n = start.len();
        let epochs = match config.epochs {
            0 if n <= 10_000 => 500,
            0 => 200,
            e => e,
        };
        let descent = Descent {
            epochs,
            negative_samples: config.negative_samples,
            seed: config.seed,
            deterministic: config.deterministic,
        };
        let y = umap::layout(start, graph, config.n_neighbors, &descent, progress);
        let scored = score_sample(n, config.score_sample, config.seed);
        let score = neighbourhood_preservation(graph, &y, Self::SCORE_NEIGHBOURS, &scored);
        Ok(Self::assemble(model, docs, config, &y, score))
    }

    /// A map from positions the caller already has (`positions[i]` for `docs[i]`, e.g. a stored
    /// layout with new papers placed beside their neighbours), without running the layout.
    /// `neighbourhood_preservation` is carried as given.
    pub fn from_positions(
        model: &TopicModel,
        docs: &[TopicDoc],
        positions: &[[f32; 2]],
        neighbourhood_preservation: f64,
        config: &MapConfig,
    ) -> Result<TopicMap, TopicError> {
        check_model(model, docs)?;
        check_positions(positions, docs.len(), "positions")?;
        Ok(Self::assemble(
            model,
            docs,
            config,
            positions,
            neighbourhood_preservation,
        ))
    }

    /// Points, topics and groups of a laid-out map.
    fn assemble(
        model: &TopicModel,
        docs: &[TopicDoc],
        config: &MapConfig,
        y: &[[f32; 2]],
        score: f64,
    ) -> TopicMap {
        let points: Vec<MapPoint> = docs
            .iter()
            .zip(y)
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
                added: false,
                today: false,
            })
            .collect();
        let (topics, groups) = place_topics(model, &points);
        TopicMap {
            title: config.title.clone(),
            neighbourhood_preservation: score,
            points,
            topics,
            groups,
            link_template: config.link_template.clone(),
            list: None,
            api: None,
        }
    }

    /// The neighbourhood-preservation score of this map against another graph of the same
    /// points (e.g. the exact one, to judge a map laid out on an approximate graph), on the
    /// same seeded sample of `sample` points a build with `seed` scores.
    pub fn preservation_against(&self, graph: &NeighbourGraph, sample: usize, seed: u64) -> f64 {
        let y: Vec<[f32; 2]> = self.points.iter().map(|p| [p.x, p.y]).collect();
        let scored = score_sample(y.len(), sample, seed);
        neighbourhood_preservation(graph, &y, Self::SCORE_NEIGHBOURS, &scored)
    }

    /// The smallest box holding every point: `(min, max)` corners, `([0, 0], [1, 1])` for a map
    /// without points. The SVG frame and the page's coordinate quantisation both start from it.
    pub(crate) fn bounds(&self) -> ([f32; 2], [f32; 2]) {
        let mut min = [f32::INFINITY; 2];
        let mut max = [f32::NEG_INFINITY; 2];
        for p in &self.points {
            min = [min[0].min(p.x), min[1].min(p.y)];
            max = [max[0].max(p.x), max[1].max(p.y)];
        }
        if !min[0].is_finite() {
            return ([0.0; 2], [1.0; 2]);
        }
        (min, max)
    }

    /// The map as JSON: `title`, `neighbourhood_preservation`, `points` (id, title, topic, x, y,
    /// link when set) and `topics` (id, label, keywords, size, centre).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a TopicMap always serialises")
    }
}

/// The points the preservation score looks at: all, or a seeded sample in ascending order.
fn score_sample(n: usize, size: usize, seed: u64) -> Vec<usize> {
    let mut scored: Vec<usize> = if n <= size {
        (0..n).collect()
    } else {
        let mut rng = Xoshiro256Plus::seed_from_u64(seed ^ 0x5c0e);
        sample(&mut rng, n, size).into_vec()
    };
    scored.sort_unstable();
    scored
}

/// Topics and groups with their centres, sizes and colours, from one pass over the points (not
/// one per topic: that would be k × n at 1,000,000 papers and 200 topics).
fn place_topics(model: &TopicModel, points: &[MapPoint]) -> (Vec<MapTopic>, Vec<MapGroup>) {
    let mut sums = vec![(0usize, 0.0f64, 0.0f64); model.topics.len()];
    let mut all = (0.0f64, 0.0f64);
    for p in points {
        let s = &mut sums[p.topic];
        *s = (s.0 + 1, s.1 + p.x as f64, s.2 + p.y as f64);
        all = (all.0 + p.x as f64, all.1 + p.y as f64);
    }
    let n = points.len().max(1) as f64;
    let middle = [(all.0 / n) as f32, (all.1 / n) as f32];
    let centre = |(size, sx, sy): (usize, f64, f64)| {
        let m = size.max(1) as f64;
        [(sx / m) as f32, (sy / m) as f32]
    };
    let extent = sums
        .iter()
        .map(|&s| {
            let c = centre(s);
            (c[0] - middle[0]).hypot(c[1] - middle[1])
        })
        .fold(0.0f32, f32::max);
    let group_of: Vec<Option<usize>> = (0..model.topics.len())
        .map(|t| model.group_of(t).map(|g| g.id))
        .collect();
    let topics = model
        .topics
        .iter()
        .zip(&sums)
        .map(|(t, &s)| MapTopic {
            id: t.id,
            label: t.label.clone(),
            keywords: t.keywords.clone(),
            size: s.0,
            centre: centre(s),
            colour: colour_at(centre(s), middle, extent),
            group: group_of[t.id],
        })
        .collect();
    let groups = model
        .groups
        .iter()
        .map(|g| {
            let s = g.topics.iter().fold((0, 0.0, 0.0), |a, &t| {
                (a.0 + sums[t].0, a.1 + sums[t].1, a.2 + sums[t].2)
            });
            MapGroup {
                id: g.id,
                label: g.label.clone(),
                topics: g.topics.clone(),
                size: s.0,
                centre: centre(s),
                colour: colour_at(centre(s), middle, extent),
            }
        })
        .collect();
    (topics, groups)
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
    check_model(model, docs)?;
    if x.ncols() != model.dimensions {
        return Err(TopicError::DimensionMismatch {
            expected: model.dimensions,
            found: x.ncols(),
        });
    }
    check_n_neighbors(config)
}

/// The model was fitted on (or assigned to) exactly these documents.
fn check_model(model: &TopicModel, docs: &[TopicDoc]) -> Result<(), TopicError> {
    if model.assignments.len() != docs.len() {
        return Err(TopicError::ModelMismatch {
            model: model.assignments.len(),
            docs: docs.len(),
        });
    }
    Ok(())
}

/// One finite (x, y) per document.
fn check_positions(
    positions: &[[f32; 2]],
    docs: usize,
    field: &'static str,
) -> Result<(), TopicError> {
    if positions.len() != docs || positions.iter().flatten().any(|v| !v.is_finite()) {
        return Err(TopicError::InvalidConfig {
            field,
            reason: format!(
                "{} positions for {docs} documents, or a non-finite one: pass one finite (x, y) per document",
                positions.len()
            ),
        });
    }
    Ok(())
}

fn check_n_neighbors(config: &MapConfig) -> Result<(), TopicError> {
    if config.n_neighbors == 0 {
        return Err(TopicError::InvalidConfig {
            field: "n_neighbors",
            reason: "must be at least 1".into(),
        });
    }
    Ok(())
}
