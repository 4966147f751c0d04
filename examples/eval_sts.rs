//! STS Benchmark: Spearman × 100 of cosine similarity against gold scores.
//!
//! ```text
//! cargo run --release --example eval_sts -- ../shared/data/stsb/sts-test.tsv
//! ```
//! sentence-transformers gives 82.03 on sts-test.tsv with all-MiniLM-L6-v2.

use papermap::embed::sts::{evaluate_sts, read_sts_tsv};
use papermap::embed::Embedder;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data/stsb/sts-test.tsv".to_string());
    let pairs = read_sts_tsv(path.as_ref())?;
    let embedder = Embedder::builder().build()?;
    let spearman = evaluate_sts(&embedder, &pairs)?;
    println!(
        "sts file={path} pairs={} spearman={spearman:.2}",
        pairs.len()
    );
    Ok(())
}
