//! The CPU's practical f32 peak: GFLOP/s of candle's matmul (the `gemm` crate, the same kernels
//! papermap's BERT forward runs), to say what fraction of it the forward pass reaches.
//!
//! ```text
//! cargo run --release --example matmul_peak -- --threads 2
//! ```
//!
//! Prints one line per shape: a large square product (the peak) and the shape of MiniLM's
//! feed-forward layer on a batch of 8,192 tokens (what the model actually multiplies), as
//! `matmul 2048x2048x2048 threads=2 gflops=123.4` with the median of `--runs`.

use std::time::Instant;

use candle_core::{Device, Tensor};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Threads for the product.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Timed repetitions per shape; the median is printed.
    #[arg(long, default_value_t = 7)]
    runs: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()?;
    // candle sizes gemm's parallelism from this variable, and runs it on the current rayon pool.
    std::env::set_var("RAYON_NUM_THREADS", args.threads.to_string());
    pool.install(|| -> anyhow::Result<()> {
        for (m, k, n) in [(2048, 2048, 2048), (8192, 384, 1536), (8192, 1536, 384)] {
            let a = Tensor::randn(0f32, 1.0, (m, k), &Device::Cpu)?;
            // Stored as Linear weights are ([out, in]) and multiplied transposed, as in the model.
            let b = Tensor::randn(0f32, 1.0, (n, k), &Device::Cpu)?;
            a.matmul(&b.t()?)?; // warm-up
            let mut rates = Vec::with_capacity(args.runs);
            for _ in 0..args.runs {
                let start = Instant::now();
                let c = a.matmul(&b.t()?)?;
                let secs = start.elapsed().as_secs_f64();
                drop(c);
                rates.push(2.0 * (m * k * n) as f64 / secs / 1e9);
            }
            rates.sort_by(f64::total_cmp);
            println!(
                "matmul {m}x{k}x{n} threads={} gflops={:.1}",
                args.threads,
                rates[rates.len() / 2]
            );
        }
        Ok(())
    })
}
