//! Embedding throughput on the seed abstracts, for side-by-side runs with sentence-transformers.
//!
//! ```text
//! cargo run --release --example embed_bench -- --threads 2 --docs 500 --runs 3
//! ```
//! Prints one line per run and a final `papermap docs_per_s=… tokens_per_s=… threads=… docs=…` line with
//! the median, in the same shape as `../shared/tools/st_baseline.py`, and the GFLOP/s of useful
//! encoder work that median stands for.

use std::time::Instant;

use clap::Parser;
use papermap::embed::{Embedder, Int8Kernel, MatmulKernel, Precision};

#[derive(Parser)]
struct Args {
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Texts per run (the 99 seed abstracts, repeated).
    #[arg(long, default_value_t = 500)]
    docs: usize,
    /// Timed runs (after one warm-up).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// JSONL with a "text" field (default: the bundled seed reference texts).
    #[arg(long)]
    texts: Option<std::path::PathBuf>,
    /// Padded tokens per forward pass.
    #[arg(long)]
    token_budget: Option<usize>,
    /// Texts per forward pass.
    #[arg(long)]
    max_batch: Option<usize>,
    /// Arithmetic of the products: f32 (exact), bf16, int8.
    #[arg(long, default_value = "f32")]
    precision: Precision,
    /// An int8 kernel instead of the fastest this CPU has: avx512-vnni, avx-vnni, avx2, portable.
    #[arg(long)]
    int8_kernel: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let path = args.texts.unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/minilm_seed_reference.jsonl"
        )
        .into()
    });
    let base: Vec<String> = std::fs::read_to_string(&path)?
        .lines()
        .map(|l| {
            Ok(serde_json::from_str::<serde_json::Value>(l)?["text"]
                .as_str()
                .unwrap_or("")
                .to_owned())
        })
        .collect::<anyhow::Result<_>>()?;
    anyhow::ensure!(!base.is_empty(), "{} has no texts", path.display());
    let texts: Vec<&str> = (0..args.docs)
        .map(|i| base[i % base.len()].as_str())
        .collect();

    let mut builder = Embedder::builder()
        .threads(args.threads)
        .precision(args.precision);
    if let Some(name) = &args.int8_kernel {
        let kernel =
            Int8Kernel::parse(name).ok_or_else(|| anyhow::anyhow!("unknown int8 kernel {name}"))?;
        builder = builder.kernel(MatmulKernel::Int8(kernel));
    }
    if let Some(n) = args.token_budget {
        builder = builder.token_budget(n);
    }
    if let Some(n) = args.max_batch {
        builder = builder.max_batch_size(n);
    }
    let embedder = builder.build()?;
    let lengths: Vec<usize> = texts
        .iter()
        .map(|t| embedder.tokenizer().encode(t).map(|e| e.len()))
        .collect::<Result<_, _>>()?;
    let tokens: usize = lengths.iter().sum();
    let flops = useful_flops(&embedder, &lengths)?;
    embedder.embed(&texts[..texts.len().min(64)])?; // warm-up
    let mut rates = Vec::new();
    for run in 0..args.runs {
        let start = Instant::now();
        embedder.embed(&texts)?;
        let secs = start.elapsed().as_secs_f64();
        let rate = texts.len() as f64 / secs;
        println!("run {run}: {secs:.2} s, {rate:.1} docs/s");
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let tokens_per_doc = tokens as f64 / texts.len() as f64;
    println!(
        "papermap docs_per_s={median:.1} tokens_per_s={:.0} threads={} docs={} tokens_per_doc={tokens_per_doc:.1} \
         forward_gflops={:.1} kernel={:?}",
        median * tokens_per_doc,
        args.threads,
        texts.len(),
        flops / (texts.len() as f64 / median) / 1e9,
        embedder.kernel(),
    );
    Ok(())
}

/// Multiply-adds the encoder must do for these sequence lengths (projections, attention scores
/// and mixing, feed-forward; padding excluded), times two: divided by the run time it says how
/// much of the CPU's matmul peak (`examples/matmul_peak.rs`) the forward pass reaches.
fn useful_flops(embedder: &Embedder, lengths: &[usize]) -> anyhow::Result<f64> {
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        embedder.files().path("config.json"),
    )?)?;
    let get = |key: &str| {
        config[key]
            .as_f64()
            .ok_or_else(|| anyhow::anyhow!("config.json has no {key}"))
    };
    let (h, ffn, layers) = (
        get("hidden_size")?,
        get("intermediate_size")?,
        get("num_hidden_layers")?,
    );
    let macs: f64 = lengths
        .iter()
        .map(|&l| {
            let l = l as f64;
            layers * (l * (4.0 * h * h + 2.0 * h * ffn) + 2.0 * l * l * h)
        })
        .sum();
    Ok(2.0 * macs)
}
