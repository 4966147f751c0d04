//! Reading files and directories: picks the reader by extension, merges and deduplicates.

use std::fs;
use std::path::{Path, PathBuf};

use crate::digest::parse_digest_keeping;
use crate::jsonl::parse_jsonl_keeping;
use crate::{CorpusError, DiagnosticKind, JsonlFields, LoadReport};

/// A corpus file layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// arXiv digest markdown (`.md`, `.markdown`, `.txt`).
    Digest,
    /// JSON Lines, one paper per line (`.jsonl`, `.ndjson`, `.json`).
    Jsonl,
}

impl Format {
    /// The format a file's extension names, if any (case-insensitive).
    pub fn from_path(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "md" | "markdown" | "txt" => Some(Format::Digest),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// How to read paths.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Read every file in this format instead of choosing by extension. In a directory,
    /// this also reads files whose extension names no format.
    pub format: Option<Format>,
    /// The field names of JSON Lines files.
    pub jsonl_fields: JsonlFields,
    /// Keep entries that have a title but no abstract (their text is the title alone), each
    /// with a [`DiagnosticKind::TitleOnly`] note, instead of skipping them. `papermap rank`
    /// ranks such digest entries; `papermap index` keeps skipping them.
    pub keep_title_only: bool,
}

/// Reads a file or a directory with default options; see [`read_path_with`].
pub fn read_path(path: impl AsRef<Path>) -> Result<LoadReport, CorpusError> {
    read_path_with(path, &ReadOptions::default())
}

/// Reads a file (format by extension, or `options.format`) or, recursively, a directory.
///
/// Errors only when `path` itself cannot be read or its format is unknown; bad entries, and
/// unreadable or unsupported files inside a directory, become diagnostics.
pub fn read_path_with(
    path: impl AsRef<Path>,
    options: &ReadOptions,
) -> Result<LoadReport, CorpusError> {
    let path = path.as_ref();
    let metadata = fs::metadata(path).map_err(|source| io_error(path, source))?;
    if metadata.is_dir() {
        return read_dir(path, options);
    }
    let format = options
        .format
        .or_else(|| Format::from_path(path))
        .ok_or_else(|| CorpusError::UnknownFormat {
            path: path.to_path_buf(),
        })?;
    let bytes = fs::read(path).map_err(|source| io_error(path, source))?;
    Ok(parse_bytes(&bytes, path, format, options))
}

/// Reads several paths into one report, ids deduplicated across all of them.
pub fn read_paths<P: AsRef<Path>>(
    paths: &[P],
    options: &ReadOptions,
) -> Result<LoadReport, CorpusError> {
    let mut report = LoadReport::new();
    for path in paths {
        report.extend(read_path_with(path, options)?);
    }
    Ok(report)
}

/// Reads every corpus file under `dir`, recursively, in file-name order.
///
/// Hidden entries (names starting with `.`) are skipped silently; files with an unknown
/// extension, symbolic links to directories and unreadable files are skipped with a
/// diagnostic.
pub fn read_dir(dir: impl AsRef<Path>, options: &ReadOptions) -> Result<LoadReport, CorpusError> {
    let dir = dir.as_ref();
    let mut report = LoadReport::new();
    let mut files = Vec::new();
    let entries = sorted_entries(dir).map_err(|source| io_error(dir, source))?;
    collect_files(entries, options, &mut files, &mut report);
    for (path, format) in files {
        match fs::read(&path) {
            Ok(bytes) => report.extend(parse_bytes(&bytes, &path, format, options)),
            Err(err) => report.report(
                &path,
                0,
                DiagnosticKind::UnreadableFile,
                format!("cannot read: {err}; skipped"),
            ),
        }
    }
    Ok(report)
}

fn io_error(path: &Path, source: std::io::Error) -> CorpusError {
    CorpusError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = fs::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    entries.sort();
    Ok(entries)
}

fn collect_files(
    entries: Vec<PathBuf>,
    options: &ReadOptions,
    files: &mut Vec<(PathBuf, Format)>,
    report: &mut LoadReport,
) {
    for path in entries {
        let hidden = path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        let is_link = fs::symlink_metadata(&path).is_ok_and(|meta| meta.file_type().is_symlink());
        let metadata = match fs::metadata(&path) {
            Ok(metadata) => metadata,
            Err(err) => {
                let reason = format!("cannot read: {err}; skipped");
                report.report(&path, 0, DiagnosticKind::UnreadableFile, reason);
                continue;
            }
        };
        if metadata.is_dir() && is_link {
            let reason = "symbolic link to a directory not followed; skipped";
            report.report(&path, 0, DiagnosticKind::UnsupportedFile, reason);
        } else if metadata.is_dir() {
            match sorted_entries(&path) {
                Ok(children) => collect_files(children, options, files, report),
                Err(err) => {
                    let reason = format!("cannot list directory: {err}; skipped");
                    report.report(&path, 0, DiagnosticKind::UnreadableFile, reason);
                }
            }
        } else if let Some(format) = options.format.or_else(|| Format::from_path(&path)) {
            files.push((path, format));
        } else {
            let reason = "unknown extension; skipped (papermap reads .md/.txt arXiv digests \
                          and .jsonl JSON Lines)";
            report.report(&path, 0, DiagnosticKind::UnsupportedFile, reason);
        }
    }
}

/// Parses one file's bytes; reports invalid UTF-8 in digests and files that yield nothing.
fn parse_bytes(bytes: &[u8], path: &Path, format: Format, options: &ReadOptions) -> LoadReport {
    let mut report = match format {
        Format::Jsonl => {
            parse_jsonl_keeping(bytes, path, &options.jsonl_fields, options.keep_title_only)
        }
        Format::Digest => match std::str::from_utf8(bytes) {
            Ok(text) => parse_digest_keeping(text, path, options.keep_title_only),
            Err(err) => {
                let text = String::from_utf8_lossy(bytes);
                let mut report = parse_digest_keeping(&text, path, options.keep_title_only);
                let valid = &bytes[..err.valid_up_to()];
                let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
                let reason = "not valid UTF-8; invalid bytes were replaced with U+FFFD \
                              (save the file as UTF-8)";
                report.report(path, line, DiagnosticKind::InvalidUtf8, reason);
                report
            }
        },
    };
    if report.papers().is_empty() && report.diagnostics().is_empty() {
        report.report(path, 0, DiagnosticKind::EmptyFile, "no papers in this file");
    }
    report
}
