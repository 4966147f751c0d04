//! How a topic model's k-means runs at scale: the restarts on a seeded sample and a few Lloyd
//! passes on all rows, and the choice of k on a sample (then one fit with the chosen k).

use std::collections::BTreeMap;

use ndarray::{s, Array2, ArrayView2, Axis};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;

use crate::error::TopicError;
use crate::kmeans::{self, KMeansParams, KMeansResult};
use crate::model::{KScore, TopicConfig};
use crate::silhouette::SilhouetteSample;
use crate::{Progress, Stage};

/// Lloyd iterations on all rows after a fit on a sample (see [`TopicConfig::fit_sample`]): the
/// sample's centroids are already close, so the full passes only polish them.
pub const REFINE_ITERS: usize = 30;

/// k-means on all rows, or (above `fit_sample` rows) restarts on a seeded sample and a few
/// Lloyd passes on all rows from the best of them.
pub(crate) fn fit_k(
    x: ArrayView2<f32>,
    fit_sample: usize,
    params: &KMeansParams,
    seed: u64,
    progress: &mut dyn FnMut(Progress),
) -> KMeansResult {
    if x.nrows() <= fit_sample.max(params.k) {
        return kmeans::fit_valid(x, params, progress);
    }
    let sample = sample_rows(x, fit_sample.max(params.k), seed);
    let seeded = kmeans::fit_valid(sample.view(), params, progress);
    let polish = KMeansParams {
        max_iters: params.max_iters.min(REFINE_ITERS),
        ..params.clone()
    };
    kmeans::refine(x, seeded.centroids, &polish)
}

/// Lloyd iterations each k-means++ start gets before the starts are compared, when choosing k.
pub const SCREEN_ITERS: usize = 10;

/// Screened starts that run on to convergence and score the candidate k together.
pub const SURVIVORS: usize = 5;

/// The k-means++ starts shared by every candidate k: `n_runs` greedy runs of `k_max` centres
/// (candidates per centre fixed for `k_max`), of which the candidate k takes the first k
/// centres. One seeding instead of one per k (seeding costs more than the Lloyd passes here),
/// and neighbouring k start from the same centres, so the silhouette curve is less noisy.
pub(crate) struct SharedStarts {
    x_sq: Vec<f32>,
    tol: f64,
    starts: Vec<Array2<f32>>,
}

impl SharedStarts {
    pub fn new(x: ArrayView2<f32>, k_max: usize, params: &KMeansParams) -> Self {
        let x_sq = kmeans::row_sq_norms(x);
        let tol = params.tolerance as f64 * kmeans::mean_feature_variance(x);
        let mut rng = Xoshiro256Plus::seed_from_u64(params.seed);
        let trials = kmeans::greedy_trials(k_max);
        let starts = (0..params.n_runs.max(1))
            .map(|_| kmeans::kmeans_plus_plus(x, &x_sq, k_max, trials, &mut rng))
            .collect();
        SharedStarts { x_sq, tol, starts }
    }

    /// k-means for scoring candidate `params.k`: every start runs [`SCREEN_ITERS`] Lloyd
    /// iterations and only the [`SURVIVORS`] with the lowest inertia run on to convergence (a
    /// start behind after a few passes rarely wins); returns those, converged. The chosen k is
    /// then fitted with every start in full ([`fit_k`]).
    pub fn fit_screened(&self, x: ArrayView2<f32>, params: &KMeansParams) -> Vec<KMeansResult> {
        let screen = KMeansParams {
            max_iters: params.max_iters.min(SCREEN_ITERS),
            ..params.clone()
        };
        // Starts run side by side: below one block of rows a Lloyd pass is single-threaded, and
        // each start is independent, so the result does not depend on the thread count.
        let mut screened: Vec<KMeansResult> = self
            .starts
            .par_iter()
            .map(|start| {
                let init = start.slice(s![..params.k, ..]).to_owned();
                kmeans::lloyd(x, &self.x_sq, init, &screen, self.tol)
            })
            .collect();
        // A stable sort: ties keep the earlier start, so the choice is deterministic.
        screened.sort_by(|a, b| a.inertia.total_cmp(&b.inertia));
        screened.truncate(SURVIVORS);
        let rest = KMeansParams {
            max_iters: params.max_iters.saturating_sub(screen.max_iters),
            ..params.clone()
        };
        screened
            .into_par_iter()
            .map(|start| {
                if start.iterations < screen.max_iters || rest.max_iters == 0 {
                    return start; // converged (or out of iterations) while screening
                }
                let mut result = kmeans::lloyd(x, &self.x_sq, start.centroids, &rest, self.tol);
                result.iterations += start.iterations;
                result
            })
            .collect()
    }
}

/// A seeded sample of `size` rows (in row order), copied out.
fn sample_rows(x: ArrayView2<f32>, size: usize, seed: u64) -> Array2<f32> {
    let mut rng = Xoshiro256Plus::seed_from_u64(seed ^ 0x5a3b_1e5a);
    let mut rows = sample(&mut rng, x.nrows(), size).into_vec();
    rows.sort_unstable();
    x.select(Axis(0), &rows)
}

/// Candidate k scored on the first, coarse pass over the range: a range of more than this many
/// is walked in even steps first, then every k is scored near the choice (see [`choose_k`]).
pub const COARSE_CANDIDATES: usize = 8;

/// Scores candidate k on a sample of `choose_sample` rows (starts shared and screened as in
/// [`SharedStarts`]), each by the silhouette averaged over its converged starts, and returns the
/// smallest k whose silhouette is within two paired standard errors of the best: where candidates
/// score within the sample's noise (on the labelled arXiv set k = 8 and 9 differed by 1.6-1.8 of
/// them, and which won depended on the seed), the seed would otherwise pick between them and the
/// topic count would change from run to run.
///
/// Not every k is scored: a wide range is walked in steps of `⌈range / COARSE_CANDIDATES⌉`,
/// then every k within one step of the chosen and of the best is scored, until no unscored k is
/// left that near (the silhouette moves little between neighbouring k: scoring all 33 of 8..=40
/// cost 3.7 of `topics`' 4.1 s on the arXiv set, most of it at k the rule could not pick).
pub(crate) fn choose_k(
    all: ArrayView2<f32>,
    config: &TopicConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<(usize, Vec<KScore>), TopicError> {
    choose_k_walking(all, config, COARSE_CANDIDATES, progress)
}

/// The k [`choose_k`] may pick: `k_min..=k_max`, at most `⌈√n⌉` (but not below `k_min`) and
/// `n - 1`.
fn candidate_range(n: usize, config: &TopicConfig) -> Result<(usize, usize), TopicError> {
    let min = config.k_min.max(2);
    let sqrt_n = (n as f64).sqrt().ceil() as usize;
    let max = config.k_max.min(sqrt_n.max(min)).min(n.saturating_sub(1));
    if min > max {
        return Err(TopicError::EmptyKRange { min, max, n });
    }
    Ok((min, max))
}

/// [`choose_k`] with the first pass's number of candidates given (`usize::MAX` scores every k).
fn choose_k_walking(
    all: ArrayView2<f32>,
    config: &TopicConfig,
    coarse_candidates: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<(usize, Vec<KScore>), TopicError> {
    let n = all.nrows();
    let (min, max) = candidate_range(n, config)?;
    let step = (max + 1 - min).div_ceil(coarse_candidates.max(1));
    let sampled = (n > config.choose_sample.max(2))
        .then(|| sample_rows(all, config.choose_sample.max(2), config.seed));
    let x = match &sampled {
        Some(rows) => rows.view(),
        None => all.view(),
    };
    let sample = SilhouetteSample::new(x, config.silhouette_sample, config.seed, config.variant);
    let k_top = max.min(x.nrows() - 1);
    if k_top < min {
        // A choice sample smaller than k_min: no k of the range can be scored on it.
        return Err(TopicError::EmptyKRange {
            min,
            max: k_top,
            n: x.nrows(),
        });
    }
    let starts = SharedStarts::new(x, k_top, &config.kmeans_params(k_top));
    let total = k_top + 1 - min;
    // k -> (score, each sampled row's silhouette); ordered by k for the rule.
    let mut scored: BTreeMap<usize, (KScore, Vec<f64>)> = BTreeMap::new();
    let mut pending: Vec<usize> = (min..=k_top).step_by(step).chain([k_top]).collect();
    loop {
        for k in pending {
            if scored.contains_key(&k) {
                continue;
            }
            // Each row's silhouette averaged over the converged starts, not the best start's
            // alone: at a k where k-means has several near-equal optima, which one wins follows
            // the seed, and so did the chosen k (arXiv 1,998: k = 8 or 9 by seed; averaged: 8).
            let results = starts.fit_screened(x, &config.kmeans_params(k));
            let mut per_row = vec![0.0; sample.indices.len()];
            for result in &results {
                for (a, v) in per_row.iter_mut().zip(sample.per_row(&result.labels, k)) {
                    *a += v / results.len() as f64;
                }
            }
            let silhouette = per_row.iter().sum::<f64>() / per_row.len() as f64;
            scored.insert(k, (KScore { k, silhouette }, per_row));
            progress(Progress {
                stage: Stage::ChoosingK,
                done: scored.len(),
                total,
            });
        }
        let (chosen, best) = {
            let scores: Vec<KScore> = scored.values().map(|(s, _)| *s).collect();
            let rows: Vec<&[f64]> = scored.values().map(|(_, r)| &r[..]).collect();
            smallest_near_best(&scores, &rows)
        };
        let near = chosen.saturating_sub(step - 1).max(min)..=(best + step - 1).min(k_top);
        pending = near.filter(|k| !scored.contains_key(k)).collect();
        if pending.is_empty() {
            if scored.len() < total {
                // The bar ends full: the k not scored were ruled out, not skipped.
                progress(Progress {
                    stage: Stage::ChoosingK,
                    done: total,
                    total,
                });
            }
            return Ok((chosen, scored.into_values().map(|(s, _)| s).collect()));
        }
    }
}

/// Standard errors within which a smaller k counts as scoring the same as the best.
pub const K_TOLERANCE_ERRORS: f64 = 2.0;

/// The smallest k whose silhouette is below the best one's by less than [`K_TOLERANCE_ERRORS`]
/// standard errors of the difference, rows paired (both are scored on the same sampled rows);
/// and the best k.
fn smallest_near_best(scores: &[KScore], rows: &[&[f64]]) -> (usize, usize) {
    let best = (0..scores.len()).fold(0, |b, i| {
        if scores[i].silhouette > scores[b].silhouette {
            i
        } else {
            b
        }
    });
    let near = |i: usize| {
        let diffs: Vec<f64> = rows[best].iter().zip(rows[i]).map(|(b, c)| b - c).collect();
        let m = diffs.len() as f64;
        let mean = diffs.iter().sum::<f64>() / m;
        let variance = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / m;
        mean <= K_TOLERANCE_ERRORS * (variance / m).sqrt()
    };
    let chosen = (0..=best)
        .find(|&i| near(i))
        .map_or(scores[best].k, |i| scores[i].k);
    (chosen, scores[best].k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn score(k: usize, rows: &[f64]) -> KScore {
        KScore {
            k,
            silhouette: rows.iter().sum::<f64>() / rows.len() as f64,
        }
    }

    #[test]
    fn a_near_tie_goes_to_the_smaller_k_and_a_clear_win_to_the_best() {
        // Row by row, k = 3 is k = 4 less a small, noisy amount: within two standard errors.
        let best: Vec<f64> = (0..100).map(|i| 0.5 + 0.01 * (i % 7) as f64).collect();
        let near: Vec<f64> = best
            .iter()
            .enumerate()
            .map(|(i, v)| v - if i % 2 == 0 { 0.02 } else { -0.018 })
            .collect();
        let far: Vec<f64> = best.iter().map(|v| v - 0.1).collect();
        let rows = [&far[..], &near, &best];
        let scores = vec![score(2, &far), score(3, &near), score(4, &best)];
        assert_eq!(smallest_near_best(&scores, &rows), (3, 4));
        // The same gap with no noise is a real difference: the best k wins.
        let clear: Vec<f64> = best.iter().map(|v| v - 0.001).collect();
        let rows = [&far[..], &clear, &best];
        let scores = vec![score(2, &far), score(3, &clear), score(4, &best)];
        assert_eq!(smallest_near_best(&scores, &rows), (4, 4));
    }

    #[test]
    fn the_coarse_walk_picks_the_k_every_candidate_would_and_scores_fewer() {
        // Blobs in 24 dimensions, ~440 rows: k_min 2 .. ⌈√n⌉ = 21, 20 candidates, step 3; the
        // true k at the low end, inside, and at the top end of the range.
        for (k, per) in [(2, 220), (11, 40), (21, 21)] {
            let (every, all_scores, coarse, some_scores) = walks(k, per);
            assert_eq!(every, k, "{all_scores:?}");
            assert_eq!(coarse, every, "{k} blobs: {some_scores:?}");
            assert_eq!(all_scores.len(), 20);
            assert!(some_scores.len() < 14, "{k} blobs: {some_scores:?}");
            // A k scored on both walks scores the same: the starts are shared, not re-drawn.
            for s in &some_scores {
                let same = all_scores.iter().find(|a| a.k == s.k).unwrap();
                assert_eq!(s.silhouette, same.silhouette);
            }
        }
    }

    /// Both walks over `k` blobs of `per` rows: (the k of scoring every candidate, its scores,
    /// the k of the coarse walk, its scores).
    fn walks(k: usize, per: usize) -> (usize, Vec<KScore>, usize, Vec<KScore>) {
        let d = 24;
        let mut rng = Xoshiro256Plus::seed_from_u64(7);
        let centres: Vec<Vec<f32>> = (0..k)
            .map(|_| (0..d).map(|_| rng.gen_range(-1.0f32..1.0)).collect())
            .collect();
        let x = Array2::from_shape_fn((k * per, d), |(i, j)| {
            centres[i / per][j] + 0.08 * rng.gen_range(-1.0f32..1.0)
        });
        let config = TopicConfig {
            k: None,
            k_min: 2,
            k_max: 40,
            ..TopicConfig::default()
        };
        let (every, all_scores) =
            choose_k_walking(x.view(), &config, usize::MAX, &mut |_| {}).unwrap();
        let (coarse, some_scores) = choose_k(x.view(), &config, &mut |_| {}).unwrap();
        (every, all_scores, coarse, some_scores)
    }
}
