//! Silhouette scores on a seeded sample, for choosing k.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, Axis};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;

use crate::kmeans::row_sq_norms;
use crate::Variant;

/// Pairwise distances of a fixed sample of rows, reused to score every candidate k.
pub(crate) struct SilhouetteSample {
    /// Row indices of the sample, ascending.
    pub indices: Vec<usize>,
    /// `s x s` distances: cosine distance for the spherical variant, Euclidean otherwise
    /// (what each variant minimises).
    dist: Array2<f32>,
}

impl SilhouetteSample {
    /// Samples up to `size` rows with `seed` (all rows when `n <= size`).
    pub fn new(x: ArrayView2<f32>, size: usize, seed: u64, variant: Variant) -> Self {
        let n = x.nrows();
        let mut indices = if n <= size {
            (0..n).collect()
        } else {
            let mut rng = Xoshiro256Plus::seed_from_u64(seed ^ 0x5111_0e77e);
            sample(&mut rng, n, size).into_vec()
        };
        indices.sort_unstable();
        let rows = x.select(Axis(0), &indices);
        let sq = row_sq_norms(rows.view());
        let mut dist = Array2::<f32>::zeros((indices.len(), indices.len()));
        general_mat_mul(1.0, &rows, &rows.t(), 0.0, &mut dist);
        dist.axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each(|(i, mut row)| {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = match variant {
                        Variant::Spherical => {
                            let norms = (sq[i] * sq[j]).sqrt();
                            let cos = if norms > 0.0 { *v / norms } else { 0.0 };
                            (1.0 - cos).max(0.0)
                        }
                        Variant::Euclidean => (sq[i] + sq[j] - 2.0 * *v).max(0.0).sqrt(),
                    };
                }
                row[i] = 0.0;
            });
        SilhouetteSample { indices, dist }
    }

    /// Mean silhouette of the sampled rows under `labels` (labels of all rows, `k` clusters).
    ///
    /// A row alone in its cluster within the sample scores 0, as in scikit-learn.
    #[cfg(test)]
    pub fn score(&self, labels: &[usize], k: usize) -> f64 {
        let rows = self.per_row(labels, k);
        rows.iter().sum::<f64>() / rows.len() as f64
    }

    /// The silhouette of each sampled row (in sample order), so two candidate k can be compared
    /// row by row on the same sample.
    pub fn per_row(&self, labels: &[usize], k: usize) -> Vec<f64> {
        let sample_labels: Vec<usize> = self.indices.iter().map(|&i| labels[i]).collect();
        let mut sizes = vec![0usize; k];
        for &c in &sample_labels {
            sizes[c] += 1;
        }
        let per_row: Vec<f64> = self
            .dist
            .axis_iter(Axis(0))
            .into_par_iter()
            .enumerate()
            .map(|(i, row)| {
                let own = sample_labels[i];
                if sizes[own] <= 1 {
                    return 0.0;
                }
                let mut sums = vec![0.0f64; k];
                for (&c, &d) in sample_labels.iter().zip(row.iter()) {
                    sums[c] += d as f64;
                }
                let a = sums[own] / (sizes[own] - 1) as f64;
                let b = (0..k)
                    .filter(|&c| c != own && sizes[c] > 0)
                    .map(|c| sums[c] / sizes[c] as f64)
                    .fold(f64::INFINITY, f64::min);
                if !b.is_finite() {
                    return 0.0;
                }
                let denom = a.max(b);
                if denom > 0.0 {
                    (b - a) / denom
                } else {
                    0.0
                }
            })
            .collect();
        per_row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn separated_clusters_score_near_one_and_a_bad_split_scores_lower() {
        let x = array![[0.0f32, 0.0], [0.1, 0.0], [10.0, 10.0], [10.1, 10.0]];
        let s = SilhouetteSample::new(x.view(), 100, 1, Variant::Euclidean);
        let good = s.score(&[0, 0, 1, 1], 2);
        let bad = s.score(&[0, 1, 0, 1], 2);
        assert!(good > 0.98, "good split scored {good}");
        assert!(bad < 0.0, "bad split scored {bad}");
    }

    #[test]
    fn matches_hand_computed_value() {
        // Points on a line: 0, 1 | 4. For 0: a = 1, b = 4 -> 0.75; for 1: a = 1, b = 3 -> 2/3;
        // 4 is alone -> 0. Mean = (0.75 + 0.6667 + 0) / 3.
        let x = array![[0.0f32], [1.0], [4.0]];
        let s = SilhouetteSample::new(x.view(), 10, 0, Variant::Euclidean);
        let got = s.score(&[0, 0, 1], 2);
        let want = (0.75 + 2.0 / 3.0) / 3.0;
        assert!((got - want).abs() < 1e-6, "got {got}, want {want}");
    }
}
