//! A flat, read-only copy of the hnsw_rs graph that queries run on.
//!
//! hnsw_rs keeps every edge as an `Arc` behind a lock and allocates per visited node, which
//! makes its own search several times slower than hnswlib. Copying the graph into contiguous
//! arrays (layer-0 adjacency as CSR, vectors in breadth-first order on huge pages, see
//! `layout`), traversing with f16 copies of the vectors (see `half`) and rescoring the
//! results in f32 makes search faster than hnswlib's; the graph itself is still hnsw_rs's.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use super::graph::RsHnsw;
use super::half::HalfVectors;
use super::layout;
use crate::vector::dot;

pub(crate) struct SearchView {
    dim: usize,
    /// By position (see `layout`); positions of ids absent from the graph hold zeros and
    /// are never reached.
    vectors: Vec<f32>,
    /// The same rows in f16, scored during traversal (see `half`).
    halves: HalfVectors,
    /// Layer-0 neighbours of position `p`: `neighbors[offsets[p]..offsets[p + 1]]`.
    offsets: Vec<usize>,
    neighbors: Vec<u32>,
    /// `upper[l - 1]`: neighbours on layer `l` of the positions that reach it.
    upper: Vec<HashMap<u32, Box<[u32]>>>,
    /// Entry position and its top layer.
    entry: Option<(u32, usize)>,
    /// Dense id of each position, and position of each dense id.
    id_at: Vec<u32>,
    position: Vec<u32>,
}

/// A scored id; ordered by score, then by smaller id, so heaps are deterministic.
#[derive(Clone, Copy, PartialEq)]
struct Scored {
    score: f32,
    id: u32,
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

/// Visited marks, reused across queries on a thread: an epoch bump replaces clearing.
struct Visited {
    marks: Vec<u16>,
    epoch: u16,
}

thread_local! {
    static VISITED: RefCell<Visited> = const { RefCell::new(Visited { marks: Vec::new(), epoch: 0 }) };
}

impl SearchView {
    /// Copies the graph; `slots` bounds the dense ids. Fails on an id out of range.
    pub fn extract(h: &RsHnsw<'_>, slots: usize, dim: usize) -> Result<SearchView, String> {
        let mut vectors = layout::huge_page_buffer::<f32>(slots * dim);
        let mut level0: Vec<Vec<u32>> = vec![Vec::new(); slots];
        let mut upper: Vec<HashMap<u32, Box<[u32]>>> = Vec::new();
        let mut entry: Option<(u32, usize)> = None;
        let check = |id: usize| {
            if id < slots {
                Ok(id as u32)
            } else {
                Err(format!("graph holds id {id} but only {slots} keys"))
            }
        };
        // hnsw_rs's point iterator unwraps the entry point, so an empty graph must not reach it.
        let points = (h.get_nb_point() > 0).then(|| h.get_point_indexation());
        for point in points.into_iter().flatten() {
            let id = check(point.get_origin_id())?;
            let v = point.get_v();
            if v.len() != dim {
                return Err(format!("point {id} has {} dimensions, not {dim}", v.len()));
            }
            vectors[id as usize * dim..(id as usize + 1) * dim].copy_from_slice(v);
            let level = point.get_point_id().0 as usize;
            // Highest layer wins; among equals the smallest id, independent of iteration order.
            if entry.is_none_or(|(e, l)| level > l || (level == l && id < e)) {
                entry = Some((id, level));
            }
            for (layer, list) in point.get_neighborhood_id().into_iter().enumerate() {
                // hnsw_rs also records the greedy-descent hops of an insert on the layers above
                // the point's own; no search ever starts from those, so they are not copied.
                if list.is_empty() || layer > level {
                    continue;
                }
                let ids: Vec<u32> = list
                    .iter()
                    .map(|n| check(n.get_origin_id()))
                    .filter(|n| n.as_ref().map_or(true, |&n| n != id))
                    .collect::<Result<_, _>>()?;
                if layer == 0 {
                    level0[id as usize] = ids;
                } else {
                    if upper.len() < layer {
                        upper.resize_with(layer, HashMap::new);
                    }
                    upper[layer - 1].insert(id, ids.into_boxed_slice());
                }
            }
        }
        let id_at = layout::breadth_first(&level0, entry.map(|(e, _)| e));
        let mut position = vec![0u32; slots];
        for (pos, &id) in id_at.iter().enumerate() {
            position[id as usize] = pos as u32;
        }
        layout::permute_rows(&mut vectors, dim, &id_at);
        let mut offsets = Vec::with_capacity(slots + 1);
        let mut neighbors = Vec::with_capacity(level0.iter().map(Vec::len).sum());
        offsets.push(0);
        for &id in &id_at {
            neighbors.extend(level0[id as usize].iter().map(|&n| position[n as usize]));
            offsets.push(neighbors.len());
        }
        let upper = upper
            .into_iter()
            .map(|layer| {
                layer
                    .into_iter()
                    .map(|(id, list)| {
                        let list = list.iter().map(|&n| position[n as usize]).collect();
                        (position[id as usize], list)
                    })
                    .collect()
            })
            .collect();
        Ok(SearchView {
            dim,
            halves: HalfVectors::from_f32(&vectors, dim),
            vectors,
            offsets,
            neighbors,
            upper,
            entry: entry.map(|(id, level)| (position[id as usize], level)),
            id_at,
            position,
        })
    }

    /// The stored vector of dense id `id`.
    pub fn vector(&self, id: u32) -> &[f32] {
        self.at(self.position[id as usize])
    }

    #[inline]
    fn at(&self, pos: u32) -> &[f32] {
        let start = pos as usize * self.dim;
        &self.vectors[start..start + self.dim]
    }

    #[inline]
    fn level0(&self, id: u32) -> &[u32] {
        &self.neighbors[self.offsets[id as usize]..self.offsets[id as usize + 1]]
    }

    /// Layer-0 edges.
    pub fn edge_count(&self) -> usize {
        self.neighbors.len()
    }

    /// Heap bytes held by the view.
    pub fn memory_bytes(&self) -> usize {
        let upper: usize = self
            .upper
            .iter()
            .map(|m| m.capacity() * 32 + m.values().map(|v| v.len() * 4).sum::<usize>())
            .sum();
        self.vectors.capacity() * 4
            + self.offsets.capacity() * 8
            + self.neighbors.capacity() * 4
            + self.halves.memory_bytes()
            + (self.id_at.capacity() + self.position.capacity()) * 4
            + upper
    }

    /// Up to `ef` accepted ids closest to `query` with their exact scores, unordered.
    ///
    /// `accept: None` accepts every id. Rejected ids (filtered out or removed) still route
    /// the search, which then keeps going until it has `ef` accepted results or runs out of
    /// graph, as hnswlib does for filters and deletions.
    pub fn search(
        &self,
        query: &[f32],
        ef: usize,
        accept: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<(f32, u32)> {
        let Some((mut current, top_layer)) = self.entry else {
            return Vec::new();
        };
        let mut current_score = self.halves.dot(query, current);
        for layer in (1..=top_layer).rev() {
            let Some(links) = self.upper.get(layer - 1) else {
                continue;
            };
            let mut changed = true;
            while changed {
                changed = false;
                for &n in links.get(&current).map_or(&[][..], |l| &l[..]) {
                    let score = self.halves.dot(query, n);
                    if score > current_score {
                        (current, current_score) = (n, score);
                        changed = true;
                    }
                }
            }
        }
        let found = VISITED.with_borrow_mut(|visited| {
            self.beam(query, ef, accept, visited, current, current_score)
        });
        // Traversal ranked by f16 scores; callers get f32 ones.
        found
            .into_iter()
            .map(|pos| (dot(query, self.at(pos)), self.id_at[pos as usize]))
            .collect()
    }

    /// Positions of the best `ef` accepted candidates.
    fn beam(
        &self,
        query: &[f32],
        ef: usize,
        accept: Option<&dyn Fn(u32) -> bool>,
        visited: &mut Visited,
        start: u32,
        start_score: f32,
    ) -> Vec<u32> {
        let slots = self.offsets.len() - 1;
        if visited.marks.len() < slots {
            visited.marks.resize(slots, 0);
        }
        visited.epoch = visited.epoch.wrapping_add(1);
        if visited.epoch == 0 {
            visited.marks.fill(0);
            visited.epoch = 1;
        }
        let epoch = visited.epoch;
        let marks = &mut visited.marks;
        let accepted = |pos: u32| accept.is_none_or(|f| f(self.id_at[pos as usize]));

        // Best candidate on top; results keep the worst on top (Reverse).
        let mut candidates = BinaryHeap::with_capacity(ef * 2);
        let mut results: BinaryHeap<std::cmp::Reverse<Scored>> = BinaryHeap::with_capacity(ef + 1);
        let first = Scored {
            score: start_score,
            id: start,
        };
        marks[start as usize] = epoch;
        candidates.push(first);
        if accepted(start) {
            results.push(std::cmp::Reverse(first));
        }
        let mut bound = results.peek().map_or(f32::NEG_INFINITY, |w| w.0.score);
        let mut fresh: Vec<u32> = Vec::with_capacity(64);
        while let Some(c) = candidates.pop() {
            if c.score < bound && (results.len() >= ef || accept.is_none()) {
                break;
            }
            // Unvisited neighbours first, then score them while the next one's vector is
            // being fetched: the search is bound by memory latency, not arithmetic.
            fresh.clear();
            for &n in self.level0(c.id) {
                if marks[n as usize] != epoch {
                    marks[n as usize] = epoch;
                    fresh.push(n);
                }
            }
            if let Some(&first) = fresh.first() {
                self.halves.prefetch(first);
            }
            for (i, &n) in fresh.iter().enumerate() {
                if let Some(&next) = fresh.get(i + 1) {
                    self.halves.prefetch(next);
                }
                let score = self.halves.dot(query, n);
                if results.len() < ef || score > bound {
                    candidates.push(Scored { score, id: n });
                    if accepted(n) {
                        results.push(std::cmp::Reverse(Scored { score, id: n }));
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
        results.into_iter().map(|r| r.0.id).collect()
    }

    /// The accepted ids, scored exactly (used when the index is no larger than `ef`).
    pub fn scan(&self, query: &[f32], accept: &dyn Fn(u32) -> bool) -> Vec<(f32, u32)> {
        (0..(self.offsets.len() - 1) as u32)
            .filter(|&id| accept(id))
            .map(|id| (dot(query, self.vector(id)), id))
            .collect()
    }
}
