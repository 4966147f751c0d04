//! Files and directories: format by extension, recursion, skipped files, errors, merging.

use std::fs;
use std::path::Path;

use papermap_corpus::{
    read_dir, read_path, read_path_with, read_paths, CorpusError, DiagnosticKind, Format,
    ReadOptions,
};

const DIGEST: &str = "# Digest Paper\n**Link**: [PDF](https://arxiv.org/pdf/2501.00001v1)\n\
                      **Abstract**: From a digest.\n---\n";
const JSONL: &str =
    "{\"id\": \"0704.0001\", \"title\": \"Jsonl Paper\", \"abstract\": \"From JSONL.\"}\n";

#[test]
fn directory_is_read_recursively_in_name_order_with_skips_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("b_nested")).unwrap();
    fs::create_dir_all(root.join(".hidden")).unwrap();
    fs::write(root.join("a.md"), DIGEST).unwrap();
    fs::write(root.join("b_nested/c.jsonl"), JSONL).unwrap();
    // Same arXiv id as a.md, in another file: kept once.
    fs::write(
        root.join("b_nested/d.txt"),
        "# Again\n**Link**: https://arxiv.org/abs/2501.00001v2\n**Abstract**: Dup.\n",
    )
    .unwrap();
    fs::write(root.join("e.pdf"), b"%PDF-1.7").unwrap();
    fs::write(root.join("f.md"), "").unwrap();
    fs::write(
        root.join(".hidden/g.md"),
        DIGEST.replace("Digest Paper", "Hidden"),
    )
    .unwrap();
    fs::write(root.join(".h.jsonl"), JSONL).unwrap();

    let report = read_path(root).unwrap();
    let titles: Vec<&str> = report.papers().iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, ["Digest Paper", "Jsonl Paper"]);
    let found: Vec<(String, DiagnosticKind)> = report
        .diagnostics()
        .iter()
        .map(|d| {
            let name = d.file.strip_prefix(root).unwrap().display().to_string();
            (name, d.kind)
        })
        .collect();
    let expected = [
        ("e.pdf", DiagnosticKind::UnsupportedFile),
        ("b_nested/d.txt", DiagnosticKind::DuplicateId),
        ("f.md", DiagnosticKind::EmptyFile),
    ];
    let expected: Vec<(String, DiagnosticKind)> =
        expected.iter().map(|(f, k)| (f.to_string(), *k)).collect();
    assert_eq!(found, expected);
    assert_eq!(
        read_dir(root, &ReadOptions::default())
            .unwrap()
            .papers()
            .len(),
        2
    );
}

#[test]
fn single_files_pick_the_reader_by_extension_or_option() {
    let dir = tempfile::tempdir().unwrap();
    let digest = dir.path().join("digest.MD");
    let jsonl = dir.path().join("papers.ndjson");
    let unknown = dir.path().join("papers.data");
    fs::write(&digest, DIGEST).unwrap();
    fs::write(&jsonl, JSONL).unwrap();
    fs::write(&unknown, JSONL).unwrap();

    assert_eq!(read_path(&digest).unwrap().papers()[0].id, "2501.00001");
    assert_eq!(read_path(&jsonl).unwrap().papers()[0].id, "0704.0001");
    let err = read_path(&unknown).unwrap_err();
    assert!(matches!(err, CorpusError::UnknownFormat { .. }));
    assert!(
        err.to_string()
            .contains("papers.data: unknown corpus format"),
        "{err}"
    );

    let options = ReadOptions {
        format: Some(Format::Jsonl),
        ..ReadOptions::default()
    };
    assert_eq!(
        read_path_with(&unknown, &options).unwrap().papers()[0].id,
        "0704.0001"
    );
}

#[test]
fn missing_path_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.md");
    let err = read_path(&missing).unwrap_err();
    assert!(matches!(err, CorpusError::Io { .. }));
    assert!(err.to_string().contains("nowhere.md"), "{err}");
}

#[test]
fn invalid_utf8_digest_is_read_lossily_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.md");
    fs::write(&path, b"# Caf\xe9 Paper\n**Abstract**: Text.\n").unwrap();
    let report = read_path(&path).unwrap();
    assert_eq!(report.papers()[0].title, "Caf\u{fffd} Paper");
    let [diagnostic] = report.diagnostics() else {
        panic!("{:#?}", report.diagnostics())
    };
    assert_eq!(
        (diagnostic.line, diagnostic.kind),
        (1, DiagnosticKind::InvalidUtf8)
    );
}

#[test]
fn several_inputs_merge_with_ids_deduplicated() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("one.jsonl");
    let second = dir.path().join("two.jsonl");
    fs::write(&first, JSONL).unwrap();
    fs::write(&second, JSONL.replace("Jsonl Paper", "Renamed")).unwrap();
    let report = read_paths(&[&first, &second], &ReadOptions::default()).unwrap();
    assert_eq!(report.papers().len(), 1);
    assert_eq!(report.papers()[0].title, "Jsonl Paper");
    assert_eq!(report.diagnostics()[0].kind, DiagnosticKind::DuplicateId);
    assert_eq!(report.diagnostics()[0].file, second);
}

#[cfg(unix)]
#[test]
fn symlinked_directories_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("a.md"), DIGEST).unwrap();
    // A link back to the root would loop forever if followed.
    std::os::unix::fs::symlink(&root, root.join("loop")).unwrap();
    let report = read_path(&root).unwrap();
    assert_eq!(report.papers().len(), 1);
    let [diagnostic] = report.diagnostics() else {
        panic!("{:#?}", report.diagnostics())
    };
    assert_eq!(diagnostic.kind, DiagnosticKind::UnsupportedFile);
    assert_eq!(diagnostic.file, root.join("loop"));
    assert!(Path::new(&diagnostic.file).is_dir());
}

/// `keep_title_only` keeps a title without an abstract (digest and JSON Lines), with a note;
/// without it the same entries are skipped. Nothing else changes.
#[test]
fn keep_title_only_reads_entries_without_an_abstract_on_their_title() {
    let dir = tempfile::tempdir().unwrap();
    let digest = dir.path().join("today.md");
    std::fs::write(
        &digest,
        "# Full Entry\n\n**Abstract**: Text.\n\n---\n\n# Bare Title\n\n**Link**: https://arxiv.org/abs/2501.00009\n",
    )
    .unwrap();
    let jsonl = dir.path().join("today.jsonl");
    std::fs::write(
        &jsonl,
        "{\"id\": \"a\", \"title\": \"Only A Title\"}\n{\"id\": \"b\", \"title\": \"\", \"abstract\": \"x\"}\n",
    )
    .unwrap();
    let keep = ReadOptions {
        keep_title_only: true,
        ..ReadOptions::default()
    };
    let kept = read_paths(&[&digest, &jsonl], &keep).unwrap();
    let titles: Vec<(&str, &str)> = kept
        .papers()
        .iter()
        .map(|p| (p.title.as_str(), p.abstract_text.as_str()))
        .collect();
    assert_eq!(
        titles,
        [
            ("Full Entry", "Text."),
            ("Bare Title", ""),
            ("Only A Title", "")
        ]
    );
    assert_eq!(kept.papers()[1].id, "2501.00009");
    assert_eq!(kept.papers()[1].embedding_text(), "Bare Title");
    let kinds: Vec<DiagnosticKind> = kept.diagnostics().iter().map(|d| d.kind).collect();
    // An empty title is still skipped: there is nothing to rank.
    assert_eq!(
        kinds,
        [
            DiagnosticKind::TitleOnly,
            DiagnosticKind::TitleOnly,
            DiagnosticKind::SkippedEntry
        ]
    );
    assert!(kept.diagnostics()[0].reason.contains("on its title alone"));

    let skipped = read_paths(&[&digest, &jsonl], &ReadOptions::default()).unwrap();
    assert_eq!(skipped.papers().len(), 1);
    assert!(skipped
        .diagnostics()
        .iter()
        .all(|d| d.kind == DiagnosticKind::SkippedEntry));
}
