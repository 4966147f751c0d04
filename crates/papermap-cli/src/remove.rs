//! `papermap remove`: take papers out of a library; only the removal is written.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use papermap::{PaperMap, PaperMapError};

/// Saves retried after another writer saved the same library first.
const SAVE_RETRIES: usize = 3;

#[derive(Args)]
pub struct RemoveArgs {
    /// Library directory (made by `papermap index`).
    dir: PathBuf,
    /// Ids of the papers to remove.
    ids: Vec<String>,
    /// Also remove the ids listed in this file, one per line (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    ids_from: Option<PathBuf>,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: RemoveArgs) -> anyhow::Result<()> {
    let mut ids = args.ids.clone();
    if let Some(file) = &args.ids_from {
        let text = match file.as_os_str() == "-" {
            true => std::io::read_to_string(std::io::stdin()).context("reading ids from stdin")?,
            false => std::fs::read_to_string(file)
                .with_context(|| format!("cannot read ids from {}", file.display()))?,
        };
        ids.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
    }
    if ids.is_empty() {
        bail!("no ids to remove: give them as arguments or with --ids-from FILE");
    }
    let mut map = PaperMap::open(&args.dir)?;
    let removed = map.remove(&ids)?;
    // Nothing to write when none of the ids was in the library.
    let mut retries = 0;
    let mut saved = removed == 0;
    while !saved {
        match map.save(&args.dir) {
            Ok(()) => saved = true,
            Err(PaperMapError::Conflict { .. }) if retries < SAVE_RETRIES => {
                retries += 1;
                // Another writer saved first: its library, with these removals on top.
                map.rebase(&args.dir)?;
            }
            Err(e) => return Err(e).with_context(|| format!("saving {}", args.dir.display())),
        }
    }
    if args.json {
        let value = serde_json::json!({
            "library": args.dir, "removed": removed, "not_found": ids.len() - removed, "papers": map.len(),
        });
        println!("{value}");
    } else {
        println!(
            "removed {removed} papers from {} ({} ids not in the library); {} papers left",
            args.dir.display(),
            ids.len() - removed,
            map.len()
        );
    }
    Ok(())
}
