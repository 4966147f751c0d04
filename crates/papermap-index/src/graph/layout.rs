//! Between the builder (nodes by input row) and the file (nodes by position).
//!
//! A query touches a few thousand vectors scattered over the whole set when nodes sit in
//! input order. Laying nodes out in breadth-first order of the layer-0 graph, from the entry
//! point, puts a node's neighbours, and so most of one query's path, on nearby cache lines
//! and pages, which cuts cache and TLB misses on sets larger than the cache.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::format::Header;
use super::{half, GraphBuilder, GraphData, GraphView};

fn links(slots: &[AtomicU32]) -> impl Iterator<Item = u32> + '_ {
    let count = (slots[0].load(Relaxed) as usize).min(slots.len() - 1);
    slots[1..=count].iter().map(|s| s.load(Relaxed))
}

/// Breadth-first order of the builder's layer-0 graph from `start`, then from each node not
/// yet reached in id order. Returns the ids in their new order.
fn breadth_first(b: &GraphBuilder, start: Option<u32>) -> Vec<u32> {
    let n = b.len();
    let mut seen = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut queue = VecDeque::new();
    for root in start.into_iter().chain(0..n as u32) {
        if std::mem::replace(&mut seen[root as usize], true) {
            continue;
        }
        queue.push_back(root);
        while let Some(id) = queue.pop_front() {
            order.push(id);
            for next in links(b.slots(id, 0)) {
                if !std::mem::replace(&mut seen[next as usize], true) {
                    queue.push_back(next);
                }
            }
        }
    }
    order
}

/// The file layout of the builder's graph; `vectors` are its rows in input order.
pub(crate) fn graph_data(b: &GraphBuilder, vectors: &[f32]) -> GraphData {
    let (dim, m, n) = (b.dim, b.m, b.len());
    let entry = *b.entry.lock().unwrap_or_else(|e| e.into_inner());
    let id_at = breadth_first(b, entry.map(|(e, _)| e));
    let mut position = vec![0u32; n];
    for (pos, &id) in id_at.iter().enumerate() {
        position[id as usize] = pos as u32;
    }
    let w0 = 1 + 2 * m;
    let mut layer0 = vec![0u32; n * w0];
    let mut halves = super::bytes::huge_page_buffer::<u16>(n * dim);
    let mut upper_nodes = Vec::new();
    let mut upper_offsets = vec![0u32];
    let mut upper_lists = Vec::new();
    for (pos, &id) in id_at.iter().enumerate() {
        let out = &mut layer0[pos * w0..(pos + 1) * w0];
        let mut count = 0;
        for (slot, n) in out[1..].iter_mut().zip(links(b.slots(id, 0))) {
            *slot = position[n as usize];
            count += 1;
        }
        out[0] = count;
        let row = &vectors[id as usize * dim..(id as usize + 1) * dim];
        for (h, &x) in halves[pos * dim..(pos + 1) * dim].iter_mut().zip(row) {
            *h = half::encode(x);
        }
    }
    // Upper layers, positions ascending so the search finds a node by binary search.
    let mut upper: Vec<(u32, u32)> = (0..n as u32)
        .filter(|&id| b.levels[id as usize] > 0)
        .map(|id| (position[id as usize], id))
        .collect();
    upper.sort_unstable();
    for (pos, id) in upper {
        upper_nodes.push(pos);
        for layer in 1..=b.levels[id as usize] {
            let list: Vec<u32> = links(b.slots(id, layer))
                .map(|n| position[n as usize])
                .collect();
            upper_lists.push(list.len() as u32);
            upper_lists.extend(&list);
            upper_lists.extend(std::iter::repeat_n(0, m - list.len()));
        }
        upper_offsets.push(upper_lists.len() as u32);
    }
    GraphData {
        dim,
        m,
        entry: entry.map(|(e, l)| (position[e as usize], l)),
        id_at,
        layer0,
        upper_nodes,
        upper_offsets,
        upper_lists,
        halves,
    }
}

/// A builder holding the graph of `view` (nodes back in input order), so that more rows can
/// be inserted. Fails when the file's links or permutation are out of range.
pub(crate) fn builder_from_view<B: AsRef<[u8]>>(
    view: &GraphView<B>,
    ef_construction: usize,
) -> Result<GraphBuilder, String> {
    let h: &Header = view.header();
    let s = view.sections();
    let (n, m) = (h.rows, h.m);
    let check = |pos: u32, what: &str| {
        if (pos as usize) < n {
            Ok(pos)
        } else {
            Err(format!("{what} {pos} out of range for {n} rows"))
        }
    };
    let mut position = vec![u32::MAX; n];
    for (pos, &id) in s.id_at.iter().enumerate() {
        let id = check(id, "row")? as usize;
        if position[id] != u32::MAX {
            return Err(format!("row {id} appears twice in the node order"));
        }
        position[id] = pos as u32;
    }
    let mut levels = vec![0u8; n];
    for (i, &pos) in s.upper_nodes.iter().enumerate() {
        let words = s.upper_offsets[i + 1].wrapping_sub(s.upper_offsets[i]) as usize;
        let level = words / (1 + m);
        if level == 0 || !words.is_multiple_of(1 + m) || level > super::build::MAX_LEVEL as usize {
            return Err(format!(
                "node at position {pos} has {words} upper-layer words"
            ));
        }
        levels[s.id_at[check(pos, "upper node")? as usize] as usize] = level as u8;
    }
    let mut b = GraphBuilder::new(h.dim, m, ef_construction);
    b.push_nodes(levels.iter().copied());
    for (id, &pos) in position.iter().enumerate() {
        let list = view.layer0_links(&s, pos);
        let ids: Vec<u32> = list
            .iter()
            .map(|&p| check(p, "link").map(|p| s.id_at[p as usize]))
            .collect::<Result<_, _>>()?;
        b.set_links(id as u32, 0, ids);
    }
    for (i, &pos) in s.upper_nodes.iter().enumerate() {
        let id = s.id_at[pos as usize];
        for layer in 1..=levels[id as usize] {
            let list = view.upper_links(&s, i, layer);
            let ids: Vec<u32> = list
                .iter()
                .map(|&p| check(p, "link").map(|p| s.id_at[p as usize]))
                .collect::<Result<_, _>>()?;
            // The builder reads a linked node's list on this layer: it must have one.
            if let Some(&low) = ids.iter().find(|&&n| levels[n as usize] < layer) {
                return Err(format!(
                    "layer-{layer} link to row {low}, which has no such layer"
                ));
            }
            b.set_links(id, layer, ids);
        }
    }
    let entry = h.entry.map(|(pos, l)| (s.id_at[pos as usize], l));
    if let Some((id, level)) = entry.filter(|&(id, l)| levels[id as usize] != l) {
        return Err(format!(
            "entry row {id} is recorded at level {level}, its lists say otherwise"
        ));
    }
    *b.entry.get_mut().unwrap_or_else(|e| e.into_inner()) = entry;
    Ok(b)
}
