//! papermap's own HNSW graph: builder, versioned on-disk format, and a search that runs on
//! the file's bytes in place.
//!
//! - [`build_graph`] builds an HNSW graph over unit vectors (similarity = dot product) in
//!   parallel or, with [`BuildMode::Deterministic`](crate::BuildMode), sequentially and
//!   reproducibly (same rows, same bytes).
//! - [`GraphData::write`] stores it: layer-0 and upper-layer links in fixed-width slots and an
//!   f16 copy of the vectors, nodes in breadth-first graph order for locality, with the
//!   permutation back to input rows. The f32 vectors are not in the file; the caller keeps
//!   them (row = input order) and passes them to every search for exact rescoring.
//! - [`GraphView`] opens such bytes (a memory map, or [`AlignedBytes`]) after checking header,
//!   footer and section bounds only, O(1), and searches them.
//!
//! See `format` for the byte layout.

mod build;
mod bytes;
mod format;
pub(crate) mod half;
mod layout;
mod view;
mod visited;

use std::cmp::Ordering;

pub(crate) use build::GraphBuilder;
#[cfg(feature = "reference")]
pub(crate) use build::MAX_LEVEL;
pub use bytes::AlignedBytes;
pub use format::{GraphError, GRAPH_FORMAT_VERSION};
pub use view::GraphView;

use crate::error::Result;
use crate::{BuildMode, HnswParams};

/// A built graph in papermap's file layout, ready to [`write`](Self::write) or to open as a
/// [`GraphView`] through [`into_bytes`](Self::into_bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct GraphData {
    pub(crate) dim: usize,
    pub(crate) m: usize,
    /// Entry node (position) and its level; `None` for an empty graph.
    pub(crate) entry: Option<(u32, u8)>,
    /// Input row of the node at each position.
    pub(crate) id_at: Vec<u32>,
    /// `1 + 2m` words per position: link count, then neighbour positions.
    pub(crate) layer0: Vec<u32>,
    /// Positions of the nodes with upper layers, ascending.
    pub(crate) upper_nodes: Vec<u32>,
    /// `upper_nodes.len() + 1` word offsets into `upper_lists`; a node of level `L` owns
    /// `L · (1 + m)` words: per layer 1..=L a count, then `m` slots.
    pub(crate) upper_offsets: Vec<u32>,
    pub(crate) upper_lists: Vec<u32>,
    /// f16 bit patterns of the vectors, by position.
    pub(crate) halves: Vec<u16>,
}

impl GraphData {
    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of nodes (input rows).
    pub fn rows(&self) -> usize {
        self.id_at.len()
    }

    /// Links per node on the upper layers (twice that on layer 0).
    pub fn m(&self) -> usize {
        self.m
    }
}

/// A scored node; ordered by score, then by smaller id, so heaps and sorts are deterministic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scored {
    pub score: f32,
    pub id: u32,
}
impl Eq for Scored {}
impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.id.cmp(&self.id))
    }
}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Builds an HNSW graph over `vectors` (row-major, `dim` values per row, unit length).
///
/// Uses `params.m`, `params.ef_construction` and `params.build` (`Parallel`: rayon threads,
/// `Deterministic`: one thread, identical bytes for identical input; `HnswRs` builds with
/// hnsw_rs and exports its graph). Calls `progress(done, total)` every few thousand inserts.
/// Rows are validated (length, finiteness, unit norm) before anything is built.
pub fn build_graph(
    vectors: &[f32],
    dim: usize,
    params: &HnswParams,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<GraphData> {
    crate::check_dim(dim)?;
    params.validate()?;
    if !vectors.len().is_multiple_of(dim) {
        return Err(crate::IndexError::BatchShape {
            keys: vectors.len() / dim,
            values: vectors.len(),
            expected: vectors.len() / dim * dim,
        });
    }
    let rows = vectors.len() / dim;
    if rows > u32::MAX as usize - 1 {
        return Err(crate::IndexError::InvalidParameter {
            name: "number of vectors",
            value: rows.to_string(),
            fix: "a graph holds at most 2^32 - 2 vectors",
        });
    }
    for (i, row) in vectors.chunks_exact(dim).enumerate() {
        crate::vector::check_vector(row, dim, || format!("row {i}"))?;
    }
    let builder = match params.build {
        BuildMode::HnswRs => crate::hnsw::build_with_hnsw_rs(vectors, dim, params, progress)?,
        mode => {
            let mut b = GraphBuilder::new(dim, params.m, params.ef_construction);
            b.insert(vectors, 0, mode == BuildMode::Parallel, progress);
            b
        }
    };
    Ok(layout::graph_data(&builder, vectors))
}

pub(crate) use layout::{builder_from_view, graph_data};
