//! One type over both indexes, so callers switch between exact and HNSW freely.

use std::path::Path;

use crate::error::Result;
use crate::persist::{self, Expected};
use crate::{ExactIndex, Hit, HnswIndex, HnswParams};

/// Either index, chosen at run time. Every method forwards to the variant.
#[derive(Debug)]
// A program holds one or two indexes; boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum VectorIndex {
    /// Brute force: exact, linear in the collection size.
    Exact(ExactIndex),
    /// HNSW graph: approximate, logarithmic.
    Hnsw(HnswIndex),
}

macro_rules! forward {
    ($self:ident, $index:ident => $body:expr) => {
        match $self {
            VectorIndex::Exact($index) => $body,
            VectorIndex::Hnsw($index) => $body,
        }
    };
}

impl VectorIndex {
    /// An empty exact index.
    pub fn exact(dim: usize) -> Result<Self> {
        ExactIndex::new(dim).map(VectorIndex::Exact)
    }

    /// An empty HNSW index.
    pub fn hnsw(dim: usize, params: HnswParams) -> Result<Self> {
        HnswIndex::new(dim, params).map(VectorIndex::Hnsw)
    }

    /// `"exact"` or `"hnsw"`, as written in the manifest.
    pub fn kind(&self) -> &'static str {
        match self {
            VectorIndex::Exact(_) => "exact",
            VectorIndex::Hnsw(_) => "hnsw",
        }
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        forward!(self, i => i.dim())
    }

    /// Number of live vectors.
    pub fn len(&self) -> usize {
        forward!(self, i => i.len())
    }

    /// Whether the index holds no live vectors.
    pub fn is_empty(&self) -> bool {
        forward!(self, i => i.is_empty())
    }

    /// Whether `key` is in the index.
    pub fn contains(&self, key: &str) -> bool {
        forward!(self, i => i.contains(key))
    }

    /// The stored vector of `key`.
    pub fn vector(&self, key: &str) -> Option<&[f32]> {
        forward!(self, i => i.vector(key))
    }

    /// Identity of the embeddings, written by `save` and checked by `open`.
    pub fn fingerprint(&self) -> &str {
        forward!(self, i => i.fingerprint())
    }

    /// Sets the identity of the embeddings (e.g. model name and revision).
    pub fn set_fingerprint(&mut self, fingerprint: impl Into<String>) {
        forward!(self, i => i.set_fingerprint(fingerprint))
    }

    /// Adds one vector; a key already present is an error.
    pub fn add(&mut self, key: &str, vector: &[f32]) -> Result<()> {
        forward!(self, i => i.add(key, vector))
    }

    /// Adds vectors given row-major; all-or-nothing.
    pub fn add_batch<K: AsRef<str>>(&mut self, keys: &[K], rows: &[f32]) -> Result<()> {
        forward!(self, i => i.add_batch(keys, rows))
    }

    /// Adds `key` or replaces its vector; returns whether it was present.
    pub fn upsert(&mut self, key: &str, vector: &[f32]) -> Result<bool> {
        forward!(self, i => i.upsert(key, vector))
    }

    /// Removes `key`; returns whether it was present.
    pub fn remove(&mut self, key: &str) -> bool {
        forward!(self, i => i.remove(key))
    }

    /// The `k` most similar vectors, best first, ties by key.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        forward!(self, i => i.search(query, k))
    }

    /// [`search`](Self::search) with HNSW beam width `ef` (ignored by the exact index).
    pub fn search_with_ef(&self, query: &[f32], k: usize, ef: usize) -> Result<Vec<Hit>> {
        match self {
            VectorIndex::Exact(i) => i.search(query, k),
            VectorIndex::Hnsw(i) => i.search_with_ef(query, k, ef),
        }
    }

    /// The `k` most similar vectors among keys for which `filter` returns true.
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        filter: impl Fn(&str) -> bool,
    ) -> Result<Vec<Hit>> {
        forward!(self, i => i.search_filtered(query, k, filter))
    }

    /// Writes the index to `dir` atomically.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        forward!(self, i => i.save(dir))
    }

    /// Opens whichever kind of index `dir` holds, refusing one that does not match `expected`.
    pub fn open(dir: impl AsRef<Path>, expected: &Expected) -> Result<Self> {
        let dir = dir.as_ref();
        let m = persist::read_manifest(dir, expected, None)?;
        persist::verify_files(dir, &m)?;
        if m.kind == "hnsw" {
            HnswIndex::load(dir, &m).map(VectorIndex::Hnsw)
        } else if m.kind == "exact" {
            ExactIndex::load(dir, &m).map(VectorIndex::Exact)
        } else {
            Err(crate::IndexError::KindMismatch {
                dir: dir.into(),
                expected: "exact or hnsw",
                found: m.kind,
            })
        }
    }
}

impl From<ExactIndex> for VectorIndex {
    fn from(index: ExactIndex) -> Self {
        VectorIndex::Exact(index)
    }
}

impl From<HnswIndex> for VectorIndex {
    fn from(index: HnswIndex) -> Self {
        VectorIndex::Hnsw(index)
    }
}
