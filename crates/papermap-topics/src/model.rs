//! The fitted topic model: clusters, their keywords and labels, and assignment of new papers.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::TopicError;
use crate::fitting::{choose_k, fit_k};
use crate::groups;
use crate::keywords::{Keyword, KeywordConfig, Vocabulary};
use crate::kmeans::{self, KMeansParams, KMeansResult, Variant};
use crate::{validate_embeddings, validate_k, Progress};

/// Version of the serialised [`TopicModel`]; [`TopicModel::from_json`] refuses others.
pub const MODEL_FORMAT_VERSION: u32 = 1;

/// One document as the topic model sees it: row `i` of the embeddings belongs to `docs[i]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicDoc {
    /// Stable identifier (an arXiv id, a DOI, a file name).
    pub id: String,
    /// Title, shown on the map.
    pub title: String,
    /// Body text for keywords (the abstract).
    pub text: String,
}

/// How to fit topics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicConfig {
    /// Number of topics; `None` chooses it by silhouette over `k_min..=k_max`: the smallest k whose
    /// silhouette is within two standard errors of the best, so near ties do not follow the seed
    /// (a wide range is walked coarsely first, then scored k by k near the choice).
    pub k: Option<usize>,
    /// Smallest k tried when `k` is `None`.
    pub k_min: usize,
    /// Largest k tried when `k` is `None` (clamped to `n - 1`, and to `⌈√n⌉` but not below `k_min`: on a
    /// small corpus silhouette keeps rising as topics shrink to two or three papers each).
    pub k_max: usize,
    /// Seed for k-means++ and sampling; the same input and seed give the same topics.
    pub seed: u64,
    /// k-means++ starts per k; the lowest inertia wins.
    pub n_runs: usize,
    /// Most Lloyd iterations per start.
    pub max_iters: usize,
    /// Relative convergence tolerance (see [`KMeansParams::tolerance`]).
    pub tolerance: f32,
    /// k-means objective.
    pub variant: Variant,
    /// Rows sampled for the silhouette when choosing k (all rows when fewer).
    pub silhouette_sample: usize,
    /// Keyword extraction.
    pub keywords: KeywordConfig,
    /// Representative documents kept per topic (closest to the centroid).
    pub representatives: usize,
    /// Above this many rows, the k-means++ starts run on a seeded sample of this many rows and
    /// the best one's centroids seed at most [`REFINE_ITERS`](crate::REFINE_ITERS) Lloyd iterations on all rows: the
    /// restarts cost O(sample), not O(n), each.
    #[serde(default = "default_fit_sample")]
    pub fit_sample: usize,
    /// Rows (a seeded sample) the candidate values of k are fitted on when k is chosen
    /// automatically; the chosen k is then fitted on all rows.
    #[serde(default = "default_choose_sample")]
    pub choose_sample: usize,
}

fn default_fit_sample() -> usize {
    50_000
}

fn default_choose_sample() -> usize {
    10_000
}

impl TopicConfig {
    /// The k-means settings of this configuration at `k` topics.
    pub(crate) fn kmeans_params(&self, k: usize) -> KMeansParams {
        KMeansParams {
            k,
            seed: self.seed,
            n_runs: self.n_runs,
            max_iters: self.max_iters,
            tolerance: self.tolerance,
            variant: self.variant,
        }
    }
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            k: None,
            k_min: 8,
            k_max: 40,
            seed: 42,
            n_runs: 10,
            max_iters: 300,
            tolerance: 1e-4,
            variant: Variant::default(),
            silhouette_sample: 2000,
            keywords: KeywordConfig::default(),
            representatives: 3,
            fit_sample: default_fit_sample(),
            choose_sample: default_choose_sample(),
        }
    }
}

/// One topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Topic {
    /// Index of the topic, `0..k`; also its position in [`TopicModel::topics`].
    pub id: usize,
    /// Human-readable label made of the top keywords.
    pub label: String,
    /// Keywords with c-TF-IDF weights, best first.
    pub keywords: Vec<Keyword>,
    /// Number of documents assigned.
    pub size: usize,
    /// Ids of the documents closest to the centroid, closest first.
    pub representatives: Vec<String>,
    /// The centroid in embedding space (unit length for the spherical variant).
    pub centroid: Vec<f32>,
}

/// Silhouette of one candidate k.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KScore {
    /// Number of topics tried.
    pub k: usize,
    /// Mean silhouette on the sample (-1..=1, higher is better separated).
    pub silhouette: f64,
}

/// Fitted topics of a corpus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicModel {
    /// [`MODEL_FORMAT_VERSION`] at the time of writing.
    pub format_version: u32,
    /// Width of the embeddings the model was fitted on.
    pub dimensions: usize,
    /// Objective the centroids minimise; also how [`TopicModel::assign`] measures closeness.
    pub variant: Variant,
    /// The topics, indexed by id.
    pub topics: Vec<Topic>,
    /// Topic of each fitted document, in input order.
    pub assignments: Vec<usize>,
    /// Id of each fitted document, in input order.
    pub doc_ids: Vec<String>,
    /// Sum of squared Euclidean distances to the assigned centroids.
    pub inertia: f64,
    /// Silhouette per candidate k, when k was chosen automatically.
    pub k_scores: Option<Vec<KScore>>,
    /// The configuration used.
    pub config: TopicConfig,
    /// Groups of related topics (about √k of them; none below four topics), each with its own
    /// keywords and label: the coarse level of the map.
    #[serde(default)]
    pub groups: Vec<TopicGroup>,
    /// The map's positions of the fitted documents (aligned with `doc_ids`), once a map was laid
    /// out and kept: later maps place new papers beside their neighbours and move no one else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<StoredLayout>,
}

/// A kept map layout: one position per fitted document and the layout's preservation score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredLayout {
    /// Positions, aligned with [`TopicModel::doc_ids`].
    pub positions: Vec<[f32; 2]>,
    /// [`crate::TopicMap::neighbourhood_preservation`] of the layout when it was made.
    pub neighbourhood_preservation: f64,
}

/// A group of related topics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicGroup {
    /// Index of the group, `0..groups`; also its position in [`TopicModel::groups`].
    pub id: usize,
    /// Label made of the group's top keywords.
    pub label: String,
    /// Keywords of the group's documents as one class, by c-TF-IDF against the other groups.
    pub keywords: Vec<Keyword>,
    /// Ids of its topics, ascending.
    pub topics: Vec<usize>,
    /// Documents in its topics.
    pub size: usize,
}

impl TopicModel {
    /// The group of topic `topic`, if the model has groups.
    pub fn group_of(&self, topic: usize) -> Option<&TopicGroup> {
        self.groups.iter().find(|g| g.topics.contains(&topic))
    }

    /// Fits topics to `embeddings` (one row per entry of `docs`).
    pub fn fit(
        embeddings: ArrayView2<f32>,
        docs: &[TopicDoc],
        config: &TopicConfig,
    ) -> Result<TopicModel, TopicError> {
        Self::fit_with_progress(embeddings, docs, config, &mut |_| {})
    }

    /// [`TopicModel::fit`], reporting progress of the k-means runs and the k search.
    pub fn fit_with_progress(
        embeddings: ArrayView2<f32>,
        docs: &[TopicDoc],
        config: &TopicConfig,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<TopicModel, TopicError> {
        validate_config(config)?;
        validate_embeddings(embeddings)?;
        let n = embeddings.nrows();
        if docs.len() != n {
            return Err(TopicError::DocCountMismatch {
                docs: docs.len(),
                rows: n,
            });
        }
        let (k, k_scores) = match config.k {
            Some(k) => {
                validate_k(k, n)?;
                (k, None)
            }
            None => {
                let (k, scores) = choose_k(embeddings, config, progress)?;
                (k, Some(scores))
            }
        };
        let result = fit_k(
            embeddings,
            config.fit_sample,
            &config.kmeans_params(k),
            config.seed,
            progress,
        );
        Ok(describe(embeddings, docs, config, result, k_scores))
    }

    /// Topic of each row of `embeddings` by nearest centroid, without refitting, so topic ids
    /// stay stable when a corpus grows.
    pub fn assign(&self, embeddings: ArrayView2<f32>) -> Result<Vec<usize>, TopicError> {
        if embeddings.nrows() == 0 {
            return Ok(Vec::new());
        }
        self.check_embeddings(embeddings)?;
        Ok(kmeans::assign(embeddings, self.centroids().view()).0)
    }

    /// The topic of one embedding: what [`assign`](Self::assign) gives it as a one-row matrix
    /// (the same `|c|² - 2 x·c` minimised, summed in another order: two centroids within float
    /// rounding of each other may come out the other way), without building the centroid matrix
    /// or a thread hop: a server asks this for every hit it returns.
    pub fn nearest_topic(&self, embedding: &[f32]) -> Result<usize, TopicError> {
        let row = ArrayView2::from_shape((1, embedding.len()), embedding)
            .expect("one row of its own length");
        self.check_embeddings(row)?;
        let x = row.row(0);
        let sq_and_dots = self.topics.iter().map(|topic| {
            let c = ndarray::ArrayView1::from(&topic.centroid[..]);
            (c.dot(&c), x.dot(&c))
        });
        Ok(kmeans::nearest_by_dots(sq_and_dots).0)
    }

    /// Finite rows of this model's dimension, as [`assign`](Self::assign) and
    /// [`nearest_topic`](Self::nearest_topic) take.
    fn check_embeddings(&self, embeddings: ArrayView2<f32>) -> Result<(), TopicError> {
        validate_embeddings(embeddings)?;
        if embeddings.ncols() != self.dimensions {
            return Err(TopicError::DimensionMismatch {
                expected: self.dimensions,
                found: embeddings.ncols(),
            });
        }
        Ok(())
    }

    /// The `k x d` centroid matrix.
    pub fn centroids(&self) -> Array2<f32> {
        let mut c = Array2::zeros((self.topics.len(), self.dimensions));
        for (mut row, topic) in c.rows_mut().into_iter().zip(&self.topics) {
            row.iter_mut()
                .zip(&topic.centroid)
                .for_each(|(a, &b)| *a = b);
        }
        c
    }

    /// Serialises the model as JSON (the caller persists it).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a TopicModel always serialises")
    }

    /// Reads a model written by [`TopicModel::to_json`], refusing other format versions and
    /// internally inconsistent files.
    pub fn from_json(json: &str) -> Result<TopicModel, TopicError> {
        let model: TopicModel = serde_json::from_str(json)
            .map_err(|e| TopicError::CorruptModel(format!("not a topic model: {e}")))?;
        if model.format_version != MODEL_FORMAT_VERSION {
            return Err(TopicError::CorruptModel(format!(
                "format version {} but this build reads {MODEL_FORMAT_VERSION}: refit the topics",
                model.format_version
            )));
        }
        let k = model.topics.len();
        let bad_topic = model.topics.iter().enumerate().find(|(i, t)| {
            t.id != *i
                || t.centroid.len() != model.dimensions
                || t.centroid.iter().any(|v| !v.is_finite())
        });
        if k == 0 || bad_topic.is_some() {
            return Err(TopicError::CorruptModel(
                "topics missing, out of order, or with centroids of the wrong width".into(),
            ));
        }
        let layout_fits = model.layout.as_ref().is_none_or(|l| {
            l.positions.len() == model.doc_ids.len()
                && l.positions.iter().flatten().all(|v| v.is_finite())
        });
        if model.assignments.len() != model.doc_ids.len()
            || model.assignments.iter().any(|&a| a >= k)
            || !layout_fits
        {
            return Err(TopicError::CorruptModel(
                "assignments do not match the documents or the topics".into(),
            ));
        }
        Ok(model)
    }
}

fn validate_config(config: &TopicConfig) -> Result<(), TopicError> {
    let invalid = |field, reason: &str| {
        Err(TopicError::InvalidConfig {
            field,
            reason: reason.to_string(),
        })
    };
    if config.n_runs == 0 {
        return invalid("n_runs", "must be at least 1");
    }
    if config.max_iters == 0 {
        return invalid("max_iters", "must be at least 1");
    }
    if !(config.tolerance >= 0.0 && config.tolerance.is_finite()) {
        return invalid("tolerance", "must be a finite number >= 0");
    }
    if config.k.is_none() && config.silhouette_sample < 2 {
        return invalid("silhouette_sample", "must be at least 2 to choose k");
    }
    let diversity = config.keywords.mmr_diversity;
    if !(0.0..=1.0).contains(&diversity) {
        return invalid("keywords.mmr_diversity", "must be a number from 0 to 1");
    }
    Ok(())
}

/// Keywords, labels, sizes and representatives for a clustering.
fn describe(
    x: ArrayView2<f32>,
    docs: &[TopicDoc],
    config: &TopicConfig,
    result: KMeansResult,
    k_scores: Option<Vec<KScore>>,
) -> TopicModel {
    let k = result.centroids.nrows();
    let vocabulary = Vocabulary::count(docs, &config.keywords);
    let keywords = vocabulary.keywords(docs, &result.labels, k, &config.keywords);
    let (_, dists) = kmeans::assign(x, result.centroids.view());
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &c) in result.labels.iter().enumerate() {
        members[c].push(i);
    }
    let topics: Vec<Topic> = keywords
        .into_iter()
        .zip(members)
        .enumerate()
        .map(|(id, (described, mut rows))| {
            let size = rows.len();
            rows.sort_by(|&a, &b| dists[a].total_cmp(&dists[b]).then(a.cmp(&b)));
            Topic {
                id,
                label: described.label,
                keywords: described.keywords,
                size,
                representatives: rows
                    .iter()
                    .take(config.representatives)
                    .map(|&i| docs[i].id.clone())
                    .collect(),
                centroid: result.centroids.row(id).to_vec(),
            }
        })
        .collect();
    let groups = describe_groups(docs, config, &vocabulary, &result, &topics);
    TopicModel {
        format_version: MODEL_FORMAT_VERSION,
        dimensions: x.ncols(),
        variant: config.variant,
        topics,
        assignments: result.labels,
        doc_ids: docs.iter().map(|d| d.id.clone()).collect(),
        inertia: result.inertia,
        k_scores,
        config: config.clone(),
        groups,
        layout: None,
    }
}

/// Groups of the fitted topics with their keywords and labels.
fn describe_groups(
    docs: &[TopicDoc],
    config: &TopicConfig,
    vocabulary: &Vocabulary,
    result: &KMeansResult,
    topics: &[Topic],
) -> Vec<TopicGroup> {
    let count = groups::group_count(topics.len());
    if count == 0 {
        return Vec::new();
    }
    let sizes: Vec<usize> = topics.iter().map(|t| t.size).collect();
    let topic_group = groups::agglomerate(result.centroids.view(), &sizes, count);
    let doc_group: Vec<usize> = result.labels.iter().map(|&t| topic_group[t]).collect();
    vocabulary
        .keywords(docs, &doc_group, count, &config.keywords)
        .into_iter()
        .enumerate()
        .map(|(id, described)| {
            let members: Vec<usize> = (0..topics.len())
                .filter(|&t| topic_group[t] == id)
                .collect();
            TopicGroup {
                id,
                label: described.label,
                keywords: described.keywords,
                size: members.iter().map(|&t| sizes[t]).sum(),
                topics: members,
            }
        })
        .collect()
}
