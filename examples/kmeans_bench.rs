//! k-means speed and inertia on an `.npy` matrix, for the side-by-side with scikit-learn
//! (`benches/baselines/sklearn_kmeans_bench.py` prints the same line).
//!
//! ```text
//! cargo run --release --example kmeans_bench -- --data /tmp/kmeans_100k.npy --k 100 --iters 50 --seed 42
//! k=100 inertia=71790.123 seconds=3.21 iterations=50 variant=euclidean wcss=71789.000
//! ```
//!
//! `inertia` is scikit-learn's: the sum of squared Euclidean distances to the assigned centroid,
//! whatever variant ran. `wcss` is the sum of squared distances to the assigned cluster's mean,
//! the fair figure for comparing the spherical variant's partition. Loading the file is outside
//! the clock, as in the Python script.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use ndarray::Array2;
use ndarray_npy::read_npy;
use papermap_topics::kmeans::{self, KMeansParams};
use papermap_topics::Variant;

#[derive(Clone, Copy, ValueEnum)]
enum VariantArg {
    Euclidean,
    Spherical,
}

#[derive(Parser)]
struct Args {
    /// An n x d float32 .npy file.
    #[arg(long)]
    data: PathBuf,
    #[arg(long, default_value_t = 100)]
    k: usize,
    #[arg(long, default_value_t = 50)]
    iters: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, default_value_t = 1)]
    runs: usize,
    #[arg(long, value_enum, default_value_t = VariantArg::Euclidean)]
    variant: VariantArg,
    /// Run linfa's plain KMeans instead (the slow reference path; Euclidean only).
    #[arg(long)]
    linfa: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let x: Array2<f32> =
        read_npy(&args.data).with_context(|| format!("reading {}", args.data.display()))?;
    let params = KMeansParams {
        k: args.k,
        seed: args.seed,
        n_runs: args.runs,
        max_iters: args.iters,
        tolerance: 1e-4,
        variant: match args.variant {
            VariantArg::Euclidean => Variant::Euclidean,
            VariantArg::Spherical => Variant::Spherical,
        },
    };
    let start = Instant::now();
    let result = if args.linfa {
        kmeans::fit_linfa_reference(x.view(), &params)?
    } else {
        kmeans::fit(x.view(), &params, &mut |_| {})?
    };
    let seconds = start.elapsed().as_secs_f64();
    let wcss = kmeans::within_cluster_sum_of_squares(x.view(), &result.labels, args.k);
    let variant = if args.linfa {
        "linfa-euclidean"
    } else {
        match args.variant {
            VariantArg::Euclidean => "euclidean",
            VariantArg::Spherical => "spherical",
        }
    };
    println!(
        "k={} inertia={:.3} seconds={:.2} iterations={} variant={} wcss={:.3}",
        args.k, result.inertia, seconds, result.iterations, variant, wcss
    );
    Ok(())
}
