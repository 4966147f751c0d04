//! The linear half of a liked profile's score: logistic regression of "liked" against the rest of
//! the library on the embeddings (arxiv-sanity-lite fits a linear SVM on tf-idf for the same
//! question), fitted by full-batch gradient descent with balanced class weights and an L2 penalty.
//! Deterministic: no sampling inside, a fixed number of steps.

use papermap_index::dot;

/// L2 penalty (chosen on the development splits of `benches/baselines/rank_eval.py`).
const L2: f32 = 1e-2;
const STEPS: usize = 300;
const RATE: f32 = 2.0;

/// Weights and bias separating `liked` (with weights) from `others`; rows are `dim` wide.
pub(crate) fn fit(liked: &[(&[f32], f32)], others: &[&[f32]], dim: usize) -> (Vec<f32>, f32) {
    let liked_total: f32 = liked.iter().map(|l| l.1).sum();
    // Each class carries half the weight, as scikit-learn's class_weight="balanced".
    let rows: Vec<(&[f32], f32, f32)> = liked
        .iter()
        .map(|&(x, w)| (x, 1.0, 0.5 * w / liked_total))
        .chain(others.iter().map(|&x| (x, 0.0, 0.5 / others.len() as f32)))
        .collect();
    let (mut w, mut b) = (vec![0f32; dim], 0f32);
    let mut grad = vec![0f32; dim];
    for _ in 0..STEPS {
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut grad_b = 0.0;
        for &(x, y, weight) in &rows {
            let p = 1.0 / (1.0 + (-(dot(&w, x) + b)).exp());
            let g = (p - y) * weight;
            grad.iter_mut().zip(x).for_each(|(acc, xi)| *acc += g * xi);
            grad_b += g;
        }
        w.iter_mut()
            .zip(&grad)
            .for_each(|(wi, gi)| *wi -= RATE * (gi + L2 * *wi));
        b -= RATE * grad_b;
    }
    (w, b)
}

/// `values` standardised to mean 0 and deviation 1 (all 0 when they do not vary).
pub(crate) fn standardised(values: &[f32]) -> Vec<f32> {
    let n = values.len() as f32;
    let mean = values.iter().sum::<f32>() / n;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
    values
        .iter()
        .map(|v| if sd > 1e-9 { (v - mean) / sd } else { 0.0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_two_directions_and_standardises() {
        let a = [1.0f32, 0.0];
        let b = [0.0f32, 1.0];
        let (w, bias) = fit(&[(&a, 1.0)], &[&b, &b, &b], 2);
        assert!(
            dot(&w, &a) + bias > 0.0 && dot(&w, &b) + bias < 0.0,
            "{w:?} {bias}"
        );
        let z = standardised(&[1.0, 2.0, 3.0]);
        assert!((z.iter().sum::<f32>()).abs() < 1e-6 && z[2] > 1.0);
        assert_eq!(standardised(&[5.0, 5.0]), [0.0, 0.0]);
    }
}
