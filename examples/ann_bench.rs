//! Recall, speed and memory of papermap-index's HNSW graph and exact search.
//!
//! ```text
//! cargo run --release --example ann_bench -- [--base FILE.npy --queries FILE.npy]
//!     [--k 10] [--ef 16,32,64,128,256] [--threads N] [--builder own|hnsw_rs]
//!     [--m M --ef-construction EF] [--deterministic] [--index-dir DIR] [--build-only]
//!     [--write-data DIR [--n 100000 --nq 1000]]
//! ```
//!
//! Without files it generates a seeded mixture of 100 Gaussian clusters in 384-d, normalised
//! (`--n` base vectors, default 100,000, and `--nq` queries, default 1,000); `--write-data DIR`
//! saves that set as `DIR/base.npy` and `DIR/queries.npy` so
//! `benches/baselines/hnswlib_bench.py` can run on the very same vectors.
//!
//! The graph is built with `papermap_index::build_graph` (`--builder own`, the default, or
//! `hnsw_rs`, the reference) and searched through `GraphView::search`, the API `HnswIndex` runs
//! on. It prints `build_seconds`, the process's peak RSS (`VmHWM`) before and after the build
//! and the difference per vector, the graph file's bytes per vector (f32 vectors excluded:
//! the caller keeps those), then per ef one line like `ef=64 recall@10=0.9934 qps=12345.6`:
//! queries answered one at a time on one thread, median of `--repeat` passes. Ground truth
//! comes from the exact index (built after the graph, so the peak RSS is the build's).
//! `--index-dir DIR` reuses `DIR/graph.pmg` when present (skipping the build), else writes it.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use clap::Parser;
use ndarray::Array2;
use ndarray_npy::{read_npy, write_npy};
use papermap_index::{
    build_graph, l2_normalize, AlignedBytes, BuildMode, ExactIndex, GraphView, Hit, HnswParams,
};
use rand::prelude::*;
use rand_distr::StandardNormal;

#[derive(Parser)]
struct Args {
    /// Base vectors, f32 .npy of shape (n, dim).
    #[arg(long, requires = "queries")]
    base: Option<PathBuf>,
    /// Query vectors, f32 .npy of shape (q, dim).
    #[arg(long, requires = "base")]
    queries: Option<PathBuf>,
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Beam widths to measure (the library default is 96).
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,96,128,256")]
    ef: Vec<usize>,
    /// Threads for the build and batch searches (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// HNSW links per node (default: the library default).
    #[arg(long)]
    m: Option<usize>,
    /// HNSW build beam width (default: the library default).
    #[arg(long)]
    ef_construction: Option<usize>,
    /// Sequential, reproducible build instead of the parallel one.
    #[arg(long)]
    deterministic: bool,
    /// Graph builder: papermap's own, or hnsw_rs (the reference), exported to the same format.
    #[arg(long, default_value = "own", value_parser = ["own", "hnsw_rs"])]
    builder: String,
    /// Build (and report build time and memory) only; no ground truth, no queries.
    #[arg(long)]
    build_only: bool,
    /// Timed passes over the queries per ef; the median is printed.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Generated set: base vectors, queries, dimension, clusters, seed.
    #[arg(long, default_value_t = 100_000)]
    n: usize,
    #[arg(long, default_value_t = 1_000)]
    nq: usize,
    #[arg(long, default_value_t = 384)]
    dim: usize,
    #[arg(long, default_value_t = 100)]
    clusters: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Per-dimension standard deviation of the noise around a cluster centre.
    #[arg(long, default_value_t = 0.05)]
    spread: f32,
    /// Write the generated set as base.npy / queries.npy here and exit.
    #[arg(long)]
    write_data: Option<PathBuf>,
    /// Reuse the graph file DIR/graph.pmg if there is one, else build and write it there.
    #[arg(long)]
    index_dir: Option<PathBuf>,
    /// Queries for the one-at-a-time exact search timing (it is slow).
    #[arg(long, default_value_t = 200)]
    exact_queries: usize,
}

/// Unit vectors around `clusters` random unit centres; cluster spread gives neighbours that
/// are close but not trivial, like topic clusters of paper embeddings.
fn generate(args: &Args) -> (Array2<f32>, Array2<f32>) {
    let (n, nq, dim, clusters) = (args.n, args.nq, args.dim, args.clusters);
    let mut rng = StdRng::seed_from_u64(args.seed);
    let unit = |rng: &mut StdRng, around: Option<&[f32]>| -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim)
            .map(|i| {
                let noise: f32 = rng.sample(StandardNormal);
                match around {
                    Some(c) => c[i] + args.spread * noise,
                    None => noise,
                }
            })
            .collect();
        l2_normalize(&mut v).expect("gaussian vector is non-zero");
        v
    };
    let centres: Vec<Vec<f32>> = (0..clusters).map(|_| unit(&mut rng, None)).collect();
    let mut draw = |count: usize| {
        let mut out = Array2::<f32>::zeros((count, dim));
        for mut row in out.rows_mut() {
            let c = &centres[rng.random_range(0..clusters)];
            let v = unit(&mut rng, Some(c));
            row.iter_mut().zip(v).for_each(|(x, y)| *x = y);
        }
        out
    };
    let base = draw(n);
    let queries = draw(nq);
    (base, queries)
}

fn load(path: &PathBuf) -> Result<Array2<f32>> {
    let a: Array2<f32> = read_npy(path).with_context(|| format!("reading {}", path.display()))?;
    // No second copy of a file that is already row-major: it would inflate the peak RSS that
    // the build is measured by.
    Ok(if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    })
}

/// A `/proc/self/status` field in bytes: `VmRSS` (now) or `VmHWM` (peak so far).
fn status_bytes(field: &str) -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Share of the true top-k (keys are row numbers) found among the returned rows.
fn recall(got: &[Vec<u32>], truth: &[Vec<Hit>]) -> f64 {
    let mut found = 0usize;
    let mut total = 0usize;
    for (g, t) in got.iter().zip(truth) {
        total += t.len();
        found += t
            .iter()
            .filter(|h| h.key.parse::<u32>().is_ok_and(|id| g.contains(&id)))
            .count();
    }
    found as f64 / total.max(1) as f64
}

fn mb(bytes: Option<usize>) -> String {
    bytes.map_or("n/a".into(), |b| {
        format!("{:.0}", b as f64 / (1 << 20) as f64)
    })
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(threads) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .context("configuring threads")?;
    }
    let (base, queries) = match (&args.base, &args.queries) {
        (Some(b), Some(q)) => (load(b)?, load(q)?),
        _ => generate(&args),
    };
    if let Some(dir) = &args.write_data {
        std::fs::create_dir_all(dir)?;
        write_npy(dir.join("base.npy"), &base)?;
        write_npy(dir.join("queries.npy"), &queries)?;
        println!(
            "wrote {} and {}",
            dir.join("base.npy").display(),
            dir.join("queries.npy").display()
        );
        return Ok(());
    }
    let dim = base.ncols();
    ensure!(
        queries.ncols() == dim,
        "queries have {} columns, base {dim}",
        queries.ncols()
    );
    let base_rows = base.as_slice().expect("standard layout");
    let query_rows = queries.as_slice().expect("standard layout");
    let keys: Vec<String> = (0..base.nrows()).map(|i| i.to_string()).collect();
    println!(
        "data base={}x{dim} queries={} k={} threads={}",
        base.nrows(),
        queries.nrows(),
        args.k,
        rayon::current_num_threads()
    );

    let n = base.nrows();
    let defaults = HnswParams::default();
    let params = HnswParams {
        m: args.m.unwrap_or(defaults.m),
        ef_construction: args.ef_construction.unwrap_or(defaults.ef_construction),
        build: match (args.builder.as_str(), args.deterministic) {
            ("hnsw_rs", _) => BuildMode::HnswRs,
            (_, true) => BuildMode::Deterministic,
            _ => BuildMode::Parallel,
        },
        ..HnswParams::default()
    };
    let saved = args
        .index_dir
        .as_ref()
        .map(|d| d.join("graph.pmg"))
        .filter(|p| p.exists());
    let (rss_before, peak_before) = (status_bytes("VmRSS:"), status_bytes("VmHWM:"));
    let graph = if let Some(path) = saved {
        let t = Instant::now();
        let bytes = std::fs::read(&path)?;
        let graph = GraphView::new(AlignedBytes::copy_from(&bytes))?;
        graph.expect_shape(dim, n)?;
        println!(
            "open_seconds={:.2} (from {})",
            t.elapsed().as_secs_f64(),
            path.display()
        );
        graph
    } else {
        let t = Instant::now();
        let data = build_graph(base_rows, dim, &params, &mut |_, _| {})?;
        let graph = GraphView::new(data.into_bytes())?;
        let build_s = t.elapsed().as_secs_f64();
        println!(
            "build_seconds={build_s:.2} builder={} m={} ef_construction={} deterministic={}",
            args.builder, params.m, params.ef_construction, args.deterministic
        );
        if let Some(dir) = &args.index_dir {
            std::fs::create_dir_all(dir)?;
            std::fs::write(dir.join("graph.pmg"), graph.bytes().as_ref())?;
        }
        graph
    };
    let peak_after = status_bytes("VmHWM:");
    println!(
        "memory peak_rss_mb_before={} peak_rss_mb_after={} peak_delta_per_vector={} graph_file_bytes_per_vector={:.0} raw_vector={}",
        mb(peak_before),
        mb(peak_after),
        match (rss_before, peak_after) {
            (Some(b), Some(a)) => format!("{:.0}", a.saturating_sub(b) as f64 / n as f64),
            _ => "n/a".into(),
        },
        graph.bytes().as_ref().len() as f64 / n as f64,
        dim * 4
    );
    if args.build_only {
        return Ok(());
    }

    let mut exact = ExactIndex::new(dim)?;
    exact.add_batch(&keys, base_rows)?;
    let t = Instant::now();
    let truth = exact.search_batch(query_rows, args.k)?;
    let batch_s = t.elapsed().as_secs_f64();
    let n_single = args.exact_queries.min(queries.nrows());
    let one_at_a_time = || -> Result<f64> {
        let t = Instant::now();
        for q in query_rows.chunks_exact(dim).take(n_single) {
            std::hint::black_box(exact.search(q, args.k)?);
        }
        Ok(n_single as f64 / t.elapsed().as_secs_f64())
    };
    let single_all = one_at_a_time()?;
    let single_one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()?
        .install(one_at_a_time)?;
    println!(
        "exact qps_one_query_one_thread={single_one:.1} qps_one_query_all_threads={single_all:.1} qps_batch={:.1} (batch of {} on {} threads)",
        queries.nrows() as f64 / batch_s,
        queries.nrows(),
        rayon::current_num_threads()
    );
    drop(exact);

    for &ef in &args.ef {
        let ef = ef.max(args.k);
        let mut results = Vec::new();
        let mut passes = Vec::new();
        for _ in 0..args.repeat.max(1) {
            let t = Instant::now();
            results = query_rows
                .chunks_exact(dim)
                .map(|q| {
                    // As the library searches: only rows that can reach the top k are rescored.
                    let hits = graph.search_best(base_rows, q, args.k, ef, None)?;
                    Ok(hits.into_iter().take(args.k).map(|(_, id)| id).collect())
                })
                .collect::<Result<Vec<Vec<u32>>>>()?;
            passes.push(queries.nrows() as f64 / t.elapsed().as_secs_f64());
        }
        println!(
            "ef={ef} recall@{}={:.4} qps={:.1}",
            args.k,
            recall(&results, &truth),
            median(passes)
        );
    }
    Ok(())
}
