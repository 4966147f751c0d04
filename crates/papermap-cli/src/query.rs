//! `papermap related` and `papermap search`: ranked papers as a table or JSON.

use std::path::PathBuf;

use clap::Args;
use papermap::topics::{shared_terms, TopicDoc};
use papermap::{MetadataFilter, Paper, PaperMap, ScoredPaper};

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
    /// Print a JSON array of {"id","title","score"} (with --why, also "why").
    #[arg(long)]
    json: bool,
    /// List the key terms each hit shares with the paper (words and bigrams of both texts).
    #[arg(long)]
    why: bool,
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
    /// Print a JSON array of {"id","title","score"} (with --why, also "why").
    #[arg(long)]
    json: bool,
    /// List the key terms each hit shares with the text (words and bigrams of both).
    #[arg(long)]
    why: bool,
}

pub fn related(args: RelatedArgs) -> anyhow::Result<()> {
    let map = papermap::PaperMap::open(&args.dir)?;
    let hits = map.related(&args.id, args.k)?;
    let why = match args.why {
        false => None,
        true => {
            let paper = map.paper(&args.id)?.expect("related found it");
            Some(reasons(&map, &doc(&paper), &hits)?)
        }
    };
    print_hits(&hits, why.as_deref(), args.json)
}

pub fn search(args: SearchArgs) -> anyhow::Result<()> {
    let filter = MetadataFilter::parse(&args.filters).map_err(anyhow::Error::msg)?;
    let map = library::open(&args.dir, &args.model)?;
    let hits = map.search_where(&args.text, args.k, &filter)?;
    let why = match args.why {
        false => None,
        true => {
            let query = TopicDoc {
                id: String::new(),
                title: args.text.clone(),
                text: String::new(),
            };
            Some(reasons(&map, &query, &hits)?)
        }
    };
    print_hits(&hits, why.as_deref(), args.json)
}

fn doc(paper: &Paper) -> TopicDoc {
    TopicDoc {
        id: paper.id.clone(),
        title: paper.title.clone(),
        text: paper.abstract_text.clone(),
    }
}

/// The key terms each hit shares with `query`.
fn reasons(
    map: &PaperMap,
    query: &TopicDoc,
    hits: &[ScoredPaper],
) -> anyhow::Result<Vec<Vec<String>>> {
    hits.iter()
        .map(|hit| {
            let paper = map.paper(&hit.id)?.expect("a hit is in the library");
            Ok(shared_terms(query, &doc(&paper), 5))
        })
        .collect()
}

fn print_hits(hits: &[ScoredPaper], why: Option<&[Vec<String>]>, json: bool) -> anyhow::Result<()> {
    if json {
        let out: Vec<serde_json::Value> = hits
            .iter()
            .enumerate()
            .map(|(i, hit)| {
                let mut v = serde_json::to_value(hit).expect("a hit serialises");
                if let Some(why) = why {
                    v["why"] = serde_json::json!(why[i]);
                }
                v
            })
            .collect();
        println!("{}", serde_json::to_string(&out)?);
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
        if let Some(terms) = why.map(|w| &w[rank]).filter(|t| !t.is_empty()) {
            println!(
                "{:>4}  {:>6}  {:<id_width$}  shares: {}",
                "",
                "",
                "",
                terms.join(", ")
            );
        }
    }
    Ok(())
}
