//! `papermap embed`: JSONL in, the same JSONL with an "embedding" array out.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::{Map, Value};

use crate::{progress, ModelArgs};

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
    let mut objects = read_objects(input, &name)?;
    let embedder = args.model.load()?;

    // Into a temp file beside the target, renamed over it only once everything is written.
    let mut staged = match &args.output {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(".".as_ref());
            Some(
                tempfile::NamedTempFile::new_in(dir)
                    .with_context(|| format!("cannot create a temp file in {}", dir.display()))?,
            )
        }
        None => None,
    };
    let stdout = std::io::stdout();
    let mut out: Box<dyn Write> = match &staged {
        Some(file) => Box::new(BufWriter::new(file.as_file().try_clone()?)),
        None => Box::new(BufWriter::new(stdout.lock())),
    };

    let bar = progress::bar(objects.len(), "embedding");
    for chunk in objects.chunks_mut(CHUNK) {
        let texts: Vec<&str> = chunk
            .iter()
            .map(|o| o["text"].as_str().unwrap_or_default())
            .collect();
        let vectors = embedder.embed(&texts)?;
        for (object, row) in chunk.iter_mut().zip(vectors.rows()) {
            object.insert("embedding".into(), Value::from(row.to_vec()));
            serde_json::to_writer(&mut out, object)?;
            out.write_all(b"\n")?;
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    out.flush()?;
    drop(out);
    if let (Some(file), Some(path)) = (staged.take(), &args.output) {
        file.as_file().sync_all()?;
        file.persist(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
