//! `papermap topics`: fit (or reuse) the library's topics and print them.

use std::path::PathBuf;

use clap::Args;
use papermap::{PaperMap, TopicConfig, TopicModel};
use serde_json::json;

use crate::{library, progress};

#[derive(Args)]
pub struct TopicsArgs {
    /// Library directory (made by `papermap index`).
    dir: PathBuf,
    /// Number of topics (default: the library's topics if it holds some, else chosen by silhouette
    /// between 8 and 40, at most ⌈√papers⌉ unless that is below 8).
    #[arg(short)]
    k: Option<usize>,
    /// Seed of k-means (default 42); the same library and seed give the same topics.
    #[arg(long)]
    seed: Option<u64>,
    /// Fit anew even if the library holds topics that match -k and --seed (topics otherwise stay
    /// as papers are added: new papers join their nearest topic).
    #[arg(long)]
    refit: bool,
    /// Print {"topics":[{"id","label","keywords","size","representatives","group"}],"groups":[{"id","label","keywords","size","topics"}],"assignments":[{"id","topic"}]}.
    #[arg(long)]
    json: bool,
}

/// Fits topics unless the library already holds topics that match what was asked (`k` topics,
/// fitted with `seed`; `None`: whatever the stored ones have), and saves new ones. Showing must
/// never refit: `topics -k 40` then `topics` shows those 40, it does not choose k anew.
pub fn fit(
    map: &mut PaperMap,
    dir: &std::path::Path,
    k: Option<usize>,
    seed: Option<u64>,
    refit: bool,
) -> anyhow::Result<()> {
    // A damaged topics file: an error naming it, unless this is the refit that replaces it.
    if !refit {
        if let Some(table) = map.topic_table()? {
            let same_k = k.is_none_or(|k| k == table.topics.len());
            let same_seed = seed.is_none_or(|s| s == table.config.seed);
            if same_k && same_seed {
                return Ok(());
            }
        }
    }
    let defaults = TopicConfig::default();
    let config = TopicConfig {
        k,
        seed: seed.unwrap_or(defaults.seed),
        ..defaults
    };
    map.refit_topics(&config, &mut progress::stages())?;
    map.save(dir)?;
    Ok(())
}

pub fn run(args: TopicsArgs) -> anyhow::Result<()> {
    let mut map = PaperMap::open(&args.dir)?;
    fit(&mut map, &args.dir, args.k, args.seed, args.refit)?;
    // The table alone (O(k), mapped) unless the per-paper assignments are asked for.
    if args.json {
        println!("{}", to_json(map.fitted_topics()?.expect("fitted above")));
    } else {
        print_table(map.topic_table()?.expect("fitted above"));
    }
    Ok(())
}

/// The `--json` form.
fn to_json(model: &TopicModel) -> serde_json::Value {
    let topics: Vec<_> = model
        .topics
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "label": t.label,
                "keywords": t.keywords.iter().map(|k| k.term.as_str()).collect::<Vec<_>>(),
                "size": t.size,
                "representatives": t.representatives,
                "group": model.group_of(t.id).map(|g| g.id),
            })
        })
        .collect();
    let assignments: Vec<_> = model
        .doc_ids
        .iter()
        .zip(&model.assignments)
        .map(|(id, topic)| json!({"id": id, "topic": topic}))
        .collect();
    let groups: Vec<_> = model
        .groups
        .iter()
        .map(|g| {
            json!({
                "id": g.id,
                "label": g.label,
                "keywords": g.keywords.iter().map(|k| k.term.as_str()).collect::<Vec<_>>(),
                "size": g.size,
                "topics": g.topics,
            })
        })
        .collect();
    json!({"topics": topics, "groups": groups, "assignments": assignments})
}

fn print_table(model: &TopicModel) {
    println!("{:>5}  {:>5}  {:<40}  keywords", "topic", "size", "label");
    for t in &model.topics {
        let keywords: Vec<&str> = t.keywords.iter().take(6).map(|k| k.term.as_str()).collect();
        println!(
            "{:>5}  {:>5}  {:<40}  {}",
            t.id,
            t.size,
            library::clip(&t.label, 40),
            keywords.join(", ")
        );
    }
}
