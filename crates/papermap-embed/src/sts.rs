//! Semantic textual similarity evaluation (STS Benchmark): Spearman correlation of cosine scores with gold.

use std::path::Path;

use crate::error::{EmbedError, Result};
use crate::Embedder;

/// One scored sentence pair.
#[derive(Debug, Clone, PartialEq)]
pub struct StsPair {
    /// Gold similarity, 0–5.
    pub score: f64,
    /// First sentence.
    pub a: String,
    /// Second sentence.
    pub b: String,
}

/// Reads an STS TSV with header `score<TAB>sentence1<TAB>sentence2`.
///
/// Fields are split on tabs only: the STS files hold unbalanced double quotes that a CSV parser would
/// swallow across lines.
pub fn read_sts_tsv(path: &Path) -> Result<Vec<StsPair>> {
    let text = std::fs::read_to_string(path).map_err(|e| EmbedError::io(path, e))?;
    let bad = |line: usize, why: &str| EmbedError::Config {
        path: path.to_path_buf(),
        message: format!("line {line}: {why} (expected `score<TAB>sentence1<TAB>sentence2`)"),
    };
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [score, a, b] = fields[..] else {
            return Err(bad(n + 1, &format!("{} fields", fields.len())));
        };
        let score = score
            .trim()
            .parse()
            .map_err(|_| bad(n + 1, &format!("score {score:?} is not a number")))?;
        pairs.push(StsPair {
            score,
            a: a.to_string(),
            b: b.to_string(),
        });
    }
    if pairs.is_empty() {
        return Err(bad(1, "no pairs after the header"));
    }
    Ok(pairs)
}

/// Spearman × 100 of cosine similarity against gold scores, as sentence-transformers'
/// `EmbeddingSimilarityEvaluator` reports it.
pub fn evaluate_sts(embedder: &Embedder, pairs: &[StsPair]) -> Result<f64> {
    let a: Vec<&str> = pairs.iter().map(|p| p.a.as_str()).collect();
    let b: Vec<&str> = pairs.iter().map(|p| p.b.as_str()).collect();
    let ea = embedder.embed(&a)?;
    let eb = embedder.embed(&b)?;
    let cosines: Vec<f64> = (0..pairs.len())
        .map(|i| cosine(ea.row(i), eb.row(i)))
        .collect();
    let gold: Vec<f64> = pairs.iter().map(|p| p.score).collect();
    Ok(spearman(&cosines, &gold) * 100.0)
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb).max(1e-12)
}

/// Ranks with ties sharing their average rank (as scipy's `rankdata`).
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
            end += 1;
        }
        let average = (start + end) as f64 / 2.0 + 1.0;
        for &i in &order[start..=end] {
            ranks[i] = average;
        }
        start = end + 1;
    }
    ranks
}

/// Spearman's rank correlation.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    sxy / (sxx * syy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_monotone_and_reversed() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&x, &[10.0, 20.0, 35.0, 100.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&x, &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
    }

    #[test]
    fn ties_get_average_ranks() {
        assert_eq!(ranks(&[5.0, 1.0, 5.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }

    #[test]
    fn tsv_with_quotes_and_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sts.tsv");
        std::fs::write(
            &p,
            "score\tsentence1\tsentence2\n2.5\t\"A quote\tand\n4\tx\ty\n",
        )
        .unwrap();
        let pairs = read_sts_tsv(&p).unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].a, "\"A quote");
        std::fs::write(&p, "score\tsentence1\tsentence2\nhigh\tx\ty\n").unwrap();
        let err = read_sts_tsv(&p).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
