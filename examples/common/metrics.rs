//! Agreement of a clustering with reference labels, shared by the topic and precision examples.
// Each example uses a subset of these.
#![allow(dead_code)]

use std::collections::HashMap;

/// Contingency counts of two labellings.
fn contingency(truth: &[String], pred: &[usize]) -> (Vec<Vec<f64>>, Vec<f64>, Vec<f64>) {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for t in truth {
        let next = ids.len();
        ids.entry(t.as_str()).or_insert(next);
    }
    let k = pred.iter().max().map_or(0, |m| m + 1);
    let mut table = vec![vec![0.0; k]; ids.len()];
    for (t, &p) in truth.iter().zip(pred) {
        table[ids[t.as_str()]][p] += 1.0;
    }
    let rows = table.iter().map(|r| r.iter().sum()).collect();
    let cols = (0..k).map(|j| table.iter().map(|r| r[j]).sum()).collect();
    (table, rows, cols)
}

/// Normalised mutual information (arithmetic mean of the entropies, scikit-learn's default).
pub fn nmi(truth: &[String], pred: &[usize]) -> f64 {
    let (table, rows, cols) = contingency(truth, pred);
    let n = truth.len() as f64;
    let entropy = |m: &[f64]| -> f64 {
        m.iter()
            .filter(|&&c| c > 0.0)
            .map(|&c| -(c / n) * (c / n).ln())
            .sum()
    };
    let mut mi = 0.0;
    for (i, row) in table.iter().enumerate() {
        for (j, &c) in row.iter().enumerate() {
            if c > 0.0 {
                mi += c / n * (c * n / (rows[i] * cols[j])).ln();
            }
        }
    }
    let denom = (entropy(&rows) + entropy(&cols)) / 2.0;
    if denom > 0.0 {
        mi / denom
    } else {
        1.0
    }
}

/// Adjusted Rand index (Hubert & Arabie).
pub fn ari(truth: &[String], pred: &[usize]) -> f64 {
    let (table, rows, cols) = contingency(truth, pred);
    let pairs = |c: f64| c * (c - 1.0) / 2.0;
    let index: f64 = table.iter().flatten().map(|&c| pairs(c)).sum();
    let a: f64 = rows.iter().map(|&c| pairs(c)).sum();
    let b: f64 = cols.iter().map(|&c| pairs(c)).sum();
    let expected = a * b / pairs(truth.len() as f64);
    let max = (a + b) / 2.0;
    if max == expected {
        1.0
    } else {
        (index - expected) / (max - expected)
    }
}
