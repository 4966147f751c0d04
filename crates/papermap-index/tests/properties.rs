//! Properties over arbitrary input: no panics, sorted and bounded output, exact agrees with
//! a naive scan, and HNSW agrees with exact where it searches exhaustively.

mod common;

use papermap_index::{ExactIndex, Hit, HnswIndex, HnswParams, VectorIndex};
use proptest::prelude::*;

const DIM: usize = 6;

/// Arbitrary finite vectors, normalised; all-zero ones are dropped.
fn unit_vectors(max: usize) -> impl Strategy<Value = Vec<Vec<f32>>> {
    prop::collection::vec(prop::collection::vec(-1e3f32..1e3, DIM), 0..max).prop_map(|vs| {
        vs.into_iter()
            .filter_map(|mut v| papermap_index::l2_normalize(&mut v).ok().map(|()| v))
            .collect()
    })
}

fn sorted_and_unique(hits: &[Hit]) -> bool {
    hits.windows(2)
        .all(|w| w[0].score > w[1].score || (w[0].score == w[1].score && w[0].key < w[1].key))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_vectors_any_k(vectors in unit_vectors(80), query in prop::collection::vec(-1e3f32..1e3, DIM),
                         k in 0usize..120, ef in 1usize..100, m in 2usize..24, remove_every in 1usize..5) {
        let params = HnswParams { m, ef_construction: m.max(20), ..HnswParams::default() };
        let mut exact = ExactIndex::new(DIM).unwrap();
        let mut hnsw = HnswIndex::new(DIM, params).unwrap();
        let keys: Vec<String> = (0..vectors.len()).map(|i| format!("k{i}")).collect();
        let rows: Vec<f32> = vectors.concat();
        exact.add_batch(&keys, &rows).unwrap();
        hnsw.add_batch(&keys, &rows).unwrap();
        for key in keys.iter().step_by(remove_every + 1) {
            prop_assert!(exact.remove(key));
            prop_assert!(hnsw.remove(key));
        }
        let mut q = query;
        if papermap_index::l2_normalize(&mut q).is_err() {
            prop_assert!(hnsw.search(&q, k).is_err());
            return Ok(());
        }
        let want = exact.search(&q, k).unwrap();
        let got = hnsw.search_with_ef(&q, k, ef).unwrap();
        prop_assert_eq!(want.len(), k.min(exact.len()));
        prop_assert!(got.len() <= want.len());
        prop_assert!(sorted_and_unique(&want));
        prop_assert!(sorted_and_unique(&got));
        prop_assert!(got.iter().all(|h| exact.contains(&h.key)), "removed key returned");
        // Exact scores are the naive dot products.
        for h in &want {
            let v = exact.vector(&h.key).unwrap();
            let naive: f32 = v.iter().zip(&q).map(|(a, b)| a * b).sum();
            prop_assert!((naive - h.score).abs() < 1e-5);
        }
        // No better vector was left out by the exact index.
        if let Some(last) = want.last() {
            let outside_better = keys.iter().filter(|k| exact.contains(k) && !want.iter().any(|h| &&h.key == k))
                .any(|k| {
                    let v = exact.vector(k).unwrap();
                    v.iter().zip(&q).map(|(a, b)| a * b).sum::<f32>() > last.score + 1e-5
                });
            prop_assert!(!outside_better);
        }
        // Slots within the beam are scanned exhaustively: HNSW equals exact there.
        if vectors.len() <= ef.max(k) {
            prop_assert_eq!(&got, &want);
        }
    }

    #[test]
    fn hostile_queries_never_panic(values in prop::collection::vec(prop_oneof![
            Just(f32::NAN), Just(f32::INFINITY), Just(0.0f32), -2.0f32..2.0], 0..10),
            k in 0usize..5) {
        for index in [VectorIndex::exact(DIM).unwrap(), VectorIndex::hnsw(DIM, HnswParams::default()).unwrap()] {
            let mut index = index;
            let _ = index.add("a", &values);
            let _ = index.search(&values, k);
            let _ = index.search_filtered(&values, k, |_| true);
            prop_assert!(index.len() <= 1);
        }
    }
}
