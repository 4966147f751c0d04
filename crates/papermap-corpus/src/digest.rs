//! The arXiv digest markdown reader.
//!
//! A digest is a list of entries separated by `---` lines:
//!
//! ```text
//! # Title
//!
//! **Title (ZH)**: 标题
//! **Authors**: Ada Lovelace, Alan Turing
//! **Link**: [PDF](https://arxiv.org/pdf/2502.08279)
//! **Abstract**: First paragraph...
//! Second paragraph...
//! **Abstract (ZH)**: 摘要
//! ---
//! ```
//!
//! A field runs from its `**Name**:` marker to the next marker, title or separator, so fields
//! may come in any order and span paragraphs. A `# ` line always starts a new entry, even
//! without a separator before it, so a missing `---` cannot move fields onto a neighbour.

use std::path::Path;

use crate::paper::{normalize_abstract, normalize_title};
use crate::{ArxivId, DiagnosticKind, LoadReport, Paper};

/// Field names longer than this are taken for bold text, not field markers.
const MAX_FIELD_NAME_CHARS: usize = 40;

/// Reads every entry of a digest held in memory; `file` only labels diagnostics.
///
/// Never fails and never panics: entries without a title or an English abstract, or with a
/// field given twice, are reported and skipped; the others load.
pub fn parse_digest(text: &str, file: &Path) -> LoadReport {
    parse_digest_keeping(text, file, false)
}

/// [`parse_digest`]; with `keep_title_only`, an entry with a title but no abstract loads (its
/// text is its title) with a [`DiagnosticKind::TitleOnly`] note instead of being skipped.
pub(crate) fn parse_digest_keeping(text: &str, file: &Path, keep_title_only: bool) -> LoadReport {
    let mut report = LoadReport::new();
    let mut block: Vec<Line<'_>> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let raw = if index == 0 {
            raw.strip_prefix('\u{feff}').unwrap_or(raw)
        } else {
            raw
        };
        match classify(raw) {
            LineKind::Separator => read_block(
                &std::mem::take(&mut block),
                file,
                keep_title_only,
                &mut report,
            ),
            kind => block.push(Line {
                number: index + 1,
                kind,
            }),
        }
    }
    read_block(&block, file, keep_title_only, &mut report);
    report
}

struct Line<'a> {
    number: usize,
    kind: LineKind<'a>,
}

enum LineKind<'a> {
    Separator,
    Heading(&'a str),
    Field { name: &'a str, value: &'a str },
    Text(&'a str),
}

impl LineKind<'_> {
    fn has_content(&self) -> bool {
        match self {
            LineKind::Text(text) => !text.trim().is_empty(),
            _ => true,
        }
    }
}

fn classify(raw: &str) -> LineKind<'_> {
    let line = raw.trim();
    if line.len() >= 3 && line.bytes().all(|b| b == b'-') {
        return LineKind::Separator;
    }
    if let Some(title) = line.strip_prefix('#') {
        if title.is_empty() || title.starts_with(char::is_whitespace) {
            return LineKind::Heading(title.trim());
        }
    }
    field_marker(line).unwrap_or(LineKind::Text(raw))
}

/// `**Name**: value` or `**Name:** value`.
fn field_marker(line: &str) -> Option<LineKind<'_>> {
    let rest = line.strip_prefix("**")?;
    let (name, after) = rest.split_once("**")?;
    let (name, value) = match name.strip_suffix(':') {
        Some(name) => (name, after),
        None => (name, after.trim_start().strip_prefix(':')?),
    };
    let name = name.trim();
    let plausible =
        !name.is_empty() && !name.contains('*') && name.chars().count() <= MAX_FIELD_NAME_CHARS;
    plausible.then_some(LineKind::Field { name, value })
}

/// One `---`-delimited block: normally one entry, more when separators are missing.
fn read_block(block: &[Line<'_>], file: &Path, keep_title_only: bool, report: &mut LoadReport) {
    let headings: Vec<usize> = block
        .iter()
        .enumerate()
        .filter(|(_, line)| matches!(line.kind, LineKind::Heading(_)))
        .map(|(position, _)| position)
        .collect();
    let leading = &block[..headings.first().copied().unwrap_or(block.len())];
    let leading_start = leading.iter().find(|line| line.kind.has_content());
    let leading_has_fields = leading
        .iter()
        .any(|line| matches!(line.kind, LineKind::Field { .. }));

    match (leading_start, headings.len()) {
        (None, _) => {}
        // A title after its fields, in the same block: still one entry.
        (Some(_), 1) if leading_has_fields => {}
        (Some(start), count) if leading_has_fields => {
            let reason = if count == 0 {
                "entry has no `# Title` line; skipped".to_string()
            } else {
                format!(
                    "fields before the first of {count} titles in this block belong to none of \
                     them (a `---` separator may be missing); skipped"
                )
            };
            report.report(file, start.number, DiagnosticKind::SkippedEntry, reason);
        }
        (Some(start), _) => report.report(
            file,
            start.number,
            DiagnosticKind::IgnoredText,
            "text outside any entry ignored",
        ),
    }

    for (nth, &heading) in headings.iter().enumerate() {
        let end = headings.get(nth + 1).copied().unwrap_or(block.len());
        let mut runs = vec![&block[heading + 1..end]];
        if headings.len() == 1 && leading_has_fields {
            runs.push(leading);
        }
        read_entry(&block[heading], &runs, file, keep_title_only, report);
    }
}

/// The paper field a digest field name fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Abstract,
    AbstractTranslated,
    TitleTranslated,
    Authors,
    Link,
}

fn slot_for(name: &str) -> Option<Slot> {
    let name = name.to_lowercase();
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    match name.as_str() {
        "abstract" => Some(Slot::Abstract),
        "authors" | "author" => Some(Slot::Authors),
        "link" | "links" | "url" | "pdf" => Some(Slot::Link),
        _ if name.starts_with("abstract (") || name.starts_with("abstract(") => {
            Some(Slot::AbstractTranslated)
        }
        _ if name.starts_with("title (") || name.starts_with("title(") => {
            Some(Slot::TitleTranslated)
        }
        _ => None,
    }
}

struct Field<'a> {
    name: &'a str,
    line: usize,
    text: String,
}

/// Reads one entry from its heading and the runs of lines that belong to it. A field never
/// continues from one run into the next.
fn read_entry(
    heading: &Line<'_>,
    runs: &[&[Line<'_>]],
    file: &Path,
    keep_title_only: bool,
    report: &mut LoadReport,
) {
    let LineKind::Heading(title) = heading.kind else {
        return;
    };
    let entry_line = heading.number;
    let title = normalize_title(title);

    let mut fields: Vec<Field<'_>> = Vec::new();
    for run in runs {
        let mut in_field = false;
        // Consecutive stray lines make one diagnostic, not one per line.
        let mut stray: Option<(usize, usize)> = None;
        for line in run.iter() {
            match (&line.kind, fields.last_mut()) {
                (LineKind::Field { name, value }, _) => {
                    report_stray(stray.take(), file, report);
                    in_field = true;
                    fields.push(Field {
                        name,
                        line: line.number,
                        text: value.to_string(),
                    });
                }
                (LineKind::Text(text), Some(field)) if in_field => {
                    field.text.push('\n');
                    field.text.push_str(text);
                }
                (LineKind::Text(text), _) if !text.trim().is_empty() => {
                    let (first, _) = stray.unwrap_or((line.number, line.number));
                    stray = Some((first, line.number));
                }
                _ => {}
            }
        }
        report_stray(stray, file, report);
    }

    if title.is_empty() {
        let reason = "entry's `#` title line is empty; skipped";
        report.report(file, entry_line, DiagnosticKind::SkippedEntry, reason);
        return;
    }
    let mut paper = Paper::new(&title, "");
    let mut filled: Vec<(Slot, usize)> = Vec::new();
    let mut link_text = None;
    for field in &fields {
        let Some(slot) = slot_for(field.name) else {
            let value = normalize_abstract(&field.text);
            if !value.is_empty() {
                paper
                    .metadata
                    .insert(field.name.to_lowercase(), serde_json::Value::String(value));
            }
            continue;
        };
        if let Some(&(_, first_line)) = filled.iter().find(|(seen, _)| *seen == slot) {
            let reason = format!(
                "entry \"{title}\" has `**{}**` twice (lines {first_line} and {}); two entries \
                 may have lost the `---` between them; skipped",
                field.name, field.line
            );
            report.report(file, entry_line, DiagnosticKind::SkippedEntry, reason);
            return;
        }
        filled.push((slot, field.line));
        let value = normalize_abstract(&field.text);
        match slot {
            Slot::Abstract => paper.abstract_text = value,
            Slot::AbstractTranslated => paper.abstract_translated = non_empty(value),
            Slot::TitleTranslated => paper.title_translated = non_empty(value),
            Slot::Authors => paper.authors = split_authors(&value),
            Slot::Link => link_text = Some((value, field.line)),
        }
    }
    if paper.abstract_text.is_empty() && keep_title_only {
        let reason =
            format!("entry \"{title}\" has no `**Abstract**:` text; read on its title alone");
        report.report(file, entry_line, DiagnosticKind::TitleOnly, reason);
    } else if paper.abstract_text.is_empty() {
        let reason = format!("entry \"{title}\" has no `**Abstract**:` text; skipped");
        report.report(file, entry_line, DiagnosticKind::SkippedEntry, reason);
        return;
    }

    let mut arxiv_id = None;
    if let Some((text, line)) = link_text.filter(|(text, _)| !text.is_empty()) {
        let url = link_url(&text);
        arxiv_id = ArxivId::parse(url.unwrap_or(&text));
        if url.is_none() && arxiv_id.is_none() {
            let reason = format!("link `{text}` holds no URL; ignored");
            report.report(file, line, DiagnosticKind::IgnoredText, reason);
        }
        paper.link = url.map(str::to_string);
    }
    paper.id = match &arxiv_id {
        Some(id) => id.to_string(),
        None => Paper::content_id(&paper.title, &paper.abstract_text),
    };
    if let Some(id) = arxiv_id {
        paper
            .metadata
            .entry("year".to_string())
            .or_insert_with(|| id.year().into());
    }
    report.push_paper(paper, file, entry_line);
}

fn report_stray(lines: Option<(usize, usize)>, file: &Path, report: &mut LoadReport) {
    if let Some((first, last)) = lines {
        let reason = if first == last {
            "text in no `**Field**:` of this entry; ignored".to_string()
        } else {
            format!("lines {first}-{last}: text in no `**Field**:` of this entry; ignored")
        };
        report.report(file, first, DiagnosticKind::IgnoredText, reason);
    }
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

fn split_authors(text: &str) -> Vec<String> {
    text.split([',', ';', '\n'])
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// The first URL in a link field: a markdown link target, `<url>`, or a bare `http(s)://` word.
fn link_url(text: &str) -> Option<&str> {
    if let Some((_, rest)) = text.split_once("](") {
        if let Some((target, _)) = rest.split_once(')') {
            let target = target.trim();
            if !target.is_empty() {
                return Some(target);
            }
        }
    }
    text.split_whitespace()
        .map(|word| {
            word.trim_start_matches('<')
                .trim_end_matches(['>', ',', ';'])
        })
        .find(|word| word.starts_with("http://") || word.starts_with("https://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_markers_accept_both_colon_placements() {
        for line in [
            "**Abstract**: text",
            "**Abstract:** text",
            "  **Abstract** : text",
        ] {
            match classify(line) {
                LineKind::Field { name, value } => {
                    assert_eq!((name, value.trim()), ("Abstract", "text"), "{line:?}")
                }
                _ => panic!("{line:?} is not a field"),
            }
        }
        for line in ["**bold** text", "****: x", "**a*b**: x", "#hashtag", "--"] {
            assert!(matches!(classify(line), LineKind::Text(_)), "{line:?}");
        }
        assert!(matches!(classify(" ---- "), LineKind::Separator));
        assert!(matches!(classify("# T"), LineKind::Heading("T")));
    }

    #[test]
    fn link_urls_come_from_markdown_angle_or_bare_forms() {
        let pdf = "https://arxiv.org/pdf/2502.08279v2";
        assert_eq!(link_url(&format!("[PDF]({pdf})")), Some(pdf));
        assert_eq!(link_url(&format!("<{pdf}>")), Some(pdf));
        assert_eq!(link_url(&format!("see {pdf}, or the abstract")), Some(pdf));
        assert_eq!(link_url("arXiv:2502.08279"), None);
    }
}
