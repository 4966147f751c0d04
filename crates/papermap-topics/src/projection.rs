//! The layout's start (the first two principal components) and its score (how many of each
//! point's neighbours stay neighbours in 2-D).
//!
//! Both stay linear in the number of points: the covariance comes from an evenly strided sample
//! of rows, and 2-D neighbours are found through a uniform grid instead of a scan of all points.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;

use crate::neighbours::NeighbourGraph;

/// Rows the covariance of the PCA start is estimated from (all rows when fewer).
const PCA_SAMPLE: usize = 50_000;

/// First two principal components of the rows of `x`; see [`pca_start`].
pub(crate) fn pca_2d(x: ArrayView2<f32>, seed: u64) -> Vec<[f32; 2]> {
    let x = x.as_standard_layout();
    pca_start(
        x.nrows(),
        x.ncols(),
        |i| x.row(i).to_slice().expect("standard layout"),
        seed,
    )
}

/// The layout's start: the first two principal components of `n` rows of width `d` given by
/// `row` (power iteration on the covariance of an evenly strided sample of rows), scaled to
/// [-10, 10], with a little seeded jitter to separate duplicates. Rows are read where they
/// are (e.g. a library's mapped segments): no n × d copy.
pub fn pca_start<'a>(
    n: usize,
    d: usize,
    row: impl Fn(usize) -> &'a [f32] + Sync,
    seed: u64,
) -> Vec<[f32; 2]> {
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    if n == 0 {
        return Vec::new();
    }
    let stride = n.div_ceil(PCA_SAMPLE).max(1);
    let picked: Vec<usize> = (0..n).step_by(stride).collect();
    let mut sample = Array2::<f32>::zeros((picked.len(), d));
    for (mut out, &i) in sample.rows_mut().into_iter().zip(&picked) {
        out.iter_mut().zip(row(i)).for_each(|(a, &b)| *a = b);
    }
    let mean: Array1<f32> = sample.mean_axis(Axis(0)).expect("n > 0");
    let centred = &sample - &mean;
    drop(sample);
    let mut cov = Array2::<f32>::zeros((d, d));
    general_mat_mul(1.0, &centred.t(), &centred, 0.0, &mut cov);
    drop(centred);
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
    let mean = mean.as_slice().expect("contiguous");
    let mut y: Vec<[f32; 2]> = (0..n)
        .into_par_iter()
        .map(|i| {
            let r = row(i);
            let p = |c: &Vec<f32>| {
                r.iter()
                    .zip(mean)
                    .zip(c)
                    .map(|((a, m), b)| (a - m) * b)
                    .sum::<f32>()
            };
            [p(&comps[0]), p(&comps[1])]
        })
        .collect();
    let extent = y
        .iter()
        .flat_map(|p| [p[0].abs(), p[1].abs()])
        .fold(0.0f32, f32::max);
    let scale = if extent > 0.0 { 10.0 / extent } else { 1.0 };
    let jitter = if n > 1 { 1e-4 } else { 0.0 };
    for p in &mut y {
        for v in p.iter_mut() {
            *v = *v * scale + (rng.gen::<f32>() - 0.5) * jitter;
        }
    }
    y
}

/// Points bucketed into a uniform grid of about four points per cell, for 2-D neighbour queries.
pub(crate) struct Grid<'a> {
    points: &'a [[f32; 2]],
    min: [f32; 2],
    cell: f32,
    side: usize,
    /// `starts[c]..starts[c + 1]` indexes `items` for cell `c` (a counting sort).
    starts: Vec<u32>,
    items: Vec<u32>,
}

impl<'a> Grid<'a> {
    pub(crate) fn new(points: &'a [[f32; 2]]) -> Grid<'a> {
        let mut min = [f32::INFINITY; 2];
        let mut max = [f32::NEG_INFINITY; 2];
        for p in points {
            min = [min[0].min(p[0]), min[1].min(p[1])];
            max = [max[0].max(p[0]), max[1].max(p[1])];
        }
        let side = ((points.len() as f64 / 4.0).sqrt().ceil() as usize).clamp(1, 4096);
        let span = (max[0] - min[0]).max(max[1] - min[1]).max(1e-6);
        let mut grid = Grid {
            points,
            min,
            cell: span / side as f32 * (1.0 + 1e-6),
            side,
            starts: vec![0; side * side + 1],
            items: vec![0; points.len()],
        };
        for p in points {
            let c = grid.cell_of(*p);
            grid.starts[c + 1] += 1;
        }
        for c in 0..side * side {
            grid.starts[c + 1] += grid.starts[c];
        }
        let mut fill = grid.starts.clone();
        for (i, p) in points.iter().enumerate() {
            let c = grid.cell_of(*p);
            grid.items[fill[c] as usize] = i as u32;
            fill[c] += 1;
        }
        grid
    }

    fn coords(&self, p: [f32; 2]) -> (usize, usize) {
        let at = |v: f32, m: f32| (((v - m) / self.cell) as usize).min(self.side - 1);
        (at(p[0], self.min[0]), at(p[1], self.min[1]))
    }

    fn cell_of(&self, p: [f32; 2]) -> usize {
        let (cx, cy) = self.coords(p);
        cy * self.side + cx
    }

    /// The `k` points nearest to point `i` (itself excluded), nearest first, ties by index:
    /// rings of cells outwards until the ring is farther than the k-th candidate.
    pub(crate) fn nearest(&self, i: usize, k: usize) -> Vec<usize> {
        let q = self.points[i];
        let (cx, cy) = self.coords(q);
        let mut found: Vec<(f32, usize)> = Vec::new();
        for ring in 0..self.side {
            let (x0, x1) = (cx.saturating_sub(ring), (cx + ring).min(self.side - 1));
            let (y0, y1) = (cy.saturating_sub(ring), (cy + ring).min(self.side - 1));
            for gy in y0..=y1 {
                for gx in x0..=x1 {
                    let on_ring = gx.abs_diff(cx) == ring || gy.abs_diff(cy) == ring;
                    if !on_ring {
                        continue;
                    }
                    let c = gy * self.side + gx;
                    for &j in &self.items[self.starts[c] as usize..self.starts[c + 1] as usize] {
                        let j = j as usize;
                        if j != i {
                            let p = self.points[j];
                            found.push(((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2), j));
                        }
                    }
                }
            }
            if found.len() >= k {
                found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                found.truncate(k);
                // Every point not yet seen is at least `ring` whole cells away.
                let reach = ring as f32 * self.cell;
                if found[k - 1].0 <= reach * reach {
                    break;
                }
            }
        }
        found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        found.truncate(k);
        found.into_iter().map(|(_, j)| j).collect()
    }
}

/// Share of each sampled point's `k` nearest neighbours in the original space (from `graph`)
/// that are also among its `k` nearest on the map.
pub(crate) fn neighbourhood_preservation(
    graph: &NeighbourGraph,
    y: &[[f32; 2]],
    k: usize,
    sample: &[usize],
) -> f64 {
    let k = k.min(y.len().saturating_sub(1)).min(graph.k());
    if k == 0 || sample.is_empty() {
        return 1.0;
    }
    let grid = Grid::new(y);
    // Whole counts per point, summed as integers: a parallel float sum would depend on how rayon
    // split the work, and the score is part of the map a seed must reproduce byte for byte.
    let kept: usize = sample
        .par_iter()
        .map(|&i| {
            let near_2d = grid.nearest(i, k);
            graph
                .neighbours(i)
                .take(k)
                .filter(|(j, _)| near_2d.contains(j))
                .count()
        })
        .sum();
    kept as f64 / (k * sample.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn preservation_is_one_for_an_isometric_map_and_lower_for_a_shuffled_one() {
        let x = array![
            [0.0f32, 1.0],
            [0.1, 1.0],
            [1.0, 0.0],
            [1.0, 0.1],
            [0.7, 0.7]
        ];
        let graph = NeighbourGraph::exact(x.view(), 2, &mut |_| {});
        let same: Vec<[f32; 2]> = x.rows().into_iter().map(|r| [r[0], r[1]]).collect();
        let all: Vec<usize> = (0..5).collect();
        assert_eq!(neighbourhood_preservation(&graph, &same, 1, &all), 1.0);
        let swapped = vec![same[2], same[3], same[0], same[4], same[1]];
        assert!(neighbourhood_preservation(&graph, &swapped, 1, &all) < 1.0);
    }

    #[test]
    fn grid_neighbours_match_a_scan() {
        let mut rng = Xoshiro256Plus::seed_from_u64(7);
        let points: Vec<[f32; 2]> = (0..2000)
            .map(|i| {
                // Two dense blobs and a sparse halo: cells far from uniform.
                let spread = if i % 10 == 0 { 20.0 } else { 1.0 };
                let c = if i % 2 == 0 { -5.0 } else { 5.0 };
                [
                    c + spread * (rng.gen::<f32>() - 0.5),
                    spread * (rng.gen::<f32>() - 0.5),
                ]
            })
            .collect();
        let grid = Grid::new(&points);
        for i in (0..2000).step_by(37) {
            let mut scan: Vec<(f32, usize)> = (0..2000)
                .filter(|&j| j != i)
                .map(|j| {
                    let d = (points[j][0] - points[i][0]).powi(2)
                        + (points[j][1] - points[i][1]).powi(2);
                    (d, j)
                })
                .collect();
            scan.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let want: Vec<usize> = scan.iter().take(10).map(|p| p.1).collect();
            assert_eq!(grid.nearest(i, 10), want, "point {i}");
        }
    }
}
