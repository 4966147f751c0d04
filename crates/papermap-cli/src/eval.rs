//! `papermap eval ...`: embedding quality on public benchmarks, topic quality of a library.

use std::path::PathBuf;

use clap::Subcommand;
use papermap::embed::sts::{evaluate_sts, read_sts_tsv};
use papermap::{PaperMap, TopicEvalOptions, TopicEvaluation};

use crate::ModelArgs;

#[derive(Subcommand)]
pub enum EvalCommand {
    /// STS Benchmark: Spearman x 100 of cosine similarity against gold scores.
    Sts {
        #[command(flatten)]
        model: ModelArgs,
        /// TSV with header `score<TAB>sentence1<TAB>sentence2` (e.g. sts-test.tsv).
        file: PathBuf,
    },
    /// Topic quality of a library's fitted topics: NPMI coherence of each topic's top-10
    /// keywords over the library's texts (gensim's c_npmi), topic diversity (top 10 and 25),
    /// agreement with a label field (NMI, V-measure, ARI) and stability across seeds.
    Topics {
        /// Library directory with fitted topics (`papermap topics DIR` fits them).
        dir: PathBuf,
        /// Metadata field of the papers to score the topics against (e.g. `label`, `label_top`).
        #[arg(long)]
        label: Option<String>,
        /// Fits with this many seeds for the stability score (0 skips it; each fit costs a refit).
        #[arg(long, default_value_t = 3)]
        seeds: usize,
        /// Print the scores as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: EvalCommand) -> anyhow::Result<()> {
    match cmd {
        EvalCommand::Sts { model, file } => {
            let pairs = read_sts_tsv(&file)?;
            let embedder = model.load()?;
            let spearman = evaluate_sts(&embedder, &pairs)?;
            println!(
                "sts pairs={} spearman={spearman:.2} model={}",
                pairs.len(),
                embedder.fingerprint()
            );
            Ok(())
        }
        EvalCommand::Topics {
            dir,
            label,
            seeds,
            json,
        } => {
            let map = PaperMap::open(&dir)?;
            let scores = map.evaluate_topics(&TopicEvalOptions { label, seeds })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&scores)?);
            } else {
                print_topic_scores(&scores);
            }
            Ok(())
        }
    }
}

fn print_topic_scores(s: &TopicEvaluation) {
    println!("papers {}  topics {}", s.papers, s.topics);
    println!("npmi (c_npmi, top 10)   {:.4}", s.npmi);
    println!("diversity top 10        {:.4}", s.diversity_top10);
    println!("diversity top 25        {:.4}", s.diversity_top25);
    println!("outlier share           {:.4}", s.outlier_share);
    if let Some(l) = &s.labels {
        let a = &l.agreement;
        println!(
            "against {:?} ({} papers, {} classes): nmi {:.4}  v-measure {:.4}  homogeneity {:.4}  completeness {:.4}  ari {:.4}",
            l.field, l.labelled, l.classes, a.nmi, a.v_measure, a.homogeneity, a.completeness, a.ari
        );
    }
    if let Some(st) = &s.stability {
        println!(
            "stability over seeds {:?}: topics {:?}  ari mean {:.4}  min {:.4}",
            st.seeds, st.topic_counts, st.ari_mean, st.ari_min
        );
    }
}
