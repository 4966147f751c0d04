//! Topic quality on the labelled arXiv set: NMI and ARI of papermap's topics against `label_top`.
//!
//! ```text
//! python benches/baselines/embed_arxiv_st.py ../shared/data/arxiv/abstracts.jsonl MODEL_DIR /tmp/arxiv_st.npy
//! cargo run --release --example topic_quality -- --data ../shared/data/arxiv/abstracts.jsonl \
//!     --vectors /tmp/arxiv_st.npy --k 18 --seeds 3
//! ```
//!
//! Prints one line per seed and the mean; `--k 0` chooses k by silhouette and prints the scores.
//! NMI uses the arithmetic mean of the entropies (scikit-learn's default), ARI is Hubert & Arabie's.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{ensure, Context};
use clap::{Parser, ValueEnum};
use ndarray::Array2;
use ndarray_npy::read_npy;
#[path = "common/metrics.rs"]
mod metrics;
use metrics::{ari, nmi};
use papermap_topics::{MapConfig, TopicConfig, TopicDoc, TopicMap, TopicModel, Variant};

#[derive(Clone, Copy, ValueEnum)]
enum VariantArg {
    Euclidean,
    Spherical,
}

#[derive(Parser)]
struct Args {
    /// abstracts.jsonl with id, title, abstract, label_top.
    #[arg(long)]
    data: PathBuf,
    /// n x d float32 .npy, row i embedding line i of --data.
    #[arg(long)]
    vectors: PathBuf,
    /// Number of topics; 0 chooses it by silhouette.
    #[arg(long, default_value_t = 18)]
    k: usize,
    /// Seeds 0..seeds are run and averaged.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    #[arg(long, default_value_t = 10)]
    runs: usize,
    #[arg(long, value_enum, default_value_t = VariantArg::Euclidean)]
    variant: VariantArg,
    /// Print the topics (label, size, top keywords) of the first seed.
    #[arg(long)]
    show: bool,
    /// Smallest k tried when choosing k.
    #[arg(long, default_value_t = TopicConfig::default().k_min)]
    k_min: usize,
    /// Largest k tried when choosing k.
    #[arg(long, default_value_t = TopicConfig::default().k_max)]
    k_max: usize,
    /// Also build the first seed's map and write map.json, map.svg and map.html here.
    #[arg(long)]
    map_dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.data)
        .with_context(|| format!("reading {}", args.data.display()))?;
    let mut docs = Vec::new();
    let mut truth = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        docs.push(TopicDoc {
            id: field("id"),
            title: field("title"),
            text: field("abstract"),
        });
        truth.push(field("label_top"));
    }
    let x: Array2<f32> =
        read_npy(&args.vectors).with_context(|| format!("reading {}", args.vectors.display()))?;
    ensure!(
        x.nrows() == docs.len(),
        "{} vectors for {} docs",
        x.nrows(),
        docs.len()
    );
    let (mut nmi_sum, mut ari_sum) = (0.0, 0.0);
    for seed in 0..args.seeds {
        let config = TopicConfig {
            k: (args.k > 0).then_some(args.k),
            seed,
            n_runs: args.runs,
            k_min: args.k_min,
            k_max: args.k_max,
            variant: match args.variant {
                VariantArg::Euclidean => Variant::Euclidean,
                VariantArg::Spherical => Variant::Spherical,
            },
            ..TopicConfig::default()
        };
        let start = Instant::now();
        let model = TopicModel::fit(x.view(), &docs, &config)?;
        let seconds = start.elapsed().as_secs_f64();
        let nmi = nmi(&truth, &model.assignments);
        let ari = ari(&truth, &model.assignments);
        nmi_sum += nmi;
        ari_sum += ari;
        println!(
            "seed={seed} k={} nmi={nmi:.3} ari={ari:.3} seconds={seconds:.2}",
            model.topics.len()
        );
        if let Some(scores) = &model.k_scores {
            let line: Vec<String> = scores
                .iter()
                .map(|s| format!("{}:{:.4}", s.k, s.silhouette))
                .collect();
            println!("  silhouette {}", line.join(" "));
        }
        if let (Some(dir), 0) = (&args.map_dir, seed) {
            let start = Instant::now();
            let config = MapConfig {
                link_template: Some("https://arxiv.org/abs/{id}".into()),
                title: "arXiv, March-April 2007".into(),
                ..MapConfig::default()
            };
            let map = TopicMap::build(x.view(), &model, &docs, &config)?;
            println!(
                "  map: neighbourhood_preservation={:.3} seconds={:.2}",
                map.neighbourhood_preservation,
                start.elapsed().as_secs_f64()
            );
            std::fs::create_dir_all(dir)?;
            std::fs::write(dir.join("map.json"), map.to_json())?;
            std::fs::write(dir.join("map.svg"), map.to_svg())?;
            std::fs::write(dir.join("map.html"), map.to_html())?;
        }
        if args.show && seed == 0 {
            for t in &model.topics {
                let kw: Vec<&str> = t.keywords.iter().take(6).map(|k| k.term.as_str()).collect();
                println!(
                    "  [{:>2}] {:>4}  {:<40} {}",
                    t.id,
                    t.size,
                    t.label,
                    kw.join(" | ")
                );
            }
        }
    }
    let n = args.seeds as f64;
    println!("mean nmi={:.3} ari={:.3}", nmi_sum / n, ari_sum / n);
    Ok(())
}
