//! Search on a graph file's bytes, in place.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::format::{self, GraphError, Header};
use super::visited::with_visited;
use super::{half, Scored};
use crate::error::{IndexError, Result};
use crate::vector::dot;

/// A graph file opened for search: a memory map (`memmap2::Mmap`) in production, or
/// [`AlignedBytes`](super::AlignedBytes) in memory.
///
/// [`new`](Self::new) checks header, footer and section bounds, O(1); the sections are then
/// read in place, never copied.
pub struct GraphView<B: AsRef<[u8]>> {
    bytes: B,
    header: Header,
}

impl<B: AsRef<[u8]>> std::fmt::Debug for GraphView<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphView")
            .field("dim", &self.header.dim)
            .field("rows", &self.header.rows)
            .field("m", &self.header.m)
            .finish_non_exhaustive()
    }
}

/// The sections of one view as slices, resolved once per search.
pub(crate) struct Sections<'a> {
    pub id_at: &'a [u32],
    pub layer0: &'a [u32],
    pub upper_nodes: &'a [u32],
    pub upper_offsets: &'a [u32],
    pub upper_lists: &'a [u32],
    pub halves: &'a [u16],
}

impl<B: AsRef<[u8]>> GraphView<B> {
    /// Opens graph file bytes; refuses short, truncated, foreign, misaligned or inconsistent
    /// ones and files of another format version.
    pub fn new(bytes: B) -> std::result::Result<Self, GraphError> {
        let header = format::parse(bytes.as_ref())?;
        Ok(GraphView { bytes, header })
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.header.dim
    }

    /// Number of nodes (rows of the vectors it was built on).
    pub fn rows(&self) -> usize {
        self.header.rows
    }

    /// Links per node on the upper layers (twice that on layer 0).
    pub fn m(&self) -> usize {
        self.header.m
    }

    /// Refuses a graph of another dimension or row count than expected (a swapped file).
    pub fn expect_shape(&self, dim: usize, rows: usize) -> std::result::Result<(), GraphError> {
        if (dim, rows) != (self.header.dim, self.header.rows) {
            return Err(GraphError::ShapeMismatch {
                expected_dim: dim,
                expected_rows: rows,
                dim: self.header.dim,
                rows: self.header.rows,
            });
        }
        Ok(())
    }

    /// The underlying bytes.
    pub fn bytes(&self) -> &B {
        &self.bytes
    }

    /// Gives the bytes back.
    pub fn into_inner(self) -> B {
        self.bytes
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    pub(crate) fn sections(&self) -> Sections<'_> {
        let b = self.bytes.as_ref();
        // `parse` checked bounds and alignment; a byte source that changed since (a file
        // truncated under its map is outside what any reader can guard) reads as empty.
        let words = |i: usize| -> &[u32] {
            b.get(self.header.sections[i].clone())
                .and_then(|s| bytemuck::try_cast_slice(s).ok())
                .unwrap_or(&[])
        };
        Sections {
            id_at: words(0),
            layer0: words(1),
            upper_nodes: words(2),
            upper_offsets: words(3),
            upper_lists: words(4),
            halves: b
                .get(self.header.sections[5].clone())
                .and_then(|s| bytemuck::try_cast_slice(s).ok())
                .unwrap_or(&[]),
        }
    }

    /// Layer-0 links of the node at `pos`.
    #[inline]
    pub(crate) fn layer0_links<'a>(&self, s: &Sections<'a>, pos: u32) -> &'a [u32] {
        let w = 1 + 2 * self.header.m;
        let start = pos as usize * w;
        match s.layer0.get(start..start + w) {
            Some(slots) => &slots[1..=(slots[0] as usize).min(w - 1)],
            None => &[],
        }
    }

    /// Links on `layer` (≥ 1) of the `i`-th node with upper layers; empty when it has none.
    pub(crate) fn upper_links<'a>(&self, s: &Sections<'a>, i: usize, layer: u8) -> &'a [u32] {
        let w = 1 + self.header.m;
        let (Some(&start), Some(&end)) = (s.upper_offsets.get(i), s.upper_offsets.get(i + 1))
        else {
            return &[];
        };
        let at = start as usize + (layer as usize - 1) * w;
        if layer == 0 || at + w > end as usize {
            return &[];
        }
        match s.upper_lists.get(at..at + w) {
            Some(slots) => &slots[1..=(slots[0] as usize).min(w - 1)],
            None => &[],
        }
    }

    #[inline]
    fn half_row<'a>(&self, s: &Sections<'a>, pos: u32) -> &'a [u16] {
        let dim = self.header.dim;
        s.halves
            .get(pos as usize * dim..(pos as usize + 1) * dim)
            .unwrap_or(&[])
    }

    /// Up to `ef` accepted rows nearest `query`, best first, with exact f32 scores.
    ///
    /// `vectors` are the f32 rows the graph was built on (row-major, input order, unit
    /// length); results name rows by their index there. Traversal scores the file's f16
    /// copies; the results are rescored against `vectors`. `accept: None` accepts every row;
    /// rejected rows (filtered out, removed) still route the search, which keeps going until it
    /// holds `ef` accepted rows or runs out of graph, as hnswlib does for filters and deletions.
    pub fn search(
        &self,
        vectors: &[f32],
        query: &[f32],
        ef: usize,
        accept: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<(f32, u32)>> {
        self.search_best(vectors, query, ef, ef, accept)
    }

    /// [`search`](Self::search) for a caller that keeps only the best `k` (≤ `ef`): the walk is
    /// the same, but only the rows whose f16 score leaves them a chance of the f32 top `k` are
    /// rescored and returned, so the first `k` results are those `search` would give.
    pub fn search_best(
        &self,
        vectors: &[f32],
        query: &[f32],
        k: usize,
        ef: usize,
        accept: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<(f32, u32)>> {
        let (dim, rows) = (self.header.dim, self.header.rows);
        if vectors.len() != rows * dim {
            return Err(GraphError::ShapeMismatch {
                expected_dim: dim,
                expected_rows: vectors.len() / dim,
                dim,
                rows,
            }
            .into());
        }
        if query.len() != dim {
            return Err(IndexError::DimensionMismatch {
                subject: crate::vector::query_subject(),
                expected: dim,
                got: query.len(),
            });
        }
        crate::hnsw::check_ef(ef)?;
        let Some((entry, top)) = self.header.entry else {
            return Ok(Vec::new());
        };
        let s = self.sections();
        let mut cur = Scored {
            score: half::dot(query, self.half_row(&s, entry)),
            id: entry,
        };
        for layer in (1..=top).rev() {
            let mut changed = true;
            while changed {
                changed = false;
                let links = match s.upper_nodes.binary_search(&cur.id) {
                    Ok(i) => self.upper_links(&s, i, layer),
                    Err(_) => &[],
                };
                for &n in links {
                    let score = half::dot(query, self.half_row(&s, n));
                    if (n as usize) < rows && score > cur.score {
                        cur = Scored { score, id: n };
                        changed = true;
                    }
                }
            }
        }
        let found = with_visited(rows, |visited| {
            let accepted = |pos: u32| {
                accept.is_none_or(|f| {
                    // A damaged id (past the rows) is never handed to the filter.
                    s.id_at
                        .get(pos as usize)
                        .is_some_and(|&id| (id as usize) < rows && f(id))
                })
            };
            // Best candidate on top; results keep the worst on top.
            let mut candidates = BinaryHeap::with_capacity(ef * 2);
            let mut results: BinaryHeap<Reverse<Scored>> = BinaryHeap::with_capacity(ef + 1);
            visited.insert(cur.id);
            candidates.push(cur);
            if accepted(cur.id) {
                results.push(Reverse(cur));
            }
            let mut bound = results.peek().map_or(f32::NEG_INFINITY, |w| w.0.score);
            let mut fresh: Vec<u32> = Vec::with_capacity(2 * self.header.m);
            while let Some(c) = candidates.pop() {
                if c.score < bound && (results.len() >= ef || accept.is_none()) {
                    break;
                }
                // Unvisited neighbours first, then score them while the next ones' vectors
                // are being fetched (PREFETCH_AHEAD): the search is bound by memory latency.
                fresh.clear();
                let links = self.layer0_links(&s, c.id);
                for &n in links {
                    visited.prefetch(n);
                }
                fresh.extend(
                    links
                        .iter()
                        .copied()
                        .filter(|&n| (n as usize) < rows && visited.insert(n)),
                );
                for &n in fresh.iter().take(PREFETCH_AHEAD) {
                    half::prefetch(self.half_row(&s, n).as_ptr(), dim * 2);
                }
                for (i, &n) in fresh.iter().enumerate() {
                    if let Some(&next) = fresh.get(i + PREFETCH_AHEAD) {
                        half::prefetch(self.half_row(&s, next).as_ptr(), dim * 2);
                    }
                    let score = half::dot(query, self.half_row(&s, n));
                    if results.len() < ef || score > bound {
                        candidates.push(Scored { score, id: n });
                        if accepted(n) {
                            results.push(Reverse(Scored { score, id: n }));
                            if results.len() > ef {
                                results.pop();
                            }
                        }
                        if let Some(w) = results.peek() {
                            bound = w.0.score;
                        }
                    }
                }
            }
            results.into_vec()
        });
        let found = rescore_candidates(found, k, query);
        // Traversal ranked by f16 scores; callers get f32 ones. The f32 rows are far apart in
        // a mapped file: each one is fetched while the one before it is scored.
        let rows_of: Vec<(u32, &[f32])> = found
            .iter()
            .filter_map(|r| {
                let id = *s.id_at.get(r.0.id as usize)? as usize;
                Some((id as u32, vectors.get(id * dim..(id + 1) * dim)?))
            })
            .collect();
        if let Some((_, row)) = rows_of.first() {
            half::prefetch(row.as_ptr(), dim * 4);
        }
        let mut out: Vec<(f32, u32)> = Vec::with_capacity(rows_of.len());
        for (i, &(id, row)) in rows_of.iter().enumerate() {
            if let Some((_, next)) = rows_of.get(i + 1) {
                half::prefetch(next.as_ptr(), dim * 4);
            }
            out.push((dot(query, row), id));
        }
        out.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok(out)
    }
}

/// How many neighbours' rows ahead of the one being scored the walk asks memory for. One
/// ahead left the walk waiting on the row's first load (62% of the f16 dot's samples at
/// 1,000,000 rows); 3 and 8 both answered ~10% more related queries per second under load.
const PREFETCH_AHEAD: usize = 3;

/// The walk's results (f16 scores) that can be among the f32 top `k`. An f16 copy of a unit
/// row is off by at most 2^-11 of its length per component (round to nearest; subnormals
/// less), so its score is off by at most `slack = |q|·2^-11` (Cauchy-Schwarz), plus summation
/// rounding. A row whose f16 score is below the `k`-th best f16 score by more than twice the
/// slack scores below each of those `k` rows in f32 too: it is dropped without being fetched.
fn rescore_candidates(
    mut found: Vec<Reverse<Scored>>,
    k: usize,
    query: &[f32],
) -> Vec<Reverse<Scored>> {
    if k == 0 || found.len() <= k {
        return found;
    }
    let norm = query.iter().map(|x| x * x).sum::<f32>().sqrt();
    let slack = norm * (1.0 / 2048.0) * 1.01 + 1e-5;
    found.sort_unstable_by(|a, b| b.0.score.total_cmp(&a.0.score));
    let cut = found[k - 1].0.score - 2.0 * slack;
    found.retain(|r| r.0.score >= cut);
    found
}
