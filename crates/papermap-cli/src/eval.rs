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
            let mut scores = map.evaluate_topics(&TopicEvalOptions { label, seeds })?;
            // A library of vectors made elsewhere may have no model here: say so, score the rest.
            match map.label_test_embedded(LABEL_TEST_NEIGHBOURS) {
                Ok(test) => scores.label_test = Some(test),
                Err(e) => eprintln!("label test not run: {e}"),
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&scores)?);
            } else {
                print_topic_scores(&scores);
            }
            Ok(())
        }
    }
}

/// Nearest topics each label competes against in the label test (issue 24: five).
const LABEL_TEST_NEIGHBOURS: usize = 5;

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
    if let Some(t) = &s.label_test {
        println!(
            "label test (label embedding against its {} nearest topics): {}/{} topics, accuracy {:.4} (chance {:.4})",
            t.neighbours, t.hits, t.topics, t.accuracy, t.chance
        );
        for m in &t.misses {
            println!(
                "  topic {} {:?} fits topic {} {:?} better",
                m.topic, m.label, m.picked, m.picked_label
            );
        }
    }
}
