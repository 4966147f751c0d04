//! `papermap index`: read a corpus, embed what is new or changed, save the library.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use papermap::corpus::{read_paths, Paper, ReadOptions};
use papermap::{AddReport, PaperMap, PaperMapError};

use crate::{library, progress, ModelArgs};

/// Diagnostics printed before the rest are summarised.
const SHOWN_DIAGNOSTICS: usize = 20;
/// Saves retried after another writer saved the same library first.
const SAVE_RETRIES: usize = 3;

#[derive(Args)]
pub struct IndexArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Corpus files or directories: arXiv digest markdown (.md, .txt) or JSON Lines (.jsonl).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Library directory: created, or updated when it already holds a library.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: IndexArgs) -> anyhow::Result<()> {
    let report = read_paths(&args.inputs, &ReadOptions::default())?;
    let (papers, diagnostics) = report.into_parts();
    for diagnostic in diagnostics.iter().take(SHOWN_DIAGNOSTICS) {
        eprintln!("warning: {diagnostic}");
    }
    if diagnostics.len() > SHOWN_DIAGNOSTICS {
        eprintln!(
            "warning: … and {} more skipped or ignored entries",
            diagnostics.len() - SHOWN_DIAGNOSTICS
        );
    }
    if papers.is_empty() {
        let inputs: Vec<String> = args
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        bail!("no papers found in {}: give arXiv digest (.md/.txt) or JSON Lines (.jsonl) files with titles and abstracts", inputs.join(", "));
    }
    let existed = library::exists(&args.out);
    let mut map = if existed {
        library::open(&args.out, &args.model)?
    } else {
        let map = library::builder(&args.model).build()?;
        // Refuse a foreign directory before spending minutes on embedding.
        map.check_save_target(&args.out)?;
        map
    };
    let mut outcome = embed_into(&mut map, papers.clone())?;
    let mut retries = 0;
    loop {
        match map.save(&args.out) {
            Ok(()) => break,
            // Another `papermap index` saved first: redo the addition on top of its papers
            // (texts it already embedded are reused) rather than overwrite them.
            Err(PaperMapError::Conflict { .. }) if retries < SAVE_RETRIES => {
                retries += 1;
                eprintln!(
                    "note: another process saved {} meanwhile; adding these papers to its library",
                    args.out.display()
                );
                map = library::open(&args.out, &args.model)?;
                outcome = embed_into(&mut map, papers.clone())?;
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("saving the library to {}", args.out.display()))
            }
        }
    }
    if args.json {
        let value = serde_json::json!({
            "library": args.out,
            "papers": map.len(),
            "added": outcome.added,
            "updated": outcome.updated,
            "unchanged": outcome.unchanged,
            "embedded": outcome.embedded,
            "skipped_entries": diagnostics.len(),
            "index": map.index_kind(),
            "model": map.fingerprint().to_string(),
        });
        println!("{value}");
    } else {
        println!(
            "{} {}: {} papers ({} added, {} changed, {} unchanged; {} texts embedded), {} index, model {}",
            if existed { "updated" } else { "created" },
            args.out.display(),
            map.len(),
            outcome.added,
            outcome.updated,
            outcome.unchanged,
            outcome.embedded,
            map.index_kind(),
            map.fingerprint(),
        );
    }
    Ok(())
}

/// Adds `papers` to `map`, embedding what is new, with a progress bar.
fn embed_into(map: &mut PaperMap, papers: Vec<Paper>) -> anyhow::Result<AddReport> {
    let bar = progress::bar(0, "embedding");
    let outcome = map.add_papers_with_progress(papers, |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    });
    bar.finish_and_clear();
    Ok(outcome?)
}
