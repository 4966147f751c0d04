//! `papermap`: find related papers and draw topic maps from paper abstracts.

mod check;
mod embed;
mod eval;
mod export;
mod index;
mod input;
mod library;
mod map;
mod model;
mod output;
mod progress;
mod query;
mod rank;
mod remove;
mod serve;
mod topics;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use papermap::embed::{Embedder, EmbedderBuilder};

#[derive(Parser)]
#[command(
    name = "papermap",
    version,
    about = "Find related papers and draw topic maps from paper abstracts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage embedding models: list, fetch into the cache, print a cached model's folder.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Add an "embedding" array to every JSONL object's "text".
    Embed(embed::EmbedArgs),
    /// Evaluate embedding quality on public benchmarks, or the topic quality of a library.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Build or update a library: read papers, embed new or changed ones, save the index.
    Index(index::IndexArgs),
    /// Remove papers from a library (only the removal is written).
    Remove(remove::RemoveArgs),
    /// Verify every checksum of a library and parse every paper.
    Check(check::CheckArgs),
    /// Write the papers read from the inputs as JSON Lines (for `embed --papers`, the Spark job).
    Export(export::ExportArgs),
    /// List the papers most related to one in the library (never the paper itself).
    Related(query::RelatedArgs),
    /// Find papers in the library about some free text.
    Search(query::SearchArgs),
    /// Rank today's digest against a library (or its liked papers), with the reasons.
    Rank(rank::RankArgs),
    /// Fit (or show) the library's topics.
    Topics(topics::TopicsArgs),
    /// Draw the topic map as SVG and/or HTML.
    Map(map::MapArgs),
    /// Answer search, related papers, topics and writes over HTTP, and serve the live map.
    Serve(serve::ServeArgs),
}

/// Options shared by every command that loads a model.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model name from models.toml (default: the registry's default).
    #[arg(long)]
    model: Option<String>,
    /// Load the model from this folder instead of the caches (files are still checksummed).
    #[arg(long, value_name = "DIR")]
    model_dir: Option<PathBuf>,
    /// Worker threads (default: $PAPERMAP_THREADS, else all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Arithmetic of the encoder: f32 (default; sentence-transformers' vectors), bf16 (CPUs with AMX or
    /// AVX512_BF16, ~2x faster), int8 (every x86 CPU, ~1.8x faster). A library keeps one precision; with
    /// none given, an existing library's own is used.
    #[arg(long, value_name = "f32|bf16|int8")]
    precision: Option<papermap::Precision>,
}

impl ModelArgs {
    fn builder(&self) -> EmbedderBuilder {
        let mut builder = Embedder::builder();
        if let Some(name) = &self.model {
            builder = builder.model(name);
        }
        if let Some(dir) = &self.model_dir {
            builder = builder.model_dir(dir);
        }
        if let Some(n) = self.threads {
            builder = builder.threads(n);
        }
        if let Some(p) = self.precision {
            builder = builder.precision(p);
        }
        builder
    }

    /// Loads the embedder these options describe.
    pub fn load(&self) -> anyhow::Result<Embedder> {
        Ok(self.builder().build()?)
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`papermap topics LIB | head`) panics in
/// `println!`. Commands that print results get the Unix default back and end quietly there, as
/// `cat` does; saves are crash-safe, so being stopped mid-save loses nothing. `serve` keeps it
/// ignored: a client hanging up must cost one connection, not the server.
fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called once at start, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        default_sigpipe();
    }
    let result = match cli.command {
        Command::Model(cmd) => model::run(cmd),
        Command::Embed(args) => embed::run(args),
        Command::Eval(cmd) => eval::run(cmd),
        Command::Index(args) => index::run(args),
        Command::Export(args) => export::run(args),
        Command::Remove(args) => remove::run(args),
        Command::Check(args) => check::run(args),
        Command::Related(args) => query::related(args),
        Command::Search(args) => query::search(args),
        Command::Rank(args) => rank::run(args),
        Command::Topics(args) => topics::run(args),
        Command::Map(args) => map::run(args),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
