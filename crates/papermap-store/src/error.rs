//! The errors of the file layer; the library and the index wrap them in their own types.

use std::path::PathBuf;

/// A data file that cannot be written, read or trusted.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file is missing, has the wrong size, kind or version, is truncated or fails its checksum.
    #[error("{} is damaged: {detail}", path.display())]
    Corrupt {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A save was pointed at a directory that holds files papermap did not write there, or
    /// another kind of papermap directory: its cleanup could delete them.
    #[error("{} holds files papermap did not write there (or another kind of papermap directory); save to an empty or new directory", dir.display())]
    Foreign {
        /// The directory.
        dir: PathBuf,
    },
    /// A manifest of a newer format version (or version 0) than this build reads.
    #[error("{} has format version {found}; this build reads versions 1 to {supported}: upgrade papermap", dir.display())]
    UnsupportedVersion {
        /// The directory.
        dir: PathBuf,
        /// Version in the manifest.
        found: u32,
        /// Highest version this build reads.
        supported: u32,
    },
    /// Another save committed since the caller read the directory.
    #[error("{} changed since it was read (generation {opened}, now {found}); reopen or rebase, then save again", dir.display())]
    Conflict {
        /// The directory.
        dir: PathBuf,
        /// The generation the caller read.
        opened: u64,
        /// The generation found.
        found: u64,
    },
}

impl StoreError {
    /// Wraps an I/O error with the path it concerns (for `map_err`).
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }

    /// A damaged file.
    pub fn corrupt(path: impl Into<PathBuf>, detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: path.into(),
            detail: detail.into(),
        }
    }
}

/// Results of the file layer.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
