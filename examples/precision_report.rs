//! What each precision costs in quality: for f32, bf16 (where the CPU has it) and int8, the min and mean
//! cosine to sentence-transformers' vectors of the seed abstracts, STS-B Spearman, topic NMI on the
//! labelled arXiv set (k = 18, seeds 0-2), and how many of the top-5 search results of 101 seed-corpus
//! queries (the tests' query, the title of every seed paper) agree with f32's.
//!
//! ```text
//! cargo run --release --example precision_report -- --sts ../shared/data/stsb/sts-test.tsv
//! ```
//! Speed is `embed_bench --precision P` side by side with `st_baseline.py` (see README.md).

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use ndarray::Array2;
use papermap::embed::sts::{evaluate_sts, read_sts_tsv};
use papermap::embed::{Bf16Kernel, CpuFeatures, Embedder, Embeddings, Precision};
use papermap_topics::{TopicConfig, TopicDoc, TopicModel};

#[path = "common/metrics.rs"]
mod metrics;

#[derive(Parser)]
struct Args {
    /// STS Benchmark test split (tab-separated: score, sentence a, sentence b).
    #[arg(long, default_value = "../shared/data/stsb/sts-test.tsv")]
    sts: PathBuf,
    /// Labelled arXiv abstracts (id, title, abstract, label_top), JSON Lines.
    #[arg(long, default_value = "tests/data/arxiv_abstracts.jsonl")]
    arxiv: PathBuf,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

const TEST_QUERY: &str = "summarizing recorded scientific talks into text";

fn jsonl(path: &std::path::Path) -> anyhow::Result<Vec<serde_json::Value>> {
    std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Ok(serde_json::from_str(l)?))
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn top5(query: &[f32], corpus: &Embeddings) -> Vec<usize> {
    let mut scored: Vec<(f32, usize)> = (0..corpus.len())
        .map(|i| (dot(query, corpus.row(i)), i))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(5).map(|(_, i)| i).collect()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seed = jsonl(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/minilm_seed_reference.jsonl"
    )))?;
    let seed_texts: Vec<&str> = seed
        .iter()
        .map(|v| v["text"].as_str().unwrap_or(""))
        .collect();
    let reference: Vec<Vec<f32>> = seed
        .iter()
        .map(|v| serde_json::from_value(v["embedding"].clone()))
        .collect::<Result<_, _>>()?;
    let mut queries = vec![TEST_QUERY.to_string()];
    queries.extend(
        seed.iter()
            .map(|v| v["title"].as_str().unwrap_or("").to_string()),
    );
    let sts = read_sts_tsv(&args.sts)?;
    let arxiv = jsonl(&args.arxiv)?;
    let field = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let arxiv_texts: Vec<String> = arxiv
        .iter()
        .map(|v| format!("{}. {}", field(v, "title"), field(v, "abstract")))
        .collect();
    let docs: Vec<TopicDoc> = arxiv
        .iter()
        .map(|v| TopicDoc {
            id: field(v, "id"),
            title: field(v, "title"),
            text: field(v, "abstract"),
        })
        .collect();
    let truth: Vec<String> = arxiv.iter().map(|v| field(v, "label_top")).collect();

    println!("cpu features: {}", CpuFeatures::detect().names().join(", "));
    let mut f32_tops: Option<Vec<Vec<usize>>> = None;
    for precision in Precision::ALL {
        if precision == Precision::Bf16 && Bf16Kernel::best().is_none() {
            println!("precision=bf16 skipped: this CPU has neither AMX-BF16 nor AVX512_BF16");
            continue;
        }
        let embedder = Embedder::builder()
            .threads(args.threads)
            .precision(precision)
            .build()?;
        let got = embedder.embed(&seed_texts)?;
        let cosines: Vec<f32> = reference
            .iter()
            .enumerate()
            .map(|(i, r)| dot(got.row(i), r) / dot(r, r).sqrt())
            .collect();
        let min = cosines.iter().copied().fold(1.0, f32::min);
        let mean = cosines.iter().sum::<f32>() / cosines.len() as f32;

        let query_vectors = embedder.embed(&queries)?;
        let tops: Vec<Vec<usize>> = (0..queries.len())
            .map(|i| top5(query_vectors.row(i), &got))
            .collect();
        let agreement = match &f32_tops {
            None => 1.0,
            Some(want) => {
                let same: usize = tops
                    .iter()
                    .zip(want)
                    .map(|(t, w)| t.iter().filter(|i| w.contains(i)).count())
                    .sum();
                same as f64 / (5 * queries.len()) as f64
            }
        };
        if precision == Precision::F32 {
            f32_tops = Some(tops);
        }

        let spearman = evaluate_sts(&embedder, &sts)?;
        let vectors = embedder.embed(&arxiv_texts)?;
        let x =
            Array2::from_shape_vec((vectors.len(), vectors.dim()), vectors.as_slice().to_vec())?;
        let nmis: Vec<f64> = (0..3)
            .map(|seed| {
                let config = TopicConfig {
                    k: Some(18),
                    seed,
                    ..TopicConfig::default()
                };
                Ok(metrics::nmi(
                    &truth,
                    &TopicModel::fit(x.view(), &docs, &config)?.assignments,
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        println!(
            "precision={precision} kernel={:?} min_cosine={min:.6} mean_cosine={mean:.6} sts_spearman={:.2} \
             topic_nmi_k18={:.3} top5_agreement={agreement:.3}",
            embedder.kernel(),
            spearman,
            nmis.iter().sum::<f64>() / nmis.len() as f64,
        );
    }
    Ok(())
}
