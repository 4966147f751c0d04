//! Nearest-neighbour search over L2-normalised embeddings, for papermap.
//!
//! Knows nothing of models or text: bring `f32` vectors of unit length and string keys
//! (paper ids such as `"2502.08279"`), get back [`Hit`]s `{ key, score }` where `score` is the
//! cosine similarity (dot product), sorted by score descending, ties by key.
//!
//! - [`ExactIndex`]: brute force with SIMD dot products; exact, for small collections and as
//!   ground truth.
//! - [`HnswIndex`]: an HNSW graph, papermap's own ([`build_graph`], [`GraphView`]);
//!   approximate, fast on large collections. [`BuildMode::Parallel`] is the default,
//!   [`BuildMode::Deterministic`] gives the same graph and answers for the same input,
//!   [`BuildMode::HnswRs`] builds with [hnsw_rs](https://docs.rs/hnsw_rs), the reference.
//! - [`VectorIndex`]: either one, so callers switch at run time.
//!
//! Keys are unique: `add` of a present key is [`IndexError::DuplicateKey`]; `upsert` replaces.
//! `remove` leaves a tombstone in the HNSW graph (never returned by searches); the graph is
//! rebuilt once tombstones pass [`HnswParams::compact_ratio`].
//! Bad input (wrong dimension, NaN, non-unit vector, out-of-range parameter) is a typed error,
//! never a panic.
//!
//! # HNSW: papermap's graph, hnsw_rs as the reference
//!
//! The graph is built here ([`build_graph`]): HNSW as in Malkov & Yashunin and hnswlib
//! (random levels, greedy descent, `ef_construction` beams, the neighbour-selection heuristic
//! for new and shrunk links), fixed-width link slots instead of per-edge allocations, parallel
//! inserts under per-node locks. It is stored in papermap's own versioned file format
//! ([`GraphData::write`]): links and an f16 copy of the vectors in breadth-first graph order,
//! sections aligned so that a memory-mapped file is searched in place by [`GraphView`], whose
//! opening checks header, footer and section sizes only. Traversal scores the f16 copy (half
//! the memory traffic) and results are rescored on the caller's f32 vectors, so returned
//! scores are exact cosines.
//!
//! hnsw_rs stays as the reference builder ([`BuildMode::HnswRs`], exported into the same
//! format; the tests hold papermap's graph to its recall) and as the reader of format-1
//! index directories, which stored hnsw_rs dumps. Its hazards stay out of reach: its
//! `DistDot` panics when rounding puts a·a above 1 (a clamped distance is used instead),
//! its point iterator panics on an empty graph, and `m > 256` calls `process::exit`.
//!
//! # Persistence
//!
//! `save(dir)` writes a `manifest.json` (format version, kind, metric, dimension, count, the
//! caller's fingerprint, size and xxh3 of every file) next to the data files (framed keys,
//! `.npy` f32 vectors and, for HNSW, the graph file), through the file protocol the library
//! uses (`papermap_store`). Data files go under a new generation name and the manifest is
//! replaced atomically last (temp file, rename, directory fsync), so a crash during `save`
//! leaves the previous index openable. Indexes of formats 1 and 2 (SHA-256) still open.
//! `open(dir, &Expected)` refuses a missing or truncated file, a checksum mismatch, a newer
//! format version, and a fingerprint or dimension other than expected.
//!
//! # Example
//!
//! ```
//! use papermap_index::{l2_normalize, Expected, HnswIndex, HnswParams, VectorIndex};
//!
//! # fn main() -> Result<(), papermap_index::IndexError> {
//! let mut index = VectorIndex::hnsw(3, HnswParams::default())?;
//! index.set_fingerprint("toy-model@1");
//! for (key, mut v) in [("a", [1.0, 0.0, 0.0]), ("b", [0.8, 0.6, 0.0]), ("c", [0.0, 0.0, 1.0])] {
//!     l2_normalize(&mut v)?;
//!     index.add(key, &v)?;
//! }
//! let hits = index.search(&[1.0, 0.0, 0.0], 2)?;
//! assert_eq!(hits[0].key, "a");
//! assert_eq!(hits[1].key, "b");
//! assert!((hits[1].score - 0.8).abs() < 1e-6);
//!
//! let dir = tempfile::tempdir().unwrap();
//! index.save(dir.path())?;
//! let reopened = VectorIndex::open(dir.path(), &Expected::new("toy-model@1", 3))?;
//! assert_eq!(reopened.search(&[1.0, 0.0, 0.0], 2)?, hits);
//! assert!(VectorIndex::open(dir.path(), &Expected::new("other-model", 3)).is_err());
//! # Ok(())
//! # }
//! ```

mod error;
mod exact;
mod graph;
mod hits;
mod hnsw;
mod keys;
mod persist;
mod vector;
mod vector_index;

pub use error::{IndexError, Result};
pub use exact::ExactIndex;
pub use graph::{
    build_graph, AlignedBytes, GraphData, GraphError, GraphView, GRAPH_FORMAT_VERSION,
};
pub use hits::Hit;
pub use hnsw::{BuildMode, HnswIndex, HnswParams};
pub use persist::{Expected, FORMAT_VERSION, MANIFEST_FILE};
pub use vector::{dot, l2_normalize, NORM_TOLERANCE};
pub use vector_index::VectorIndex;

pub(crate) fn check_dim(dim: usize) -> Result<()> {
    if dim == 0 || dim > 65536 {
        return Err(IndexError::InvalidParameter {
            name: "dim",
            value: dim.to_string(),
            fix: "use the embedding dimension, 1..=65536 (384 for all-MiniLM-L6-v2)",
        });
    }
    Ok(())
}

/// Shape and content of a batch; all rows are checked before anything is stored.
pub(crate) fn check_batch<K: AsRef<str>>(dim: usize, keys: &[K], rows: &[f32]) -> Result<()> {
    if rows.len() != keys.len() * dim {
        return Err(IndexError::BatchShape {
            keys: keys.len(),
            values: rows.len(),
            expected: keys.len() * dim,
        });
    }
    keys.iter()
        .zip(rows.chunks_exact(dim))
        .try_for_each(|(key, row)| {
            vector::check_vector(row, dim, vector::key_subject(key.as_ref()))
        })
}

pub(crate) fn check_query_batch(dim: usize, queries: &[f32]) -> Result<()> {
    if !queries.len().is_multiple_of(dim) {
        return Err(IndexError::BatchShape {
            keys: queries.len() / dim,
            values: queries.len(),
            expected: queries.len() / dim * dim,
        });
    }
    queries
        .chunks_exact(dim)
        .enumerate()
        .try_for_each(|(i, q)| vector::check_vector(q, dim, || format!("query {i} of the batch")))
}
