//! `papermap eval ...`: embedding quality on public benchmarks.

use std::path::PathBuf;

use clap::Subcommand;
use papermap::embed::sts::{evaluate_sts, read_sts_tsv};

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
    }
}
