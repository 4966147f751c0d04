//! The shortest useful papermap program: read the bundled corpus, embed it, ask two questions.
//!
//! ```text
//! cargo run --release -p papermap-cli -- model fetch      # once: fills the model cache
//! cargo run --release --example quickstart
//! ```

use anyhow::Context;
use papermap::{read_path, PaperMap};

fn main() -> anyhow::Result<()> {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/seed");
    // Reading never stops at a bad entry: it is skipped and reported, the rest loads.
    let report = read_path(corpus).with_context(|| format!("reading {corpus}"))?;
    for diagnostic in report.diagnostics() {
        eprintln!("skipped: {diagnostic}");
    }

    let mut map = PaperMap::builder().build()?;
    let added = map.add_papers(report.into_papers())?;
    println!(
        "{} papers, {} embedded, index: {}",
        map.len(),
        added.embedded,
        map.index_kind()
    );

    println!("\nAbout \"summarizing recorded scientific talks into text\":");
    for hit in map.search("summarizing recorded scientific talks into text", 3)? {
        println!("  {:.3}  {}  {}", hit.score, hit.id, hit.title);
    }

    let first = map.papers()?[0].clone();
    println!("\nRelated to {} ({}):", first.id, first.title);
    for hit in map.related(&first.id, 3)? {
        println!("  {:.3}  {}  {}", hit.score, hit.id, hit.title);
    }
    Ok(())
}
