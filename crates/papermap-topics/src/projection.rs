//! 2-D projection that keeps neighbourhoods: the UMAP layout (McInnes et al. 2018) on an exact
//! k-nearest-neighbour graph, started from PCA, single-threaded so a seed fixes the result.
//!
//! The published Rust UMAP ports either pull a C/LAPACK build or are unmaintained, and the part
//! that matters here (fuzzy kNN graph + negative-sampling SGD) is small, so it is written out.

use std::collections::HashMap;

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;

use crate::kmeans::normalise_rows;
use crate::{Progress, Stage};

/// UMAP's curve parameters for `min_dist = 0.1`, `spread = 1` (its defaults).
const CURVE_A: f32 = 1.577;
const CURVE_B: f32 = 0.8951;
/// Query rows per matrix multiply in the neighbour search.
const QUERY_BLOCK: usize = 256;

/// Indices of the `k` nearest rows of every row by cosine similarity (itself excluded), nearest
/// first; ties by index. Exact: O(n² d), done as blocked matrix multiplies.
pub(crate) fn knn_cosine(
    x: ArrayView2<f32>,
    k: usize,
    progress: &mut dyn FnMut(Progress),
) -> Vec<Vec<usize>> {
    let n = x.nrows();
    let k = k.min(n.saturating_sub(1));
    let mut unit = x.to_owned();
    normalise_rows(&mut unit);
    let mut out = Vec::with_capacity(n);
    let step = QUERY_BLOCK * 8;
    for start in (0..n).step_by(step) {
        let end = (start + step).min(n);
        let chunk: Vec<Vec<usize>> = (start..end)
            .step_by(QUERY_BLOCK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .flat_map_iter(|q0| {
                let q1 = (q0 + QUERY_BLOCK).min(end);
                let mut sims = Array2::<f32>::zeros((q1 - q0, n));
                general_mat_mul(1.0, &unit.slice(s![q0..q1, ..]), &unit.t(), 0.0, &mut sims);
                sims.axis_iter(Axis(0))
                    .enumerate()
                    .map(|(i, row)| top_k(row.iter().copied(), q0 + i, k, |a, b| b.total_cmp(&a)))
                    .collect::<Vec<_>>()
            })
            .collect();
        out.extend(chunk);
        progress(Progress {
            stage: Stage::Neighbours,
            done: end,
            total: n,
        });
    }
    out
}

/// The `k` best indices of `scores` (best first by `order`, ties by index), skipping `exclude`.
pub(crate) fn top_k(
    scores: impl Iterator<Item = f32>,
    exclude: usize,
    k: usize,
    order: impl Fn(f32, f32) -> std::cmp::Ordering,
) -> Vec<usize> {
    let mut idx: Vec<(usize, f32)> = scores.enumerate().filter(|&(j, _)| j != exclude).collect();
    let cmp = |a: &(usize, f32), b: &(usize, f32)| order(a.1, b.1).then(a.0.cmp(&b.0));
    if k < idx.len() {
        idx.select_nth_unstable_by(k, cmp);
        idx.truncate(k);
    }
    idx.sort_by(cmp);
    idx.into_iter().map(|(j, _)| j).collect()
}

/// UMAP layout of `x` given its kNN graph, `epochs` rounds of SGD, scaled to about [-10, 10].
// `d` walks the coordinates of two points at once, which an iterator would obscure.
#[allow(clippy::needless_range_loop)]
pub(crate) fn umap_layout(
    x: ArrayView2<f32>,
    knn: &[Vec<usize>],
    epochs: usize,
    negative_samples: usize,
    seed: u64,
    progress: &mut dyn FnMut(Progress),
) -> Vec<[f32; 2]> {
    let n = x.nrows();
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    let mut y = pca_2d(x, &mut rng);
    if n < 3 {
        return y;
    }
    let edges = fuzzy_edges(x, knn);
    let max_w = edges.iter().map(|e| e.2).fold(0.0f32, f32::max);
    // Edges sampled less than once over the run are dropped, as in UMAP.
    let edges: Vec<(usize, usize, f32)> = edges
        .into_iter()
        .filter(|e| e.2 >= max_w / epochs as f32)
        .collect();
    let period: Vec<f32> = edges.iter().map(|e| max_w / e.2).collect();
    let mut next_due = period.clone();
    for epoch in 0..epochs {
        let alpha = 1.0 - epoch as f32 / epochs as f32;
        for (e, &(i, j, _)) in edges.iter().enumerate() {
            if next_due[e] > (epoch + 1) as f32 {
                continue;
            }
            next_due[e] += period[e];
            let g = attract(y[i], y[j]);
            for d in 0..2 {
                let step = (g * (y[i][d] - y[j][d])).clamp(-4.0, 4.0) * alpha;
                y[i][d] += step;
                y[j][d] -= step;
            }
            for _ in 0..negative_samples {
                let other = rng.gen_range(0..n);
                if other == i {
                    continue;
                }
                let g = repel(y[i], y[other]);
                for d in 0..2 {
                    let step = if g > 0.0 {
                        (g * (y[i][d] - y[other][d])).clamp(-4.0, 4.0)
                    } else {
                        4.0
                    };
                    y[i][d] += step * alpha;
                }
            }
        }
        progress(Progress {
            stage: Stage::Layout,
            done: epoch + 1,
            total: epochs,
        });
    }
    y
}

fn sq(a: [f32; 2], b: [f32; 2]) -> f32 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// Gradient coefficient of the attractive term of UMAP's cross entropy.
fn attract(a: [f32; 2], b: [f32; 2]) -> f32 {
    let d2 = sq(a, b);
    if d2 <= 0.0 {
        return 0.0;
    }
    -2.0 * CURVE_A * CURVE_B * d2.powf(CURVE_B - 1.0) / (1.0 + CURVE_A * d2.powf(CURVE_B))
}

/// Gradient coefficient of the repulsive term (0 means "coincident": push by the clip value).
fn repel(a: [f32; 2], b: [f32; 2]) -> f32 {
    let d2 = sq(a, b);
    if d2 <= 0.0 {
        return 0.0;
    }
    2.0 * CURVE_B / ((0.001 + d2) * (1.0 + CURVE_A * d2.powf(CURVE_B)))
}

/// UMAP's fuzzy simplicial set: per-point smooth kNN weights, symmetrised by fuzzy union.
fn fuzzy_edges(x: ArrayView2<f32>, knn: &[Vec<usize>]) -> Vec<(usize, usize, f32)> {
    let mut unit = x.to_owned();
    normalise_rows(&mut unit);
    let mut directed: HashMap<(usize, usize), f32> = HashMap::new();
    for (i, nbrs) in knn.iter().enumerate() {
        if nbrs.is_empty() {
            continue;
        }
        let dists: Vec<f32> = nbrs
            .iter()
            .map(|&j| {
                let cos = unit.row(i).dot(&unit.row(j));
                (2.0 - 2.0 * cos).max(0.0).sqrt()
            })
            .collect();
        let rho = dists[0];
        let sigma = smooth_sigma(&dists, rho);
        for (&j, &d) in nbrs.iter().zip(&dists) {
            directed.insert((i, j), (-(d - rho).max(0.0) / sigma).exp());
        }
    }
    let mut edges: Vec<(usize, usize, f32)> = directed
        .iter()
        .filter_map(|(&(i, j), &w)| {
            let back = directed.get(&(j, i)).copied().unwrap_or(0.0);
            // Keep each undirected edge once: from the lower index, or from i if j -> i is absent.
            (i < j || back == 0.0).then(|| (i.min(j), i.max(j), w + back - w * back))
        })
        .collect();
    edges.sort_by_key(|&(i, j, _)| (i, j));
    edges
}

/// Binary search for sigma with `sum exp(-(d - rho) / sigma) = log2(k)`.
fn smooth_sigma(dists: &[f32], rho: f32) -> f32 {
    let target = (dists.len() as f32).log2().max(1e-3);
    let (mut lo, mut hi, mut mid) = (0.0f32, f32::INFINITY, 1.0f32);
    for _ in 0..64 {
        let sum: f32 = dists
            .iter()
            .map(|&d| (-(d - rho).max(0.0) / mid).exp())
            .sum();
        if (sum - target).abs() < 1e-5 {
            break;
        }
        if sum > target {
            hi = mid;
            mid = (lo + hi) / 2.0;
        } else {
            lo = mid;
            mid = if hi.is_finite() {
                (lo + hi) / 2.0
            } else {
                mid * 2.0
            };
        }
    }
    let mean = dists.iter().sum::<f32>() / dists.len() as f32;
    mid.max(1e-3 * mean).max(1e-12)
}

/// First two principal components (power iteration on the covariance), scaled to [-10, 10];
/// a little seeded jitter separates duplicates.
fn pca_2d(x: ArrayView2<f32>, rng: &mut Xoshiro256Plus) -> Vec<[f32; 2]> {
    let (n, d) = x.dim();
    let mean = x.mean_axis(Axis(0)).expect("n > 0");
    let centred = &x - &mean;
    let mut cov = Array2::<f32>::zeros((d, d));
    general_mat_mul(1.0, &centred.t(), &centred, 0.0, &mut cov);
    let mut comps: Vec<Vec<f32>> = Vec::new();
    for _ in 0..2 {
        let mut v: Vec<f32> = (0..d).map(|_| rng.gen::<f32>() - 0.5).collect();
        for _ in 0..100 {
            let mut w: Vec<f32> = cov
                .rows()
                .into_iter()
                .map(|r| r.iter().zip(&v).map(|(a, b)| a * b).sum())
                .collect();
            for c in &comps {
                let dot: f32 = w.iter().zip(c).map(|(a, b)| a * b).sum();
                w.iter_mut().zip(c).for_each(|(a, b)| *a -= dot * b);
            }
            let norm = w.iter().map(|a| a * a).sum::<f32>().sqrt();
            if norm == 0.0 {
                break;
            }
            v = w.into_iter().map(|a| a / norm).collect();
        }
        comps.push(v);
    }
    let mut y: Vec<[f32; 2]> = centred
        .rows()
        .into_iter()
        .map(|r| {
            let p = |c: &Vec<f32>| r.iter().zip(c).map(|(a, b)| a * b).sum::<f32>();
            [p(&comps[0]), p(&comps[1])]
        })
        .collect();
    let extent = y
        .iter()
        .flat_map(|p| [p[0].abs(), p[1].abs()])
        .fold(0.0f32, f32::max);
    let scale = if extent > 0.0 { 10.0 / extent } else { 1.0 };
    for p in &mut y {
        for v in p.iter_mut() {
            *v = *v * scale + (rng.gen::<f32>() - 0.5) * 1e-4 * (n > 1) as u8 as f32;
        }
    }
    y
}

/// Share of each point's `k` nearest neighbours in the original space (from `knn`) that are also
/// among its `k` nearest on the map, averaged over `sample` (indices into the points).
pub(crate) fn neighbourhood_preservation(
    knn: &[Vec<usize>],
    y: &[[f32; 2]],
    k: usize,
    sample: &[usize],
) -> f64 {
    let k = k.min(y.len().saturating_sub(1));
    if k == 0 || sample.is_empty() {
        return 1.0;
    }
    // Whole counts per point, summed as integers: a parallel float sum would depend on how rayon
    // split the work, and the score is part of the map a seed must reproduce byte for byte.
    let kept: usize = sample
        .par_iter()
        .map(|&i| {
            let near_2d = top_k(y.iter().map(|p| sq(*p, y[i])), i, k, |a, b| a.total_cmp(&b));
            let high: Vec<usize> = knn[i].iter().take(k).copied().collect();
            near_2d.iter().filter(|j| high.contains(j)).count()
        })
        .sum();
    kept as f64 / (k * sample.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn knn_finds_the_nearest_by_cosine_excluding_self() {
        let x = array![[1.0f32, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]];
        let knn = knn_cosine(x.view(), 1, &mut |_| {});
        assert_eq!(knn, vec![vec![1], vec![0], vec![3], vec![2]]);
    }

    #[test]
    fn preservation_is_one_for_an_isometric_map_and_lower_for_a_shuffled_one() {
        let x = array![
            [0.0f32, 1.0],
            [0.1, 1.0],
            [1.0, 0.0],
            [1.0, 0.1],
            [0.7, 0.7]
        ];
        let knn = knn_cosine(x.view(), 2, &mut |_| {});
        let same: Vec<[f32; 2]> = x.rows().into_iter().map(|r| [r[0], r[1]]).collect();
        let all: Vec<usize> = (0..5).collect();
        assert_eq!(neighbourhood_preservation(&knn, &same, 1, &all), 1.0);
        let swapped = vec![same[2], same[3], same[0], same[4], same[1]];
        assert!(neighbourhood_preservation(&knn, &swapped, 1, &all) < 1.0);
    }

    #[test]
    fn sigma_meets_the_log2_k_target() {
        let dists = [0.1f32, 0.2, 0.3, 0.5, 0.8, 1.0, 1.1, 1.5];
        let sigma = smooth_sigma(&dists, 0.1);
        let sum: f32 = dists.iter().map(|d| (-(d - 0.1) / sigma).exp()).sum();
        assert!((sum - 3.0).abs() < 1e-3, "sum {sum}");
    }
}
