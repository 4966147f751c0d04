//! Topics on disk (format 4): a table read in O(k) and per-paper rows read as mapped arrays, and
//! the format-3 library (the whole model as one JSON file) that keeps opening.

mod common;

use std::fs;

use common::*;
use papermap::{MapConfig, PaperMap, PaperMapError};

fn entry_name(m: &serde_json::Value, field: &str) -> String {
    m[field]["name"].as_str().unwrap().to_string()
}

/// A save writes the table without the per-paper arrays and the rows beside it; the table alone
/// answers `topic_table`, the two together give back the model that was saved, layout included.
#[test]
fn saved_topics_come_back_whole_and_the_table_alone_holds_no_per_paper_arrays() {
    let dir = tempfile::tempdir().unwrap();
    let (papers, vectors) = seed_with_vectors();
    let mut map = map_of(&papers, &vectors);
    map.topics(Some(4)).unwrap();
    let config = MapConfig {
        epochs: 20,
        deterministic: true,
        ..MapConfig::default()
    };
    map.place_map(&config, false, &mut |_| {}).unwrap();
    let fitted = map.fitted_topics().unwrap().unwrap().clone();
    assert_eq!(
        fitted.layout.as_ref().unwrap().positions.len(),
        papers.len()
    );
    map.save(dir.path()).unwrap();

    let m = manifest(dir.path());
    assert_eq!(m["format_version"], 4);
    let (table, rows) = (entry_name(&m, "topics"), entry_name(&m, "topic_rows"));
    assert!(
        table.ends_with(".pmt") && rows.ends_with(".pmr"),
        "{table} {rows}"
    );
    let table_bytes = fs::read(dir.path().join(&table)).unwrap();
    let unrepresented = papers
        .iter()
        .find(|p| {
            !fitted
                .topics
                .iter()
                .any(|t| t.representatives.contains(&p.id))
        })
        .unwrap();
    let text = String::from_utf8_lossy(&table_bytes);
    assert!(
        !text.contains(&format!("\"{}\"", unrepresented.id)),
        "the table holds no per-paper ids"
    );

    let map = PaperMap::open(dir.path()).unwrap();
    let shown = map.topic_table().unwrap().unwrap();
    assert!(shown.doc_ids.is_empty() && shown.assignments.is_empty());
    assert!(shown.layout.as_ref().unwrap().positions.is_empty());
    assert_eq!(shown.topics, fitted.topics);
    assert_eq!(shown.config, fitted.config);
    assert_eq!(map.fitted_topics().unwrap(), Some(&fitted));
    // Once the whole model is loaded, the table is that model.
    assert_eq!(map.topic_table().unwrap(), Some(&fitted));
    for (id, &topic) in fitted.doc_ids.iter().zip(&fitted.assignments).take(20) {
        assert_eq!(map.topic_of(id).unwrap(), Some(topic), "{id}");
    }
    assert_eq!(PaperMap::check(dir.path()).unwrap(), papers.len());
}

/// A format-3 library (written by papermap at commit c235015: see tests/data/README.md) with
/// topics and a kept map in one JSON topics file opens, shows its topics, keeps its map, and
/// its next save writes format 4 with the same model.
#[test]
fn a_format_3_library_keeps_opening_and_its_next_save_writes_topic_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lib");
    copy_named_fixture("format3-library", &dir);
    let m = manifest(&dir);
    assert_eq!(m["format_version"], 3);
    assert!(m.get("topic_rows").is_none());
    assert_eq!(PaperMap::check(&dir).unwrap(), 37);

    let mut map = PaperMap::open(&dir).unwrap();
    assert_eq!(map.fingerprint(), &minilm());
    assert_eq!(map.topic_table().unwrap().unwrap().topics.len(), 3);
    let before = map.fitted_topics().unwrap().unwrap().clone();
    assert_eq!(
        before.config.keywords.mmr_diversity, 0.3,
        "keywords fitted before MMR was a setting were fitted with 0.3"
    );
    assert_eq!(
        before.doc_ids.len(),
        35,
        "the fit and the kept map hold 35 papers"
    );
    assert_eq!(before.layout.as_ref().unwrap().positions.len(), 35);
    let kept = map.kept_map(&MapConfig::default()).unwrap();
    assert_eq!(
        kept.points.len(),
        37,
        "the 2 papers added after the map are placed"
    );
    assert_eq!(kept.points.iter().filter(|p| p.added).count(), 2);
    let galaxy = papermap::MetadataFilter::new().eq("tags", "galaxy");
    let hits = map
        .search_vector(map.vector("fx-40").unwrap().unwrap(), 5, &galaxy)
        .unwrap();
    assert_eq!(hits.first().map(|h| h.id.as_str()), Some("fx-40"));

    map.remove(["fx-41"]).unwrap();
    map.save(&dir).unwrap();
    let m = manifest(&dir);
    assert_eq!(m["format_version"], papermap::FORMAT_VERSION);
    let rows = entry_name(&m, "topic_rows");
    assert!(dir.join(&rows).exists(), "{rows}");
    assert!(
        !dir.join("topics.g000005.pmt").exists(),
        "the old file is gone"
    );
    let map = PaperMap::open(&dir).unwrap();
    assert_eq!(map.fitted_topics().unwrap(), Some(&before));
    assert_eq!(PaperMap::check(&dir).unwrap(), 36);
}

/// A manifest naming topic rows without a table is damage, named as such.
#[test]
fn topic_rows_without_a_table_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (papers, vectors) = seed_with_vectors();
    let mut map = map_of(&papers[..20], &vectors[..20 * 384]);
    map.topics(Some(2)).unwrap();
    map.save(dir.path()).unwrap();
    let mut m = manifest(dir.path());
    m.as_object_mut().unwrap().remove("topics");
    fs::write(
        dir.path().join("manifest.json"),
        serde_json::to_vec(&m).unwrap(),
    )
    .unwrap();
    match PaperMap::open(dir.path()) {
        Err(PaperMapError::Corrupt { detail, .. }) => {
            assert!(detail.contains("without a topic table"), "{detail}")
        }
        other => panic!(
            "expected a corrupt manifest, got {:?}",
            other.map(|m| m.len())
        ),
    }
}
