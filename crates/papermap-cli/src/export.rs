//! `papermap export`: the papers papermap reads from its inputs, as papermap JSON Lines.
//!
//! Other tools (the Spark job in `spark/`) take papers from here rather than parse the inputs
//! themselves, so that ids and texts are always exactly the ones `papermap index` would use.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use crate::{input, output};

#[derive(Args)]
pub struct ExportArgs {
    /// Corpus files or directories (as for `papermap index`).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Write here (atomically) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let input = input::read(&args.inputs, &Default::default())?;
    if input.papers.is_empty() {
        bail!("no papers found in the inputs: give arXiv digest (.md/.txt) or JSON Lines (.jsonl) files with titles and abstracts");
    }
    output::write_atomically(args.output.as_deref(), |out| {
        for (paper, vector) in input.papers.iter().zip(&input.embeddings) {
            let mut object = paper.to_json_object();
            if let Some(v) = vector {
                object.insert("embedding".into(), v.clone().into());
            }
            serde_json::to_writer(&mut *out, &object)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })?;
    eprintln!(
        "exported {} papers ({} entries skipped or ignored)",
        input.papers.len(),
        input.diagnostics.len()
    );
    Ok(())
}
