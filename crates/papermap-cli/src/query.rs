//! `papermap related` and `papermap search`: ranked papers as a table or JSON.

use std::path::PathBuf;

use clap::Args;
use papermap::{MetadataFilter, ScoredPaper};

use crate::{library, ModelArgs};

#[derive(Args)]
pub struct RelatedArgs {
    /// Library directory (made by `papermap index`).
    dir: PathBuf,
    /// Id of a paper in the library (an arXiv id such as 2502.08279).
    id: String,
    /// Number of papers to list.
    #[arg(short, default_value_t = 10)]
    k: usize,
    /// Print a JSON array of {"id","title","score"}.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct SearchArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Library directory (made by `papermap index`).
    dir: PathBuf,
    /// What to look for, in words.
    text: String,
    /// Number of papers to list.
    #[arg(short, default_value_t = 10)]
    k: usize,
    /// Only papers whose metadata field has this value (FIELD=VALUE, repeatable; arrays match
    /// when they contain the value), e.g. --where categories=cs.CL.
    #[arg(long = "where", value_name = "FIELD=VALUE")]
    filters: Vec<String>,
    /// Print a JSON array of {"id","title","score"}.
    #[arg(long)]
    json: bool,
}

pub fn related(args: RelatedArgs) -> anyhow::Result<()> {
    let map = papermap::PaperMap::open(&args.dir)?;
    print_hits(&map.related(&args.id, args.k)?, args.json)
}

pub fn search(args: SearchArgs) -> anyhow::Result<()> {
    let filter = MetadataFilter::parse(&args.filters).map_err(anyhow::Error::msg)?;
    let map = library::open(&args.dir, &args.model)?;
    print_hits(&map.search_where(&args.text, args.k, &filter)?, args.json)
}

fn print_hits(hits: &[ScoredPaper], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(hits)?);
        return Ok(());
    }
    let id_width = hits
        .iter()
        .map(|h| h.id.chars().count())
        .max()
        .unwrap_or(2)
        .max(2);
    println!("{:>4}  {:>6}  {:<id_width$}  title", "rank", "score", "id");
    for (rank, hit) in hits.iter().enumerate() {
        println!(
            "{:>4}  {:>6.3}  {:<id_width$}  {}",
            rank + 1,
            hit.score,
            hit.id,
            library::clip(&hit.title, 90)
        );
    }
    Ok(())
}
