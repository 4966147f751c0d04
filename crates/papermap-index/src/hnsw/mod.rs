//! Approximate search: papermap's own HNSW graph (see `crate::graph`).

mod params;
#[cfg(feature = "reference")]
mod reference;
#[cfg(not(feature = "reference"))]
#[path = "no_reference.rs"]
mod reference;
mod store;

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::error::{IndexError, Result};
use crate::graph::{self, AlignedBytes, GraphBuilder, GraphView};
use crate::hits::{Hit, Ranked, TopK};
use crate::keys::KeyMap;
use crate::vector::{check_vector, dot, key_subject, query_subject};
pub(crate) use params::check_ef;
pub use params::{BuildMode, HnswParams};
pub(crate) use reference::build_with_hnsw_rs;

/// Approximate cosine search on an HNSW graph.
///
/// The graph is papermap's own (built in parallel, or sequentially and reproducibly, or by
/// hnsw_rs as a reference: [`BuildMode`]); queries run on its file layout in memory (made
/// lazily after the graph changes, so prefer `add_batch` over many single `add`s between
/// searches). Removed keys become tombstones: they still route searches but are never
/// returned, and the graph is rebuilt without them once they exceed
/// [`HnswParams::compact_ratio`].
pub struct HnswIndex {
    params: HnswParams,
    dim: usize,
    keys: KeyMap,
    /// f32 rows by dense id, tombstones included; traversal uses the graph's f16 copy,
    /// results are rescored on these.
    vectors: Vec<f32>,
    /// The graph by dense id, while it takes inserts; `None` after `open` until the next add.
    builder: Option<GraphBuilder>,
    /// The graph file's bytes, searched in place; made from `builder` when first needed.
    view: OnceLock<GraphView<AlignedBytes>>,
    fingerprint: String,
}

impl std::fmt::Debug for HnswIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HnswIndex")
            .field("dim", &self.dim)
            .field("len", &self.len())
            .field("tombstones", &self.keys.tombstones())
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl HnswIndex {
    /// An empty index of `dim`-dimensional vectors.
    pub fn new(dim: usize, params: HnswParams) -> Result<Self> {
        crate::check_dim(dim)?;
        params.validate()?;
        Ok(HnswIndex {
            params,
            dim,
            keys: KeyMap::default(),
            vectors: Vec::new(),
            builder: None,
            view: OnceLock::new(),
            fingerprint: String::new(),
        })
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of live (not removed) vectors.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the index holds no live vectors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removed entries still in the graph (until the next compaction).
    pub fn tombstones(&self) -> usize {
        self.keys.tombstones()
    }

    /// Construction and search parameters.
    pub fn params(&self) -> &HnswParams {
        &self.params
    }

    /// Changes the default beam width of `search`.
    pub fn set_ef_search(&mut self, ef: usize) -> Result<()> {
        check_ef(ef)?;
        self.params.ef_search = ef;
        Ok(())
    }

    /// Whether `key` is in the index.
    pub fn contains(&self, key: &str) -> bool {
        self.keys.id(key).is_some()
    }

    /// The stored vector of `key`.
    pub fn vector(&self, key: &str) -> Option<&[f32]> {
        let id = self.keys.id(key)? as usize;
        self.vectors.get(id * self.dim..(id + 1) * self.dim)
    }

    /// Identity of the embeddings, written by `save` and checked by `open`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Sets the identity of the embeddings (e.g. model name and revision).
    pub fn set_fingerprint(&mut self, fingerprint: impl Into<String>) {
        self.fingerprint = fingerprint.into();
    }

    /// The graph in its file layout; laid out from the builder after a change.
    fn view(&self) -> &GraphView<AlignedBytes> {
        self.view.get_or_init(|| {
            let empty;
            let builder = match &self.builder {
                Some(b) => b,
                None => {
                    // Only an index that never had a row gets here (`open` sets the view).
                    empty = GraphBuilder::new(self.dim, self.params.m, self.params.ef_construction);
                    &empty
                }
            };
            GraphView::new(graph::graph_data(builder, &self.vectors).into_bytes())
                .expect("a freshly written graph opens")
        })
    }

    /// Adds one vector; a key already present is an error (see [`upsert`](Self::upsert)).
    pub fn add(&mut self, key: &str, vector: &[f32]) -> Result<()> {
        self.add_batch(&[key], vector)
    }

    /// Adds `keys.len()` vectors given row-major in `rows`. All-or-nothing: on error nothing
    /// is added.
    pub fn add_batch<K: AsRef<str>>(&mut self, keys: &[K], rows: &[f32]) -> Result<()> {
        self.add_batch_with_progress(keys, rows, &mut |_, _| {})
    }

    /// [`add_batch`](Self::add_batch) calling `progress(done, total)` as the build advances.
    pub fn add_batch_with_progress<K: AsRef<str>>(
        &mut self,
        keys: &[K],
        rows: &[f32],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<()> {
        crate::check_batch(self.dim, keys, rows)?;
        self.keys.check_new(keys)?;
        let mut builder = match (self.builder.take(), self.view.get()) {
            (Some(b), _) => b,
            // After `open`: back to nodes by id. The file passed its checksum, so its links
            // are the ones this crate wrote; a range check still guards the conversion.
            (None, Some(view)) => graph::builder_from_view(view, self.params.ef_construction)
                .map_err(|detail| IndexError::Corrupt {
                    path: "graph of the opened index".into(),
                    detail,
                })?,
            (None, None) => GraphBuilder::new(self.dim, self.params.m, self.params.ef_construction),
        };
        self.view = OnceLock::new();
        let first = self.keys.slots();
        keys.iter().for_each(|key| {
            self.keys.push(key.as_ref());
        });
        self.vectors.extend_from_slice(rows);
        match self.params.build {
            BuildMode::HnswRs => {
                builder = build_with_hnsw_rs(&self.vectors, self.dim, &self.params, progress)?
            }
            mode => builder.insert(&self.vectors, first, mode == BuildMode::Parallel, progress),
        }
        self.builder = Some(builder);
        Ok(())
    }

    /// Adds `key`, or replaces its vector; returns whether it was present.
    pub fn upsert(&mut self, key: &str, vector: &[f32]) -> Result<bool> {
        check_vector(vector, self.dim, key_subject(key))?;
        let replaced = self.keys.tombstone(key).is_some();
        self.add(key, vector)?;
        self.maybe_compact();
        Ok(replaced)
    }

    /// Removes `key`; returns whether it was present. May compact (rebuild) the graph.
    pub fn remove(&mut self, key: &str) -> bool {
        let removed = self.keys.tombstone(key).is_some();
        if removed {
            self.maybe_compact();
        }
        removed
    }

    fn maybe_compact(&mut self) {
        let slots = self.keys.slots();
        if self.keys.tombstones() as f32 > self.params.compact_ratio * slots as f32 {
            self.compact();
        }
    }

    /// Rebuilds the graph from the live vectors only, dropping all tombstones.
    pub fn compact(&mut self) {
        if self.keys.tombstones() == 0 {
            return;
        }
        let mut keys = Vec::with_capacity(self.len());
        let mut rows = Vec::with_capacity(self.len() * self.dim);
        for (id, key) in self.keys.slots_iter().enumerate() {
            if let Some(key) = key {
                keys.push(key.to_owned());
                rows.extend_from_slice(&self.vectors[id * self.dim..(id + 1) * self.dim]);
            }
        }
        let mut fresh = HnswIndex::new(self.dim, self.params).expect("parameters were validated");
        fresh.fingerprint = std::mem::take(&mut self.fingerprint);
        fresh
            .add_batch(&keys, &rows)
            .expect("live vectors were validated when added");
        *self = fresh;
    }

    /// The `k` most similar live vectors at the default `ef_search`, best first, ties by key.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        self.search_impl(query, k, self.params.ef_search, None)
    }

    /// [`search`](Self::search) with beam width `ef` (raised to `k` when smaller).
    pub fn search_with_ef(&self, query: &[f32], k: usize, ef: usize) -> Result<Vec<Hit>> {
        check_ef(ef)?;
        self.search_impl(query, k, ef, None)
    }

    /// Like [`search`](Self::search) over only the keys for which `filter` returns true.
    /// A selective filter makes the search visit more of the graph.
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        filter: impl Fn(&str) -> bool,
    ) -> Result<Vec<Hit>> {
        self.search_impl(query, k, self.params.ef_search, Some(&filter))
    }

    /// [`search_filtered`](Self::search_filtered) with beam width `ef`.
    pub fn search_filtered_with_ef(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: impl Fn(&str) -> bool,
    ) -> Result<Vec<Hit>> {
        check_ef(ef)?;
        self.search_impl(query, k, ef, Some(&filter))
    }

    /// Searches `queries` (row-major, `dim` values each) in parallel at beam width `ef`.
    pub fn search_batch(&self, queries: &[f32], k: usize, ef: usize) -> Result<Vec<Vec<Hit>>> {
        check_ef(ef)?;
        crate::check_query_batch(self.dim, queries)?;
        queries
            .par_chunks(self.dim)
            .map(|q| self.search_impl(q, k, ef, None))
            .collect()
    }

    fn search_impl(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<&dyn Fn(&str) -> bool>,
    ) -> Result<Vec<Hit>> {
        check_vector(query, self.dim, query_subject)?;
        if k == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        let ef = ef.max(k).min(65536);
        let accept = |id: u32| {
            self.keys
                .key(id)
                .is_some_and(|key| filter.is_none_or(|f| f(key)))
        };
        let slots = self.keys.slots();
        // A graph no bigger than the beam is searched exhaustively: exact, and immune to
        // nodes the pruning heuristic left unreachable.
        let candidates = if slots <= ef {
            (0..slots as u32)
                .filter(|&id| accept(id))
                .map(|id| {
                    let row = &self.vectors[id as usize * self.dim..(id as usize + 1) * self.dim];
                    (dot(query, row), id)
                })
                .collect()
        } else {
            // Without filter or tombstones every id is a key: skip the per-candidate check.
            let restricted = filter.is_some() || self.keys.tombstones() > 0;
            self.view().search_best(
                &self.vectors,
                query,
                k,
                ef,
                restricted.then_some(&accept as &dyn Fn(u32) -> bool),
            )?
        };
        let mut top = TopK::new(k);
        for (score, id) in candidates {
            if let Some(key) = self.keys.key(id) {
                top.push(Ranked { score, key });
            }
        }
        Ok(top.into_hits())
    }

    /// Heap bytes held: f32 vectors, the builder's link slots, the graph file (links and
    /// f16 vectors), the key map.
    pub fn memory_bytes(&self) -> usize {
        self.vectors.capacity() * 4
            + self.builder.as_ref().map_or(0, GraphBuilder::memory_bytes)
            + self.view().bytes().capacity()
            + self.keys.memory_bytes()
    }
}
