//! The hnsw_rs graph, built here or reloaded from disk, behind one owned type.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use hnsw_rs::prelude::{AnnT, Hnsw, HnswIo};
use rayon::prelude::*;

use super::{BuildMode, HnswParams};
use crate::error::{IndexError, Result};
use crate::vector::CosineDistance;

/// hnsw_rs never raises its layer count above 16.
const MAX_LAYERS: usize = 16;
/// Rows per rayon batch, so progress callbacks fire while a big build runs.
const INSERT_CHUNK: usize = 8192;

pub(crate) type RsHnsw<'a> = Hnsw<'a, f32, CosineDistance>;

self_cell::self_cell!(
    /// A reloaded graph together with the loader it borrows from.
    pub(crate) struct LoadedHnsw {
        owner: HnswIo,
        #[not_covariant]
        dependent: RsHnsw,
    }
);

pub(crate) enum Graph {
    Built(RsHnsw<'static>),
    Loaded(LoadedHnsw),
}

fn panic_detail(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "hnsw_rs panicked".into())
}

impl Graph {
    pub fn new(params: &HnswParams, capacity: usize) -> Graph {
        // `params` were validated, so hnsw_rs's `process::exit` on m > 256 is unreachable.
        Graph::Built(Hnsw::new(
            params.m,
            capacity.max(1),
            MAX_LAYERS,
            params.ef_construction,
            CosineDistance,
        ))
    }

    /// Runs `f` on the hnsw_rs graph, whichever way it came to be.
    pub fn with<R>(&self, f: impl for<'a> FnOnce(&RsHnsw<'a>) -> R) -> R {
        match self {
            Graph::Built(h) => f(h),
            Graph::Loaded(l) => l.with_dependent(|_, h| f(h)),
        }
    }

    pub fn nb_points(&self) -> usize {
        self.with(|h| h.get_nb_point())
    }

    /// Inserts rows (already validated) under their dense ids.
    pub fn insert(
        &self,
        rows: &[(&[f32], usize)],
        mode: BuildMode,
        progress: &mut dyn FnMut(usize, usize),
    ) {
        let total = rows.len();
        let mut done = 0;
        for chunk in rows.chunks(INSERT_CHUNK) {
            self.with(|h| match mode {
                // Same rows, same order, hnsw_rs's fixed level seed: the same graph every time.
                BuildMode::Deterministic => chunk.iter().for_each(|&row| h.insert_slice(row)),
                BuildMode::Parallel => chunk.par_iter().for_each(|&row| h.insert_slice(row)),
            });
            done += chunk.len();
            progress(done, total);
        }
    }

    /// Writes `<basename>.hnsw.graph` and `<basename>.hnsw.data` into `dir`; returns the basename
    /// hnsw_rs actually used (it picks another when files of that name exist).
    pub fn dump(&self, dir: &Path, basename: &str) -> Result<String> {
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.with(|h| h.file_dump(dir, basename))
        }));
        match result {
            Ok(Ok(name)) => Ok(name),
            Ok(Err(e)) => Err(IndexError::Io {
                path: dir.join(basename),
                source: std::io::Error::other(e.to_string()),
            }),
            Err(payload) => Err(IndexError::Io {
                path: dir.join(basename),
                source: std::io::Error::other(panic_detail(payload)),
            }),
        }
    }

    /// Reloads a dump whose files already passed their checksums.
    pub fn load(dir: &Path, basename: &str) -> Result<Graph> {
        let corrupt = |detail: String| IndexError::Corrupt {
            path: dir.join(format!("{basename}.hnsw.graph")),
            detail,
        };
        // hnsw_rs asserts on malformed input; checksums make that unreachable for our own
        // files, and catching it keeps a foreign or hand-edited directory from aborting.
        let loaded = catch_unwind(AssertUnwindSafe(|| {
            LoadedHnsw::try_new(HnswIo::new(dir, basename), |io| {
                io.load_hnsw_with_dist::<f32, CosineDistance>(CosineDistance)
            })
        }));
        let mut loaded = match loaded {
            Ok(Ok(loaded)) => loaded,
            Ok(Err(e)) => return Err(corrupt(format!("hnsw_rs could not load it: {e}"))),
            Err(payload) => return Err(corrupt(panic_detail(payload))),
        };
        // The loader turns candidate extension on; keep inserts behaving as in a fresh build.
        loaded.with_dependent_mut(|_, h| h.set_extend_candidates(false));
        Ok(Graph::Loaded(loaded))
    }
}
