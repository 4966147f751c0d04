//! The fast k-means against linfa's plain k-means, and its error handling.

mod common;

use common::{ari, blobs};
use ndarray::{array, Array2};
use papermap_topics::kmeans::{self, fit_linfa_reference, within_cluster_sum_of_squares};
use papermap_topics::{KMeansParams, TopicError, Variant};

fn params(k: usize, variant: Variant) -> KMeansParams {
    KMeansParams {
        k,
        seed: 7,
        n_runs: 3,
        max_iters: 100,
        tolerance: 1e-4,
        variant,
    }
}

#[test]
fn fast_path_recovers_separated_blobs_like_linfa() {
    let c = blobs(5, 60, 24, 0.08, 1);
    let fast = kmeans::fit(c.x.view(), &params(5, Variant::Euclidean), &mut |_| {}).unwrap();
    let reference = fit_linfa_reference(c.x.view(), &params(5, Variant::Euclidean)).unwrap();
    assert_eq!(ari(&fast.labels, &c.truth), 1.0);
    assert_eq!(ari(&reference.labels, &c.truth), 1.0);
    let rel = (fast.inertia - reference.inertia).abs() / reference.inertia;
    assert!(
        rel < 1e-3,
        "fast {} vs linfa {}",
        fast.inertia,
        reference.inertia
    );
}

#[test]
fn fast_path_is_no_worse_than_linfa_on_overlapping_data() {
    // Heavy noise: many local optima, so compare objective values rather than partitions.
    let c = blobs(6, 80, 16, 0.6, 2);
    let p = KMeansParams {
        n_runs: 5,
        ..params(6, Variant::Euclidean)
    };
    let fast = kmeans::fit(c.x.view(), &p, &mut |_| {}).unwrap();
    let reference = fit_linfa_reference(c.x.view(), &p).unwrap();
    assert!(
        fast.inertia <= reference.inertia * 1.01,
        "fast {} vs linfa {}",
        fast.inertia,
        reference.inertia
    );
    // Reported inertia is the sum of squared distances to the assigned centroids.
    let recomputed: f64 =
        c.x.rows()
            .into_iter()
            .zip(&fast.labels)
            .map(|(r, &l)| {
                r.iter()
                    .zip(fast.centroids.row(l))
                    .map(|(a, b)| ((a - b) as f64).powi(2))
                    .sum::<f64>()
            })
            .sum();
    assert!((recomputed - fast.inertia).abs() < 1e-3 * recomputed);
    // For the Euclidean variant at convergence the centroids are the cluster means.
    let wcss = within_cluster_sum_of_squares(c.x.view(), &fast.labels, 6);
    assert!(
        (wcss - fast.inertia).abs() < 1e-3 * wcss,
        "{wcss} vs {}",
        fast.inertia
    );
}

#[test]
fn labels_are_the_nearest_centroid() {
    let c = blobs(4, 50, 8, 0.4, 3);
    let fit = kmeans::fit(c.x.view(), &params(4, Variant::Spherical), &mut |_| {}).unwrap();
    for (row, &label) in c.x.rows().into_iter().zip(&fit.labels) {
        let d = |k: usize| -> f32 {
            row.iter()
                .zip(fit.centroids.row(k))
                .map(|(a, b)| (a - b) * (a - b))
                .sum()
        };
        let best = (0..4).map(d).fold(f32::INFINITY, f32::min);
        assert!(d(label) <= best + 1e-5);
    }
}

#[test]
fn same_seed_gives_bit_identical_centroids() {
    let c = blobs(6, 70, 20, 0.5, 4);
    for variant in [Variant::Euclidean, Variant::Spherical] {
        let a = kmeans::fit(c.x.view(), &params(6, variant), &mut |_| {}).unwrap();
        let b = kmeans::fit(c.x.view(), &params(6, variant), &mut |_| {}).unwrap();
        let bits = |m: &Array2<f32>| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.centroids), bits(&b.centroids));
        assert_eq!(a.labels, b.labels);
    }
}

#[test]
fn spherical_centroids_are_unit_length() {
    let c = blobs(3, 40, 12, 0.5, 5);
    let fit = kmeans::fit(c.x.view(), &params(3, Variant::Spherical), &mut |_| {}).unwrap();
    for row in fit.centroids.rows() {
        assert!((row.dot(&row) - 1.0).abs() < 1e-5);
    }
}

#[test]
fn duplicate_points_leave_no_cluster_empty_and_do_not_panic() {
    // Seven identical rows and two distinct ones; k = 3 forces k-means++ to cope with zero
    // sampling weight and the update step with possibly empty clusters.
    let mut x = Array2::<f32>::from_elem((9, 2), 1.0);
    x.row_mut(7).assign(&array![5.0, 5.0]);
    x.row_mut(8).assign(&array![-5.0, 3.0]);
    let fit = kmeans::fit(x.view(), &params(3, Variant::Euclidean), &mut |_| {}).unwrap();
    assert!(fit.labels.iter().all(|&l| l < 3));
    assert!(
        fit.inertia < 1e-6,
        "three distinct values, three clusters: {}",
        fit.inertia
    );
}

#[test]
fn bad_input_gives_typed_errors() {
    let x = array![[1.0f32, 0.0], [0.0, 1.0]];
    let run = |x: ndarray::ArrayView2<f32>, k| {
        kmeans::fit(x, &params(k, Variant::Euclidean), &mut |_| {})
    };
    assert!(matches!(run(x.view(), 0), Err(TopicError::ZeroK)));
    assert!(matches!(
        run(x.view(), 3),
        Err(TopicError::KTooLarge { k: 3, n: 2 })
    ));
    let empty = Array2::<f32>::zeros((0, 4));
    assert!(matches!(run(empty.view(), 1), Err(TopicError::NoDocuments)));
    let flat = Array2::<f32>::zeros((3, 0));
    assert!(matches!(
        run(flat.view(), 1),
        Err(TopicError::ZeroDimensions)
    ));
    let nan = array![[1.0f32, 0.0], [f32::NAN, 1.0]];
    let err = run(nan.view(), 1).unwrap_err();
    assert!(matches!(err, TopicError::NonFinite { row: 1, col: 0, .. }));
    assert!(err.to_string().contains("row 1"), "{err}");
    assert!(matches!(
        fit_linfa_reference(nan.view(), &params(1, Variant::Euclidean)),
        Err(TopicError::NonFinite { .. })
    ));
}

#[test]
fn progress_reports_every_run() {
    let c = blobs(3, 20, 8, 0.3, 6);
    let mut seen = Vec::new();
    kmeans::fit(c.x.view(), &params(3, Variant::Euclidean), &mut |p| {
        seen.push((p.done, p.total))
    })
    .unwrap();
    assert_eq!(seen, vec![(1, 3), (2, 3), (3, 3)]);
}
