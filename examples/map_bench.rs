//! The topic map at scale, stage by stage: wall time and peak RSS of topics, neighbours, layout
//! and rendering, in one process on a library built by `papermap index`.
//!
//! ```text
//! cargo run --release --example library_bench -- --n 100000 --work /tmp/libbench   # makes the library
//! cargo run --release --example map_bench -- --lib /tmp/libbench/lib-100000 -k 50 [--compare-exact]
//! ```
//!
//! Peak RSS per stage is the process's high-water mark (`VmHWM`), reset before each stage through
//! `/proc/self/clear_refs` (Linux). `--compare-exact` also lays the map out on the exact
//! neighbour graph and scores both maps against the exact graph (meant for about 20,000 papers:
//! the exact graph is O(n²)).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use papermap::{MapConfig, NeighbourGraph, PaperMap, TopicConfig, TopicMap};

#[derive(Parser)]
struct Args {
    /// Library directory.
    #[arg(long)]
    lib: PathBuf,
    /// Number of topics (0: chosen automatically).
    #[arg(short, default_value_t = 50)]
    k: usize,
    /// Where the SVG and HTML go.
    #[arg(long, default_value = "/tmp/map_bench")]
    out: PathBuf,
    /// Also lay out on the exact neighbour graph and compare preservation scores.
    #[arg(long)]
    compare_exact: bool,
    /// Single-threaded, seeded layout.
    #[arg(long)]
    deterministic: bool,
}

/// Peak RSS since the last reset, in bytes (0 where /proc is missing).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Runs one stage, printing its table row.
fn stage<T>(name: &str, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    reset_peak();
    let start = Instant::now();
    let out = f()?;
    println!(
        "| {name} | {:.1} s | {:.0} MB |",
        start.elapsed().as_secs_f64(),
        peak_rss() as f64 / 1e6
    );
    Ok(out)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let threads = rayon::current_num_threads();
    let mut map =
        PaperMap::open(&args.lib).with_context(|| format!("opening {}", args.lib.display()))?;
    let n = map.len();
    println!(
        "| stage ({n} papers, k = {}, {threads} threads) | wall | peak RSS |",
        if args.k == 0 {
            "auto".to_string()
        } else {
            args.k.to_string()
        }
    );
    println!("|---|---:|---:|");
    let k = (args.k > 0).then_some(args.k);
    let topics = stage("topics (k-means, keywords, groups)", || {
        Ok(map
            .topics_with(&TopicConfig {
                k,
                ..TopicConfig::default()
            })?
            .topics
            .len())
    })?;
    let config = MapConfig {
        deterministic: args.deterministic,
        link_template: Some("https://arxiv.org/abs/{id}".into()),
        title: "map_bench".into(),
        ..MapConfig::default()
    };
    let neighbours = config.n_neighbors.max(TopicMap::SCORE_NEIGHBOURS);
    let graph = stage(
        &format!("neighbours ({} index, k = {neighbours})", map.index_kind()),
        || Ok(map.neighbour_graph(neighbours, &mut |_| {})?),
    )?;
    let (matrix, docs) = stage("embeddings and titles read for the layout", || {
        Ok((map.embedding_matrix(), map.topic_docs()?))
    })?;
    let model = map.fitted_topics()?.context("fitted above")?;
    let topic_map = stage("layout (PCA start, UMAP epochs, score)", || {
        Ok(TopicMap::build_with_neighbours(
            matrix.view(),
            model,
            &docs,
            &graph,
            &config,
            &mut |_| {},
        )?)
    })?;
    let svg = stage("SVG", || Ok(topic_map.to_svg()))?;
    let html = stage("HTML", || Ok(topic_map.to_html()))?;
    std::fs::write(args.out.join("map.svg"), &svg)?;
    std::fs::write(args.out.join("map.html"), &html)?;
    println!(
        "\n{topics} topics; neighbourhood preservation {:.3} (against the graph used); SVG {:.1} MB, HTML {:.1} MB",
        topic_map.neighbourhood_preservation,
        svg.len() as f64 / 1e6,
        html.len() as f64 / 1e6
    );
    if args.compare_exact {
        let exact = stage("exact neighbour graph (comparison only)", || {
            Ok(NeighbourGraph::exact(
                matrix.view(),
                neighbours,
                &mut |_| {},
            ))
        })?;
        let on_exact = TopicMap::build_with_neighbours(
            matrix.view(),
            model,
            &docs,
            &exact,
            &config,
            &mut |_| {},
        )?;
        let recall = (0..exact.len())
            .map(|i| {
                let want: Vec<usize> = exact.neighbours(i).map(|(j, _)| j).collect();
                graph
                    .neighbours(i)
                    .filter(|(j, _)| want.contains(j))
                    .count()
            })
            .sum::<usize>() as f64
            / (exact.len() * exact.k()) as f64;
        println!("recall of the index graph against the exact graph: {recall:.4}");
        let sample = config.score_sample;
        println!(
            "preservation against the exact graph: map from the index graph {:.4}, map from the exact graph {:.4}",
            topic_map.preservation_against(&exact, sample, config.seed),
            on_exact.preservation_against(&exact, sample, config.seed),
        );
    }
    Ok(())
}
