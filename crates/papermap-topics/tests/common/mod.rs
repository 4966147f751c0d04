//! Seeded synthetic corpora: unit-vector blobs with a vocabulary per blob.
#![allow(dead_code)]

use ndarray::Array2;
use papermap_topics::TopicDoc;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;

/// Words that only documents of blob `b` use (plus shared filler).
pub const VOCAB: [[&str; 3]; 6] = [
    ["galaxy", "redshift", "quasar"],
    ["entanglement", "qubit", "decoherence"],
    ["graphene", "phonon", "superconductor"],
    ["polynomial", "manifold", "homology"],
    ["neutrino", "hadron", "collider"],
    ["protein", "genome", "enzyme"],
];

/// A labelled synthetic corpus.
pub struct Corpus {
    pub x: Array2<f32>,
    pub docs: Vec<TopicDoc>,
    pub truth: Vec<usize>,
}

/// `per_blob` documents around each of `blobs` random unit directions in `d` dimensions;
/// `noise` is the per-coordinate standard deviation before re-normalising.
pub fn blobs(blobs: usize, per_blob: usize, d: usize, noise: f32, seed: u64) -> Corpus {
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    let mut gauss = move || {
        // Box-Muller: keeps the tests free of rand_distr.
        let u: f32 = rng.gen_range(1e-7..1.0);
        let v: f32 = rng.gen();
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    };
    let centres: Vec<Vec<f32>> = (0..blobs)
        .map(|_| unit((0..d).map(|_| gauss()).collect()))
        .collect();
    let n = blobs * per_blob;
    let mut x = Array2::zeros((n, d));
    let mut docs = Vec::with_capacity(n);
    let mut truth = Vec::with_capacity(n);
    for i in 0..n {
        let b = i % blobs;
        let row = unit(centres[b].iter().map(|c| c + noise * gauss()).collect());
        x.row_mut(i).iter_mut().zip(&row).for_each(|(a, v)| *a = *v);
        let w = VOCAB[b % VOCAB.len()];
        docs.push(TopicDoc {
            id: format!("doc{i:04}"),
            title: format!("On the {} of {} number {i}", w[i % 3], w[(i + 1) % 3]),
            text: format!(
                "We measure the {} and the {} in a {} setting. The results are new.",
                w[0], w[1], w[2]
            ),
        });
        truth.push(b);
    }
    Corpus { x, docs, truth }
}

fn unit(v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.into_iter().map(|a| a / norm).collect()
}

/// Adjusted Rand index of two labellings (1 = identical partitions).
pub fn ari(a: &[usize], b: &[usize]) -> f64 {
    let ka = a.iter().max().map_or(0, |m| m + 1);
    let kb = b.iter().max().map_or(0, |m| m + 1);
    let mut table = vec![vec![0.0f64; kb]; ka];
    for (&i, &j) in a.iter().zip(b) {
        table[i][j] += 1.0;
    }
    let pairs = |c: f64| c * (c - 1.0) / 2.0;
    let index: f64 = table.iter().flatten().map(|&c| pairs(c)).sum();
    let rows: f64 = table.iter().map(|r| pairs(r.iter().sum())).sum();
    let cols: f64 = (0..kb)
        .map(|j| pairs(table.iter().map(|r| r[j]).sum()))
        .sum();
    let expected = rows * cols / pairs(a.len() as f64);
    let max = (rows + cols) / 2.0;
    if max == expected {
        1.0
    } else {
        (index - expected) / (max - expected)
    }
}
