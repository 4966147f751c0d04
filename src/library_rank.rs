//! Today's papers against a reader's library: which matter, and why.
//!
//! A [`Profile`] is what the reader keeps or liked (the whole library, or a liked subset with
//! weights, with disliked papers pushing down). [`PaperMap::rank_embedded`] scores every digest
//! paper by k-nearest-neighbour aggregation over the profile: the weighted mean of its similarities
//! to its [`PROFILE_NEIGHBOURS`] nearest profile papers; for a liked subset, minus
//! [`BACKGROUND_WEIGHT`] times the mean similarity to its nearest papers of the whole library (a
//! paper close to everything the reader keeps says less about what they liked: the same role as the
//! negatives of arxiv-sanity-lite's SVM, without fitting one); minus [`DISLIKE_WEIGHT`] times the
//! mean over the disliked papers. (zotero-arxiv-daily ranks by similarity to the library; a
//! neighbour mean keeps a reader with several interests from being averaged into none.) The method
//! and weights were chosen on development splits (seeds 100–104 of `benches/baselines/rank_eval.py`)
//! and are reported on others (seeds 0–4). Each ranked paper carries its nearest profile papers, the key terms it shares with
//! each ("why"), its topic on the library's kept topics, and whether the library holds it already.
//! Nothing here writes to the library.

use serde::Serialize;

use papermap_corpus::Paper;
use papermap_index::{dot, l2_normalize};
use papermap_topics::{shared_terms, TopicDoc};

use crate::error::{PaperMapError, Result};
use crate::library::Loc;
use crate::rank_model::standardised;
use crate::{PaperMap, ScoredPaper};

/// Profile papers a digest paper's score averages over.
pub const PROFILE_NEIGHBOURS: usize = 3;
/// How much the similarity to the nearest library papers takes off a liked profile's score.
pub const BACKGROUND_WEIGHT: f32 = 0.5;
/// How much the similarity to disliked papers takes off a score.
pub const DISLIKE_WEIGHT: f32 = 0.5;
/// Library papers (not liked) the profile's linear model learns against, at most.
const NEGATIVES: usize = 2_000;
/// Shared terms listed per neighbour.
const WHY_TERMS: usize = 5;

/// What a reader keeps or liked, and disliked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// Liked papers with their weights; empty: the whole library, each paper weight 1.
    liked: Vec<(String, f32)>,
    disliked: Vec<String>,
}

impl Profile {
    /// Every paper of the library, weight 1.
    pub fn library() -> Profile {
        Profile::default()
    }

    /// These papers of the library, weight 1 each.
    pub fn liked<S: Into<String>>(ids: impl IntoIterator<Item = S>) -> Profile {
        Profile::weighted(ids.into_iter().map(|id| (id, 1.0)))
    }

    /// These papers with weights (e.g. newer papers weighted more); weights ≤ 0 are dropped.
    pub fn weighted<S: Into<String>>(ids: impl IntoIterator<Item = (S, f32)>) -> Profile {
        let liked = ids
            .into_iter()
            .map(|(id, w)| (id.into(), w))
            .filter(|(_, w)| *w > 0.0 && w.is_finite())
            .collect();
        Profile {
            liked,
            disliked: Vec::new(),
        }
    }

    /// Adds papers that push similar digest papers down.
    pub fn disliking<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Profile {
        self.disliked.extend(ids.into_iter().map(Into::into));
        self
    }
}

/// One digest paper, scored against a profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    /// The digest paper's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its score: higher matters more (a cosine-scale number, -1.5..=1).
    pub score: f32,
    /// Its nearest profile papers, most similar first (never the paper itself).
    pub nearest: Vec<ScoredPaper>,
    /// For each of `nearest`, the key terms the two texts share.
    pub shared_terms: Vec<Vec<String>>,
    /// Its topic on the library's fitted topics (its nearest centroid), if they are fitted.
    pub topic: Option<usize>,
    /// The library already holds a paper with this id.
    pub in_library: bool,
    /// It has no abstract: ranked on its title alone.
    pub title_only: bool,
}

/// A digest ranked against a profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    /// Every digest paper, best first (ties by id).
    pub papers: Vec<Ranked>,
    /// Liked or disliked ids the library does not hold (left out of the profile).
    pub unknown_ids: Vec<String>,
}

/// The profile resolved against the library.
struct Resolved {
    /// `None`: the whole library.
    liked: Option<Vec<(Loc, f32)>>,
    disliked: Vec<Loc>,
    unknown: Vec<String>,
}

impl PaperMap {
    /// Ranks `digest` (with its `vectors`, row-major, of this library's model) against `profile`.
    pub fn rank_embedded(
        &self,
        digest: &[Paper],
        vectors: &[f32],
        profile: &Profile,
    ) -> Result<Ranking> {
        if digest.is_empty() {
            return Err(PaperMapError::EmptyDigest);
        }
        if self.is_empty() {
            return Err(PaperMapError::EmptyLibrary);
        }
        let dim = self.dim();
        if vectors.len() != digest.len() * dim {
            return Err(PaperMapError::BadVector {
                id: "<digest>".into(),
                reason: format!(
                    "{} values for {} papers of dimension {dim}",
                    vectors.len(),
                    digest.len()
                ),
            });
        }
        let resolved = self.resolve(profile)?;
        let topics = self.topic_table()?;
        let disliked: Vec<(Loc, f32)> = resolved.disliked.iter().map(|&l| (l, 1.0)).collect();
        let mut papers = Vec::with_capacity(digest.len());
        for (paper, row) in digest.iter().zip(vectors.chunks_exact(dim)) {
            let mut query = row.to_vec();
            l2_normalize(&mut query).map_err(|e| PaperMapError::BadVector {
                id: paper.id.clone(),
                reason: e.to_string(),
            })?;
            let own = self.locate(&paper.id)?;
            let not_itself = |l: Loc| Some(l) != own;
            let library: Vec<(f32, Loc, f32)> = self
                .nearest(&query, PROFILE_NEIGHBOURS, &not_itself)?
                .into_iter()
                .map(|(s, l)| (s, l, 1.0))
                .collect();
            let (near, background) = match &resolved.liked {
                None => (library, 0.0),
                Some(liked) => (
                    self.best_of(&query, liked, &not_itself),
                    BACKGROUND_WEIGHT * weighted_mean(&library),
                ),
            };
            let pushed = self.best_of(&query, &disliked, &not_itself);
            let score = weighted_mean(&near)
                - background
                - DISLIKE_WEIGHT * weighted_mean(&pushed).max(0.0);
            let doc = topic_doc(paper);
            let mut nearest = Vec::new();
            let mut why = Vec::new();
            for &(similarity, loc, _) in &near {
                let neighbour = self.paper_at(loc)?;
                why.push(shared_terms(&doc, &topic_doc(&neighbour), WHY_TERMS));
                nearest.push(ScoredPaper {
                    id: neighbour.id,
                    title: neighbour.title,
                    score: similarity,
                    link: neighbour.link,
                });
            }
            let topic = match topics {
                Some(model) => {
                    let row = ndarray::ArrayView2::from_shape((1, dim), &query[..])
                        .expect("one row of the model's width");
                    model.assign(row)?.first().copied()
                }
                None => None,
            };
            papers.push(Ranked {
                id: paper.id.clone(),
                title: paper.title.clone(),
                score,
                nearest,
                shared_terms: why,
                topic,
                in_library: own.is_some(),
                title_only: paper.abstract_text.trim().is_empty(),
            });
        }
        if let Some(liked) = &resolved.liked {
            // Liked papers: the neighbour score blended with a linear model of "liked" against
            // the library, each standardised over the digest.
            let (w, bias) = self.profile_model(liked);
            let margins: Vec<f32> = vectors
                .chunks_exact(dim)
                .map(|row| dot(&w, row) + bias)
                .collect();
            let knn: Vec<f32> = papers.iter().map(|p| p.score).collect();
            let (knn, linear) = (standardised(&knn), standardised(&margins));
            for (i, paper) in papers.iter_mut().enumerate() {
                paper.score = knn[i] + linear[i];
            }
        }
        papers.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        Ok(Ranking {
            papers,
            unknown_ids: resolved.unknown,
        })
    }

    /// Ranks `digest` against `profile`, embedding it with the library's model.
    #[cfg(feature = "embed")]
    pub fn rank(&self, digest: &[Paper], profile: &Profile) -> Result<Ranking> {
        let vectors = self.embed_papers(digest)?;
        self.rank_embedded(digest, &vectors, profile)
    }

    fn resolve(&self, profile: &Profile) -> Result<Resolved> {
        let mut unknown = Vec::new();
        let mut find = |id: &str| -> Result<Option<Loc>> {
            let loc = self.locate(id)?;
            if loc.is_none() && !unknown.iter().any(|u| u == id) {
                unknown.push(id.to_string());
            }
            Ok(loc)
        };
        let liked = match profile.liked.is_empty() {
            true => None,
            false => {
                let mut liked = Vec::new();
                for (id, weight) in &profile.liked {
                    if let Some(loc) = find(id)? {
                        liked.push((loc, *weight));
                    }
                }
                if liked.is_empty() {
                    return Err(PaperMapError::EmptyProfile { unknown });
                }
                Some(liked)
            }
        };
        let mut disliked = Vec::new();
        for id in &profile.disliked {
            disliked.extend(find(id)?);
        }
        Ok(Resolved {
            liked,
            disliked,
            unknown,
        })
    }

    /// The linear model of `liked` against up to [`NEGATIVES`] other library papers, spread
    /// evenly over the library (deterministic).
    fn profile_model(&self, liked: &[(Loc, f32)]) -> (Vec<f32>, f32) {
        let step = (self.len() / NEGATIVES).max(1);
        let others: Vec<&[f32]> = self
            .locations()
            .step_by(step)
            .filter(|l| !liked.iter().any(|(p, _)| p == l))
            .take(NEGATIVES)
            .map(|l| self.vector_at(l))
            .collect();
        let positives: Vec<(&[f32], f32)> =
            liked.iter().map(|&(l, w)| (self.vector_at(l), w)).collect();
        crate::rank_model::fit(&positives, &others, self.dim())
    }

    /// The [`PROFILE_NEIGHBOURS`] profile papers most similar to `query`: (similarity, place,
    /// weight), best first. A profile is a few papers to a few thousand: scored exactly.
    fn best_of(
        &self,
        query: &[f32],
        profile: &[(Loc, f32)],
        accept: &dyn Fn(Loc) -> bool,
    ) -> Vec<(f32, Loc, f32)> {
        let mut scored: Vec<(f32, Loc, f32)> = profile
            .iter()
            .filter(|(l, _)| accept(*l))
            .map(|&(l, w)| (dot(query, self.vector_at(l)), l, w))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.truncate(PROFILE_NEIGHBOURS);
        scored
    }
}

fn weighted_mean(near: &[(f32, Loc, f32)]) -> f32 {
    let weight: f32 = near.iter().map(|n| n.2).sum();
    match weight > 0.0 {
        true => near.iter().map(|n| n.0 * n.2).sum::<f32>() / weight,
        false => 0.0,
    }
}

fn topic_doc(paper: &Paper) -> TopicDoc {
    TopicDoc {
        id: paper.id.clone(),
        title: paper.title.clone(),
        text: paper.abstract_text.clone(),
    }
}
