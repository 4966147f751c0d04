//! Any bytes as a graph file: opening refuses them or yields a view whose searches return.
#![no_main]

// Only its seed writer is used here.
#[allow(dead_code)]
#[path = "library.rs"]
mod library;

use libfuzzer_sys::fuzz_target;
use papermap_index::{AlignedBytes, GraphView};

fuzz_target!(init: library::write_seeds("graph"), |data: &[u8]| {
    let Ok(view) = GraphView::new(AlignedBytes::copy_from(data)) else {
        return;
    };
    let (dim, rows) = (view.dim(), view.rows());
    // Vectors for the shape the header claims (bounded: a fuzzer's header may claim billions).
    if dim == 0 || rows.saturating_mul(dim) > 1 << 20 {
        return;
    }
    let vectors = vec![1.0 / (dim as f32).sqrt(); rows * dim];
    let query = vectors[..dim].to_vec();
    let _ = view.search(&vectors, &query, 10, None);
    let odd = |id: u32| id % 2 == 1;
    let _ = view.search(&vectors, &query, 10, Some(&odd));
});
