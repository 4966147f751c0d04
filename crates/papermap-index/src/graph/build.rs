//! HNSW construction (Malkov & Yashunin 2018, as hnswlib implements it).
//!
//! Every node gets a random top level (`floor(-ln U · mL)`, `mL = 1/ln m`, `U` drawn from a
//! hash of the seed and the node id, so a node's level does not depend on thread timing or on
//! how rows were batched). An insert descends greedily through the layers above its own, then
//! on each of its layers runs an `ef_construction` beam, keeps at most `m` of the results by
//! the neighbour-selection heuristic (algorithm 4: a candidate is kept only if it is closer to
//! the new node than to every neighbour kept before it, which keeps links pointing in diverse
//! directions) and links back from each of them; a neighbour whose list is full is shrunk by
//! the same heuristic.
//!
//! Links live in fixed-width slots (`1 + 2m` words per node on layer 0, `1 + m` per upper
//! layer: a count then the ids), so the graph is a few flat arrays and no edge allocates.
//! Parallel inserts follow hnswlib's locking: a node's list is copied under its lock while
//! searching and rewritten under it when linking; an insert that raises the top level holds
//! the entry-point lock throughout.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

use rayon::prelude::*;

use super::visited::with_visited;
use super::Scored;
use crate::vector::dot;

/// Highest layer a node can get (hnsw_rs's limit too); reached with probability ~m^-16.
pub(crate) const MAX_LEVEL: u8 = 15;
/// Inserts between progress callbacks.
const PROGRESS_EVERY: usize = 4096;

/// Nodes inserted one at a time before inserts run in parallel. Concurrent inserts into a graph of a few
/// dozen nodes all see the same near-empty graph and link to the same few nodes, then the neighbour
/// pruning of their reverse links can leave some of them unreachable: on 99 vectors that cost up to 7 of
/// 99 top-1 answers, varying from run to run. A thousand sequential inserts are a few milliseconds.
const SEQUENTIAL_PREFIX: usize = 1000;
/// Level sampling seed; fixed so that the same rows always get the same levels.
const LEVEL_SEED: u64 = 0x7061_7065_726d_6170;

fn lock(m: &Mutex<()>) -> MutexGuard<'_, ()> {
    // The data a lock guards are atomics that are always consistent, so poisoning is moot.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// splitmix64 of `x`: a cheap, well-mixed hash for level sampling.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The top layer of node `id` for links-per-node `m`.
pub(crate) fn random_level(id: u32, m: usize) -> u8 {
    // Uniform in (0, 1]: never ln(0).
    let u = ((mix(LEVEL_SEED ^ id as u64) >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let level = -u.ln() / (m.max(2) as f64).ln();
    level.min(MAX_LEVEL as f64) as u8
}

/// A graph under construction, nodes by input row id.
pub(crate) struct GraphBuilder {
    pub(crate) dim: usize,
    /// Links per node on upper layers; layer 0 has `2 m`.
    pub(crate) m: usize,
    ef_construction: usize,
    pub(crate) levels: Vec<u8>,
    /// `1 + 2m` words per node: count, then ids.
    pub(crate) layer0: Vec<AtomicU32>,
    /// Start of node `i`'s upper lists in `upper` (`level · (1 + m)` words), if it has any.
    pub(crate) upper_start: Vec<usize>,
    pub(crate) upper: Vec<AtomicU32>,
    locks: Vec<Mutex<()>>,
    /// Entry node and its level; `None` while the graph is empty.
    pub(crate) entry: Mutex<Option<(u32, u8)>>,
}

/// Per-insert scratch, so the hot loops do not allocate.
#[derive(Default)]
struct Scratch {
    links: Vec<u32>,
    fresh: Vec<u32>,
}

impl GraphBuilder {
    /// An empty graph; `m` and `ef_construction` were validated by the caller.
    pub fn new(dim: usize, m: usize, ef_construction: usize) -> GraphBuilder {
        GraphBuilder {
            dim,
            m,
            ef_construction,
            levels: Vec::new(),
            layer0: Vec::new(),
            upper_start: Vec::new(),
            upper: Vec::new(),
            locks: Vec::new(),
            entry: Mutex::new(None),
        }
    }

    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn width0(&self) -> usize {
        2 * self.m
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.levels.capacity()
            + (self.layer0.capacity() + self.upper.capacity()) * 4
            + self.upper_start.capacity() * 8
            + self.locks.capacity() * std::mem::size_of::<Mutex<()>>()
    }

    /// Appends nodes of the given levels, without links.
    pub fn push_nodes(&mut self, levels: impl IntoIterator<Item = u8>) {
        for level in levels {
            let level = level.min(MAX_LEVEL);
            self.levels.push(level);
            self.layer0
                .extend((0..=self.width0()).map(|_| AtomicU32::new(0)));
            self.upper_start.push(self.upper.len());
            let words = level as usize * (1 + self.m);
            self.upper.extend((0..words).map(|_| AtomicU32::new(0)));
            self.locks.push(Mutex::new(()));
        }
    }

    /// The slots of `node` on `layer`: count first. `layer` must not exceed its level.
    #[inline]
    pub(crate) fn slots(&self, node: u32, layer: u8) -> &[AtomicU32] {
        if layer == 0 {
            let w = 1 + self.width0();
            &self.layer0[node as usize * w..(node as usize + 1) * w]
        } else {
            let w = 1 + self.m;
            let start = self.upper_start[node as usize] + (layer as usize - 1) * w;
            &self.upper[start..start + w]
        }
    }

    /// Replaces the links of `node` on `layer` (caller holds its lock or owns the builder).
    pub(crate) fn set_links(&self, node: u32, layer: u8, links: impl IntoIterator<Item = u32>) {
        let slots = self.slots(node, layer);
        let mut count = 0;
        for (slot, id) in slots[1..].iter().zip(links) {
            slot.store(id, Relaxed);
            count += 1;
        }
        slots[0].store(count, Relaxed);
    }

    /// Copies the links of `node` on `layer` into `out`, under the node's lock.
    #[inline]
    fn copy_links(&self, node: u32, layer: u8, out: &mut Vec<u32>) {
        out.clear();
        let slots = self.slots(node, layer);
        let _guard = lock(&self.locks[node as usize]);
        let count = (slots[0].load(Relaxed) as usize).min(slots.len() - 1);
        out.extend(slots[1..=count].iter().map(|s| s.load(Relaxed)));
    }

    /// Inserts rows `first..vectors.len() / dim` (row-major, nodes already pushed or pushed
    /// here with their random levels), in order or in parallel.
    pub fn insert(
        &mut self,
        vectors: &[f32],
        first: usize,
        parallel: bool,
        progress: &mut dyn FnMut(usize, usize),
    ) {
        let end = vectors.len() / self.dim;
        if self.len() < end {
            let m = self.m;
            self.push_nodes((self.len()..end).map(|id| random_level(id as u32, m)));
        }
        let total = end - first;
        let mut next = first;
        if next < end && self.entry.get_mut().map_or(true, |e| e.is_none()) {
            // The first node only becomes the entry point; no other insert may race it.
            *self.entry.get_mut().unwrap_or_else(|e| e.into_inner()) =
                Some((next as u32, self.levels[next]));
            next += 1;
        }
        let this = &*self;
        while next < end {
            let stop = (next + PROGRESS_EVERY).min(end);
            let sequential_until = SEQUENTIAL_PREFIX.min(stop);
            if next < sequential_until {
                let mut s = Scratch::default();
                (next..sequential_until).for_each(|id| this.insert_one(vectors, id as u32, &mut s));
                next = sequential_until;
            }
            if parallel {
                (next..stop)
                    .into_par_iter()
                    .for_each_init(Scratch::default, |s, id| {
                        this.insert_one(vectors, id as u32, s)
                    });
            } else {
                let mut s = Scratch::default();
                (next..stop).for_each(|id| this.insert_one(vectors, id as u32, &mut s));
            }
            next = stop;
            progress(next - first, total);
        }
    }

    #[inline]
    fn row<'v>(&self, vectors: &'v [f32], id: u32) -> &'v [f32] {
        &vectors[id as usize * self.dim..(id as usize + 1) * self.dim]
    }

    fn insert_one(&self, vectors: &[f32], id: u32, s: &mut Scratch) {
        let q = self.row(vectors, id);
        let level = self.levels[id as usize];
        let mut entry_guard = Some(lock_entry(&self.entry));
        let Some((entry, top)) = entry_guard.as_ref().and_then(|g| **g) else {
            return;
        };
        // Only an insert that raises the top level keeps the entry locked (hnswlib does too):
        // others must not start from an entry that lacks the new layers.
        if level <= top {
            entry_guard = None;
        }
        let mut cur = Scored {
            score: dot(q, self.row(vectors, entry)),
            id: entry,
        };
        for layer in (level + 1..=top).rev() {
            cur = self.greedy(vectors, q, cur, layer, s);
        }
        for layer in (0..=level.min(top)).rev() {
            let found = self.search_layer(vectors, q, cur, layer, s);
            // As faiss (hnswlib keeps m here): a new node fills its layer-0 list up to 2m,
            // which gives higher recall at the same ef than starting with m and waiting for
            // reverse links.
            let width = if layer == 0 { self.width0() } else { self.m };
            let selected = self.select(vectors, found, width);
            {
                let _guard = lock(&self.locks[id as usize]);
                self.set_links(id, layer, selected.iter().map(|c| c.id));
            }
            for c in &selected {
                self.link_back(vectors, c.id, id, c.score, layer);
            }
            // The closest of the new neighbours starts the next layer's beam.
            if let Some(&best) = selected.first() {
                cur = best;
            }
        }
        if let Some(mut guard) = entry_guard {
            *guard = Some((id, level));
        }
    }

    /// Greedy walk on `layer` to the node nearest `q`.
    fn greedy(
        &self,
        vectors: &[f32],
        q: &[f32],
        mut cur: Scored,
        layer: u8,
        s: &mut Scratch,
    ) -> Scored {
        let mut changed = true;
        while changed {
            changed = false;
            self.copy_links(cur.id, layer, &mut s.links);
            for &n in &s.links {
                let score = dot(q, self.row(vectors, n));
                if score > cur.score {
                    cur = Scored { score, id: n };
                    changed = true;
                }
            }
        }
        cur
    }

    /// The `ef_construction` nodes nearest `q` on `layer` found from `start`, best first.
    fn search_layer(
        &self,
        vectors: &[f32],
        q: &[f32],
        start: Scored,
        layer: u8,
        s: &mut Scratch,
    ) -> Vec<Scored> {
        let ef = self.ef_construction;
        with_visited(self.len(), |visited| {
            let mut candidates = BinaryHeap::with_capacity(ef * 2);
            let mut results: BinaryHeap<Reverse<Scored>> = BinaryHeap::with_capacity(ef + 1);
            visited.insert(start.id);
            candidates.push(start);
            results.push(Reverse(start));
            let mut bound = start.score;
            while let Some(c) = candidates.pop() {
                if c.score < bound && results.len() >= ef {
                    break;
                }
                self.copy_links(c.id, layer, &mut s.links);
                s.fresh.clear();
                s.fresh
                    .extend(s.links.iter().copied().filter(|&n| visited.insert(n)));
                for (i, &n) in s.fresh.iter().enumerate() {
                    if let Some(&next) = s.fresh.get(i + 1) {
                        super::half::prefetch(self.row(vectors, next).as_ptr(), self.dim * 4);
                    }
                    let score = dot(q, self.row(vectors, n));
                    if results.len() < ef || score > bound {
                        candidates.push(Scored { score, id: n });
                        results.push(Reverse(Scored { score, id: n }));
                        if results.len() > ef {
                            results.pop();
                        }
                        bound = results.peek().map_or(score, |w| w.0.score);
                    }
                }
            }
            let mut out: Vec<Scored> = results.into_iter().map(|r| r.0).collect();
            out.sort_unstable_by(|a, b| b.cmp(a));
            out
        })
    }

    /// Algorithm 4 without extension or pruned-link refill (as hnswlib): from `candidates`
    /// (best first, scored against the node being linked) keep up to `m`, each closer to that
    /// node than to any kept before it.
    fn select(&self, vectors: &[f32], candidates: Vec<Scored>, m: usize) -> Vec<Scored> {
        if candidates.len() <= m {
            return candidates;
        }
        let mut kept: Vec<Scored> = Vec::with_capacity(m);
        for c in candidates {
            if kept.len() >= m {
                break;
            }
            let row = self.row(vectors, c.id);
            if kept
                .iter()
                .all(|k| dot(row, self.row(vectors, k.id)) <= c.score)
            {
                kept.push(c);
            }
        }
        kept
    }

    /// Adds `new` (scoring `score` against `node`) to `node`'s list on `layer`, shrinking a
    /// full list by the heuristic.
    fn link_back(&self, vectors: &[f32], node: u32, new: u32, score: f32, layer: u8) {
        let slots = self.slots(node, layer);
        let width = slots.len() - 1;
        let _guard = lock(&self.locks[node as usize]);
        let count = (slots[0].load(Relaxed) as usize).min(width);
        let links = &slots[1..=count];
        if links.iter().any(|l| l.load(Relaxed) == new) {
            return;
        }
        if count < width {
            slots[1 + count].store(new, Relaxed);
            slots[0].store(count as u32 + 1, Relaxed);
            return;
        }
        let row = self.row(vectors, node);
        let mut candidates: Vec<Scored> = links
            .iter()
            .map(|l| {
                let id = l.load(Relaxed);
                Scored {
                    score: dot(row, self.row(vectors, id)),
                    id,
                }
            })
            .collect();
        candidates.push(Scored { score, id: new });
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        let kept = self.select(vectors, candidates, width);
        self.set_links(node, layer, kept.iter().map(|k| k.id));
    }
}

fn lock_entry(entry: &Mutex<Option<(u32, u8)>>) -> MutexGuard<'_, Option<(u32, u8)>> {
    entry.lock().unwrap_or_else(|e| e.into_inner())
}
