//! Filtered search reads the segments' metadata columns (issue 25): it returns exactly the best
//! papers among those the filter accepts, the same as a filter applied paper by paper, in
//! segments with and without a graph, in a library written before the column existed, and with
//! unsaved papers and removals mixed in.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use papermap::{MetadataFilter, Paper, PaperMap};
use proptest::prelude::*;

const DIM: usize = 384;

/// Paper `i` with a tag drawn from `tags`, a year, and a rare flag on every 50th.
fn paper(i: usize, tags: usize) -> Paper {
    let mut p = Paper::new(&format!("Paper {i}"), "An abstract.");
    p.id = format!("p{i}");
    let tag = format!("t{}", (i * 7) % tags);
    p.metadata
        .insert("tags".into(), serde_json::json!([tag, "all"]));
    p.metadata
        .insert("year".into(), serde_json::json!(2020 + i % 5));
    if i.is_multiple_of(50) {
        p.metadata.insert("rare".into(), serde_json::json!(true));
    }
    p
}

fn vector(i: usize) -> Vec<f32> {
    let v: Vec<f32> = (0..DIM)
        .map(|j| (((i * 31 + j * 17) % 97) as f32 - 48.0) + if j == i % DIM { 40.0 } else { 0.0 })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

/// A saved library of `n` papers in two segments (the first with a graph), `removed` gone.
fn library(dir: &Path, n: usize, tags: usize, removed: &[usize]) -> PaperMap {
    let half = n / 2;
    let mut map = PaperMap::builder()
        .fingerprint(reference_fingerprint())
        .hnsw_threshold(half)
        .build()
        .unwrap();
    let rows: Vec<f32> = (0..half).flat_map(vector).collect();
    map.add_embedded((0..half).map(|i| paper(i, tags)).collect(), &rows)
        .unwrap();
    map.save(dir).unwrap();
    let mut map = PaperMap::open(dir).unwrap();
    let rows: Vec<f32> = (half..n).flat_map(vector).collect();
    map.add_embedded((half..n).map(|i| paper(i, tags)).collect(), &rows)
        .unwrap();
    let ids: Vec<String> = removed.iter().map(|i| format!("p{i}")).collect();
    map.remove(ids.iter().map(String::as_str)).unwrap();
    map.save(dir).unwrap();
    PaperMap::open(dir).unwrap()
}

/// The best `k` live papers meeting `filter`, by brute force over every paper.
fn brute_force(map: &PaperMap, query: &[f32], k: usize, filter: &MetadataFilter) -> Vec<String> {
    let mut scored: Vec<(f32, String)> = map
        .papers()
        .unwrap()
        .into_iter()
        .filter(|p| filter.matches(p))
        .map(|p| (dot(query, map.vector(&p.id).unwrap().unwrap()), p.id))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, id)| id).collect()
}

fn search(map: &PaperMap, query: &[f32], k: usize, filter: &MetadataFilter) -> Vec<String> {
    let hits = map.search_vector(query, k, filter).unwrap();
    hits.into_iter().map(|h| h.id).collect()
}

#[test]
fn segments_carry_a_metadata_column_and_rare_filters_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let map = library(dir.path(), 400, 6, &[50, 7]);
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.iter().filter(|n| n.ends_with(".facets")).count(), 2);
    let query = vector(123);
    for filter in [
        MetadataFilter::new().eq("rare", "true"),
        MetadataFilter::new().eq("tags", "t3").eq("year", "2022"),
        MetadataFilter::new().eq("year", "2024"),
        MetadataFilter::new().eq("tags", "all"),
        MetadataFilter::new().eq("tags", "nowhere"),
    ] {
        let found = search(&map, &query, 10, &filter);
        assert!(
            found.iter().all(|id| id != "p50" && id != "p7"),
            "removed stay out"
        );
        let truth = brute_force(&map, &query, 10, &filter);
        // Below the HNSW threshold a filter is answered exactly; above it (tags=all), by the
        // graph, which must still return only accepted papers and find most of the best.
        if filter == MetadataFilter::new().eq("tags", "all") {
            assert_eq!(found.len(), 10);
            let shared = found.iter().filter(|id| truth.contains(id)).count();
            assert!(shared >= 8, "{found:?} vs {truth:?}");
        } else {
            assert_eq!(found, truth, "{filter:?}");
        }
    }
    assert!(PaperMap::check(dir.path()).is_ok());
}

#[test]
fn a_library_written_before_the_column_filters_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let map = library(dir.path(), 200, 4, &[3]);
    let query = vector(11);
    let filter = MetadataFilter::new().eq("tags", "t1");
    let with_column = search(&map, &query, 8, &filter);
    drop(map);
    // Drop the column from the manifest (and the disk): the shape of an older library.
    let path = dir.path().join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    for segment in manifest["segments"].as_array_mut().unwrap() {
        let files = segment["files"].as_array_mut().unwrap();
        files.retain(|f| f["role"] != "facets");
    }
    fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    for entry in fs::read_dir(dir.path()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().ends_with(".facets") {
            fs::remove_file(entry.path()).unwrap();
        }
    }
    let old = PaperMap::open(dir.path()).unwrap();
    assert_eq!(search(&old, &query, 8, &filter), with_column);
    // Unsaved papers are filtered too, and a save writes columns again.
    let mut old = old;
    old.add_embedded(vec![paper(1001, 4)], &vector(11)).unwrap();
    let tag_of_1001 = MetadataFilter::new().eq("tags", "t3");
    assert_eq!(search(&old, &vector(11), 1, &tag_of_1001), ["p1001"]);
    old.save(dir.path()).unwrap();
    let again = PaperMap::open(dir.path()).unwrap();
    assert_eq!(search(&again, &vector(11), 1, &tag_of_1001), ["p1001"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn filtered_search_is_the_brute_force_answer(
        tags in 2usize..20,
        tag in 0usize..20,
        year in proptest::option::of(2020usize..2025),
        q in 0usize..100,
    ) {
        let dir = tempfile::tempdir().unwrap();
        // Below the threshold in both segments: every answer must be exact.
        let map = {
            let mut map = PaperMap::builder()
                .fingerprint(reference_fingerprint())
                .hnsw_threshold(1000)
                .build()
                .unwrap();
            let rows: Vec<f32> = (0..100).flat_map(vector).collect();
            map.add_embedded((0..100).map(|i| paper(i, tags)).collect(), &rows).unwrap();
            map.save(dir.path()).unwrap();
            PaperMap::open(dir.path()).unwrap()
        };
        let mut filter = MetadataFilter::new().eq("tags", format!("t{tag}"));
        if let Some(y) = year {
            filter = filter.eq("year", y.to_string());
        }
        let query = vector(q);
        prop_assert_eq!(search(&map, &query, 5, &filter), brute_force(&map, &query, 5, &filter));
    }
}

/// Field and value are hashed apart: `a = "b\0c"` is not `a\0b = "c"`, and hits are checked
/// against the filter itself.
#[test]
fn terms_that_spell_the_same_bytes_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let mut map = PaperMap::builder()
        .fingerprint(reference_fingerprint())
        .build()
        .unwrap();
    let mut tricky = paper(1, 3);
    tricky
        .metadata
        .insert("a".into(), serde_json::json!("b\u{0}c"));
    map.add_embedded(vec![tricky, paper(2, 3)], &[vector(1), vector(2)].concat())
        .unwrap();
    map.save(dir.path()).unwrap();
    let map = PaperMap::open(dir.path()).unwrap();
    let q = vector(1);
    assert_eq!(
        search(&map, &q, 5, &MetadataFilter::new().eq("a", "b\u{0}c")),
        ["p1"]
    );
    assert!(search(&map, &q, 5, &MetadataFilter::new().eq("a\u{0}b", "c")).is_empty());
}
