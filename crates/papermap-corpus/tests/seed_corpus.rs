//! The bundled seed corpus (examples/data/seed) against the reference vectors' texts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use papermap_corpus::{read_path, Paper};

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/seed")
}

/// `(arxiv_id, text)` of every reference vector: a copy of the fixture without the vectors.
fn reference_texts() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/seed_reference_texts.jsonl");
    let text = std::fs::read_to_string(&path).expect("reference texts are in the repository");
    text.lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).expect("valid JSON line");
            let id = row["arxiv_id"].as_str().expect("arxiv_id").to_string();
            (id, row["text"].as_str().expect("text").to_string())
        })
        .collect()
}

fn seed_papers() -> Vec<Paper> {
    let report = read_path(seed_dir()).expect("the seed corpus is readable");
    assert!(
        report.diagnostics().is_empty(),
        "{:#?}",
        report.diagnostics()
    );
    report.into_papers()
}

#[test]
fn embedding_texts_match_all_reference_texts_byte_for_byte() {
    let references = reference_texts();
    assert_eq!(references.len(), 99);
    let papers = seed_papers();
    assert_eq!(papers.len(), 99);
    let mut mismatched = Vec::new();
    for paper in &papers {
        match references.get(&paper.id) {
            Some(reference) if *reference == paper.embedding_text() => {}
            Some(_) => mismatched.push(format!("{}: text differs", paper.id)),
            None => mismatched.push(format!("{}: no reference vector", paper.id)),
        }
    }
    assert!(mismatched.is_empty(), "{mismatched:#?}");
}

#[test]
fn every_seed_paper_has_an_arxiv_id_link_authors_and_translations() {
    for paper in seed_papers() {
        let arxiv_id = paper
            .arxiv_id()
            .unwrap_or_else(|| panic!("{} is not an arXiv id", paper.id));
        let link = paper.link.as_deref().expect("link");
        assert_eq!(link, format!("https://arxiv.org/pdf/{}", paper.id));
        assert!(!paper.authors.is_empty(), "{}", paper.id);
        assert!(paper.title_translated.is_some() && paper.abstract_translated.is_some());
        assert_eq!(paper.metadata["year"], u64::from(arxiv_id.year()));
    }
}

#[test]
fn messy_seed_entries_keep_every_paragraph() {
    let papers = seed_papers();
    let by_id = |id: &str| papers.iter().find(|p| p.id == id).expect(id);

    // The one multi-paragraph English abstract.
    let llie = by_id("2501.06546");
    assert_eq!(llie.abstract_text.lines().count(), 2);
    assert!(llie
        .abstract_text
        .ends_with("superior effectiveness of our proposed NaLSuper."));
    let multi: Vec<_> = papers
        .iter()
        .filter(|p| p.abstract_text.contains('\n'))
        .collect();
    assert_eq!(multi.len(), 1);

    // A translated title that leaked the translator's prompt and remark: three paragraphs,
    // kept as given (translations are shown, never embedded).
    let pedestrians = papers
        .iter()
        .find(|p| {
            p.title
                .starts_with("Application of Vision-Language Model to Pedestrians")
        })
        .expect("pedestrians entry");
    let translated = pedestrians
        .title_translated
        .as_deref()
        .expect("translated title");
    let paragraphs: Vec<&str> = translated.lines().collect();
    assert_eq!(paragraphs.len(), 3, "{translated}");
    assert_eq!(
        paragraphs[1],
        "基于视觉-语言模型的行人行为识别与场景理解在自动驾驶中的应用"
    );
}
