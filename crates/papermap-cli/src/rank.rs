//! `papermap rank`: today's digest against a library, best first, with the reasons.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use papermap::corpus::ReadOptions;
use papermap::{MapConfig, PaperMap, Profile, Ranking};

use crate::output::write_atomically;
use crate::{index, input, library, ModelArgs};

#[derive(Args)]
pub struct RankArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Digest files or directories (arXiv digest markdown, JSON Lines).
    #[arg(required = true)]
    digest: Vec<PathBuf>,
    /// The library to rank against (made by `papermap index`).
    #[arg(long)]
    library: PathBuf,
    /// Rank against these library papers only (comma-separated ids) instead of the whole library.
    #[arg(long, value_delimiter = ',', value_name = "ID,..")]
    liked_ids: Vec<String>,
    /// A file of liked ids, one per line (added to --liked-ids).
    #[arg(long, value_name = "FILE")]
    liked: Option<PathBuf>,
    /// Library papers that push digest papers like them down (comma-separated ids).
    #[arg(long, value_delimiter = ',', value_name = "ID,..")]
    disliked_ids: Vec<String>,
    /// A file of disliked ids, one per line (added to --disliked-ids).
    #[arg(long, value_name = "FILE")]
    disliked: Option<PathBuf>,
    /// Vectors of the digest's papers computed elsewhere (.npy, one row per paper in input order).
    #[arg(long, value_name = "FILE.npy")]
    embeddings: Option<PathBuf>,
    /// Papers to list (all of them are ranked).
    #[arg(short, default_value_t = 20)]
    k: usize,
    /// Print the ranking as JSON: {"papers":[{id,title,score,nearest,shared_terms,topic,in_library,title_only}],"unknown_ids":[..]}
    /// (JSON Schema: crates/papermap-cli/schemas/rank.schema.json).
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print the ranking as Markdown (a list with the reasons).
    #[arg(long)]
    markdown: bool,
    /// Also write the digest as a page: the ranked list beside the library's kept map, today's
    /// papers placed on it (the library must keep a map: `papermap map LIB --html FILE` once).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Link of each point on the page; `{id}` becomes the paper id.
    #[arg(long, default_value = "https://arxiv.org/abs/{id}")]
    link: String,
    /// Add the digest's papers to the library afterwards (as `papermap index` does; their
    /// vectors are reused). Without it nothing is written to the library.
    #[arg(long)]
    add: bool,
    /// Embed the digest in this precision instead of the library's: bf16 is ~2x faster where the
    /// CPU has AVX512_BF16 or AMX, int8 ~1.8x on every x86 CPU; the vectors stay within cosine
    /// 0.9999 (bf16) / 0.996 (int8) of f32, so scores move in the 4th-5th decimal. Not with
    /// --add: a library keeps vectors of one precision.
    #[arg(long, value_name = "f32|bf16|int8", conflicts_with_all = ["add", "precision"])]
    digest_precision: Option<papermap::Precision>,
}

fn ids(listed: &[String], file: &Option<PathBuf>) -> anyhow::Result<Vec<String>> {
    let mut ids: Vec<String> = listed.iter().map(|s| s.trim().to_string()).collect();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the id list {}", path.display()))?;
        ids.extend(text.lines().map(str::trim).map(String::from));
    }
    ids.retain(|id| !id.is_empty());
    Ok(ids)
}

pub fn run(args: RankArgs) -> anyhow::Result<()> {
    let liked = ids(&args.liked_ids, &args.liked)?;
    let disliked = ids(&args.disliked_ids, &args.disliked)?;
    let profile = match liked.is_empty() {
        true => Profile::library(),
        false => Profile::liked(liked),
    }
    .disliking(disliked);
    if let Some(path) = &args.html {
        // Refuse an output that cannot be written before the embedding, not after.
        let parent = papermap_store::atomic::target_dir(path);
        if !parent.is_dir() {
            bail!(
                "cannot write {}: the directory {} does not exist",
                path.display(),
                parent.display()
            );
        }
    }
    let mut map = library::open(&args.library, &args.model)?;
    if args.add {
        map.check_save_target(&args.library)?;
    }
    // A digest entry without an abstract is still today's paper: ranked on its title, flagged.
    let options = ReadOptions {
        keep_title_only: true,
        ..ReadOptions::default()
    };
    let mut digest = input::read(&args.digest, &options)?;
    if digest.papers.is_empty() {
        return Err(papermap::PaperMapError::EmptyDigest.into());
    }
    if let Some(npy) = &args.embeddings {
        digest.attach_npy(npy)?;
    }
    let vectors = vectors(
        &map,
        &args.library,
        &digest,
        &args.model,
        args.digest_precision,
    )?;
    let ranking = map.rank_embedded(&digest.papers, &vectors, &profile)?;
    if let Some(path) = &args.html {
        let config = MapConfig {
            link_template: Some(args.link.clone()),
            title: format!("{} — today", papermap::library_title(&args.library)),
            ..MapConfig::default()
        };
        let page = map.digest_map(&digest.papers, &vectors, &ranking, &config)?;
        write_atomically(Some(path), |out| {
            Ok(out.write_all(page.to_html().as_bytes())?)
        })?;
    }
    for id in &ranking.unknown_ids {
        eprintln!(
            "warning: {id} is not in {}; left out of the profile",
            args.library.display()
        );
    }
    print(&ranking, args.k, args.json, args.markdown)?;
    if args.add {
        // As `papermap index`: a paper without an abstract is not added.
        let dim = map.fingerprint().dimension;
        let (mut papers, mut kept) = (Vec::new(), Vec::new());
        for (paper, vector) in digest.papers.into_iter().zip(vectors.chunks_exact(dim)) {
            match paper.abstract_text.trim().is_empty() {
                true => eprintln!("not added (no abstract): {}", paper.id),
                false => {
                    papers.push(paper);
                    kept.extend_from_slice(vector);
                }
            }
        }
        let report = map.add_embedded(papers, &kept)?;
        index::save(&mut map, &args.library)?;
        eprintln!(
            "added to {}: {} new, {} changed, {} unchanged",
            args.library.display(),
            report.added,
            report.updated,
            report.unchanged
        );
    }
    Ok(())
}

/// The digest's vectors, row-major: as given (checked against the library's model), else
/// embedded with the library's model, in `precision` where one is given.
fn vectors(
    map: &PaperMap,
    dir: &Path,
    digest: &input::Input,
    model: &ModelArgs,
    precision: Option<papermap::Precision>,
) -> anyhow::Result<Vec<f32>> {
    if digest.embeddings.iter().all(Option::is_some) {
        digest.check_vectors(map.fingerprint())?;
        return Ok(digest
            .embeddings
            .iter()
            .flatten()
            .flatten()
            .copied()
            .collect());
    }
    let library = map.fingerprint();
    match precision {
        Some(p) if p != library.precision => {
            let embedder = ModelArgs {
                model: Some(library.name.clone()),
                precision: Some(p),
                ..model.clone()
            }
            .load()?;
            // The library's model in another precision, never another model.
            let asked = embedder
                .fingerprint()
                .clone()
                .with_precision(library.precision);
            if asked != *library {
                bail!(
                    "--digest-precision {p}: the model loaded is {}, but {} holds vectors of {library}",
                    embedder.fingerprint(),
                    dir.display()
                );
            }
            let texts: Vec<String> = digest.papers.iter().map(|p| p.embedding_text()).collect();
            Ok(embedder.embed(&texts)?.into_vec())
        }
        _ => Ok(map.embed_papers(&digest.papers)?),
    }
}

fn print(ranking: &Ranking, k: usize, json: bool, markdown: bool) -> anyhow::Result<()> {
    let shown = &ranking.papers[..k.min(ranking.papers.len())];
    if json {
        let shown = Ranking {
            papers: shown.to_vec(),
            unknown_ids: ranking.unknown_ids.clone(),
        };
        println!("{}", serde_json::to_string(&shown)?);
        return Ok(());
    }
    for (i, r) in shown.iter().enumerate() {
        let mut flags = Vec::new();
        if r.in_library {
            flags.push("already in your library");
        }
        if r.title_only {
            flags.push("no abstract: ranked on its title");
        }
        let topic = r.topic.map(|t| format!(", topic {t}")).unwrap_or_default();
        let flags = match flags.is_empty() {
            true => String::new(),
            false => format!(" ({})", flags.join("; ")),
        };
        match markdown {
            true => println!(
                "{}. **{}** `{}` — score {:.3}{topic}{flags}",
                i + 1,
                r.title,
                r.id,
                r.score
            ),
            false => println!(
                "{:>3}  {:.3}  {:<14} {}{topic}{flags}",
                i + 1,
                r.score,
                r.id,
                library::clip(&r.title, 70)
            ),
        }
        for (near, terms) in r.nearest.iter().zip(&r.shared_terms) {
            let why = match terms.is_empty() {
                true => String::new(),
                false => format!(" — shares: {}", terms.join(", ")),
            };
            match markdown {
                true => println!("   - {:.3} {} `{}`{why}", near.score, near.title, near.id),
                false => println!(
                    "           {:.3}  {:<14} {}{why}",
                    near.score,
                    near.id,
                    library::clip(&near.title, 50)
                ),
            }
        }
    }
    Ok(())
}
