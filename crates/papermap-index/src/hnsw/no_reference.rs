//! Without the `reference` feature there is no hnsw_rs: [`HnswParams::validate`] refuses
//! `BuildMode::HnswRs`, and a format-1 index (an hnsw_rs dump) is refused with the fix.

use std::path::Path;

use super::HnswParams;
use crate::error::{IndexError, Result};
use crate::graph::GraphBuilder;

fn needs_feature(path: &Path) -> IndexError {
    IndexError::Corrupt {
        path: path.into(),
        detail: "an hnsw_rs graph: build papermap-index with its `reference` feature to read or build one".into(),
    }
}

/// Refused: validated parameters never ask for it without the feature.
pub(crate) fn build_with_hnsw_rs(
    _vectors: &[f32],
    _dim: usize,
    _params: &HnswParams,
    _progress: &mut dyn FnMut(usize, usize),
) -> Result<GraphBuilder> {
    Err(needs_feature(Path::new("graph built by hnsw_rs")))
}

/// Refused: a format-1 dump needs hnsw_rs to read.
pub(crate) fn load_v1(
    dir: &Path,
    basename: &str,
    _slots: usize,
    _dim: usize,
    _params: &HnswParams,
) -> Result<(GraphBuilder, Vec<f32>)> {
    Err(needs_feature(&dir.join(format!("{basename}.hnsw.graph"))))
}
