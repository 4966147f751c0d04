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
