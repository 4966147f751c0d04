//! Approximate search: an HNSW graph built by hnsw_rs.

mod graph;
mod half;
mod layout;
mod params;
mod view;

use std::path::Path;
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::error::{IndexError, Result};
use crate::hits::{Hit, Ranked, TopK};
use crate::keys::KeyMap;
use crate::persist::{self, Expected, Manifest, Writer};
use crate::vector::{check_vector, key_subject, query_subject};
use graph::Graph;
pub(crate) use params::check_ef;
pub use params::{BuildMode, HnswParams};
use view::SearchView;

/// Approximate cosine search on an HNSW graph.
///
/// hnsw_rs builds and stores the graph; queries run on a flat copy of it (made lazily after
/// the graph changes, so prefer `add_batch` over many single `add`s between searches).
/// Removed keys become tombstones: they still route searches but are never returned, and
/// the graph is rebuilt without them once they exceed [`HnswParams::compact_ratio`].
pub struct HnswIndex {
    params: HnswParams,
    dim: usize,
    keys: KeyMap,
    graph: Graph,
    view: OnceLock<SearchView>,
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
            graph: Graph::new(&params, 1024),
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
        self.keys.id(key).map(|id| self.view().vector(id))
    }

    /// Identity of the embeddings, written by `save` and checked by `open`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Sets the identity of the embeddings (e.g. model name and revision).
    pub fn set_fingerprint(&mut self, fingerprint: impl Into<String>) {
        self.fingerprint = fingerprint.into();
    }

    fn view(&self) -> &SearchView {
        self.view.get_or_init(|| {
            self.graph
                .with(|h| SearchView::extract(h, self.keys.slots(), self.dim))
                // Ids in the graph come from our own key map (checked again on open).
                .expect("graph ids are within the key map")
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
        let items: Vec<(&[f32], usize)> = keys
            .iter()
            .zip(rows.chunks_exact(self.dim))
            .map(|(key, row)| (row, self.keys.push(key.as_ref()) as usize))
            .collect();
        self.graph.insert(&items, self.params.build, progress);
        self.view = OnceLock::new();
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
        let (keys, rows) = {
            let view = self.view();
            let mut keys = Vec::with_capacity(self.len());
            let mut rows = Vec::with_capacity(self.len() * self.dim);
            for (id, key) in self.keys.slots_iter().enumerate() {
                if let Some(key) = key {
                    keys.push(key.to_owned());
                    rows.extend_from_slice(view.vector(id as u32));
                }
            }
            (keys, rows)
        };
        let mut fresh = HnswIndex {
            params: self.params,
            dim: self.dim,
            keys: KeyMap::default(),
            graph: Graph::new(&self.params, keys.len()),
            view: OnceLock::new(),
            fingerprint: std::mem::take(&mut self.fingerprint),
        };
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
        let ef = ef.max(k);
        let accept = |id: u32| {
            self.keys
                .key(id)
                .is_some_and(|key| filter.is_none_or(|f| f(key)))
        };
        let view = self.view();
        // A graph no bigger than the beam is searched exhaustively: exact, and immune to
        // nodes the pruning heuristic left unreachable.
        let candidates = if self.keys.slots() <= ef {
            view.scan(query, &accept)
        } else {
            // Without filter or tombstones every id is a key: skip the per-candidate check.
            let restricted = filter.is_some() || self.keys.tombstones() > 0;
            view.search(
                query,
                ef,
                restricted.then_some(&accept as &dyn Fn(u32) -> bool),
            )
        };
        let mut top = TopK::new(k);
        for (score, id) in candidates {
            if let Some(key) = self.keys.key(id) {
                top.push(Ranked { score, key });
            }
        }
        Ok(top.into_hits())
    }

    /// Heap bytes held: hnsw_rs's graph (estimated), the flat search copy, the key map.
    pub fn memory_bytes(&self) -> usize {
        let n = self.graph.nb_points();
        // hnsw_rs: per point a Vec<f32>, 16 per-layer Vecs, an Arc'd lock, and one Arc'd
        // (point, distance) allocation per edge; edges counted from the flat copy.
        let view = self.view();
        let edges = view.edge_count();
        let hnsw_rs = n * (self.dim * 4 + 16 * 24 + 96) + edges * (8 + 40);
        hnsw_rs + view.memory_bytes() + self.keys.memory_bytes()
    }

    /// Writes the index to `dir` atomically (see the crate docs on persistence).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let mut w = Writer::begin(dir.as_ref())?;
        w.write_file("keys", "keys.json", |out| {
            persist::write_keys(out, self.keys.slots_iter())
        })?;
        if self.keys.slots() > 0 {
            let base = self.graph.dump(w.dir(), &w.name("graph"))?;
            w.adopt_file("graph", &format!("{base}.hnsw.graph"))?;
            w.adopt_file("data", &format!("{base}.hnsw.data"))?;
        }
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
            written_by: String::new(),
        })
    }

    /// Opens an index saved by [`save`](Self::save), refusing one that does not match
    /// `expected` or fails its checksums.
    pub fn open(dir: impl AsRef<Path>, expected: &Expected) -> Result<Self> {
        let dir = dir.as_ref();
        let m = persist::read_manifest(dir, expected, Some("hnsw"))?;
        persist::verify_files(dir, &m)?;
        Self::load(dir, &m)
    }

    pub(crate) fn load(dir: &Path, m: &Manifest) -> Result<Self> {
        let manifest_path = dir.join(persist::MANIFEST_FILE);
        let corrupt = |detail: String| IndexError::Corrupt {
            path: manifest_path.clone(),
            detail,
        };
        let params = m.hnsw.ok_or_else(|| corrupt("no hnsw parameters".into()))?;
        params.validate()?;
        crate::check_dim(m.dim)?;
        let keys = persist::read_keys(&m.file(dir, "keys")?, m.slots)?;
        if keys.len() != m.count {
            return Err(corrupt(format!(
                "{} live keys, manifest records {}",
                keys.len(),
                m.count
            )));
        }
        let graph = if m.slots == 0 {
            Graph::new(&params, 1024)
        } else {
            let graph_file = m.file(dir, "graph")?;
            let name = graph_file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let base = name.strip_suffix(".hnsw.graph").ok_or_else(|| {
                corrupt(format!("graph file {name:?} does not end in .hnsw.graph"))
            })?;
            if m.file(dir, "data")? != dir.join(format!("{base}.hnsw.data")) {
                return Err(corrupt(format!(
                    "data file does not belong to graph {base:?}"
                )));
            }
            Graph::load(dir, base)?
        };
        if graph.nb_points() != m.slots {
            return Err(IndexError::Corrupt {
                path: m.file(dir, "graph")?,
                detail: format!("{} points, manifest records {}", graph.nb_points(), m.slots),
            });
        }
        let view = graph
            .with(|h| SearchView::extract(h, m.slots, m.dim))
            .map_err(|detail| IndexError::Corrupt {
                path: dir.join(persist::MANIFEST_FILE),
                detail,
            })?;
        Ok(HnswIndex {
            params,
            dim: m.dim,
            keys,
            graph,
            view: OnceLock::from(view),
            fingerprint: m.fingerprint.clone(),
        })
    }
}
