//! How good a library's topics are, in the numbers topic-model papers report (`papermap eval
//! topics`): NPMI coherence over the library's own texts, topic diversity, agreement with a label
//! field of the papers, and stability across seeds.

use papermap_index::{dot, l2_normalize};
use papermap_topics::quality::{self, Agreement};
use papermap_topics::{TopicConfig, TopicModel};
use serde::{Deserialize, Serialize};

use crate::error::{PaperMapError, Result};
use crate::PaperMap;

/// What [`PaperMap::evaluate_topics`] computes beyond coherence and diversity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicEvalOptions {
    /// A metadata field of the papers (e.g. arXiv's `label`) to score the topics against.
    pub label: Option<String>,
    /// Fits with this many seeds (the library's seed, then the next ones) for the stability
    /// score; 0 or 1 skips it (each fit costs as much as `papermap topics --refit`).
    pub seeds: usize,
}

/// Scores of a library's topics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicEvaluation {
    /// Papers scored.
    pub papers: usize,
    /// Topics of the library's model.
    pub topics: usize,
    /// Mean NPMI of the topics' top-10 keywords (gensim's `c_npmi`, see [`quality::npmi`]).
    pub npmi: f64,
    /// NPMI of each topic, by topic id.
    pub npmi_per_topic: Vec<f64>,
    /// Distinct share of all topics' top-10 keywords.
    pub diversity_top10: f64,
    /// Distinct share of all topics' top-25 keywords (extracted for this score).
    pub diversity_top25: f64,
    /// Share of papers in an outlier ("no topic") class: papermap assigns every paper a topic.
    pub outlier_share: f64,
    /// Agreement with the label field, when one was asked for.
    pub labels: Option<LabelScores>,
    /// Agreement between fits with different seeds, when asked for.
    pub stability: Option<Stability>,
    /// Whether each topic's label, embedded, picks out its topic (see [`PaperMap::label_test`]);
    /// `papermap eval topics` fills it in, [`PaperMap::evaluate_topics`] leaves it empty.
    #[serde(default)]
    pub label_test: Option<LabelTest>,
}

/// The label test: for each topic, is its label's embedding closer on average to the topic's own
/// papers than to the papers of each of its nearest topics? A label a person could search with
/// passes; one made of words every topic shares ("model, data, new") fails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelTest {
    /// Nearest topics (by centroid) each label competes against.
    pub neighbours: usize,
    /// Topics tested (all of them).
    pub topics: usize,
    /// Topics whose label picked their own papers.
    pub hits: usize,
    /// `hits / topics`.
    pub accuracy: f64,
    /// Accuracy a label with no information would get: 1 / (neighbours + 1).
    pub chance: f64,
    /// The topics whose label picked a neighbour's papers instead.
    pub misses: Vec<LabelMiss>,
}

/// A topic whose label fits a neighbouring topic's papers better than its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelMiss {
    /// The topic and its label.
    pub topic: usize,
    /// Its label.
    pub label: String,
    /// The neighbouring topic whose papers the label is closest to.
    pub picked: usize,
    /// That topic's label.
    pub picked_label: String,
}

/// Agreement of the topics with a label field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelScores {
    /// The metadata field.
    pub field: String,
    /// Papers that have it (the others are left out of these scores).
    pub labelled: usize,
    /// Distinct values of the field.
    pub classes: usize,
    /// NMI, V-measure, ARI and their parts.
    pub agreement: Agreement,
}

/// How much the topics depend on the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stability {
    /// The seeds fitted.
    pub seeds: Vec<u64>,
    /// Topics each fit gave (differs only where k is chosen automatically).
    pub topic_counts: Vec<usize>,
    /// Mean adjusted Rand index over all pairs of fits.
    pub ari_mean: f64,
    /// Lowest adjusted Rand index of a pair of fits.
    pub ari_min: f64,
}

impl PaperMap {
    /// Scores the library's fitted topics (see [`TopicEvaluation`]). Errors when no topics are
    /// fitted ([`PaperMapError::NoTopics`]) or when no paper has the label field
    /// ([`PaperMapError::NoSuchField`]).
    pub fn evaluate_topics(&self, options: &TopicEvalOptions) -> Result<TopicEvaluation> {
        let model = self.fitted_topics()?.ok_or(PaperMapError::NoTopics)?;
        let assignments = self.assign_all(model)?;
        let labels = match &options.label {
            Some(field) => Some(self.label_scores(field, &assignments)?),
            None => None,
        };
        let docs = self.topic_docs()?;
        let top10: Vec<Vec<String>> = model
            .topics
            .iter()
            .map(|t| t.keywords.iter().take(10).map(|k| k.term.clone()).collect())
            .collect();
        let npmi_per_topic = quality::npmi(&docs, &top10);
        let scored: Vec<f64> = npmi_per_topic
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let mut config25 = model.config.keywords.clone();
        config25.top_n = 25;
        let top25: Vec<Vec<String>> =
            quality::class_keywords(&docs, &assignments, model.topics.len(), &config25)
                .into_iter()
                .map(|ks| ks.into_iter().map(|k| k.term).collect())
                .collect();
        let stability = if options.seeds >= 2 {
            Some(self.stability(model, &docs, options.seeds)?)
        } else {
            None
        };
        Ok(TopicEvaluation {
            papers: assignments.len(),
            topics: model.topics.len(),
            npmi: scored.iter().sum::<f64>() / scored.len().max(1) as f64,
            npmi_per_topic,
            diversity_top10: quality::diversity(&top10, 10),
            diversity_top25: quality::diversity(&top25, 25),
            outlier_share: 0.0,
            labels,
            stability,
            label_test: None,
        })
    }

    /// The label test of the fitted topics (see [`LabelTest`]) given each topic's label embedded
    /// by the library's model: `label_vectors` row-major, one row per topic in id order (what
    /// [`embed_query`](Self::embed_query) gives for each label). A paper set's mean cosine
    /// similarity to the label is the label's dot product with the set's mean vector, so each
    /// topic is scored through its centroid: O(k² d), not O(n). (Exact for the default Euclidean
    /// k-means, whose centroid is that mean; the spherical variant's unit centroids rank the same
    /// only up to each topic's mean length.)
    pub fn label_test(&self, label_vectors: &[f32], neighbours: usize) -> Result<LabelTest> {
        let model = self.fitted_topics()?.ok_or(PaperMapError::NoTopics)?;
        let k = model.topics.len();
        let d = model.dimensions;
        if label_vectors.len() != k * d {
            return Err(PaperMapError::InvalidSetting(format!(
                "label test: {} label vector values for {k} topics of dimension {d}",
                label_vectors.len()
            )));
        }
        let unit = model
            .topics
            .iter()
            .map(|t| {
                let mut c = t.centroid.clone();
                l2_normalize(&mut c).map(|()| c)
            })
            .collect::<std::result::Result<Vec<Vec<f32>>, _>>()?;
        let mut hits = 0;
        let mut misses = Vec::new();
        for (t, topic) in model.topics.iter().enumerate() {
            let mut others: Vec<(f32, usize)> = (0..k)
                .filter(|&u| u != t)
                .map(|u| (dot(&unit[t], &unit[u]), u))
                .collect();
            others.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let label = &label_vectors[t * d..(t + 1) * d];
            let score = |u: usize| dot(label, &model.topics[u].centroid);
            let own = score(t);
            // Strictly better steals the topic: a tie counts for the label's own topic.
            let rival = others
                .iter()
                .take(neighbours)
                .map(|&(_, u)| (score(u), u))
                .filter(|&(s, _)| s > own)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            match rival {
                None => hits += 1,
                Some((_, u)) => misses.push(LabelMiss {
                    topic: t,
                    label: topic.label.clone(),
                    picked: u,
                    picked_label: model.topics[u].label.clone(),
                }),
            }
        }
        let tested = neighbours.min(k.saturating_sub(1));
        Ok(LabelTest {
            neighbours: tested,
            topics: k,
            hits,
            accuracy: hits as f64 / k.max(1) as f64,
            chance: 1.0 / (tested + 1) as f64,
            misses,
        })
    }

    /// [`label_test`](Self::label_test) with the labels embedded here by the library's model.
    #[cfg(feature = "embed")]
    pub fn label_test_embedded(&self, neighbours: usize) -> Result<LabelTest> {
        let model = self.fitted_topics()?.ok_or(PaperMapError::NoTopics)?;
        let labels: Vec<&str> = model.topics.iter().map(|t| t.label.as_str()).collect();
        let vectors = self.embedder()?.embed(&labels)?.into_vec();
        self.label_test(&vectors, neighbours)
    }

    fn label_scores(&self, field: &str, assignments: &[usize]) -> Result<LabelScores> {
        let mut classes: Vec<String> = Vec::new();
        let mut clusters: Vec<usize> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (loc, &topic) in self.locations().zip(assignments) {
            let paper = self.paper_at(loc)?;
            match paper.metadata.get(field) {
                Some(value) => {
                    classes.push(match value {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                    clusters.push(topic);
                }
                None if seen.len() < 20 => seen.extend(paper.metadata.keys().cloned()),
                None => {}
            }
        }
        if classes.is_empty() {
            return Err(PaperMapError::NoSuchField {
                field: field.to_string(),
                seen: seen.into_iter().collect(),
            });
        }
        let distinct: std::collections::HashSet<&String> = classes.iter().collect();
        Ok(LabelScores {
            field: field.to_string(),
            labelled: classes.len(),
            classes: distinct.len(),
            agreement: quality::agreement(&classes, &clusters),
        })
    }

    fn stability(
        &self,
        model: &TopicModel,
        docs: &[papermap_topics::TopicDoc],
        seeds: usize,
    ) -> Result<Stability> {
        let x = self.embedding_matrix();
        let mut fits = Vec::with_capacity(seeds);
        let seed_list: Vec<u64> = (0..seeds as u64).map(|i| model.config.seed + i).collect();
        for &seed in &seed_list {
            let config = TopicConfig {
                seed,
                ..model.config.clone()
            };
            fits.push(TopicModel::fit(x.view(), docs, &config)?);
        }
        let mut aris = Vec::new();
        for i in 0..fits.len() {
            for j in i + 1..fits.len() {
                aris.push(quality::agreement(&fits[i].assignments, &fits[j].assignments).ari);
            }
        }
        Ok(Stability {
            seeds: seed_list,
            topic_counts: fits.iter().map(|f| f.topics.len()).collect(),
            ari_mean: aris.iter().sum::<f64>() / aris.len() as f64,
            ari_min: aris.iter().copied().fold(f64::INFINITY, f64::min),
        })
    }
}
