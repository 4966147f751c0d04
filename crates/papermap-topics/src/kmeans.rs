//! k-means on embedding rows.
//!
//! Greedy k-means++ seeding (as scikit-learn does it) and Lloyd iterations whose assignment step is
//! one matrix multiply per block of rows. linfa's `KMeans` computes every point-centroid distance in
//! a per-point loop and seeds with a k-means++ that rescans all chosen centres for every new one
//! (O(n·k²·d)); both are far too slow at 100,000 × 384 (see the crate docs), so linfa stays as the
//! reference path (`fit_linfa_reference`, in the `reference` feature) the tests compare this one against.
//!
//! Determinism: work is split into fixed blocks of rows whatever the thread count, and partial sums
//! are combined in block order, so one seed gives the same centroids bit for bit on one machine.

#[cfg(feature = "reference")]
use linfa::traits::{Fit, Predict};
#[cfg(feature = "reference")]
use linfa::DatasetBase;
#[cfg(feature = "reference")]
use linfa_clustering::KMeans;
use ndarray::linalg::general_mat_mul;
#[cfg(feature = "reference")]
use ndarray::Array1;
use ndarray::{s, Array2, ArrayView1, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::TopicError;
use crate::{Progress, Stage};

/// Rows per unit of parallel work; fixed so results do not depend on the thread count.
const BLOCK_ROWS: usize = 4096;
/// Rows per matrix multiply inside a block; keeps the distance tile in cache.
const TILE_ROWS: usize = 256;

/// Which k-means objective to minimise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Variant {
    /// Classic k-means on squared Euclidean distance (scikit-learn's `KMeans`). The default: on
    /// the labelled arXiv set it scored the higher NMI of the two (see the crate docs).
    #[default]
    Euclidean,
    /// Spherical k-means: centroids are re-normalised to unit length after every update, so
    /// assignment is by cosine similarity.
    Spherical,
}

/// Parameters of one k-means fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KMeansParams {
    /// Number of clusters.
    pub k: usize,
    /// Seed of the k-means++ sampling; the same seed and input give the same result.
    pub seed: u64,
    /// Independent k-means++ starts; the one with the lowest inertia wins.
    pub n_runs: usize,
    /// Most Lloyd iterations per run.
    pub max_iters: usize,
    /// Stop when the summed squared centroid shift falls below `tolerance` times the mean
    /// per-feature variance of the data (scikit-learn's rule), or when no label changes.
    pub tolerance: f32,
    /// Objective.
    pub variant: Variant,
}

/// A fitted clustering.
#[derive(Clone, Debug)]
pub struct KMeansResult {
    /// `k x d` centroids (unit length for [`Variant::Spherical`]).
    pub centroids: Array2<f32>,
    /// Cluster of each row.
    pub labels: Vec<usize>,
    /// Sum over rows of the squared Euclidean distance to the assigned centroid (scikit-learn's
    /// `inertia_`, not linfa's per-sample mean).
    pub inertia: f64,
    /// Lloyd iterations the winning run took.
    pub iterations: usize,
}

/// Runs k-means (the fast path) on the rows of `x`.
///
/// Errors on an empty matrix, non-finite values, or `k` outside `1..=n`.
pub fn fit(
    x: ArrayView2<f32>,
    params: &KMeansParams,
    progress: &mut dyn FnMut(Progress),
) -> Result<KMeansResult, TopicError> {
    crate::validate_embeddings(x)?;
    crate::validate_k(params.k, x.nrows())?;
    Ok(fit_valid(x, params, progress))
}

/// [`fit`] for input already validated.
pub(crate) fn fit_valid(
    x: ArrayView2<f32>,
    params: &KMeansParams,
    progress: &mut dyn FnMut(Progress),
) -> KMeansResult {
    let x_sq = row_sq_norms(x);
    let tol = params.tolerance as f64 * mean_feature_variance(x);
    let mut rng = Xoshiro256Plus::seed_from_u64(params.seed);
    let mut best: Option<KMeansResult> = None;
    let runs = params.n_runs.max(1);
    for run in 0..runs {
        let init = kmeans_plus_plus(x, &x_sq, params.k, greedy_trials(params.k), &mut rng);
        let result = lloyd(x, &x_sq, init, params, tol);
        progress(Progress {
            stage: Stage::KMeans { k: params.k },
            done: run + 1,
            total: runs,
        });
        // Strictly lower wins, so ties keep the earlier run and the result stays deterministic.
        if best.as_ref().is_none_or(|b| result.inertia < b.inertia) {
            best = Some(result);
        }
    }
    best.expect("at least one run")
}

/// Lloyd iterations on all rows of `x` from `centroids` (e.g. fitted on a sample), at most
/// `params.max_iters`, with the same stopping rule as [`fit`].
pub(crate) fn refine(
    x: ArrayView2<f32>,
    centroids: Array2<f32>,
    params: &KMeansParams,
) -> KMeansResult {
    let x_sq = row_sq_norms(x);
    let tol = params.tolerance as f64 * mean_feature_variance(x);
    lloyd(x, &x_sq, centroids, params, tol)
}

/// Nearest centroid of each row and its squared Euclidean distance.
pub(crate) fn assign(x: ArrayView2<f32>, centroids: ArrayView2<f32>) -> (Vec<usize>, Vec<f32>) {
    let x_sq = row_sq_norms(x);
    let c_sq = row_sq_norms(centroids);
    let mut labels = vec![0; x.nrows()];
    let mut dists = vec![0.0; x.nrows()];
    if x.nrows() <= BLOCK_ROWS {
        // One block (a server's topic of each hit): on the caller's thread. Handing it to the
        // rayon pool costs a thread hop per call, more than the block's arithmetic.
        assign_block(x, &x_sq, centroids, &c_sq, &mut labels, &mut dists);
        return (labels, dists);
    }
    labels
        .par_chunks_mut(BLOCK_ROWS)
        .zip(dists.par_chunks_mut(BLOCK_ROWS))
        .enumerate()
        .for_each(|(b, (lab, dis))| {
            let start = b * BLOCK_ROWS;
            let rows = x.slice(s![start..start + lab.len(), ..]);
            assign_block(
                rows,
                &x_sq[start..start + lab.len()],
                centroids,
                &c_sq,
                lab,
                dis,
            );
        });
    (labels, dists)
}

/// Fits linfa's own `KMeans` (Euclidean, its k-means++ and m_k-means update): the plain reference
/// path. Slow at scale; meant for tests and side-by-side checks. Note linfa's `tolerance` is an
/// absolute Frobenius distance between successive centroid matrices. In the `reference` feature.
#[cfg(feature = "reference")]
pub fn fit_linfa_reference(
    x: ArrayView2<f32>,
    params: &KMeansParams,
) -> Result<KMeansResult, TopicError> {
    crate::validate_embeddings(x)?;
    crate::validate_k(params.k, x.nrows())?;
    let rng = Xoshiro256Plus::seed_from_u64(params.seed);
    let records = x.to_owned();
    let model = KMeans::params_with_rng(params.k, rng)
        .n_runs(params.n_runs.max(1))
        .max_n_iterations(params.max_iters.max(1) as u64)
        .tolerance(params.tolerance)
        .fit(&DatasetBase::from(records.clone()))
        .map_err(|e| TopicError::Linfa(e.to_string()))?;
    let labels: Array1<usize> = model.predict(&records);
    let centroids = model.centroids().clone();
    let inertia = labels
        .iter()
        .zip(x.rows())
        .map(|(&c, row)| sq_dist(row, centroids.row(c)) as f64)
        .sum();
    Ok(KMeansResult {
        centroids,
        labels: labels.to_vec(),
        inertia,
        iterations: params.max_iters,
    })
}

/// Sum of squared distances from each row to the mean of its cluster (within-cluster sum of
/// squares): the fair inertia for comparing partitions whatever objective produced them.
pub fn within_cluster_sum_of_squares(x: ArrayView2<f32>, labels: &[usize], k: usize) -> f64 {
    let d = x.ncols();
    let mut sums = vec![0.0f64; k * d];
    let mut counts = vec![0usize; k];
    let mut total_sq = 0.0f64;
    for (row, &c) in x.rows().into_iter().zip(labels) {
        counts[c] += 1;
        let sum = &mut sums[c * d..(c + 1) * d];
        for (s, &v) in sum.iter_mut().zip(row.iter()) {
            *s += v as f64;
            total_sq += (v as f64) * (v as f64);
        }
    }
    let between: f64 = (0..k)
        .filter(|&c| counts[c] > 0)
        .map(|c| sums[c * d..(c + 1) * d].iter().map(|s| s * s).sum::<f64>() / counts[c] as f64)
        .sum();
    (total_sq - between).max(0.0)
}

/// Lloyd iterations from `centroids`, then one last assignment so labels match the centroids.
pub(crate) fn lloyd(
    x: ArrayView2<f32>,
    x_sq: &[f32],
    mut centroids: Array2<f32>,
    params: &KMeansParams,
    tol: f64,
) -> KMeansResult {
    let (n, d) = x.dim();
    let k = params.k;
    let mut labels = vec![usize::MAX; n];
    let mut dists = vec![0.0f32; n];
    let mut iterations = 0;
    for _ in 0..params.max_iters.max(1) {
        iterations += 1;
        let c_sq = row_sq_norms(centroids.view());
        let blocks: Vec<BlockSums> = labels
            .par_chunks_mut(BLOCK_ROWS)
            .zip(dists.par_chunks_mut(BLOCK_ROWS))
            .enumerate()
            .map(|(b, (lab, dis))| {
                let start = b * BLOCK_ROWS;
                let rows = x.slice(s![start..start + lab.len(), ..]);
                let before = lab.to_vec();
                assign_block(
                    rows,
                    &x_sq[start..start + lab.len()],
                    centroids.view(),
                    &c_sq,
                    lab,
                    dis,
                );
                let changed = before
                    .iter()
                    .zip(lab.iter())
                    .filter(|(a, b)| a != b)
                    .count();
                BlockSums::of(rows, lab, k, changed)
            })
            .collect();
        let mut sums = vec![0.0f64; k * d];
        let mut counts = vec![0usize; k];
        let mut changed = 0;
        for block in &blocks {
            sums.iter_mut().zip(&block.sums).for_each(|(a, b)| *a += b);
            counts
                .iter_mut()
                .zip(&block.counts)
                .for_each(|(a, b)| *a += b);
            changed += block.changed;
        }
        let mut next = Array2::<f32>::zeros((k, d));
        for c in 0..k {
            if counts[c] > 0 {
                let inv = 1.0 / counts[c] as f64;
                next.row_mut(c)
                    .iter_mut()
                    .zip(&sums[c * d..(c + 1) * d])
                    .for_each(|(v, s)| *v = (s * inv) as f32);
            }
        }
        relocate_empty(x, &counts, &dists, &mut next);
        if params.variant == Variant::Spherical {
            normalise_rows(&mut next);
        }
        let shift: f64 = next
            .iter()
            .zip(centroids.iter())
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum();
        centroids = next;
        if changed == 0 || shift <= tol {
            break;
        }
    }
    let (labels, dists) = assign(x, centroids.view());
    let inertia = dists.iter().map(|&v| v as f64).sum();
    KMeansResult {
        centroids,
        labels,
        inertia,
        iterations,
    }
}

/// Per-block partial sums of the update step.
struct BlockSums {
    sums: Vec<f64>,
    counts: Vec<usize>,
    changed: usize,
}

impl BlockSums {
    fn of(rows: ArrayView2<f32>, labels: &[usize], k: usize, changed: usize) -> Self {
        let d = rows.ncols();
        let mut sums = vec![0.0f64; k * d];
        let mut counts = vec![0usize; k];
        for (row, &c) in rows.rows().into_iter().zip(labels) {
            counts[c] += 1;
            let sum = &mut sums[c * d..(c + 1) * d];
            match row.as_slice() {
                Some(r) => sum.iter_mut().zip(r).for_each(|(s, &v)| *s += v as f64),
                None => sum
                    .iter_mut()
                    .zip(row.iter())
                    .for_each(|(s, &v)| *s += v as f64),
            }
        }
        BlockSums {
            sums,
            counts,
            changed,
        }
    }
}

/// Gives each empty cluster the row farthest from its centroid (scikit-learn's remedy), farthest
/// first, ties by row index.
fn relocate_empty(x: ArrayView2<f32>, counts: &[usize], dists: &[f32], next: &mut Array2<f32>) {
    let empty: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] == 0).collect();
    if empty.is_empty() {
        return;
    }
    let mut order: Vec<usize> = (0..dists.len()).collect();
    order.sort_by(|&a, &b| dists[b].total_cmp(&dists[a]).then(a.cmp(&b)));
    for (c, &row) in empty.iter().zip(order.iter()) {
        next.row_mut(*c).assign(&x.row(row));
    }
}

/// Nearest centroid by `|c|² - 2 x·c` (the `|x|²` term is common to all centroids), with the
/// dot products of a tile of rows against all centroids as one matrix multiply.
fn assign_block(
    rows: ArrayView2<f32>,
    rows_sq: &[f32],
    centroids: ArrayView2<f32>,
    c_sq: &[f32],
    labels: &mut [usize],
    dists: &mut [f32],
) {
    let k = centroids.nrows();
    let mut dots = Array2::<f32>::zeros((TILE_ROWS.min(rows.nrows()), k));
    for start in (0..rows.nrows()).step_by(TILE_ROWS) {
        let end = (start + TILE_ROWS).min(rows.nrows());
        let tile = rows.slice(s![start..end, ..]);
        let mut out = dots.slice_mut(s![..end - start, ..]);
        general_mat_mul(1.0, &tile, &centroids.t(), 0.0, &mut out);
        for (i, dot_row) in out.rows().into_iter().enumerate() {
            let (best, best_score) =
                nearest_by_dots(c_sq.iter().copied().zip(dot_row.iter().copied()));
            labels[start + i] = best;
            dists[start + i] = (rows_sq[start + i] + best_score).max(0.0);
        }
    }
}

/// The centroid `j` minimising `|c_j|² - 2 x·c_j` (the squared distance less `|x|²`) over
/// `(|c_j|², x·c_j)` pairs, and that score; the first of equal scores wins. One rule for the
/// blocked assignment and for a single embedding's topic.
pub(crate) fn nearest_by_dots(sq_and_dots: impl IntoIterator<Item = (f32, f32)>) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    for (j, (c_sq, dot)) in sq_and_dots.into_iter().enumerate() {
        let score = c_sq - 2.0 * dot;
        if score < best.1 {
            best = (j, score);
        }
    }
    best
}

/// Candidates per new centre in greedy k-means++ for `k` centres: `2 + ln k`, as scikit-learn.
pub(crate) fn greedy_trials(k: usize) -> usize {
    2 + (k as f64).ln() as usize
}

/// Greedy k-means++: each new centre is the best of `trials` candidates sampled in proportion
/// to the squared distance to the nearest centre so far (Arthur & Vassilvitskii; scikit-learn).
/// With a fixed `trials`, the first `j` centres of a run for `k > j` are the run for `j`.
pub(crate) fn kmeans_plus_plus(
    x: ArrayView2<f32>,
    x_sq: &[f32],
    k: usize,
    trials: usize,
    rng: &mut Xoshiro256Plus,
) -> Array2<f32> {
    let (n, d) = x.dim();
    let mut centres = Array2::<f32>::zeros((k, d));
    let first = rng.gen_range(0..n);
    centres.row_mut(0).assign(&x.row(first));
    let mut closest = candidate_dists(x, x_sq, x.slice(s![first..first + 1, ..]), None);
    let mut cumulative = vec![0.0f64; n];
    for c in 1..k {
        let mut total = 0.0f64;
        for (acc, &v) in cumulative.iter_mut().zip(closest.column(0)) {
            total += v as f64;
            *acc = total;
        }
        let picks: Vec<usize> = (0..trials)
            .map(|_| {
                let r = rng.gen::<f64>() * total;
                cumulative.partition_point(|&acc| acc <= r).min(n - 1)
            })
            .collect();
        let candidates = x.select(Axis(0), &picks);
        let with = candidate_dists(x, x_sq, candidates.view(), Some(closest.column(0)));
        let best = (0..trials)
            .map(|t| with.column(t).iter().map(|&v| v as f64).sum::<f64>())
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(t, _)| t)
            .unwrap_or(0);
        centres.row_mut(c).assign(&x.row(picks[best]));
        closest = with.slice(s![.., best..best + 1]).to_owned();
    }
    centres
}

/// `n x t` squared distances from every row to each candidate, capped by `floor` when given.
fn candidate_dists(
    x: ArrayView2<f32>,
    x_sq: &[f32],
    candidates: ArrayView2<f32>,
    floor: Option<ArrayView1<f32>>,
) -> Array2<f32> {
    let c_sq = row_sq_norms(candidates);
    let mut out = Array2::<f32>::zeros((x.nrows(), candidates.nrows()));
    out.axis_chunks_iter_mut(Axis(0), BLOCK_ROWS)
        .into_par_iter()
        .enumerate()
        .for_each(|(b, mut block)| {
            let start = b * BLOCK_ROWS;
            let rows = x.slice(s![start..start + block.nrows(), ..]);
            general_mat_mul(1.0, &rows, &candidates.t(), 0.0, &mut block);
            for (i, mut row) in block.rows_mut().into_iter().enumerate() {
                let cap = floor.map_or(f32::INFINITY, |f| f[start + i]);
                for (t, v) in row.iter_mut().enumerate() {
                    *v = (x_sq[start + i] + c_sq[t] - 2.0 * *v).max(0.0).min(cap);
                }
            }
        });
    out
}

pub(crate) fn row_sq_norms(x: ArrayView2<f32>) -> Vec<f32> {
    x.rows().into_iter().map(|r| r.dot(&r)).collect()
}

#[cfg(feature = "reference")]
fn sq_dist(a: ArrayView1<f32>, b: ArrayView1<f32>) -> f32 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum()
}

pub(crate) fn normalise_rows(m: &mut Array2<f32>) {
    for mut row in m.rows_mut() {
        let norm = row.dot(&row).sqrt();
        if norm > 0.0 {
            row /= norm;
        }
    }
}

pub(crate) fn mean_feature_variance(x: ArrayView2<f32>) -> f64 {
    let n = x.nrows() as f64;
    let mut sum = vec![0.0f64; x.ncols()];
    let mut sum_sq = vec![0.0f64; x.ncols()];
    for row in x.rows() {
        for ((s, q), &v) in sum.iter_mut().zip(sum_sq.iter_mut()).zip(row.iter()) {
            *s += v as f64;
            *q += (v as f64) * (v as f64);
        }
    }
    let total: f64 = sum
        .iter()
        .zip(&sum_sq)
        .map(|(s, q)| (q / n - (s / n).powi(2)).max(0.0))
        .sum();
    total / x.ncols() as f64
}
