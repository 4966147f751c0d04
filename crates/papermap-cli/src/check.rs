//! `papermap check`: read every byte of a library against its checksums.

use std::path::PathBuf;

use clap::Args;
use papermap::PaperMap;

#[derive(Args)]
pub struct CheckArgs {
    /// Library directory (made by `papermap index`).
    dir: PathBuf,
}

pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    let papers = PaperMap::check(&args.dir)?;
    println!(
        "{}: ok, {papers} papers, every checksum verified",
        args.dir.display()
    );
    Ok(())
}
