//! `save` and `open` of an HNSW index: keys, f32 vectors and the graph file (formats 2–3), or
//! a format-1 directory's hnsw_rs dump, exported into papermap's graph on open.

use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use super::{reference, HnswIndex, HnswParams};
use crate::error::{IndexError, Result};
use crate::graph::{AlignedBytes, GraphBuilder, GraphView};
use crate::persist::{self, Expected, Manifest, Writer};

impl HnswIndex {
    /// Writes the index to `dir` atomically (see the crate docs on persistence).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let mut w = Writer::begin(dir.as_ref())?;
        w.keys(self.keys.slots_iter())?;
        w.vectors(&self.vectors, self.keys.slots(), self.dim)?;
        w.graph(self.view().bytes().as_ref())?;
        w.commit(Manifest {
            format: String::new(),
            format_version: 0,
            kind: "hnsw".into(),
            metric: "cosine".into(),
            dim: self.dim,
            count: self.len(),
            slots: self.keys.slots(),
            fingerprint: self.fingerprint.clone(),
            generation: 0,
            hnsw: Some(self.params),
            files: Vec::new(),
            legacy_sha256: Vec::new(),
            written_by: String::new(),
        })
    }

    /// Opens an index saved by [`save`](Self::save), refusing one that does not match
    /// `expected` or fails its checksums. Format-1 indexes (hnsw_rs dumps) are read too.
    pub fn open(dir: impl AsRef<Path>, expected: &Expected) -> Result<Self> {
        let dir = dir.as_ref();
        let m = persist::read_manifest(dir, expected, Some("hnsw"))?;
        persist::verify_files(dir, &m)?;
        Self::load(dir, &m)
    }

    pub(crate) fn load(dir: &Path, m: &Manifest) -> Result<Self> {
        let corrupt = |path: &Path, detail: String| IndexError::Corrupt {
            path: path.into(),
            detail,
        };
        let manifest_path = dir.join(persist::MANIFEST_FILE);
        let params = m
            .hnsw
            .ok_or_else(|| corrupt(&manifest_path, "no hnsw parameters".into()))?;
        params.validate()?;
        crate::check_dim(m.dim)?;
        let keys = persist::read_keys(dir, m)?;
        if keys.len() != m.count {
            let detail = format!("{} live keys, manifest records {}", keys.len(), m.count);
            return Err(corrupt(&manifest_path, detail));
        }
        let mut index = HnswIndex::new(m.dim, params)?;
        index.keys = keys;
        index.fingerprint = m.fingerprint.clone();
        if m.format_version == 1 {
            if m.slots > 0 {
                let (builder, vectors) = load_v1(dir, m, &params)?;
                index.builder = Some(builder);
                index.vectors = vectors;
            }
            return Ok(index);
        }
        let graph_path = m.file(dir, "graph")?;
        index.vectors = persist::read_vectors(dir, m)?;
        let view = GraphView::new(read_aligned(&graph_path)?)
            .map_err(|e| corrupt(&graph_path, e.to_string()))?;
        view.expect_shape(m.dim, m.slots)
            .map_err(|e| corrupt(&graph_path, e.to_string()))?;
        if view.m() != params.m {
            let detail = format!("graph has m = {}, manifest {}", view.m(), params.m);
            return Err(corrupt(&graph_path, detail));
        }
        index.view = OnceLock::from(view);
        Ok(index)
    }
}

/// A format-1 directory's hnsw_rs dump, exported into papermap's graph.
fn load_v1(dir: &Path, m: &Manifest, params: &HnswParams) -> Result<(GraphBuilder, Vec<f32>)> {
    let graph_file = m.file(dir, "graph")?;
    let corrupt = |detail: String| IndexError::Corrupt {
        path: graph_file.clone(),
        detail,
    };
    let name = graph_file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let base = name
        .strip_suffix(".hnsw.graph")
        .ok_or_else(|| corrupt(format!("graph file {name:?} does not end in .hnsw.graph")))?;
    if m.file(dir, "data")? != dir.join(format!("{base}.hnsw.data")) {
        return Err(corrupt(format!(
            "data file does not belong to graph {base:?}"
        )));
    }
    reference::load_v1(dir, base, m.slots, m.dim, params)
}

/// A whole file in an aligned buffer (read once: it was just checksummed anyway).
fn read_aligned(path: &Path) -> Result<AlignedBytes> {
    let mut file = std::fs::File::open(path).map_err(IndexError::io(path))?;
    let len = file.metadata().map_err(IndexError::io(path))?.len() as usize;
    let mut bytes = AlignedBytes::zeroed(len);
    file.read_exact(bytes.as_mut())
        .map_err(IndexError::io(path))?;
    Ok(bytes)
}
