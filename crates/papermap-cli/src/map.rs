//! `papermap map`: the topic map as SVG and a self-contained HTML page.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use papermap::{MapConfig, PaperMap};

use crate::output::write_atomically;
use crate::{progress, topics};

#[derive(Args)]
pub struct MapArgs {
    /// Library directory (made by `papermap index`).
    dir: PathBuf,
    /// Write the map as SVG here.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Write the map as a self-contained HTML page here.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Number of topics when the library has none yet (default: chosen by silhouette).
    #[arg(short)]
    k: Option<usize>,
    /// Link of each point; `{id}` becomes the paper id.
    #[arg(long, default_value = "https://arxiv.org/abs/{id}")]
    link: String,
    /// Lay out on one thread: the same library and seed give the same bytes (slower; by
    /// default the layout runs on all cores).
    #[arg(long)]
    deterministic: bool,
    /// Lay the map out afresh even if the library keeps one (otherwise papers added since the
    /// last layout are placed beside their neighbours and nobody else moves).
    #[arg(long)]
    relayout: bool,
    /// Seed of the layout.
    #[arg(long, default_value_t = MapConfig::default().seed)]
    seed: u64,
}

pub fn run(args: MapArgs) -> anyhow::Result<()> {
    if args.svg.is_none() && args.html.is_none() {
        bail!("nothing to write: give --svg FILE and/or --html FILE");
    }
    // Refuse an output that cannot be written before minutes of layout, not after.
    for path in [&args.svg, &args.html].into_iter().flatten() {
        let parent = papermap_store::atomic::target_dir(path);
        if !parent.is_dir() {
            bail!(
                "cannot write {}: the directory {} does not exist",
                path.display(),
                parent.display()
            );
        }
    }
    let mut map = PaperMap::open(&args.dir)?;
    topics::fit(&mut map, &args.dir, args.k, None, false)?;
    let config = MapConfig {
        link_template: Some(args.link.clone()),
        title: papermap::library_title(&args.dir),
        deterministic: args.deterministic,
        seed: args.seed,
        ..MapConfig::default()
    };
    let lays_out = args.relayout || map.topic_table()?.is_none_or(|t| t.layout.is_none());
    let topic_map = map.place_map(&config, args.relayout, &mut progress::stages())?;
    if lays_out {
        // Keep the layout with the topics (only the topics file is written).
        map.save(&args.dir)?;
    }
    if let Some(path) = &args.svg {
        write_atomically(Some(path), |out| {
            Ok(out.write_all(topic_map.to_svg().as_bytes())?)
        })?;
    }
    if let Some(path) = &args.html {
        write_atomically(Some(path), |out| {
            Ok(out.write_all(topic_map.to_html().as_bytes())?)
        })?;
    }
    eprintln!(
        "{} papers in {} topics; neighbourhood preservation {:.3}",
        topic_map.points.len(),
        topic_map.topics.len(),
        topic_map.neighbourhood_preservation
    );
    Ok(())
}
