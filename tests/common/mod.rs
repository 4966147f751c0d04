//! Shared test data: the bundled seed corpus and its reference vectors (sentence-transformers).
#![allow(dead_code)]

mod manifest;

#[allow(unused_imports)] // Not every test binary rewrites manifests.
pub use manifest::vouch_for;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use papermap::{ModelFingerprint, Paper, PaperMap};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn seed_dir() -> PathBuf {
    root().join("examples/data/seed")
}

/// The 99 seed papers, in corpus order.
pub fn seed_papers() -> Vec<Paper> {
    let report = papermap::read_path(seed_dir()).expect("seed corpus reads");
    report.into_papers()
}

/// arXiv id -> reference vector (Python sentence-transformers, all-MiniLM-L6-v2).
pub fn reference_vectors() -> HashMap<String, Vec<f32>> {
    let text =
        std::fs::read_to_string(root().join("tests/data/minilm_seed_reference.jsonl")).unwrap();
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = v["arxiv_id"].as_str().unwrap().to_string();
            let e = v["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            (id, e)
        })
        .collect()
}

/// Seed papers with their reference vectors, row-major.
pub fn seed_with_vectors() -> (Vec<Paper>, Vec<f32>) {
    let papers = seed_papers();
    let reference = reference_vectors();
    let vectors = papers
        .iter()
        .flat_map(|p| reference[&p.id].clone())
        .collect();
    (papers, vectors)
}

/// A model identity for vectors brought from outside (no model files needed).
pub fn reference_fingerprint() -> ModelFingerprint {
    ModelFingerprint {
        name: "reference-minilm".into(),
        revision: "python".into(),
        weights_sha256: "0".repeat(64),
        dimension: 384,
        precision: papermap::Precision::F32,
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Ids of the `k` rows of `vectors` most similar to `query` by exact cosine, skipping `skip`.
pub fn exact_top(
    papers: &[Paper],
    vectors: &[f32],
    query: &[f32],
    k: usize,
    skip: Option<&str>,
) -> Vec<String> {
    let norm = dot(query, query).sqrt();
    let mut scored: Vec<(f32, &str)> = papers
        .iter()
        .zip(vectors.chunks_exact(query.len()))
        .filter(|(p, _)| Some(p.id.as_str()) != skip)
        .map(|(p, v)| (dot(query, v) / norm / dot(v, v).sqrt(), p.id.as_str()))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(k)
        .map(|(_, id)| id.to_string())
        .collect()
}

/// A new map of the reference model holding `papers` with `vectors` (row-major).
pub fn map_of(papers: &[Paper], vectors: &[f32]) -> PaperMap {
    let mut map = PaperMap::builder()
        .fingerprint(reference_fingerprint())
        .build()
        .unwrap();
    map.add_embedded(papers.to_vec(), vectors).unwrap();
    map
}

/// Copies `tests/data/NAME` (a committed library) to `to`.
pub fn copy_named_fixture(name: &str, to: &Path) {
    let from = root().join("tests/data").join(name);
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            match entry.file_type().unwrap().is_dir() {
                true => copy(&entry.path(), &target),
                false => drop(std::fs::copy(entry.path(), target).unwrap()),
            }
        }
    }
    copy(&from, to);
}

/// The fingerprint of the fixtures' model (all-MiniLM-L6-v2, f32).
pub fn minilm() -> ModelFingerprint {
    ModelFingerprint {
        name: "all-MiniLM-L6-v2".into(),
        revision: "c9745ed1d9f207416be6d2e6f8de32d1f16199bf".into(),
        weights_sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db".into(),
        dimension: 384,
        precision: papermap::Precision::F32,
    }
}

/// The manifest of the library at `dir`, parsed.
pub fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}
