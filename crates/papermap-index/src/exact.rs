//! Brute-force search: exact answers, for small collections and as ground truth.

use std::path::Path;

use rayon::prelude::*;

use crate::error::{IndexError, Result};
use crate::hits::{Hit, Ranked, TopK};
use crate::keys::KeyMap;
use crate::persist::{self, Expected, Manifest, Writer};
use crate::vector::{check_vector, dot, key_subject, query_subject};

/// Exact cosine search over vectors stored contiguously.
///
/// Every query scans all vectors with SIMD dot products; `search_batch` amortises the scan
/// over many queries and runs on the rayon pool.
#[derive(Debug, Clone)]
pub struct ExactIndex {
    dim: usize,
    keys: KeyMap,
    rows: Vec<f32>,
    fingerprint: String,
}

/// Rows per parallel slice of a single-query scan (6 MB of 384-d vectors).
const PARALLEL_SLICE: usize = 4096;

/// Queries handled per pass over the vectors in `search_batch`: 32 × 384 f32 stays in L2.
const QUERY_BLOCK: usize = 32;

impl ExactIndex {
    /// An empty index of `dim`-dimensional vectors.
    pub fn new(dim: usize) -> Result<Self> {
        crate::check_dim(dim)?;
        Ok(ExactIndex {
            dim,
            keys: KeyMap::default(),
            rows: Vec::new(),
            fingerprint: String::new(),
        })
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the index holds no vectors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `key` is in the index.
    pub fn contains(&self, key: &str) -> bool {
        self.keys.id(key).is_some()
    }

    /// The stored vector of `key`.
    pub fn vector(&self, key: &str) -> Option<&[f32]> {
        self.keys.id(key).map(|id| self.row(id))
    }

    /// Identity of the embeddings, written by `save` and checked by `open`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Sets the identity of the embeddings (e.g. model name and revision).
    pub fn set_fingerprint(&mut self, fingerprint: impl Into<String>) {
        self.fingerprint = fingerprint.into();
    }

    #[inline]
    fn row(&self, id: u32) -> &[f32] {
        let start = id as usize * self.dim;
        &self.rows[start..start + self.dim]
    }

    /// Adds one vector; a key already present is an error (see [`upsert`](Self::upsert)).
    pub fn add(&mut self, key: &str, vector: &[f32]) -> Result<()> {
        self.add_batch(&[key], vector)
    }

    /// Adds `keys.len()` vectors given row-major in `rows`. All-or-nothing: on error nothing
    /// is added.
    pub fn add_batch<K: AsRef<str>>(&mut self, keys: &[K], rows: &[f32]) -> Result<()> {
        crate::check_batch(self.dim, keys, rows)?;
        self.keys.check_new(keys)?;
        for key in keys {
            self.keys.push(key.as_ref());
        }
        self.rows.extend_from_slice(rows);
        Ok(())
    }

    /// Adds `key`, or replaces its vector; returns whether it was present.
    pub fn upsert(&mut self, key: &str, vector: &[f32]) -> Result<bool> {
        check_vector(vector, self.dim, key_subject(key))?;
        match self.keys.id(key) {
            Some(id) => {
                let start = id as usize * self.dim;
                self.rows[start..start + self.dim].copy_from_slice(vector);
                Ok(true)
            }
            None => self.add(key, vector).map(|()| false),
        }
    }

    /// Removes `key`; returns whether it was present. The last vector moves into its slot.
    pub fn remove(&mut self, key: &str) -> bool {
        let Some((id, last)) = self.keys.swap_remove(key) else {
            return false;
        };
        if id != last {
            let (dst, src) = (id as usize * self.dim, last as usize * self.dim);
            self.rows.copy_within(src..src + self.dim, dst);
        }
        self.rows.truncate(last as usize * self.dim);
        true
    }

    /// The `k` most similar vectors, best first, ties by key.
    ///
    /// Large indexes are scanned in parallel slices on the rayon pool: a scan is bound by
    /// memory bandwidth, which one core does not saturate.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        check_vector(query, self.dim, query_subject)?;
        let n = self.keys.len();
        if n < 2 * PARALLEL_SLICE || rayon::current_num_threads() == 1 {
            return Ok(self.scan(query, k, 0..n, &|_| true).into_hits());
        }
        let slices: Vec<TopK> = (0..n.div_ceil(PARALLEL_SLICE))
            .into_par_iter()
            .map(|s| {
                let rows = s * PARALLEL_SLICE..((s + 1) * PARALLEL_SLICE).min(n);
                self.scan(query, k, rows, &|_| true)
            })
            .collect();
        let mut top = TopK::new(k);
        slices
            .into_iter()
            .flat_map(TopK::into_ranked)
            .for_each(|r| top.push(r));
        Ok(top.into_hits())
    }

    /// Like [`search`](Self::search) over only the keys for which `filter` returns true
    /// (on the calling thread, so the filter need not be `Sync`).
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        filter: impl Fn(&str) -> bool,
    ) -> Result<Vec<Hit>> {
        check_vector(query, self.dim, query_subject)?;
        Ok(self.scan(query, k, 0..self.keys.len(), &filter).into_hits())
    }

    fn scan(
        &self,
        query: &[f32],
        k: usize,
        rows: std::ops::Range<usize>,
        filter: &dyn Fn(&str) -> bool,
    ) -> TopK<'_> {
        let mut top = TopK::new(k);
        for id in rows.start as u32..rows.end as u32 {
            let score = dot(query, self.row(id));
            if top.admits(score) {
                let key = self.key(id);
                if filter(key) {
                    top.push(Ranked { score, key });
                }
            }
        }
        top
    }

    /// Searches `queries` (row-major, `dim` values each) in parallel; one hit list per query.
    pub fn search_batch(&self, queries: &[f32], k: usize) -> Result<Vec<Vec<Hit>>> {
        crate::check_query_batch(self.dim, queries)?;
        let blocks: Vec<Vec<Vec<Hit>>> = queries
            .par_chunks(self.dim * QUERY_BLOCK)
            .map(|block| self.scan_block(block, k))
            .collect();
        Ok(blocks.into_iter().flatten().collect())
    }

    /// One pass over all vectors for a block of queries, so each vector is loaded once.
    fn scan_block(&self, block: &[f32], k: usize) -> Vec<Vec<Hit>> {
        let queries: Vec<&[f32]> = block.chunks_exact(self.dim).collect();
        let mut tops: Vec<TopK> = queries.iter().map(|_| TopK::new(k)).collect();
        for id in 0..self.keys.len() as u32 {
            let row = self.row(id);
            for (q, top) in queries.iter().zip(tops.iter_mut()) {
                let score = dot(q, row);
                if top.admits(score) {
                    top.push(Ranked {
                        score,
                        key: self.key(id),
                    });
                }
            }
        }
        tops.into_iter().map(TopK::into_hits).collect()
    }

    #[inline]
    fn key(&self, id: u32) -> &str {
        // Exact ids are dense: every id below len has a key.
        self.keys.key(id).unwrap_or_default()
    }

    /// Bytes of heap memory held per vector (vectors plus key map), for capacity planning.
    pub fn memory_bytes(&self) -> usize {
        self.rows.capacity() * 4 + self.keys.memory_bytes()
    }

    /// Writes the index to `dir` atomically (see the crate docs on persistence).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let mut w = Writer::begin(dir.as_ref())?;
        w.keys(self.keys.slots_iter())?;
        w.vectors(&self.rows, self.keys.slots(), self.dim)?;
        w.commit(self.manifest())
    }

    fn manifest(&self) -> Manifest {
        Manifest {
            format: String::new(),
            format_version: 0,
            kind: "exact".into(),
            metric: "cosine".into(),
            dim: self.dim,
            count: self.len(),
            slots: self.keys.slots(),
            fingerprint: self.fingerprint.clone(),
            generation: 0,
            hnsw: None,
            files: Vec::new(),
            legacy_sha256: Vec::new(),
            written_by: String::new(),
        }
    }

    /// Opens an index saved by [`save`](Self::save), refusing one that does not match
    /// `expected` or fails its checksums.
    pub fn open(dir: impl AsRef<Path>, expected: &Expected) -> Result<Self> {
        let dir = dir.as_ref();
        let m = persist::read_manifest(dir, expected, Some("exact"))?;
        persist::verify_files(dir, &m)?;
        Self::load(dir, &m)
    }

    pub(crate) fn load(dir: &Path, m: &Manifest) -> Result<Self> {
        let keys = persist::read_keys(dir, m)?;
        if keys.tombstones() != 0 || keys.len() != m.count {
            return Err(IndexError::Corrupt {
                path: m.file(dir, "keys")?,
                detail: "exact index keys must be dense".into(),
            });
        }
        let rows = persist::read_vectors(dir, m)?;
        crate::check_dim(m.dim)?;
        Ok(ExactIndex {
            dim: m.dim,
            keys,
            rows,
            fingerprint: m.fingerprint.clone(),
        })
    }
}
