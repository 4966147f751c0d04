//! `papermap index`: read a corpus, embed what is new or changed, save the library.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use papermap::{AddReport, PaperMap};

use crate::input::{self, Input};
use crate::{library, progress, ModelArgs};

#[derive(Args)]
pub struct IndexArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Corpus files or directories: arXiv digest markdown (.md, .txt), JSON Lines (.jsonl; lines
    /// with an "embedding" array are not embedded again), or the output of spark/papermap_embed.py.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Library directory: created, or updated when it already holds a library.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Vectors for the input's papers, computed elsewhere with the library's model (--model):
    /// a float32 .npy file, one row per paper in input order. Nothing is embedded.
    #[arg(long, value_name = "FILE.npy")]
    embeddings: Option<PathBuf>,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(mut args: IndexArgs) -> anyhow::Result<()> {
    let mut input = input::read(&args.inputs, &Default::default())?;
    if let Some(npy) = &args.embeddings {
        input.attach_npy(npy)?;
    }
    if input.papers.is_empty() {
        let inputs: Vec<String> = args
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        bail!("no papers found in {}: give arXiv digest (.md/.txt) or JSON Lines (.jsonl) files with titles and abstracts", inputs.join(", "));
    }
    // A new library of a job's output takes the job's model unless --model says otherwise.
    if let (None, Some((_, model))) = (&args.model.model, &input.model) {
        if !library::exists(&args.out) {
            args.model.model = Some(model.name.clone());
        }
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
    if let Some((manifest, model)) = &input.model {
        if model != map.fingerprint() {
            bail!(
                "{} holds vectors of {model}, but the library {} is of {}: index them into a new library (--out) or embed the corpus with the library's model",
                manifest.display(),
                args.out.display(),
                map.fingerprint()
            );
        }
    }
    input.check_vectors(map.fingerprint())?;
    let diagnostics = input.diagnostics.len();
    let outcome = add_input(&mut map, input)?;
    save(&mut map, &args.out)?;
    if args.json {
        let value = serde_json::json!({
            "library": args.out,
            "papers": map.len(),
            "added": outcome.added,
            "updated": outcome.updated,
            "unchanged": outcome.unchanged,
            "embedded": outcome.embedded,
            "skipped_entries": diagnostics,
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

/// Saves `map` into `out` with a progress bar; when another process saved first, rebases onto
/// its library (this run's changes kept, vectors reused) and saves again.
pub fn save(map: &mut PaperMap, out: &std::path::Path) -> anyhow::Result<()> {
    let bar = progress::bar(0, "building the HNSW graph");
    let saved = map.save_rebasing(out, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let rebased = saved.with_context(|| format!("saving the library to {}", out.display()))?;
    if rebased > 0 {
        eprintln!(
            "note: another process saved {} meanwhile; these papers were added to its library",
            out.display()
        );
    }
    Ok(())
}

/// Adds the input's papers to `map`: those that brought vectors as they are, the others
/// embedded (only texts the library does not hold yet), with a progress bar.
fn add_input(map: &mut PaperMap, input: Input) -> anyhow::Result<AddReport> {
    let bar = progress::bar(0, "embedding");
    let outcome = map.add_papers_with_vectors(input.papers, input.embeddings, |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    });
    bar.finish_and_clear();
    Ok(outcome?)
}
