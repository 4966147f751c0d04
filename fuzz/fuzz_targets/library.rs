//! A small library with every kind of file (two segments, a graph, a deletes bitset, topics),
//! built once per fuzzing process, and the reads every target asks of a damaged copy.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use papermap::{MetadataFilter, ModelFingerprint, Paper, PaperMap, Precision};

const DIM: usize = 8;

fn fingerprint() -> ModelFingerprint {
    ModelFingerprint {
        name: "fuzz".into(),
        revision: "1".into(),
        weights_sha256: "0".repeat(64),
        dimension: DIM,
        precision: Precision::F32,
    }
}

fn build() -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let papers: Vec<Paper> = (0..45)
        .map(|i| {
            let mut p = Paper::new(&format!("Paper {i} on topic {}", i % 3), "An abstract.");
            p.id = format!("p{i}");
            p.metadata.insert("year".into(), (2020 + i % 3).into());
            p
        })
        .collect();
    let vectors: Vec<f32> = (0..45)
        .flat_map(|i| {
            let v: Vec<f32> = (0..DIM)
                .map(|j| ((i * 7 + j * 3) % 11) as f32 + 1.0)
                .collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(move |x| x / norm)
        })
        .collect();
    let mut map = PaperMap::builder()
        .fingerprint(fingerprint())
        .hnsw_threshold(30)
        .build()
        .unwrap();
    map.add_embedded(papers[..40].to_vec(), &vectors[..40 * DIM])
        .unwrap();
    map.topics(Some(3)).unwrap();
    map.save(dir.path()).unwrap();
    let mut map = PaperMap::open(dir.path()).unwrap();
    map.add_embedded(papers[40..].to_vec(), &vectors[40 * DIM..])
        .unwrap();
    map.remove(["p3"]).unwrap();
    map.save(dir.path()).unwrap();
    std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            let name = e.file_name().into_string().unwrap();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

/// The template library's files by name.
pub fn template() -> &'static BTreeMap<String, Vec<u8>> {
    static FILES: OnceLock<BTreeMap<String, Vec<u8>>> = OnceLock::new();
    FILES.get_or_init(build)
}

/// The test suite's manifest rewriting (`vouch_for`), one copy for both.
#[path = "../../tests/common/manifest.rs"]
mod manifest;
#[allow(unused_imports)] // Used by the segment target only.
pub use manifest::vouch_for;

/// Writes `files` into a fresh directory and asks it everything a reader asks.
pub fn exercise(files: &BTreeMap<String, Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    read(dir.path());
}

fn read(dir: &Path) {
    let _ = PaperMap::check(dir);
    let Ok(map) = PaperMap::open(dir) else {
        return;
    };
    let query = vec![1.0 / (DIM as f32).sqrt(); DIM];
    let _ = map.search_vector(&query, 5, &MetadataFilter::default());
    let _ = map.search_vector(&query, 5, &MetadataFilter::new().eq("year", "2021"));
    for id in ["p0", "p41", "p3", "missing"] {
        let _ = map.paper(id);
        let _ = map.vector(id);
        let _ = map.related(id, 5);
        let _ = map.topic_of(id);
    }
    let _ = map.topic_table();
    let _ = map.fitted_topics();
    let _ = map.papers();
    if let Ok(all) = map.topic_assignments() {
        all.for_each(drop);
    };
}

/// With `PAPERMAP_FUZZ_SEEDS=DIR`, writes the template's files as the seed inputs of `target`
/// into DIR (benches/fuzz.sh does this once before fuzzing, so the fuzzer starts from real files).
pub fn write_seeds(target: &str) {
    let Some(dir) = std::env::var_os("PAPERMAP_FUZZ_SEEDS") else {
        return;
    };
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    let files = template();
    let seeds: Vec<(String, Vec<u8>)> = match target {
        "manifest" => vec![("manifest".into(), files["manifest.json"].clone())],
        "segment" => files
            .iter()
            .filter(|(n, _)| *n != "manifest.json" && !n.starts_with('.'))
            .enumerate()
            .map(|(i, (n, b))| {
                let mut seed = vec![i as u8];
                seed.extend_from_slice(b);
                (n.clone(), seed)
            })
            .collect(),
        "graph" => files
            .iter()
            .filter(|(n, _)| n.ends_with("graph"))
            .map(|(n, b)| (n.clone(), b.clone()))
            .collect(),
        // The first segment's vectors: 40 rows of dimension 8 (shape bytes 40, 7).
        "npy" => files
            .iter()
            .filter(|(n, _)| n.ends_with("npy"))
            .take(1)
            .map(|(n, b)| {
                let mut seed = vec![40, (DIM - 1) as u8, 0, 0];
                seed.extend_from_slice(b);
                (n.clone(), seed)
            })
            .collect(),
        _ => Vec::new(),
    };
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
