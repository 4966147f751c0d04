//! What a load produced: the papers, and what was skipped or wrong, with locations.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::Paper;

/// What kind of problem a [`Diagnostic`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// An entry could not be read (no title, no abstract, malformed JSON, ...) and was skipped.
    SkippedEntry,
    /// A paper's id was already loaded; the first one was kept, this one skipped.
    DuplicateId,
    /// Text outside any entry, or not inside any field, was ignored; no paper was lost.
    IgnoredText,
    /// The file is not valid UTF-8; invalid bytes were replaced with U+FFFD.
    InvalidUtf8,
    /// A file in a directory could not be read and was skipped.
    UnreadableFile,
    /// A file in a directory was skipped: unknown extension or unsupported layout.
    UnsupportedFile,
    /// A file yielded no papers and nothing else to report.
    EmptyFile,
    /// An entry's `embedding` is not an array of numbers; the entry was skipped. Callers that
    /// index given vectors refuse the whole input on this (a vector must not silently go missing).
    BadEmbedding,
    /// An entry has a title but no abstract and was kept on its title alone (only when
    /// [`ReadOptions::keep_title_only`](crate::ReadOptions::keep_title_only) asks for it).
    TitleOnly,
}

/// One problem found while loading, located by file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in (as given to the reader).
    pub file: PathBuf,
    /// 1-based line of the entry or line concerned; 0 when it concerns the whole file.
    pub line: usize,
    /// What kind of problem this is.
    pub kind: DiagnosticKind,
    /// A human-readable explanation, naming what to fix.
    pub reason: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.reason)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
        }
    }
}

/// The parts of a [`LoadReport`], index `i` of each list belonging to paper `i`.
#[derive(Debug, Clone, Default)]
pub struct Entries {
    /// The papers, in input order, each id once.
    pub papers: Vec<Paper>,
    /// The vector each paper's entry carried (JSON Lines `embedding`), if any.
    pub embeddings: Vec<Option<Vec<f32>>>,
    /// File and 1-based line each paper was read from.
    pub origins: Vec<(PathBuf, usize)>,
    /// Everything skipped or suspicious, in input order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Where a loaded paper came from, for duplicate reports.
#[derive(Debug, Clone)]
struct Origin {
    file: PathBuf,
    line: usize,
}

/// The papers a load produced, in input order with unique ids, and its diagnostics.
///
/// Readers never fail on bad content: bad entries become [`Diagnostic`]s and the rest loads.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    papers: Vec<Paper>,
    /// The vector an entry brought with it (JSON Lines `embedding`), by paper.
    embeddings: Vec<Option<Vec<f32>>>,
    origins: Vec<Origin>,
    index_by_id: HashMap<String, usize>,
    diagnostics: Vec<Diagnostic>,
}

impl LoadReport {
    /// An empty report.
    pub fn new() -> LoadReport {
        LoadReport::default()
    }

    /// The loaded papers, in input order, each id once.
    pub fn papers(&self) -> &[Paper] {
        &self.papers
    }

    /// Everything skipped or suspicious, in input order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The papers, dropping the diagnostics.
    pub fn into_papers(self) -> Vec<Paper> {
        self.papers
    }

    /// The papers and the diagnostics.
    pub fn into_parts(self) -> (Vec<Paper>, Vec<Diagnostic>) {
        (self.papers, self.diagnostics)
    }

    /// Adds a paper read at `file:line`, unless its id is already loaded; then reports a
    /// [`DiagnosticKind::DuplicateId`] and keeps the first. Returns whether it was added.
    pub fn push_paper(&mut self, paper: Paper, file: &Path, line: usize) -> bool {
        self.push_paper_with_embedding(paper, None, file, line)
    }

    /// [`push_paper`](Self::push_paper) for an entry that carried its own vector.
    pub fn push_paper_with_embedding(
        &mut self,
        paper: Paper,
        embedding: Option<Vec<f32>>,
        file: &Path,
        line: usize,
    ) -> bool {
        let origin = Origin {
            file: file.to_path_buf(),
            line,
        };
        self.push_with_origin(paper, embedding, origin)
    }

    /// The vector the `i`-th paper's entry carried (JSON Lines `embedding`), if any.
    pub fn embedding(&self, i: usize) -> Option<&[f32]> {
        self.embeddings.get(i)?.as_deref()
    }

    /// Where the `i`-th paper was read: file and 1-based line.
    pub fn origin(&self, i: usize) -> Option<(&Path, usize)> {
        self.origins.get(i).map(|o| (o.file.as_path(), o.line))
    }

    /// Everything the report holds, moved out (nothing copied): for callers that keep papers,
    /// their vectors and where each was read side by side.
    pub fn into_entries(self) -> Entries {
        Entries {
            papers: self.papers,
            embeddings: self.embeddings,
            origins: self.origins.into_iter().map(|o| (o.file, o.line)).collect(),
            diagnostics: self.diagnostics,
        }
    }

    /// Adds a diagnostic.
    pub fn push_diagnostic(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Appends another report's papers (deduplicated against this one's) and diagnostics.
    pub fn extend(&mut self, other: LoadReport) {
        // Keep each file's own diagnostics before the duplicates it causes here.
        self.diagnostics.extend(other.diagnostics);
        let entries = other.papers.into_iter().zip(other.embeddings);
        for ((paper, embedding), origin) in entries.zip(other.origins) {
            self.push_with_origin(paper, embedding, origin);
        }
    }

    pub(crate) fn report(
        &mut self,
        file: &Path,
        line: usize,
        kind: DiagnosticKind,
        reason: impl Into<String>,
    ) {
        self.diagnostics.push(Diagnostic {
            file: file.to_path_buf(),
            line,
            kind,
            reason: reason.into(),
        });
    }

    fn push_with_origin(
        &mut self,
        paper: Paper,
        embedding: Option<Vec<f32>>,
        origin: Origin,
    ) -> bool {
        if let Some(&first) = self.index_by_id.get(&paper.id) {
            let kept = &self.papers[first];
            let first_origin = &self.origins[first];
            let same = if kept.embedding_text() == paper.embedding_text() {
                "same title and abstract"
            } else {
                "different title or abstract"
            };
            let reason = format!(
                "duplicate id {} ({same}); kept the first, from {}:{}",
                paper.id,
                first_origin.file.display(),
                first_origin.line
            );
            self.report(
                &origin.file,
                origin.line,
                DiagnosticKind::DuplicateId,
                reason,
            );
            return false;
        }
        self.index_by_id.insert(paper.id.clone(), self.papers.len());
        self.papers.push(paper);
        self.embeddings.push(embedding);
        self.origins.push(origin);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_reported_and_kept_once() {
        let mut report = LoadReport::new();
        let mut first = Paper::new("T", "A");
        first.id = "2502.08279".into();
        let mut second = Paper::new("T2", "A2");
        second.id = "2502.08279".into();
        assert!(report.push_paper(first.clone(), Path::new("a.md"), 3));
        assert!(!report.push_paper(second, Path::new("b.md"), 9));
        assert_eq!(report.papers(), &[first]);
        let [diagnostic] = report.diagnostics() else {
            panic!("expected one diagnostic, got {:?}", report.diagnostics());
        };
        assert_eq!(diagnostic.kind, DiagnosticKind::DuplicateId);
        assert_eq!(
            (diagnostic.file.as_path(), diagnostic.line),
            (Path::new("b.md"), 9)
        );
        assert!(
            diagnostic.reason.contains("a.md:3"),
            "{}",
            diagnostic.reason
        );
        assert!(
            diagnostic.reason.contains("different"),
            "{}",
            diagnostic.reason
        );
        assert!(diagnostic
            .to_string()
            .starts_with("b.md:9: duplicate id 2502.08279"));
    }

    #[test]
    fn extend_deduplicates_across_reports() {
        let mut left = LoadReport::new();
        left.push_paper(Paper::new("T", "A"), Path::new("a.jsonl"), 1);
        let mut right = LoadReport::new();
        right.push_paper(Paper::new("T", "A"), Path::new("b.jsonl"), 4);
        right.push_paper(Paper::new("U", "B"), Path::new("b.jsonl"), 5);
        left.extend(right);
        let titles: Vec<_> = left.papers().iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["T", "U"]);
        assert_eq!(left.diagnostics().len(), 1);
        assert!(left.diagnostics()[0]
            .reason
            .contains("same title and abstract"));
    }
}
