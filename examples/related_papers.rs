//! "Which papers are related to this one?" over a saved library: build it once, then reopen it
//! the way a long-lived tool would, without embedding anything again.
//!
//! ```text
//! cargo run --release --example related_papers -- [ARXIV_ID] [--library DIR]
//! ```
//!
//! Without an id it lists neighbours of the first paper. The library defaults to
//! `.papermap/examples-related` and is created from the bundled corpus when missing.

use std::path::PathBuf;

use anyhow::Context;
use papermap::{read_path, PaperMap};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut id = None;
    let mut library = PathBuf::from(".papermap/examples-related");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--library" => library = args.next().context("--library needs a directory")?.into(),
            _ => id = Some(arg),
        }
    }

    let map = if library.join(papermap::MANIFEST_FILE).exists() {
        PaperMap::open(&library).with_context(|| format!("opening {}", library.display()))?
    } else {
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/seed");
        let mut map = PaperMap::builder().build()?;
        map.add_papers(read_path(corpus)?.into_papers())?;
        map.save(&library)?;
        eprintln!("saved a new library in {}", library.display());
        map
    };

    let id = match id {
        Some(id) => id,
        None => map
            .papers()?
            .first()
            .context("the library is empty")?
            .id
            .clone(),
    };
    let paper = map
        .paper(&id)?
        .with_context(|| format!("no paper {id} in {}", library.display()))?;
    println!("{id}: {}\n", paper.title);
    // `related` never returns the paper itself.
    for hit in map.related(&id, 5)? {
        println!("{:.3}  {:<12} {}", hit.score, hit.id, hit.title);
    }
    Ok(())
}
