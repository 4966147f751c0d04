//! hnsw_rs: the reference builder, and the reader of format-1 indexes (hnsw_rs dumps).
//!
//! Either way its graph is exported into a [`GraphBuilder`] (nodes by dense id), from which
//! papermap's own graph file is laid out; no search ever runs on hnsw_rs.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use hnsw_rs::prelude::{Hnsw, HnswIo};
use rayon::prelude::*;

use super::HnswParams;
use crate::error::{IndexError, Result};
use crate::graph::GraphBuilder;
use crate::vector::CosineDistance;

/// hnsw_rs never raises its layer count above 16.
const MAX_LAYERS: usize = 16;
/// Rows per rayon batch, so progress callbacks fire while a big build runs.
const INSERT_CHUNK: usize = 8192;

type RsHnsw<'a> = Hnsw<'a, f32, CosineDistance>;

fn panic_detail(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "hnsw_rs panicked".into())
}

/// Builds the graph of `vectors` (validated rows, dense ids = row numbers) with hnsw_rs.
pub(crate) fn build_with_hnsw_rs(
    vectors: &[f32],
    dim: usize,
    params: &HnswParams,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<GraphBuilder> {
    let rows: Vec<(&[f32], usize)> = vectors.chunks_exact(dim).zip(0..).collect();
    // `params` were validated, so hnsw_rs's `process::exit` on m > 256 is unreachable.
    let h: RsHnsw<'_> = Hnsw::new(
        params.m,
        rows.len().max(1),
        MAX_LAYERS,
        params.ef_construction,
        CosineDistance,
    );
    let mut done = 0;
    for chunk in rows.chunks(INSERT_CHUNK) {
        chunk.par_iter().for_each(|&row| h.insert_slice(row));
        done += chunk.len();
        progress(done, rows.len());
    }
    export(&h, rows.len(), dim, params)
        .map(|(builder, _)| builder)
        // Ids come from our own row numbers and every row has `dim` values.
        .map_err(|detail| IndexError::Corrupt {
            path: "graph built by hnsw_rs".into(),
            detail,
        })
}

/// Reloads a format-1 dump (files already checksummed): the graph and the f32 rows by id.
pub(crate) fn load_v1(
    dir: &Path,
    basename: &str,
    slots: usize,
    dim: usize,
    params: &HnswParams,
) -> Result<(GraphBuilder, Vec<f32>)> {
    let corrupt = |detail: String| IndexError::Corrupt {
        path: dir.join(format!("{basename}.hnsw.graph")),
        detail,
    };
    // hnsw_rs asserts on malformed input; checksums make that unreachable for our own
    // files, and catching it keeps a foreign or hand-edited directory from aborting.
    let result = catch_unwind(AssertUnwindSafe(|| {
        let io = HnswIo::new(dir, basename);
        let h = io
            .load_hnsw_with_dist::<f32, CosineDistance>(CosineDistance)
            .map_err(|e| format!("hnsw_rs could not load it: {e}"))?;
        export(&h, slots, dim, params)
    }));
    match result {
        Ok(Ok(loaded)) => Ok(loaded),
        Ok(Err(detail)) => Err(corrupt(detail)),
        Err(payload) => Err(corrupt(panic_detail(payload))),
    }
}

/// Copies hnsw_rs's graph and vectors; `slots` bounds the dense ids. Fails on an id out of
/// range or a vector of another dimension.
fn export(
    h: &RsHnsw<'_>,
    slots: usize,
    dim: usize,
    params: &HnswParams,
) -> std::result::Result<(GraphBuilder, Vec<f32>), String> {
    let mut vectors = vec![0.0f32; slots * dim];
    let mut levels = vec![0u8; slots];
    let mut lists: Vec<(u32, u8, Vec<u32>)> = Vec::new();
    let mut entry: Option<(u32, u8)> = None;
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
        let level = (point.get_point_id().0 as usize).min(crate::graph::MAX_LEVEL as usize) as u8;
        levels[id as usize] = level;
        // Highest layer wins; among equals the smallest id, independent of iteration order.
        if entry.is_none_or(|(e, l)| level > l || (level == l && id < e)) {
            entry = Some((id, level));
        }
        for (layer, list) in point.get_neighborhood_id().into_iter().enumerate() {
            // hnsw_rs also records the greedy-descent hops of an insert on the layers above
            // the point's own; no search ever starts from those, so they are not copied.
            if list.is_empty() || layer > level as usize {
                continue;
            }
            let ids: Vec<u32> = list
                .iter()
                .map(|n| check(n.get_origin_id()))
                .filter(|n| n.as_ref().map_or(true, |&n| n != id))
                .collect::<std::result::Result<_, _>>()?;
            lists.push((id, layer as u8, ids));
        }
    }
    let mut builder = GraphBuilder::new(dim, params.m, params.ef_construction);
    builder.push_nodes(levels.iter().copied());
    for (id, layer, ids) in lists {
        // Links to a node below this layer could not be followed; hnsw_rs keeps lists sorted
        // nearest first, so cutting to the slot width keeps the nearest.
        let ids = ids.into_iter().filter(|&n| levels[n as usize] >= layer);
        builder.set_links(id, layer, ids);
    }
    *builder.entry.get_mut().unwrap_or_else(|e| e.into_inner()) = entry;
    Ok((builder, vectors))
}
