//! `papermap embed`: JSONL in, the same JSONL with an "embedding" array out.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use papermap::corpus::{parse_jsonl, JsonlFields};
use serde_json::{Map, Value};

use crate::{output, progress, ModelArgs};

/// Texts embedded per chunk: bounds memory on long inputs while keeping batches full.
const CHUNK: usize = 1024;

#[derive(Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// JSONL input, one object with a string "text" per line; `-` or nothing reads stdin.
    input: Option<PathBuf>,
    /// Write here (atomically: nothing half-written is left on failure) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Input lines are papers (what `papermap export` writes): each paper's text is its title
    /// and abstract, exactly as `papermap index` embeds them.
    #[arg(long)]
    papers: bool,
}

/// Reads and validates every line before any embedding starts, so a bad line costs no compute.
fn read_objects(input: Box<dyn Read>, name: &str) -> anyhow::Result<Vec<Map<String, Value>>> {
    let mut objects = Vec::new();
    for (n, line) in BufReader::new(input).lines().enumerate() {
        let line = line.with_context(|| format!("reading {name}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line)
            .with_context(|| format!("{name}: line {}: not valid JSON", n + 1))?;
        let Value::Object(object) = value else {
            bail!(
                "{name}: line {}: expected a JSON object with a \"text\" field",
                n + 1
            );
        };
        if !matches!(object.get("text"), Some(Value::String(_))) {
            bail!("{name}: line {}: no string \"text\" field", n + 1);
        }
        objects.push(object);
    }
    Ok(objects)
}

/// Reads paper lines; any entry papermap would skip is an error here, since every line
/// handed in must come back with its vector.
fn read_papers(
    mut input: Box<dyn Read>,
    name: &str,
) -> anyhow::Result<Vec<(Map<String, Value>, String)>> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {name}"))?;
    let report = parse_jsonl(&bytes, Path::new(name), &JsonlFields::default());
    if let Some(d) = report.diagnostics().first() {
        bail!("{d} (--papers takes the lines `papermap export` writes)");
    }
    Ok(report
        .into_papers()
        .into_iter()
        .map(|p| (p.to_json_object(), p.embedding_text()))
        .collect())
}

pub fn run(args: EmbedArgs) -> anyhow::Result<()> {
    let (input, name): (Box<dyn Read>, String) = match &args.input {
        None => (Box::new(std::io::stdin()), "<stdin>".into()),
        Some(p) if p.as_os_str() == "-" => (Box::new(std::io::stdin()), "<stdin>".into()),
        Some(p) => (
            Box::new(
                std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
            ),
            p.display().to_string(),
        ),
    };
    let mut items: Vec<(Map<String, Value>, String)> = match args.papers {
        true => read_papers(input, &name)?,
        false => read_objects(input, &name)?
            .into_iter()
            .map(|o| {
                let text = o["text"].as_str().unwrap_or_default().to_string();
                (o, text)
            })
            .collect(),
    };
    let embedder = args.model.load()?;

    output::write_atomically(args.output.as_deref(), |out| {
        let bar = progress::bar(items.len(), "embedding");
        for chunk in items.chunks_mut(CHUNK) {
            let texts: Vec<&str> = chunk.iter().map(|(_, text)| text.as_str()).collect();
            let vectors = embedder.embed(&texts)?;
            for ((object, _), row) in chunk.iter_mut().zip(vectors.rows()) {
                object.insert("embedding".into(), Value::from(row.to_vec()));
                serde_json::to_writer(&mut *out, object)?;
                out.write_all(b"\n")?;
            }
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        Ok(())
    })
}
