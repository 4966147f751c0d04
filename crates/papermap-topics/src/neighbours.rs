//! The k-nearest-neighbour graph a map preserves: two flat arrays, `n × k` ids and distances.
//!
//! Flat arrays rather than a `Vec` per point: at 1,000,000 points and k = 15 the graph is 120 MB
//! in two allocations instead of a million small ones. The graph comes either from an exact scan
//! ([`NeighbourGraph::exact`], O(n² d) time, for small inputs and tests) or from any index the
//! caller queries ([`NeighbourGraph::from_queries`], e.g. the library's HNSW graph).

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::error::TopicError;
use crate::kmeans::normalise_rows;
use crate::{Progress, Stage};

/// Marks an empty neighbour slot (a point with fewer than `k` neighbours).
const NONE: u32 = u32::MAX;
/// Query rows per matrix multiply in the exact search.
const QUERY_BLOCK: usize = 256;
/// Rows per progress report (and per parallel batch) of the neighbour search.
const PROGRESS_ROWS: usize = 8192;

/// Each point's `k` nearest other points, nearest first, with their distances
/// (`sqrt(2 - 2 cos)`: Euclidean distance between the unit vectors).
#[derive(Clone, Debug, PartialEq)]
pub struct NeighbourGraph {
    k: usize,
    ids: Vec<u32>,
    dists: Vec<f32>,
}

impl NeighbourGraph {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.ids.len().checked_div(self.k).unwrap_or(0)
    }

    /// True when the graph has no points.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Neighbour slots per point.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Point `i`'s neighbours as `(index, distance)`, nearest first.
    pub fn neighbours(&self, i: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let row = i * self.k..(i + 1) * self.k;
        self.ids[row.clone()]
            .iter()
            .zip(&self.dists[row])
            .take_while(|(&j, _)| j != NONE)
            .map(|(&j, &d)| (j as usize, d))
    }

    /// The graph of `n` points from a search callback: `query(i)` returns point i's nearest
    /// other points as `(index, cosine similarity)`, best first (at least `k` when it can).
    /// Queries run in parallel on all cores; progress counts points.
    pub fn from_queries<E: Send>(
        n: usize,
        k: usize,
        query: impl Fn(usize) -> Result<Vec<(usize, f32)>, E> + Sync,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<NeighbourGraph, E> {
        let k = k.min(n.saturating_sub(1)).max(1);
        let mut ids = vec![NONE; n * k];
        let mut dists = vec![f32::INFINITY; n * k];
        let mut done = 0;
        for (ids, dists) in ids
            .chunks_mut(PROGRESS_ROWS * k)
            .zip(dists.chunks_mut(PROGRESS_ROWS * k))
        {
            let first = done;
            ids.par_chunks_mut(k)
                .zip(dists.par_chunks_mut(k))
                .enumerate()
                .try_for_each(|(offset, (ids, dists))| {
                    let i = first + offset;
                    let hits = query(i)?;
                    fill_row(ids, dists, hits.into_iter().filter(|&(j, _)| j != i));
                    Ok(())
                })?;
            done += ids.len() / k;
            progress(Progress {
                stage: Stage::Neighbours,
                done,
                total: n,
            });
        }
        Ok(NeighbourGraph { k, ids, dists })
    }

    /// Exact neighbours of every row of `x` by cosine similarity (ties by index), as blocked
    /// matrix multiplies: O(n² d) time, O(n) memory per block of queries.
    pub fn exact(
        x: ArrayView2<f32>,
        k: usize,
        progress: &mut dyn FnMut(Progress),
    ) -> NeighbourGraph {
        let n = x.nrows();
        let mut unit = x.to_owned();
        normalise_rows(&mut unit);
        let k_found = k.min(n.saturating_sub(1)).max(1);
        Self::from_blocks(
            n,
            k_found,
            |q0, q1| {
                let mut sims = Array2::<f32>::zeros((q1 - q0, n));
                general_mat_mul(1.0, &unit.slice(s![q0..q1, ..]), &unit.t(), 0.0, &mut sims);
                sims.axis_iter(Axis(0))
                    .enumerate()
                    .map(|(r, row)| best_k(row.as_slice().expect("contiguous"), q0 + r, k_found))
                    .collect()
            },
            progress,
        )
    }

    /// Like [`from_queries`](Self::from_queries), but the callback answers a block of rows
    /// `q0..q1` at once (one matrix multiply per block).
    fn from_blocks(
        n: usize,
        k: usize,
        block: impl Fn(usize, usize) -> Vec<Vec<(usize, f32)>> + Sync,
        progress: &mut dyn FnMut(Progress),
    ) -> NeighbourGraph {
        let starts: Vec<usize> = (0..n).step_by(QUERY_BLOCK).collect();
        let mut graph = NeighbourGraph {
            k,
            ids: vec![NONE; n * k],
            dists: vec![f32::INFINITY; n * k],
        };
        for group in starts.chunks(PROGRESS_ROWS / QUERY_BLOCK) {
            let answers: Vec<Vec<Vec<(usize, f32)>>> = group
                .par_iter()
                .map(|&q0| block(q0, (q0 + QUERY_BLOCK).min(n)))
                .collect();
            for (&q0, rows) in group.iter().zip(answers) {
                for (r, hits) in rows.into_iter().enumerate() {
                    graph.set_row(q0 + r, &hits);
                }
            }
            let done = (group.last().expect("non-empty") + QUERY_BLOCK).min(n);
            progress(Progress {
                stage: Stage::Neighbours,
                done,
                total: n,
            });
        }
        graph
    }

    fn set_row(&mut self, i: usize, hits: &[(usize, f32)]) {
        let row = i * self.k..(i + 1) * self.k;
        fill_row(
            &mut self.ids[row.clone()],
            &mut self.dists[row],
            hits.iter().copied(),
        );
    }

    /// Checks that the graph fits `n` points: one row each, no self-loops, ids in range.
    pub(crate) fn validate(&self, n: usize) -> Result<(), TopicError> {
        let invalid = |reason: String| TopicError::InvalidConfig {
            field: "neighbours",
            reason,
        };
        if self.len() != n {
            return Err(invalid(format!(
                "a graph of {} points for {n} documents: build it from the same rows",
                self.len()
            )));
        }
        for i in 0..n {
            if let Some((j, _)) = self.neighbours(i).find(|&(j, _)| j == i || j >= n) {
                return Err(invalid(format!(
                    "row {i} lists {j}: itself or a row >= {n}"
                )));
            }
        }
        Ok(())
    }
}

/// Writes a point's hits `(index, cosine similarity)`, best first, into its slots as ids and
/// distances `sqrt(2 - 2 cos)`; slots beyond the hits stay empty.
fn fill_row(ids: &mut [u32], dists: &mut [f32], hits: impl Iterator<Item = (usize, f32)>) {
    for ((slot, dist), (j, sim)) in ids.iter_mut().zip(dists.iter_mut()).zip(hits) {
        *slot = j as u32;
        *dist = (2.0 - 2.0 * sim).max(0.0).sqrt();
    }
}

/// The `k` highest similarities of `row` (ties by index), skipping `exclude`, best first.
///
/// Returns a fresh vector of exactly `k` entries: selecting inside an n-long vector and
/// truncating it would keep n entries of capacity per row (Rust's in-place `collect` reuses the
/// allocation too), which is n² memory over all rows: what made the old map run out of memory.
fn best_k(row: &[f32], exclude: usize, k: usize) -> Vec<(usize, f32)> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<(usize, f32)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|idx| {
        idx.clear();
        idx.extend(
            row.iter()
                .copied()
                .enumerate()
                .filter(|&(j, _)| j != exclude),
        );
        let cmp = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        let k = k.min(idx.len());
        if k < idx.len() {
            idx.select_nth_unstable_by(k, cmp);
        }
        let mut best = idx[..k].to_vec();
        best.sort_by(cmp);
        best
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn exact_finds_the_nearest_by_cosine_excluding_self() {
        let x = array![[1.0f32, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]];
        let g = NeighbourGraph::exact(x.view(), 1, &mut |_| {});
        let nearest: Vec<usize> = (0..4).map(|i| g.neighbours(i).next().unwrap().0).collect();
        assert_eq!(nearest, [1, 0, 3, 2]);
    }

    #[test]
    fn a_row_keeps_k_entries_of_memory_not_n() {
        let row: Vec<f32> = (0..10_000).map(|i| (i % 97) as f32).collect();
        let best = best_k(&row, 0, 5);
        assert_eq!(best.len(), 5);
        assert!(best.capacity() <= 5, "capacity {}", best.capacity());
        assert!(best.iter().all(|&(_, s)| s == 96.0));
    }

    #[test]
    fn queries_fill_rows_and_short_answers_leave_empty_slots() {
        let g = NeighbourGraph::from_queries::<()>(
            3,
            2,
            |i| {
                Ok(if i == 0 {
                    vec![(1, 1.0)]
                } else {
                    vec![(0, 0.5), (i, 1.0), (2, 0.0)]
                })
            },
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(g.neighbours(0).collect::<Vec<_>>(), [(1, 0.0)]);
        // Self hits are dropped; cos 0.5 is distance 1.
        assert_eq!(
            g.neighbours(1).collect::<Vec<_>>(),
            [(0, 1.0), (2, 2f32.sqrt())]
        );
        assert!(g.validate(3).is_ok());
        assert!(g.validate(4).is_err());
    }
}
