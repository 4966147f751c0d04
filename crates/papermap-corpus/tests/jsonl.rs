//! The JSON Lines reader: defaults on the labelled arXiv file, custom field names, bad lines.

use std::path::Path;

use papermap_corpus::{parse_jsonl, DiagnosticKind, JsonlFields, LoadReport};

fn parse(text: &str) -> LoadReport {
    parse_jsonl(
        text.as_bytes(),
        Path::new("p.jsonl"),
        &JsonlFields::default(),
    )
}

#[test]
fn defaults_read_the_labelled_arxiv_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/arxiv_sample.jsonl");
    let bytes = std::fs::read(path).expect("sample is in the repository");
    let report = parse_jsonl(
        &bytes,
        Path::new("arxiv_sample.jsonl"),
        &JsonlFields::default(),
    );
    assert!(
        report.diagnostics().is_empty(),
        "{:#?}",
        report.diagnostics()
    );
    let ids: Vec<&str> = report.papers().iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["0704.0001", "0704.0002", "0704.0003"]);

    let paper = &report.papers()[1];
    assert_eq!(paper.title, "Sparsity-certifying Graph Decompositions");
    assert!(paper
        .abstract_text
        .starts_with("We describe a new algorithm, the $(k,\\ell)$-pebble game"));
    assert_eq!(paper.metadata["label"], "math.CO");
    assert_eq!(paper.metadata["label_top"], "math");
    assert_eq!(
        paper.metadata["categories"],
        serde_json::json!(["math.CO", "cs.CG"])
    );
    assert_eq!(paper.metadata["year"], 2007);
    assert!(paper.metadata.contains_key("source"));
    for mapped in ["id", "title", "abstract"] {
        assert!(
            !paper.metadata.contains_key(mapped),
            "{mapped} leaked into metadata"
        );
    }
}

#[test]
fn custom_field_names_and_author_forms() {
    let fields = JsonlFields {
        id: "paper_id".into(),
        title: "name".into(),
        abstract_text: "summary".into(),
        authors: "by".into(),
        link: "url".into(),
        ..JsonlFields::default()
    };
    let text = concat!(
        r#"{"summary": "S1.", "name": "N1", "by": ["A", " B "], "paper_id": "arXiv:2502.08279v2"}"#,
        "\n",
        r#"{"name": "N2", "summary": "S2.", "by": "C; D, E", "url": "https://arxiv.org/abs/2501.00001v1"}"#,
        "\n",
        r#"{"name": "N3", "summary": "S3.", "paper_id": 17, "title": "kept as metadata"}"#,
    );
    let report = parse_jsonl(text.as_bytes(), Path::new("c.jsonl"), &fields);
    assert!(
        report.diagnostics().is_empty(),
        "{:#?}",
        report.diagnostics()
    );
    let papers = report.papers();
    assert_eq!(papers.len(), 3);
    assert_eq!(
        (papers[0].id.as_str(), papers[0].title.as_str()),
        ("2502.08279", "N1")
    );
    assert_eq!(papers[0].authors, ["A", "B"]);
    assert_eq!(papers[1].id, "2501.00001");
    assert_eq!(papers[1].authors, ["C", "D", "E"]);
    assert_eq!(
        papers[1].link.as_deref(),
        Some("https://arxiv.org/abs/2501.00001v1")
    );
    assert_eq!(papers[2].id, "17");
    assert_eq!(papers[2].metadata["title"], "kept as metadata");
    assert!(!papers[2].metadata.contains_key("year"));
}

#[test]
fn missing_id_falls_back_to_content_id_and_translations_are_read() {
    let report = parse(
        r#"{"title": "T", "abstract": "A\n\n B ", "title_translated": "标题", "abstract_translated": ""}"#,
    );
    let [paper] = report.papers() else {
        panic!("{:#?}", report.diagnostics())
    };
    assert_eq!(paper.id, papermap_corpus::Paper::content_id("T", "A\nB"));
    assert_eq!(paper.abstract_text, "A\nB");
    assert_eq!(paper.title_translated.as_deref(), Some("标题"));
    assert_eq!(paper.abstract_translated, None);
}

#[test]
fn bad_lines_are_reported_and_skipped_and_the_rest_loads() {
    let text = [
        r#"{"id": "0704.0001", "title": "Good one", "abstract": "A."}"#,
        r#"{"id": "0704.0002", "title": "Truncated", "abst"#,
        r#"["not", "an", "object"]"#,
        r#"{"id": "0704.0003", "abstract": "No title."}"#,
        r#"{"id": "0704.0004", "title": "No abstract"}"#,
        r#"{"id": "0704.0005", "title": "Bad type", "abstract": ["A."]}"#,
        r#"{"id": {"x": 1}, "title": "Bad id", "abstract": "A."}"#,
        r#"{"id": "0704.0006", "title": "Bad authors", "abstract": "A.", "authors": [1]}"#,
        "",
        "   ",
        r#"{"id": "0704.0001v2", "title": "Duplicate", "abstract": "B."}"#,
        r#"{"id": "0704.0007", "title": "Good two", "abstract": "C."}"#,
    ]
    .join("\n");
    let report = parse(&text);
    let ids: Vec<&str> = report.papers().iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["0704.0001", "0704.0007"]);
    let found: Vec<(usize, DiagnosticKind)> = report
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.kind))
        .collect();
    let skipped = DiagnosticKind::SkippedEntry;
    assert_eq!(
        found,
        [
            (2, skipped),
            (3, skipped),
            (4, skipped),
            (5, skipped),
            (6, skipped),
            (7, skipped),
            (8, skipped),
            (11, DiagnosticKind::DuplicateId),
        ]
    );
    let reasons: Vec<&str> = report
        .diagnostics()
        .iter()
        .map(|d| d.reason.as_str())
        .collect();
    assert!(reasons[0].starts_with("not valid JSON"), "{}", reasons[0]);
    assert!(reasons[1].contains("expected a JSON object, found an array"));
    assert!(reasons[2].contains("no `title` text"));
    assert!(reasons[3].contains("\"No abstract\" has no `abstract` text"));
    assert!(reasons[4].contains("field `abstract` must be a string, found an array"));
    assert!(reasons[5].contains("must be a string or number, found an object"));
    assert!(reasons[6].contains("field `authors` must hold strings, found a number"));
    assert!(reasons[7].contains("kept the first, from p.jsonl:1"));
}

#[test]
fn json_array_files_are_refused_with_the_fix() {
    let report = parse("\u{feff}  [{\"title\": \"T\", \"abstract\": \"A\"}]");
    assert!(report.papers().is_empty());
    let [diagnostic] = report.diagnostics() else {
        panic!("{:#?}", report.diagnostics())
    };
    assert_eq!(diagnostic.kind, DiagnosticKind::UnsupportedFile);
    assert!(diagnostic.reason.contains("jq -c '.[]'"));
}

#[test]
fn invalid_utf8_line_is_skipped_alone() {
    let mut bytes = br#"{"title": "T1", "abstract": "A1"}"#.to_vec();
    bytes.extend_from_slice(b"\n{\"title\": \"\xff\xfe\", \"abstract\": \"A2\"}\r\n");
    bytes.extend_from_slice(br#"{"title": "T3", "abstract": "A3"}"#);
    let report = parse_jsonl(&bytes, Path::new("u.jsonl"), &JsonlFields::default());
    let titles: Vec<&str> = report.papers().iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, ["T1", "T3"]);
    assert_eq!(report.diagnostics().len(), 1);
    assert_eq!(report.diagnostics()[0].line, 2);
}

#[test]
fn an_embedding_array_is_kept_beside_the_paper_not_in_its_metadata() {
    let report = parse(concat!(
        r#"{"id": "a", "title": "T", "abstract": "A", "embedding": [0.5, -1, 2e-3]}"#,
        "\n",
        r#"{"id": "b", "title": "U", "abstract": "B"}"#,
        "\n",
        r#"{"id": "a", "title": "T", "abstract": "A", "embedding": [9, 9, 9]}"#,
        "\n",
        r#"{"id": "c", "title": "V", "abstract": "C", "embedding": "0.5 1"}"#,
        "\n",
        r#"{"id": "d", "title": "W", "abstract": "D", "embedding": [1, 1e300]}"#,
    ));
    let ids: Vec<&str> = report.papers().iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(report.embedding(0), Some(&[0.5, -1.0, 0.002][..]));
    assert_eq!(report.embedding(1), None);
    assert!(!report.papers()[0].metadata.contains_key("embedding"));
    assert_eq!(report.origin(1), Some((Path::new("p.jsonl"), 2)));
    let kinds: Vec<(DiagnosticKind, usize)> = report
        .diagnostics()
        .iter()
        .map(|d| (d.kind, d.line))
        .collect();
    assert_eq!(
        kinds,
        [
            (DiagnosticKind::DuplicateId, 3),
            (DiagnosticKind::BadEmbedding, 4),
            (DiagnosticKind::BadEmbedding, 5)
        ]
    );
    let entries = report.into_entries();
    assert_eq!(entries.papers.len(), entries.embeddings.len());
    assert_eq!(entries.origins[1], (Path::new("p.jsonl").to_path_buf(), 2));
}
