//! How a topic model's k-means runs at scale: the restarts on a seeded sample and a few Lloyd
//! passes on all rows, and the choice of k on a sample (then one fit with the chosen k).

use ndarray::{Array2, ArrayView2, Axis};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;

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

/// A seeded sample of `size` rows (in row order), copied out.
fn sample_rows(x: ArrayView2<f32>, size: usize, seed: u64) -> Array2<f32> {
    let mut rng = Xoshiro256Plus::seed_from_u64(seed ^ 0x5a3b_1e5a);
    let mut rows = sample(&mut rng, x.nrows(), size).into_vec();
    rows.sort_unstable();
    x.select(Axis(0), &rows)
}

/// Fits every k in the range (on a sample of `choose_sample` rows) and returns the one with the
/// best silhouette (ties: the smaller k).
pub(crate) fn choose_k(
    all: ArrayView2<f32>,
    config: &TopicConfig,
    params: &dyn Fn(usize) -> KMeansParams,
    progress: &mut dyn FnMut(Progress),
) -> Result<(usize, Vec<KScore>), TopicError> {
    let n = all.nrows();
    let sampled = (n > config.choose_sample.max(2))
        .then(|| sample_rows(all, config.choose_sample.max(2), config.seed));
    let x = match &sampled {
        Some(rows) => rows.view(),
        None => all.view(),
    };
    let min = config.k_min.max(2);
    let sqrt_n = (n as f64).sqrt().ceil() as usize;
    let max = config.k_max.min(sqrt_n.max(min)).min(n.saturating_sub(1));
    if min > max {
        return Err(TopicError::EmptyKRange { min, max, n });
    }
    let sample = SilhouetteSample::new(x, config.silhouette_sample, config.seed, config.variant);
    let mut scores = Vec::new();
    let mut best: Option<(f64, usize)> = None;
    let total = max - min + 1;
    for (i, k) in (min..=max.min(x.nrows() - 1)).enumerate() {
        let result = kmeans::fit_valid(x, &params(k), progress);
        let silhouette = sample.score(&result.labels, k);
        scores.push(KScore { k, silhouette });
        if best.as_ref().is_none_or(|(s, _)| silhouette > *s) {
            best = Some((silhouette, k));
        }
        progress(Progress {
            stage: Stage::ChoosingK,
            done: i + 1,
            total,
        });
    }
    let (_, k) = best.expect("range is not empty");
    Ok((k, scores))
}
