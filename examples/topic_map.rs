//! Topics and a topic map of the bundled corpus: k-means topics with keywords, then the map
//! as SVG and as a self-contained HTML page (hover for titles, click to open, search, toggles).
//!
//! ```text
//! cargo run --release --example topic_map -- [OUT_DIR] [-k N]
//! ```
//!
//! Writes `OUT_DIR/map.svg` and `OUT_DIR/map.html` (default `.papermap/examples-map`).

use std::path::PathBuf;

use anyhow::Context;
use papermap::{read_path, MapConfig, PaperMap};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut out = PathBuf::from(".papermap/examples-map");
    let mut k = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-k" => k = Some(args.next().context("-k needs a number")?.parse()?),
            _ => out = arg.into(),
        }
    }

    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/seed");
    let mut map = PaperMap::builder().build()?;
    map.add_papers(read_path(corpus)?.into_papers())?;

    // `None` picks k by silhouette and keeps the score of every k tried.
    let topics = map.topics(k)?;
    for topic in &topics.topics {
        let keywords: Vec<&str> = topic
            .keywords
            .iter()
            .take(5)
            .map(|k| k.term.as_str())
            .collect();
        println!(
            "topic {:>2} ({:>2} papers) {:<40} {}",
            topic.id,
            topic.size,
            topic.label,
            keywords.join(", ")
        );
    }

    let config = MapConfig {
        link_template: Some("https://arxiv.org/abs/{id}".into()),
        title: "papermap: bundled seed corpus".into(),
        ..MapConfig::default()
    };
    let topic_map = map.topic_map(&config)?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(out.join("map.svg"), topic_map.to_svg())?;
    std::fs::write(out.join("map.html"), topic_map.to_html())?;
    println!(
        "\nwrote {0}/map.svg and {0}/map.html; neighbourhood preservation {1:.2}",
        out.display(),
        topic_map.neighbourhood_preservation
    );
    Ok(())
}
