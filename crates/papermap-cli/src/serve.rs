//! `papermap serve`: the library over HTTP until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use papermap_server::{ServeOptions, Server, ServerError};

use crate::{library, ModelArgs};

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Library directory (made by `papermap index`).
    dir: PathBuf,
    /// Address to listen on (loopback by default; anything else exposes the library).
    #[arg(long, default_value = "127.0.0.1:7800")]
    addr: SocketAddr,
    /// Refuse every write (POST /v1/papers, DELETE), whatever token is sent.
    #[arg(long)]
    read_only: bool,
    /// File holding the bearer token writes must send (`Authorization: Bearer TOKEN`); without
    /// it writes are refused.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Largest request body, in MiB (413 beyond).
    #[arg(long, default_value_t = 16)]
    max_body_mib: usize,
    /// Longest a read may take, in seconds (408 beyond).
    #[arg(long, default_value_t = 30)]
    read_timeout_s: u64,
    /// Link of each paper with an arXiv id; `{id}` becomes the id.
    #[arg(long, default_value = "https://arxiv.org/abs/{id}")]
    link: String,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Refused before listening, with the library's own message (the open itself comes later).
    if !library::exists(&args.dir) {
        return Err(papermap::PaperMapError::NotALibrary { dir: args.dir }.into());
    }
    let token = match &args.token_file {
        Some(path) => Some(read_token(path)?),
        None => None,
    };
    let options = ServeOptions {
        read_only: args.read_only,
        token,
        max_body_bytes: args.max_body_mib << 20,
        read_timeout: Duration::from_secs(args.read_timeout_s),
        link_template: Some(args.link.clone()),
        ..ServeOptions::new(&args.dir)
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let server = Arc::new(Server::new(options, library::builder(&args.model)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("listening on {}", args.addr))?;
        let addr = listener.local_addr()?;
        // Listen first, so /health can say "loading" while the model loads.
        let serving = tokio::spawn(papermap_server::serve(
            listener,
            server.clone(),
            papermap_server::shutdown_signal(),
        ));
        let loader = server.clone();
        tokio::task::spawn_blocking(move || loader.load())
            .await
            .context("loading the library")??;
        let map = server.loaded().expect("loaded").snapshot();
        eprintln!(
            "serving {} ({} papers, model {}) on http://{addr}/ ; writes: {}",
            args.dir.display(),
            map.map.len(),
            map.map.fingerprint(),
            match (&server.options.token, server.options.read_only) {
                (_, true) => "refused (--read-only)",
                (None, false) => "refused (no --token-file)",
                (Some(_), false) => "with the bearer token",
            }
        );
        serving.await.context("the server task failed")??;
        eprintln!("stopped: every request in flight was answered");
        anyhow::Ok(())
    })
}

fn read_token(path: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| ServerError::Token {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let token = text.trim().to_string();
    if token.len() < 16 || token.contains(char::is_whitespace) {
        return Err(ServerError::Token {
            path: path.to_path_buf(),
            reason: "the token must be one line of at least 16 characters without spaces".into(),
        }
        .into());
    }
    Ok(token)
}
