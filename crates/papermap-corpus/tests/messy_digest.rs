//! Hand-written messy digests: each case of real-world damage, with where it is reported.

use std::path::Path;

use papermap_corpus::{parse_digest, DiagnosticKind, LoadReport, Paper, CONTENT_ID_PREFIX};

fn messy() -> LoadReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/messy_digest.md");
    let text = std::fs::read_to_string(path).expect("fixture");
    parse_digest(&text, Path::new("messy_digest.md"))
}

fn find<'a>(report: &'a LoadReport, title: &str) -> &'a Paper {
    report
        .papers()
        .iter()
        .find(|p| p.title == title)
        .unwrap_or_else(|| panic!("no paper titled {title:?}"))
}

#[test]
fn loads_exactly_the_readable_entries_in_order() {
    let report = messy();
    let ids: Vec<&str> = report.papers().iter().map(|p| p.id.as_str()).collect();
    let content_id = Paper::content_id(
        "No Authors, No Link, No Translation",
        "This entry gets a content id.",
    );
    assert_eq!(
        ids,
        [
            "2502.08279",
            "2501.00001",
            content_id.as_str(),
            "hep-th/0101001",
            "2501.00004",
            "2501.00005",
            "2501.00008",
        ]
    );
}

#[test]
fn reports_each_bad_entry_with_its_line_and_reason() {
    let report = messy();
    let found: Vec<(usize, DiagnosticKind)> = report
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.kind))
        .collect();
    assert_eq!(
        found,
        [
            (31, DiagnosticKind::SkippedEntry), // fields without a title
            (38, DiagnosticKind::SkippedEntry), // no English abstract
            (75, DiagnosticKind::SkippedEntry), // two merged entries
            (86, DiagnosticKind::DuplicateId),  // same arXiv id as line 2
        ],
        "{:#?}",
        report.diagnostics()
    );
    let reasons: Vec<&str> = report
        .diagnostics()
        .iter()
        .map(|d| d.reason.as_str())
        .collect();
    assert!(reasons[0].contains("no `# Title` line"), "{}", reasons[0]);
    assert!(reasons[1].contains("\"Entry Without Abstract\" has no `**Abstract**:`"));
    assert!(
        reasons[2].contains("`**Link**` twice (lines 77 and 81)"),
        "{}",
        reasons[2]
    );
    assert!(
        reasons[3].contains("kept the first, from messy_digest.md:2"),
        "{}",
        reasons[3]
    );
    for diagnostic in report.diagnostics() {
        assert_eq!(diagnostic.file, Path::new("messy_digest.md"));
    }
}

#[test]
fn complete_entry_has_every_field() {
    let report = messy();
    let paper = find(&report, "Complete Entry With A Versioned Abs Link");
    assert_eq!(paper.id, "2502.08279");
    assert_eq!(
        paper.link.as_deref(),
        Some("https://arxiv.org/abs/2502.08279v3")
    );
    assert_eq!(paper.authors, ["Ada Lovelace", "Alan Turing"]);
    assert_eq!(paper.title_translated.as_deref(), Some("完整条目"));
    assert_eq!(paper.abstract_translated.as_deref(), Some("一句话摘要"));
    assert_eq!(paper.abstract_text, "A complete entry.");
    assert_eq!(paper.metadata["year"], 2025);
    // The duplicate later in the file did not overwrite it.
    assert_eq!(
        paper.embedding_text(),
        "Complete Entry With A Versioned Abs Link. A complete entry."
    );
}

#[test]
fn fields_out_of_order_land_in_the_right_places() {
    let report = messy();
    let paper = find(&report, "Fields Out Of Order");
    assert_eq!(paper.id, "2501.00001");
    assert_eq!(paper.abstract_text, "Abstract comes first here.");
    assert_eq!(paper.authors, ["Grace Hopper"]);
    assert_eq!(paper.title_translated.as_deref(), Some("顺序混乱"));
    assert_eq!(paper.abstract_translated, None);
}

#[test]
fn missing_optional_fields_leave_them_empty_and_id_from_content() {
    let report = messy();
    let paper = find(&report, "No Authors, No Link, No Translation");
    assert!(paper.id.starts_with(CONTENT_ID_PREFIX), "{}", paper.id);
    assert!(paper.authors.is_empty() && paper.link.is_none());
    assert!(paper.title_translated.is_none() && paper.abstract_translated.is_none());
    assert!(!paper.metadata.contains_key("year"));
}

#[test]
fn multi_paragraph_fields_keep_every_paragraph() {
    let report = messy();
    let paper = find(&report, "Multi-Paragraph Abstract");
    assert_eq!(paper.id, "hep-th/0101001");
    assert_eq!(paper.metadata["year"], 2001);
    assert_eq!(
        paper.abstract_text,
        "First paragraph of the abstract.\nSecond paragraph of the abstract.\nThird paragraph, indented."
    );
    assert_eq!(
        paper.abstract_translated.as_deref(),
        Some("第一段。\n第二段。")
    );
}

#[test]
fn a_missing_separator_does_not_shift_fields_between_entries() {
    let report = messy();
    let before = find(&report, "Missing Separator Before The Next Title");
    let after = find(&report, "The Entry After A Missing Separator");
    assert_eq!(before.id, "2501.00004");
    assert_eq!(
        before.abstract_text,
        "The separator after this entry is missing."
    );
    assert_eq!(after.id, "2501.00005");
    assert_eq!(
        after.abstract_text,
        "This entry follows without a separator."
    );
}

#[test]
fn titleless_fields_join_no_neighbour() {
    let report = messy();
    for paper in report.papers() {
        assert!(
            !paper.abstract_text.contains("title line is missing"),
            "{}",
            paper.title
        );
        assert!(
            !paper.authors.contains(&"Orphan Author".to_string()),
            "{}",
            paper.title
        );
        assert!(
            !paper.abstract_text.contains("merged block"),
            "{}",
            paper.title
        );
    }
}

#[test]
fn bare_link_on_last_entry_without_trailing_separator() {
    let report = messy();
    let paper = find(&report, "Last Entry Without Trailing Separator");
    assert_eq!(paper.id, "2501.00008");
    assert_eq!(
        paper.link.as_deref(),
        Some("https://arxiv.org/abs/2501.00008")
    );
    assert_eq!(paper.abstract_text, "The file ends right after this line.");
}

#[test]
fn crlf_line_endings_bom_and_title_after_fields_are_read() {
    let text = "\u{feff}**Link**: [PDF](https://arxiv.org/pdf/2501.00009v4)\r\n\r\n\
                # Title After Its Link\r\n\r\n**Abstract**: Windows line endings.\r\n\
                Second paragraph.\r\n---\r\n";
    let report = parse_digest(text, Path::new("crlf.md"));
    assert!(
        report.diagnostics().is_empty(),
        "{:#?}",
        report.diagnostics()
    );
    let [paper] = report.papers() else {
        panic!("expected one paper, got {:#?}", report.papers())
    };
    assert_eq!(paper.id, "2501.00009");
    assert_eq!(paper.title, "Title After Its Link");
    assert_eq!(
        paper.abstract_text,
        "Windows line endings.\nSecond paragraph."
    );
}

#[test]
fn stray_text_and_unknown_fields_are_not_lost_silently() {
    let text = "Daily digest, 1 January\n---\n# T\nstray line\n\nanother\n**Abstract**: A.\n\
                **Comments**: 12 pages\n**Link**: see the PDF\n";
    let report = parse_digest(text, Path::new("d.md"));
    let [paper] = report.papers() else {
        panic!("expected one paper, got {:#?}", report.papers())
    };
    assert_eq!(paper.abstract_text, "A.");
    assert_eq!(paper.metadata["comments"], "12 pages");
    assert_eq!(paper.link, None);
    let found: Vec<(usize, DiagnosticKind)> = report
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.kind))
        .collect();
    assert_eq!(
        found,
        [
            (1, DiagnosticKind::IgnoredText),
            (4, DiagnosticKind::IgnoredText),
            (9, DiagnosticKind::IgnoredText),
        ]
    );
    assert!(report.diagnostics()[1].reason.starts_with("lines 4-6: "));
    assert!(report.diagnostics()[2].reason.contains("see the PDF"));
}

#[test]
fn empty_title_and_empty_input() {
    let report = parse_digest("#\n**Abstract**: A.\n", Path::new("e.md"));
    assert!(report.papers().is_empty());
    assert_eq!(report.diagnostics()[0].kind, DiagnosticKind::SkippedEntry);
    assert!(report.diagnostics()[0]
        .reason
        .contains("title line is empty"));

    for text in ["", "\n\n", "---\n---\n", "   \n---"] {
        let report = parse_digest(text, Path::new("e.md"));
        assert!(
            report.papers().is_empty() && report.diagnostics().is_empty(),
            "{text:?}"
        );
    }
}

#[test]
fn non_arxiv_links_keep_the_link_and_bare_arxiv_ids_give_the_id() {
    let text =
        "# Elsewhere\n**Link**: [PDF](https://openreview.net/pdf?id=abc)\n**Abstract**: A.\n\
                ---\n# Bare Id\n**Link**: arXiv:2410.12345v3\n**Abstract**: B.\n";
    let report = parse_digest(text, Path::new("l.md"));
    assert!(
        report.diagnostics().is_empty(),
        "{:#?}",
        report.diagnostics()
    );
    let [elsewhere, bare] = report.papers() else {
        panic!("{:#?}", report.papers())
    };
    assert_eq!(elsewhere.id, Paper::content_id("Elsewhere", "A."));
    assert_eq!(
        elsewhere.link.as_deref(),
        Some("https://openreview.net/pdf?id=abc")
    );
    assert_eq!(bare.id, "2410.12345");
    assert_eq!(bare.link, None);
}

#[test]
fn fields_before_several_titles_in_one_block_go_to_none_of_them() {
    let text = "**Abstract**: Whose abstract is this?\n# First\n**Abstract**: One.\n\
                # Second\n**Abstract**: Two.\n";
    let report = parse_digest(text, Path::new("m.md"));
    let abstracts: Vec<&str> = report
        .papers()
        .iter()
        .map(|p| p.abstract_text.as_str())
        .collect();
    assert_eq!(abstracts, ["One.", "Two."]);
    let [diagnostic] = report.diagnostics() else {
        panic!("{:#?}", report.diagnostics())
    };
    assert_eq!(
        (diagnostic.line, diagnostic.kind),
        (1, DiagnosticKind::SkippedEntry)
    );
    assert!(
        diagnostic.reason.contains("first of 2 titles"),
        "{}",
        diagnostic.reason
    );
}
