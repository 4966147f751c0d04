//! Errors of the file-level readers. Bad content is never an error: see [`crate::LoadReport`].

use std::path::PathBuf;

/// Why a path could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CorpusError {
    /// The path does not exist or cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The path given.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A file's extension does not say which reader to use.
    #[error(
        "{}: unknown corpus format; name it .md or .txt (arXiv digest) or .jsonl (JSON Lines), \
         or set ReadOptions::format",
        path.display()
    )]
    UnknownFormat {
        /// The file given.
        path: PathBuf,
    },
}
