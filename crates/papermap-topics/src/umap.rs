//! The UMAP layout (McInnes et al. 2018): a fuzzy graph from the neighbours, then stochastic
//! gradient descent with negative sampling, as umap-learn's `optimize_layout_euclidean`.
//!
//! Memory is linear: the graph is symmetrised by sorting a flat edge list (no hash map of pairs),
//! and each directed edge keeps 20 bytes of schedule. The descent runs on all cores with
//! Hogwild-style updates (racing writers may lose an update, which SGD tolerates, as umap-learn's
//! parallel mode does); each point's two coordinates live in one `AtomicU64` so a read never sees
//! half an update. [`Descent::deterministic`] runs the same chunks in order on one thread, which
//! makes the layout a pure function of the input and the seed.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;

use crate::neighbours::NeighbourGraph;
use crate::{Progress, Stage};

/// UMAP's curve parameters for `min_dist = 0.1`, `spread = 1` (its defaults).
const CURVE_A: f32 = 1.577;
const CURVE_B: f32 = 0.8951;
/// Directed edges per unit of parallel work (and per seeded random stream).
const CHUNK_EDGES: usize = 1 << 16;

/// One directed edge of the fuzzy graph and its sampling schedule (in epochs).
#[derive(Clone, Copy, Debug)]
struct Edge {
    head: u32,
    tail: u32,
    /// Epochs between two samples of this edge: `max weight / weight`.
    period: f32,
    next: f32,
    next_negative: f32,
}

/// How the descent runs.
pub(crate) struct Descent {
    pub epochs: usize,
    pub negative_samples: usize,
    pub seed: u64,
    /// One thread, chunks in order: the same input and seed give the same bytes.
    pub deterministic: bool,
}

/// UMAP's fuzzy simplicial set of the graph's first `n_neighbors` neighbours, symmetrised by
/// fuzzy union (`w + w' - w·w'`), as directed edges in both directions sorted by (head, tail).
fn fuzzy_edges(graph: &NeighbourGraph, n_neighbors: usize) -> Vec<(u32, u32, f32)> {
    let n = graph.len();
    let mut directed: Vec<(u32, u32, f32)> = (0..n)
        .into_par_iter()
        .flat_map_iter(|i| {
            let dists: Vec<f32> = graph
                .neighbours(i)
                .take(n_neighbors)
                .map(|(_, d)| d)
                .collect();
            let rho = dists.first().copied().unwrap_or(0.0);
            let sigma = smooth_sigma(&dists, rho);
            graph
                .neighbours(i)
                .take(n_neighbors)
                .map(move |(j, d)| (i as u32, j as u32, (-(d - rho).max(0.0) / sigma).exp()))
        })
        .collect();
    // Both directions of every edge, then equal pairs side by side.
    let reversed: Vec<(u32, u32, f32)> = directed.par_iter().map(|&(i, j, w)| (j, i, w)).collect();
    directed.extend(reversed);
    directed.par_sort_unstable_by_key(|&(i, j, _)| (i, j));
    let mut out: Vec<(u32, u32, f32)> = Vec::with_capacity(directed.len());
    let mut at = 0;
    while at < directed.len() {
        let (i, j, w) = directed[at];
        match directed.get(at + 1) {
            Some(&(i2, j2, w2)) if (i2, j2) == (i, j) => {
                out.push((i, j, w + w2 - w * w2));
                at += 2;
            }
            _ => {
                out.push((i, j, w));
                at += 1;
            }
        }
    }
    out
}

/// Binary search for sigma with `sum exp(-(d - rho) / sigma) = log2(k)`.
pub(crate) fn smooth_sigma(dists: &[f32], rho: f32) -> f32 {
    if dists.is_empty() {
        return 1.0;
    }
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

/// Lays out the points, starting from `init`, keeping the graph's neighbourhoods.
pub(crate) fn layout(
    init: Vec<[f32; 2]>,
    graph: &NeighbourGraph,
    n_neighbors: usize,
    descent: &Descent,
    progress: &mut dyn FnMut(Progress),
) -> Vec<[f32; 2]> {
    let n = init.len();
    if n < 3 || descent.epochs == 0 {
        return init;
    }
    let weighted = fuzzy_edges(graph, n_neighbors);
    let max_w = weighted.iter().map(|e| e.2).fold(0.0f32, f32::max);
    let epochs = descent.epochs as f32;
    let per_negative = descent.negative_samples.max(1) as f32;
    // Edges sampled less than once over the run are dropped, as in UMAP.
    let mut edges: Vec<Edge> = weighted
        .into_iter()
        .filter(|e| e.2 > 0.0 && e.2 >= max_w / epochs)
        .map(|(head, tail, w)| {
            let period = max_w / w;
            Edge {
                head,
                tail,
                period,
                next: period,
                next_negative: period / per_negative,
            }
        })
        .collect();
    let y: Vec<AtomicU64> = init.into_iter().map(|p| AtomicU64::new(pack(p))).collect();
    for epoch in 0..descent.epochs {
        let alpha = 1.0 - epoch as f32 / epochs;
        let run = |(c, chunk): (usize, &mut [Edge])| {
            let stream = descent.seed
                ^ ((epoch as u64) << 32 | c as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let mut rng = Xoshiro256Plus::seed_from_u64(stream);
            for edge in chunk {
                step(
                    edge,
                    epoch as f32,
                    alpha,
                    descent.negative_samples,
                    &y,
                    &mut rng,
                );
            }
        };
        if descent.deterministic {
            edges.chunks_mut(CHUNK_EDGES).enumerate().for_each(run);
        } else {
            edges.par_chunks_mut(CHUNK_EDGES).enumerate().for_each(run);
        }
        progress(Progress {
            stage: Stage::Layout,
            done: epoch + 1,
            total: descent.epochs,
        });
    }
    y.into_iter().map(|p| unpack(p.into_inner())).collect()
}

/// One edge's attraction (both ends) and its due negative samples (head only), if it is due.
fn step(
    edge: &mut Edge,
    epoch: f32,
    alpha: f32,
    negative_samples: usize,
    y: &[AtomicU64],
    rng: &mut Xoshiro256Plus,
) {
    if edge.next > epoch + 1.0 {
        return;
    }
    let (i, j) = (edge.head as usize, edge.tail as usize);
    let mut a = load(&y[i]);
    let b = load(&y[j]);
    let g = attract(a, b);
    let mut b_new = b;
    for d in 0..2 {
        let grad = (g * (a[d] - b[d])).clamp(-4.0, 4.0) * alpha;
        a[d] += grad;
        b_new[d] -= grad;
    }
    store(&y[j], b_new);
    edge.next += edge.period;
    let per_negative = edge.period / negative_samples.max(1) as f32;
    let due = ((epoch + 1.0 - edge.next_negative) / per_negative).max(0.0) as usize;
    let n = y.len();
    for _ in 0..due.min(negative_samples * 4) {
        let other = rng.gen_range(0..n);
        if other == i {
            continue;
        }
        let c = load(&y[other]);
        let g = repel(a, c);
        for d in 0..2 {
            let grad = if g > 0.0 {
                (g * (a[d] - c[d])).clamp(-4.0, 4.0)
            } else {
                4.0
            };
            a[d] += grad * alpha;
        }
    }
    edge.next_negative += due as f32 * per_negative;
    store(&y[i], a);
}

fn pack(p: [f32; 2]) -> u64 {
    (p[0].to_bits() as u64) | (p[1].to_bits() as u64) << 32
}

fn unpack(v: u64) -> [f32; 2] {
    [f32::from_bits(v as u32), f32::from_bits((v >> 32) as u32)]
}

fn load(p: &AtomicU64) -> [f32; 2] {
    unpack(p.load(Ordering::Relaxed))
}

fn store(p: &AtomicU64, v: [f32; 2]) {
    p.store(pack(v), Ordering::Relaxed)
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
    let p = pow_b(d2); // d2^b
    -2.0 * CURVE_A * CURVE_B * (p / d2) / (1.0 + CURVE_A * p)
}

/// Gradient coefficient of the repulsive term (0 means "coincident": push by the clip value).
fn repel(a: [f32; 2], b: [f32; 2]) -> f32 {
    let d2 = sq(a, b);
    if d2 <= 0.0 {
        return 0.0;
    }
    2.0 * CURVE_B / ((0.001 + d2) * (1.0 + CURVE_A * pow_b(d2)))
}

/// `x^CURVE_B` for `x > 0` to about 5e-4 relative error, as `exp2(b · log2 x)` with short
/// polynomials. `powf` was most of the descent's time; SGD steps that are clipped to ±4 and
/// scaled by a decaying rate do not need its last bits.
fn pow_b(x: f32) -> f32 {
    fast_exp2(CURVE_B * fast_log2(x))
}

fn fast_log2(x: f32) -> f32 {
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000) - 1.0; // mantissa - 1, in [0, 1)
                                                                      // log2(1 + m), minimax-style fit on [0, 1).
    let p = m
        * (1.442_507_2
            + m * (-0.720_386_6
                + m * (0.468_763_1 + m * (-0.300_630_3 + m * (0.154_745_4 - m * 0.044_998_8)))));
    exponent as f32 + p
}

fn fast_exp2(y: f32) -> f32 {
    let y = y.clamp(-126.0, 127.0);
    let whole = y.floor();
    let f = y - whole; // [0, 1)
                       // 2^f, fit on [0, 1).
    let p = 1.0
        + f * (std::f32::consts::LN_2
            + f * (0.240_226_5 + f * (0.055_504_1 + f * (0.009_618_1 + f * 0.001_333_6))));
    f32::from_bits(((whole as i32 + 127) as u32) << 23) * p
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn sigma_meets_the_log2_k_target() {
        let dists = [0.1f32, 0.2, 0.3, 0.5, 0.8, 1.0, 1.1, 1.5];
        let sigma = smooth_sigma(&dists, 0.1);
        let sum: f32 = dists.iter().map(|d| (-(d - 0.1) / sigma).exp()).sum();
        assert!((sum - 3.0).abs() < 1e-3, "sum {sum}");
    }

    #[test]
    fn fuzzy_union_is_symmetric_and_keeps_one_entry_per_direction() {
        let x = array![
            [1.0f32, 0.0],
            [0.9, 0.1],
            [0.0, 1.0],
            [0.1, 0.9],
            [0.7, 0.7]
        ];
        let g = NeighbourGraph::exact(x.view(), 2, &mut |_| {});
        let edges = fuzzy_edges(&g, 2);
        for &(i, j, w) in &edges {
            let back = edges
                .iter()
                .find(|e| (e.0, e.1) == (j, i))
                .expect("reverse edge");
            assert_eq!(back.2, w);
            assert!(w > 0.0 && w <= 1.0);
        }
        let mut pairs: Vec<(u32, u32)> = edges.iter().map(|e| (e.0, e.1)).collect();
        pairs.dedup();
        assert_eq!(pairs.len(), edges.len());
    }

    #[test]
    fn fast_power_matches_powf() {
        let mut worst = 0.0f32;
        let mut x = 1e-6f32;
        while x < 1e6 {
            let (want, got) = (x.powf(CURVE_B), pow_b(x));
            worst = worst.max(((got - want) / want).abs());
            x *= 1.0137;
        }
        assert!(worst < 1e-3, "worst relative error {worst}");
    }

    #[test]
    fn packing_round_trips_coordinates() {
        for p in [[0.0f32, -0.0], [1.5, -3.25], [f32::MAX, f32::MIN_POSITIVE]] {
            assert_eq!(unpack(pack(p)), p);
        }
    }
}
