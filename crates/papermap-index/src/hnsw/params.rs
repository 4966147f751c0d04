//! HNSW construction and search parameters, validated before any builder sees them.

use crate::error::{IndexError, Result};

/// How `add_batch` inserts into the graph.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildMode {
    /// Rows are inserted from all rayon threads; fast, but the graph depends on thread timing.
    #[default]
    Parallel,
    /// Rows are inserted one by one in order. The same rows in the same order give the same
    /// graph and the same answers, byte for byte (node levels come from a fixed seed).
    Deterministic,
    /// The reference: hnsw_rs builds the graph (parallel inserts), which is then exported to
    /// papermap's graph format; searches are the same as for the other modes. About 3.5x
    /// slower to build and 4x the memory while building; each `add_batch` rebuilds the whole
    /// graph. For comparisons and tests.
    #[serde(rename = "hnsw_rs")]
    HnswRs,
}

/// HNSW construction and search parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HnswParams {
    /// Links per node on upper layers (twice that on layer 0). 2..=128; default 16.
    ///
    /// As hnswlib's usual M. A new node fills its layer-0 list up to 2m (as faiss does, where
    /// hnswlib starts it with m), so recall at a given ef is higher than hnswlib's at the same
    /// m: on the benchmark set (100k seeded clustered 384-d unit vectors, `examples/ann_bench`)
    /// recall@10 at ef 96 is 0.993 against hnswlib's 0.989 (M 16, ef_construction 200).
    pub m: usize,
    /// Beam width while inserting. m..=4096; default 128.
    ///
    /// The build's cost grows with it. On the benchmark set (2 threads, alternating runs on
    /// a shared 2-core AMD EPYC) 128 built in 46–48 s where hnswlib (M 16, ef_construction
    /// 200) took 56–57 s; 200 took 68–71 s for about 0.001 more recall@10 at the same ef.
    pub ef_construction: usize,
    /// Default beam width for `search`; raised to k when smaller. 1..=65536; default 96
    /// (recall@10 0.993 with the default m and ef_construction on the benchmark set; 128
    /// gives 0.996 at about 15% fewer queries per second).
    pub ef_search: usize,
    /// Parallel (default), deterministic, or hnsw_rs (the reference) build.
    pub build: BuildMode,
    /// Rebuild the graph once removed entries exceed this share of all slots. (0, 1]; default 0.25.
    pub compact_ratio: f32,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 128,
            ef_search: 96,
            build: BuildMode::Parallel,
            compact_ratio: 0.25,
        }
    }
}

fn invalid(name: &'static str, value: impl ToString, fix: &'static str) -> IndexError {
    IndexError::InvalidParameter {
        name,
        value: value.to_string(),
        fix,
    }
}

impl HnswParams {
    /// Checks every field (hnsw_rs, the reference builder, would `process::exit` on m > 256).
    pub fn validate(&self) -> Result<()> {
        if !(2..=128).contains(&self.m) {
            return Err(invalid("m", self.m, "use 2..=128 (16 is typical)"));
        }
        if !(self.m..=4096).contains(&self.ef_construction) {
            return Err(invalid(
                "ef_construction",
                self.ef_construction,
                "use m..=4096 (200 is typical)",
            ));
        }
        check_ef(self.ef_search)?;
        if self.build == BuildMode::HnswRs && !cfg!(feature = "reference") {
            return Err(invalid(
                "build",
                "hnsw_rs",
                "the hnsw_rs reference builder is in papermap-index's `reference` feature; use parallel or deterministic",
            ));
        }
        if !(self.compact_ratio > 0.0 && self.compact_ratio <= 1.0) {
            return Err(invalid(
                "compact_ratio",
                self.compact_ratio,
                "use a share in (0, 1], e.g. 0.25",
            ));
        }
        Ok(())
    }
}

pub(crate) fn check_ef(ef: usize) -> Result<()> {
    if !(1..=65536).contains(&ef) {
        return Err(invalid("ef", ef, "use 1..=65536 (16..=512 is typical)"));
    }
    Ok(())
}
