//! Search behaviour of both indexes: recall, determinism, removal, filters, edge cases.

mod common;

use common::{clustered, keys, recall};
use papermap_index::{BuildMode, ExactIndex, Hit, HnswIndex, HnswParams, IndexError, VectorIndex};

const DIM: usize = 48;

fn deterministic() -> HnswParams {
    HnswParams {
        build: BuildMode::Deterministic,
        ..HnswParams::default()
    }
}

fn build(n: usize, params: HnswParams, seed: u64) -> (HnswIndex, ExactIndex, Vec<f32>) {
    let rows = clustered(n, DIM, 20, 0.35, seed);
    let keys = keys(n);
    let mut hnsw = HnswIndex::new(DIM, params).unwrap();
    hnsw.add_batch(&keys, &rows).unwrap();
    let mut exact = ExactIndex::new(DIM).unwrap();
    exact.add_batch(&keys, &rows).unwrap();
    (hnsw, exact, rows)
}

fn assert_sorted(hits: &[Hit]) {
    for w in hits.windows(2) {
        assert!(
            w[0].score > w[1].score || (w[0].score == w[1].score && w[0].key < w[1].key),
            "not sorted: {w:?}"
        );
    }
}

#[test]
fn hnsw_recall_against_exact_on_seeded_clusters() {
    let (hnsw, exact, _) = build(4000, HnswParams::default(), 7);
    let queries = clustered(200, DIM, 20, 0.35, 99);
    let mut total = 0.0;
    for q in queries.chunks_exact(DIM) {
        let truth = exact.search(q, 10).unwrap();
        let got = hnsw.search_with_ef(q, 10, 64).unwrap();
        assert_eq!(got.len(), 10);
        assert_sorted(&got);
        total += recall(&got, &truth);
        // Traversal ranks by f16 scores; what comes back is the f32 cosine.
        for hit in &got {
            let stored = exact.vector(&hit.key).unwrap();
            let naive: f32 = q.iter().zip(stored).map(|(a, b)| a * b).sum();
            assert!((hit.score - naive).abs() < 1e-6, "{hit:?} vs {naive}");
        }
    }
    let mean = total / 200.0;
    assert!(mean >= 0.97, "recall@10 at ef=64 is {mean}");
}

#[test]
fn exact_search_matches_naive_scores() {
    let (_, exact, rows) = build(500, deterministic(), 3);
    let q = &rows[DIM * 17..DIM * 18];
    let hits = exact.search(q, 500).unwrap();
    assert_eq!(hits.len(), 500);
    assert_eq!(hits[0].key, "p00017");
    assert_sorted(&hits);
    for h in &hits {
        let i: usize = h.key[1..].parse().unwrap();
        let naive: f32 = q
            .iter()
            .zip(&rows[i * DIM..(i + 1) * DIM])
            .map(|(a, b)| a * b)
            .sum();
        assert!((h.score - naive).abs() < 1e-5, "{h:?} vs {naive}");
    }
    // Batch search gives the same lists as one-at-a-time search.
    let queries = &rows[..DIM * 40];
    let batch = exact.search_batch(queries, 7).unwrap();
    for (q, b) in queries.chunks_exact(DIM).zip(&batch) {
        assert_eq!(&exact.search(q, 7).unwrap(), b);
    }
}

#[test]
fn parallel_exact_scan_equals_sequential_scan() {
    let n = 12_000;
    let rows = clustered(n, 8, 50, 0.3, 12);
    let mut exact = ExactIndex::new(8).unwrap();
    exact.add_batch(&keys(n), &rows).unwrap();
    for q in rows.chunks_exact(8).step_by(1999) {
        let parallel = exact.search(q, 25).unwrap();
        assert_eq!(parallel.len(), 25);
        assert_eq!(parallel, exact.search_filtered(q, 25, |_| true).unwrap());
    }
}

#[test]
fn deterministic_builds_are_identical() {
    let (a, _, _) = build(1500, deterministic(), 11);
    let (b, _, _) = build(1500, deterministic(), 11);
    let queries = clustered(50, DIM, 20, 0.35, 5);
    for q in queries.chunks_exact(DIM) {
        let (ha, hb) = (a.search(q, 10).unwrap(), b.search(q, 10).unwrap());
        assert_eq!(ha, hb);
    }
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    a.save(da.path()).unwrap();
    b.save(db.path()).unwrap();
    for name in [
        "g000001-graph.pmg",
        "g000001-vectors.npy",
        "g000001-keys.pmk",
    ] {
        let fa = std::fs::read(da.path().join(name)).unwrap();
        let fb = std::fs::read(db.path().join(name)).unwrap();
        assert!(fa == fb, "{name} differs between two deterministic builds");
    }
}

#[test]
fn removed_keys_never_come_back() {
    let mut params = deterministic();
    params.compact_ratio = 0.5;
    let (mut hnsw, _, rows) = build(1200, params, 21);
    let removed: Vec<String> = (0..1200).step_by(3).map(|i| format!("p{i:05}")).collect();
    for key in &removed {
        assert!(hnsw.remove(key));
        assert!(!hnsw.remove(key), "second remove of {key} reported success");
    }
    assert_eq!(hnsw.len(), 800);
    assert_eq!(hnsw.tombstones(), 400, "no compaction below the ratio");
    let check = |hnsw: &HnswIndex| {
        for i in (0..1200).step_by(7) {
            let q = &rows[i * DIM..(i + 1) * DIM];
            let hits = hnsw.search(q, 20).unwrap();
            assert_eq!(hits.len(), 20);
            assert!(
                hits.iter().all(|h| !removed.contains(&h.key)),
                "removed key returned"
            );
            if i % 3 != 0 {
                assert_eq!(hits[0].key, format!("p{i:05}"), "live vector finds itself");
            }
        }
    };
    check(&hnsw);
    // Past the ratio the graph is rebuilt without the tombstones.
    for i in (1..1200).step_by(3).take(300) {
        assert!(hnsw.remove(&format!("p{i:05}")));
    }
    // The 601st tombstone passed 0.5 × 1200 slots and triggered a rebuild; the 99 removals
    // after it are tombstones in the rebuilt (599-slot) graph.
    assert_eq!(hnsw.tombstones(), 99, "compaction should have run once");
    assert_eq!(hnsw.len(), 500);
    let all_removed: Vec<String> = (0..1200)
        .filter(|i| i % 3 == 0 || (i % 3 == 1 && *i < 900))
        .map(|i| format!("p{i:05}"))
        .collect();
    for i in (2..1200).step_by(3) {
        let q = &rows[i * DIM..(i + 1) * DIM];
        let hits = hnsw.search(q, 10).unwrap();
        assert_eq!(hits[0].key, format!("p{i:05}"));
        assert!(hits.iter().all(|h| !all_removed.contains(&h.key)));
    }
}

#[test]
fn filters_are_honoured_by_both_indexes() {
    let (hnsw, exact, rows) = build(2000, HnswParams::default(), 4);
    let keep = |key: &str| key.ends_with('7');
    for i in (0..2000).step_by(97) {
        let q = &rows[i * DIM..(i + 1) * DIM];
        let want = exact.search_filtered(q, 10, keep).unwrap();
        assert_eq!(want.len(), 10);
        assert!(want.iter().all(|h| keep(&h.key)));
        let got = hnsw.search_filtered(q, 10, keep).unwrap();
        assert_eq!(got.len(), 10, "a 10% filter still fills k");
        assert!(got.iter().all(|h| keep(&h.key)));
        assert!(recall(&got, &want) >= 0.8);
    }
    // A filter nobody passes gives nothing, one key passing gives exactly it.
    let q = &rows[..DIM];
    assert!(hnsw.search_filtered(q, 5, |_| false).unwrap().is_empty());
    let one = hnsw.search_filtered(q, 5, |k| k == "p01234").unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].key, "p01234");
}

#[test]
fn empty_index_and_large_k() {
    for mut index in [
        VectorIndex::exact(4).unwrap(),
        VectorIndex::hnsw(4, HnswParams::default()).unwrap(),
    ] {
        let q = [0.5f32, 0.5, 0.5, 0.5];
        assert!(index.search(&q, 10).unwrap().is_empty(), "{}", index.kind());
        assert!(index.search_filtered(&q, 10, |_| true).unwrap().is_empty());
        index.add("a", &[1.0, 0.0, 0.0, 0.0]).unwrap();
        index.add("b", &[0.0, 1.0, 0.0, 0.0]).unwrap();
        index.add("c", &[0.0, 0.0, 1.0, 0.0]).unwrap();
        let hits = index.search(&q, 1000).unwrap();
        assert_eq!(
            hits.len(),
            3,
            "{}: k > len returns everything",
            index.kind()
        );
        // Equal scores: ties broken by key.
        let keys: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert!(index.search(&q, 0).unwrap().is_empty());
        assert!(index.remove("b"));
        let keys: Vec<String> = index
            .search(&q, 10)
            .unwrap()
            .into_iter()
            .map(|h| h.key)
            .collect();
        assert_eq!(keys, ["a", "c"]);
        assert_eq!(index.len(), 2);
    }
}

#[test]
fn ef_below_k_still_returns_k() {
    let (hnsw, _, rows) = build(3000, HnswParams::default(), 8);
    let hits = hnsw.search_with_ef(&rows[..DIM], 50, 1).unwrap();
    assert_eq!(hits.len(), 50);
    assert_sorted(&hits);
}

#[test]
fn duplicates_upserts_and_all_or_nothing_batches() {
    for mut index in [
        VectorIndex::exact(2).unwrap(),
        VectorIndex::hnsw(2, HnswParams::default()).unwrap(),
    ] {
        index.add("x", &[1.0, 0.0]).unwrap();
        let err = index.add("x", &[0.0, 1.0]).unwrap_err();
        assert!(matches!(err, IndexError::DuplicateKey { ref key } if key == "x"));
        // One bad row (not unit length) rejects the whole batch.
        let err = index
            .add_batch(&["y", "z"], &[0.0, 1.0, 3.0, 4.0])
            .unwrap_err();
        assert!(err.to_string().contains("\"z\""), "{err}");
        assert_eq!(index.len(), 1);
        assert!(!index.contains("y"));
        let err = index
            .add_batch(&["y", "y"], &[0.0, 1.0, 0.0, 1.0])
            .unwrap_err();
        assert!(matches!(err, IndexError::DuplicateKey { .. }));
        let err = index.add_batch(&["y"], &[0.0, 1.0, 0.0]).unwrap_err();
        assert!(matches!(err, IndexError::BatchShape { .. }));
        assert!(index.upsert("x", &[0.0, 1.0]).unwrap(), "x was present");
        assert!(!index.upsert("w", &[-1.0, 0.0]).unwrap());
        assert_eq!(index.len(), 2);
        assert_eq!(index.vector("x"), Some(&[0.0f32, 1.0][..]));
        let hits = index.search(&[0.0, 1.0], 5).unwrap();
        assert_eq!(
            hits.len(),
            2,
            "{}: upsert must not leave a second copy",
            index.kind()
        );
        assert_eq!((hits[0].key.as_str(), hits[0].score), ("x", 1.0));
    }
}

#[test]
fn bad_parameters_and_queries_are_errors() {
    for m in [0, 1, 300] {
        let params = HnswParams {
            m,
            ..HnswParams::default()
        };
        assert!(matches!(
            HnswIndex::new(8, params),
            Err(IndexError::InvalidParameter { name: "m", .. })
        ));
    }
    let bad_ratio = HnswParams {
        compact_ratio: f32::NAN,
        ..HnswParams::default()
    };
    assert!(HnswIndex::new(8, bad_ratio).is_err());
    assert!(HnswIndex::new(0, HnswParams::default()).is_err());
    assert!(ExactIndex::new(0).is_err());
    let mut index = HnswIndex::new(2, HnswParams::default()).unwrap();
    index.add("a", &[1.0, 0.0]).unwrap();
    assert!(matches!(
        index.search_with_ef(&[1.0, 0.0], 1, 0),
        Err(IndexError::InvalidParameter { .. })
    ));
    assert!(matches!(
        index.search(&[1.0], 1),
        Err(IndexError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        index.search(&[f32::NAN, 0.0], 1),
        Err(IndexError::NonFinite { .. })
    ));
    assert!(matches!(
        index.search(&[0.0, 0.0], 1),
        Err(IndexError::NotNormalized { .. })
    ));
    assert!(matches!(
        index.add("b", &[2.0, 0.0]),
        Err(IndexError::NotNormalized { .. })
    ));
    // A vector a hair above unit norm (hnsw_rs's DistDot panics on these) is accepted.
    index.add("c", &[1.000_000_6, 0.0]).unwrap();
    assert_eq!(index.search(&[1.0, 0.0], 2).unwrap().len(), 2);
}
