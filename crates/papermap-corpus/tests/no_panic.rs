//! Property tests: the readers never panic on arbitrary input, keep their invariants, and
//! read well-formed digests exactly, whatever the field order or separators.

use std::collections::HashSet;
use std::path::Path;

use papermap_corpus::{parse_digest, parse_jsonl, JsonlFields, LoadReport, Paper};
use proptest::prelude::*;

/// What must hold for any input: unique ids, no empty texts, diagnostics inside the file.
fn check_invariants(report: &LoadReport, line_count: usize) {
    let mut ids = HashSet::new();
    for paper in report.papers() {
        assert!(ids.insert(paper.id.as_str()), "duplicate id {}", paper.id);
        assert!(
            !paper.title.is_empty() && !paper.abstract_text.is_empty(),
            "{paper:?}"
        );
        assert_eq!(paper.title.trim(), paper.title);
        assert!(!paper.abstract_text.contains("\n\n"), "{paper:?}");
    }
    for diagnostic in report.diagnostics() {
        assert!(
            diagnostic.line <= line_count.max(1),
            "{diagnostic} beyond {line_count} lines"
        );
        assert!(!diagnostic.reason.is_empty());
    }
}

fn line_count(bytes: &[u8]) -> usize {
    bytes.split(|&b| b == b'\n').count()
}

/// Fragments of digests and JSON, glued at random, reach far more parser states than noise.
fn token_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("---".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("# ".to_string()),
        Just("#".to_string()),
        Just("**".to_string()),
        Just("**Abstract**: ".to_string()),
        Just("**Abstract:** ".to_string()),
        Just("**Abstract (ZH)**: ".to_string()),
        Just("**Title (ZH)**: ".to_string()),
        Just("**Authors**: ".to_string()),
        Just("**Link**: [PDF](https://arxiv.org/pdf/2501.0000".to_string()),
        Just("https://arxiv.org/abs/hep-th/01".to_string()),
        Just("v2)".to_string()),
        Just("\u{feff}".to_string()),
        Just("{\"title\": \"".to_string()),
        Just("\", \"abstract\": \"".to_string()),
        Just("\"id\": ".to_string()),
        Just("\"}".to_string()),
        "[a-z ,.:;()\\[\\]]{0,8}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(token, 0..80).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn digest_reader_never_panics_on_arbitrary_strings(text in any::<String>()) {
        let report = parse_digest(&text, Path::new("fuzz.md"));
        check_invariants(&report, line_count(text.as_bytes()));
    }

    #[test]
    fn digest_reader_never_panics_on_digest_fragments(text in token_soup()) {
        let report = parse_digest(&text, Path::new("fuzz.md"));
        check_invariants(&report, line_count(text.as_bytes()));
    }

    #[test]
    fn jsonl_reader_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let report = parse_jsonl(&bytes, Path::new("fuzz.jsonl"), &JsonlFields::default());
        check_invariants(&report, line_count(&bytes));
    }

    #[test]
    fn jsonl_reader_never_panics_on_json_fragments(text in token_soup()) {
        let report = parse_jsonl(text.as_bytes(), Path::new("fuzz.jsonl"), &JsonlFields::default());
        check_invariants(&report, line_count(text.as_bytes()));
    }
}

/// One generated digest entry and the paper it must read back as.
#[derive(Debug, Clone)]
struct Entry {
    title: String,
    paragraphs: Vec<String>,
    authors: Vec<String>,
    link: Option<String>,
    title_translated: Option<String>,
    abstract_translated: Option<String>,
    field_order: Vec<usize>,
    separator_after: bool,
}

fn words(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z]{1,8}", 1..max).prop_map(|words| words.join(" "))
}

fn entry(index: usize) -> impl Strategy<Value = Entry> {
    let link = (any::<bool>(), prop::option::of(1u8..9)).prop_map(move |(abs, version)| {
        let kind = if abs { "abs" } else { "pdf" };
        let version = version.map(|v| format!("v{v}")).unwrap_or_default();
        format!("https://arxiv.org/{kind}/2501.{index:05}{version}")
    });
    (
        words(6),
        prop::collection::vec(words(12), 1..4),
        prop::collection::vec("[A-Z][a-z]{1,6} [A-Z][a-z]{1,8}", 0..4),
        prop::option::of(link),
        prop::option::of("[一-龥]{1,10}"),
        prop::option::of("[一-龥]{1,20}"),
        Just((0..5).collect::<Vec<usize>>()).prop_shuffle(),
        any::<bool>(),
    )
        .prop_map(
            move |(title, paragraphs, authors, link, zh_title, zh_abstract, order, sep)| Entry {
                title: format!("Paper {index} {title}"),
                paragraphs,
                authors,
                link,
                title_translated: zh_title,
                abstract_translated: zh_abstract,
                field_order: order,
                separator_after: sep,
            },
        )
}

fn entries() -> impl Strategy<Value = Vec<Entry>> {
    (1usize..8).prop_flat_map(|count| (0..count).map(entry).collect::<Vec<_>>())
}

fn render(entries: &[Entry], leading_separator: bool) -> String {
    let mut text = String::new();
    if leading_separator {
        text.push_str("---\n");
    }
    for entry in entries {
        text.push_str(&format!("# {} \n\n", entry.title));
        for &field in &entry.field_order {
            let line = match field {
                0 => Some(format!(
                    "**Abstract**: {} \n\n",
                    entry.paragraphs.join(" \n\n")
                )),
                1 => (!entry.authors.is_empty())
                    .then(|| format!("**Authors**: {}  \n\n", entry.authors.join(", "))),
                2 => entry
                    .link
                    .as_ref()
                    .map(|l| format!("**Link**: [PDF]({l})  \n\n")),
                3 => entry
                    .title_translated
                    .as_ref()
                    .map(|t| format!("**Title (ZH)**: {t}\n\n")),
                _ => entry
                    .abstract_translated
                    .as_ref()
                    .map(|a| format!("**Abstract (ZH)**: {a}\n\n")),
            };
            text.push_str(&line.unwrap_or_default());
        }
        if entry.separator_after {
            text.push_str("---\n");
        }
    }
    text
}

fn expected(entry: &Entry) -> Paper {
    let mut paper = Paper::new(&entry.title, &entry.paragraphs.join("\n"));
    paper.authors = entry.authors.clone();
    paper.link = entry.link.clone();
    paper.title_translated = entry.title_translated.clone();
    paper.abstract_translated = entry.abstract_translated.clone();
    if let Some(link) = &entry.link {
        let id = papermap_corpus::ArxivId::parse(link).expect("generated links hold ids");
        paper.id = id.to_string();
        paper.metadata.insert("year".into(), id.year().into());
    }
    paper
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any field order, any missing optional field, any missing separator: every entry reads
    /// back with exactly its own fields.
    #[test]
    fn well_formed_digests_read_back_exactly(entries in entries(), leading in any::<bool>()) {
        let text = render(&entries, leading);
        let report = parse_digest(&text, Path::new("generated.md"));
        prop_assert!(report.diagnostics().is_empty(), "{:#?}\n{text}", report.diagnostics());
        let wanted: Vec<Paper> = entries.iter().map(expected).collect();
        prop_assert_eq!(report.papers(), wanted.as_slice(), "{}", text);
    }
}
