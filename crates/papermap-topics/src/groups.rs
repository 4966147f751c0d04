//! Groups of topics: average-linkage agglomerative clustering of the topic centroids (cosine
//! distance, each topic weighted by its size), cut at about √k groups.
//!
//! k is at most a few hundred, so the O(k³) textbook merge loop costs milliseconds and stays
//! easy to check; ties merge the lowest-numbered pair, so the result is deterministic.

use ndarray::ArrayView2;

/// Number of groups for `k` topics: none below 4 topics, else about √k (at least 2).
pub(crate) fn group_count(k: usize) -> usize {
    if k < 4 {
        return 0;
    }
    ((k as f64).sqrt().round() as usize).clamp(2, k - 1)
}

/// The group of each of the `k` topics (ids `0..groups`, numbered by their first topic).
pub(crate) fn agglomerate(
    centroids: ArrayView2<f32>,
    sizes: &[usize],
    groups: usize,
) -> Vec<usize> {
    let k = centroids.nrows();
    let norms: Vec<f32> = centroids
        .rows()
        .into_iter()
        .map(|r| r.dot(&r).sqrt().max(1e-12))
        .collect();
    // dist[i][j]: average cosine distance between the members of clusters i and j.
    let mut dist = vec![vec![0.0f64; k]; k];
    for i in 0..k {
        for j in 0..i {
            let cos = centroids.row(i).dot(&centroids.row(j)) / (norms[i] * norms[j]);
            dist[i][j] = (1.0 - cos as f64).max(0.0);
            dist[j][i] = dist[i][j];
        }
    }
    let mut weight: Vec<f64> = sizes.iter().map(|&s| s.max(1) as f64).collect();
    let mut alive: Vec<bool> = vec![true; k];
    let mut owner: Vec<usize> = (0..k).collect();
    for _ in 0..k.saturating_sub(groups.max(1)) {
        let mut best = (f64::INFINITY, 0, 0);
        for i in (0..k).filter(|&i| alive[i]) {
            for j in (0..i).filter(|&j| alive[j]) {
                if dist[i][j] < best.0 {
                    best = (dist[i][j], j, i);
                }
            }
        }
        let (_, a, b) = best;
        // Lance–Williams update for average linkage, weighted by cluster sizes.
        let (wa, wb) = (weight[a], weight[b]);
        for c in (0..k).filter(|&c| alive[c] && c != a && c != b) {
            let d = (wa * dist[a][c] + wb * dist[b][c]) / (wa + wb);
            dist[a][c] = d;
            dist[c][a] = d;
        }
        weight[a] += wb;
        alive[b] = false;
        owner.iter_mut().filter(|o| **o == b).for_each(|o| *o = a);
    }
    // Renumber 0..groups in order of each group's first topic.
    let mut ids = vec![usize::MAX; k];
    let mut next = 0;
    owner
        .iter()
        .map(|&o| {
            if ids[o] == usize::MAX {
                ids[o] = next;
                next += 1;
            }
            ids[o]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn near_centroids_share_a_group() {
        let c = array![
            [1.0f32, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.95, 0.05, 0.0],
            [0.0, 0.9, 0.1],
            [0.0, 0.0, 1.0]
        ];
        let g = agglomerate(c.view(), &[10, 10, 10, 10, 10], 3);
        assert_eq!(g, [0, 1, 0, 1, 2]);
        assert_eq!(agglomerate(c.view(), &[1; 5], 5), [0, 1, 2, 3, 4]);
        assert_eq!(agglomerate(c.view(), &[1; 5], 1), [0; 5]);
    }

    #[test]
    fn group_count_grows_like_the_square_root() {
        assert_eq!(group_count(3), 0);
        assert_eq!(group_count(4), 2);
        assert_eq!(group_count(50), 7);
        assert_eq!(group_count(200), 14);
    }
}
