//! The segmented library format: updates write only what changed, removals stick, segments
//! merge, and a library written by format 1 still opens and is upgraded by its next save.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::*;
use papermap::{MetadataFilter, Paper, PaperMap, PaperMapError};

/// Size of every file in `dir`, by name.
fn sizes(dir: &Path) -> BTreeMap<String, u64> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                e.metadata().unwrap().len(),
            )
        })
        .collect()
}

#[test]
fn adding_one_paper_writes_only_a_small_segment_and_leaves_the_rest_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (papers, vectors) = seed_with_vectors();
    map_of(&papers[..98], &vectors[..98 * 384])
        .save(dir.path())
        .unwrap();
    let before = sizes(dir.path());
    let total: u64 = before.values().sum();

    let mut map = PaperMap::open(dir.path()).unwrap();
    map.add_embedded(papers[98..].to_vec(), &vectors[98 * 384..])
        .unwrap();
    map.save(dir.path()).unwrap();
    let after = sizes(dir.path());
    for (name, size) in &before {
        if name != "manifest.json" && name != ".papermap.lock" {
            assert_eq!(after.get(name), Some(size), "{name} is kept as it was");
        }
    }
    let written: u64 = after
        .iter()
        .filter(|(name, _)| !before.contains_key(*name) || *name == "manifest.json")
        .map(|(_, size)| size)
        .sum();
    // One paper of 99 (plus a manifest): a bound, well under the 5% the format promises at scale.
    assert!(
        written * 20 < total,
        "{written} bytes written for one paper of a {total}-byte library"
    );
    assert_eq!(
        manifest(dir.path())["segments"].as_array().unwrap().len(),
        2
    );
    let reopened = PaperMap::open(dir.path()).unwrap();
    assert_eq!(reopened.len(), 99);
    assert_eq!(
        reopened.vector(&papers[98].id).unwrap().unwrap(),
        &vectors[98 * 384..]
    );
}

#[test]
fn removed_papers_never_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let (papers, vectors) = seed_with_vectors();
    map_of(&papers, &vectors).save(dir.path()).unwrap();
    let mut map = PaperMap::open(dir.path()).unwrap();
    let gone = ["2502.08279", papers[5].id.as_str(), "not-an-id"];
    assert_eq!(map.remove(gone).unwrap(), 2);
    let check = |map: &PaperMap| {
        assert_eq!(map.len(), 97);
        assert!(map.paper("2502.08279").unwrap().is_none());
        let hits = map
            .search_vector(&vectors[..384], 99, &MetadataFilter::new())
            .unwrap();
        assert_eq!(hits.len(), 97);
        assert!(hits
            .iter()
            .all(|h| h.id != "2502.08279" && h.id != papers[5].id));
        assert!(map.related("2502.08279", 3).is_err());
    };
    check(&map);
    map.save(dir.path()).unwrap();
    check(&PaperMap::open(dir.path()).unwrap());
    let m = manifest(dir.path());
    assert_eq!(m["papers"], 97);
    assert_eq!(m["segments"][0]["deleted"], 2);

    // Adding a removed paper again brings back that paper, once.
    let mut map = PaperMap::open(dir.path()).unwrap();
    let i = papers.iter().position(|p| p.id == "2502.08279").unwrap();
    map.add_embedded(vec![papers[i].clone()], &vectors[i * 384..(i + 1) * 384])
        .unwrap();
    map.save(dir.path()).unwrap();
    let map = PaperMap::open(dir.path()).unwrap();
    assert_eq!(map.len(), 98);
    let hits = map
        .search_vector(&vectors[i * 384..(i + 1) * 384], 98, &MetadataFilter::new())
        .unwrap();
    assert_eq!(hits.iter().filter(|h| h.id == "2502.08279").count(), 1);
    assert_eq!(hits[0].id, "2502.08279");
}

#[test]
fn many_small_updates_merge_into_few_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (papers, vectors) = seed_with_vectors();
    map_of(&papers[..10], &vectors[..10 * 384])
        .save(dir.path())
        .unwrap();
    let mut most = 0;
    for i in 10..40 {
        let mut map = PaperMap::open(dir.path()).unwrap();
        map.add_embedded(vec![papers[i].clone()], &vectors[i * 384..(i + 1) * 384])
            .unwrap();
        if i % 7 == 0 {
            map.remove([papers[i - 5].id.as_str()]).unwrap();
        }
        map.save(dir.path()).unwrap();
        most = most.max(manifest(dir.path())["segments"].as_array().unwrap().len());
    }
    assert!(most < 8 + 2, "segments pile up: {most}");
    let map = PaperMap::open(dir.path()).unwrap();
    let removed: Vec<&str> = (10..40)
        .filter(|i| i % 7 == 0)
        .map(|i| papers[i - 5].id.as_str())
        .collect();
    assert_eq!(map.len(), 40 - removed.len());
    for (i, paper) in papers[..40].iter().enumerate() {
        let want = !removed.contains(&paper.id.as_str());
        assert_eq!(
            map.paper(&paper.id).unwrap().is_some(),
            want,
            "{}",
            paper.id
        );
        if want {
            let got = map.vector(&paper.id).unwrap().unwrap();
            let given = &vectors[i * 384..(i + 1) * 384];
            assert!(
                got.iter().zip(given).all(|(a, b)| (a - b).abs() < 1e-6),
                "{}",
                paper.id
            );
        }
    }
    assert_eq!(PaperMap::check(dir.path()).unwrap(), map.len());
}

fn copy_fixture(to: &Path) {
    copy_named_fixture("format1-library", to)
}

#[test]
fn a_format_1_library_opens_read_only_and_its_next_save_upgrades_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("old");
    copy_fixture(&dir);
    let before = sizes(&dir);
    assert_eq!(manifest(&dir)["format_version"], 1);

    let map = PaperMap::builder()
        .fingerprint(minilm())
        .open(&dir)
        .unwrap();
    assert_eq!(map.len(), 12);
    assert_eq!(
        map.fitted_topics()
            .unwrap()
            .expect("its topics")
            .topics
            .len(),
        3
    );
    let papers = map.papers().unwrap();
    let related = map.related(&papers[0].id, 3).unwrap();
    assert_eq!(related.len(), 3);
    assert_eq!(PaperMap::check(&dir).unwrap(), 12);
    assert_eq!(sizes(&dir), before, "opening and checking change nothing");

    // Adding a paper and saving writes format 2 and drops the format-1 files.
    let mut map = map;
    let mut extra = Paper::new("An extra paper", "Added after the upgrade.");
    extra.id = "extra-1".into();
    let mut v = map.vector(&papers[0].id).unwrap().unwrap().to_vec();
    v.reverse();
    map.add_embedded(vec![extra], &v).unwrap();
    map.save(&dir).unwrap();
    let m = manifest(&dir);
    assert_eq!(m["format_version"], papermap::FORMAT_VERSION);
    assert!(fs::read_dir(&dir).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("g0")));
    let upgraded = PaperMap::open(&dir).unwrap();
    assert_eq!(upgraded.len(), 13);
    assert_eq!(upgraded.papers().unwrap()[..12], papers[..]);
    assert_eq!(
        upgraded.related(&papers[0].id, 3).unwrap()[0].id,
        related[0].id
    );
}

#[test]
fn a_merge_refuses_to_copy_a_damaged_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (papers, vectors) = seed_with_vectors();
    map_of(&papers[..1], &vectors[..384])
        .save(dir.path())
        .unwrap();
    // Segments of one paper each, up to one short of a merge.
    for i in 1..7 {
        let mut map = PaperMap::open(dir.path()).unwrap();
        map.add_embedded(vec![papers[i].clone()], &vectors[i * 384..(i + 1) * 384])
            .unwrap();
        map.save(dir.path()).unwrap();
    }
    assert_eq!(
        manifest(dir.path())["segments"].as_array().unwrap().len(),
        7
    );
    let npy = dir.path().join("seg000003.npy");
    let mut bytes = fs::read(&npy).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    fs::write(&npy, bytes).unwrap();
    let mut map = PaperMap::open(dir.path()).unwrap();
    map.add_embedded(vec![papers[7].clone()], &vectors[7 * 384..8 * 384])
        .unwrap();
    let err = map.save(dir.path()).unwrap_err();
    assert!(err.to_string().contains("seg000003.npy"), "{err}");
    assert_eq!(
        manifest(dir.path())["segments"].as_array().unwrap().len(),
        7,
        "nothing committed"
    );
}

/// Issue 25: a save that merges segments and then meets a conflict must leave the map as it
/// was, so that `rebase` keeps the other writer's removals and updates (it used to re-add every
/// merged row: a removed paper came back and a changed text was set back).
#[test]
fn a_refused_merging_save_changes_nothing_and_rebase_keeps_the_other_writers_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (papers, vectors) = seed_with_vectors();
    let rows = |a: usize, b: usize| &vectors[a * 384..b * 384];
    map_of(&papers[..10], rows(0, 10)).save(dir.path()).unwrap();
    // Seven one-paper segments: one tier short of a merge.
    for (i, paper) in papers.iter().enumerate().take(17).skip(10) {
        let mut map = PaperMap::open(dir.path()).unwrap();
        map.add_embedded(vec![paper.clone()], rows(i, i + 1))
            .unwrap();
        map.save(dir.path()).unwrap();
    }
    assert_eq!(
        manifest(dir.path())["segments"].as_array().unwrap().len(),
        8
    );

    let mut a = PaperMap::open(dir.path()).unwrap();
    let mut b = PaperMap::open(dir.path()).unwrap();
    // b removes one paper of the small segments and changes the text of another.
    let (gone, changed) = (&papers[11].id, &papers[12].id);
    let mut new_text = papers[12].clone();
    new_text.abstract_text = "A new abstract written by the other writer.".into();
    b.remove([gone.as_str()]).unwrap();
    b.add_embedded(vec![new_text.clone()], rows(50, 51))
        .unwrap();
    b.save(dir.path()).unwrap();

    // a adds a paper: its save merges the tier (7 segments + its fresh one), then is refused.
    a.add_embedded(vec![papers[20].clone()], rows(20, 21))
        .unwrap();
    let before = (a.len(), a.paper(gone).unwrap(), a.paper(changed).unwrap());
    assert!(matches!(
        a.save(dir.path()),
        Err(PaperMapError::Conflict { .. })
    ));
    assert_eq!(
        (a.len(), a.paper(gone).unwrap(), a.paper(changed).unwrap()),
        before,
        "a refused save leaves the map as it was"
    );
    a.rebase(dir.path()).unwrap();
    a.save(dir.path()).unwrap();

    let all = PaperMap::open(dir.path()).unwrap();
    assert!(all.paper(gone).unwrap().is_none(), "b's removal stays");
    assert_eq!(
        all.paper(changed).unwrap().unwrap(),
        new_text,
        "b's update stays"
    );
    let got = all.vector(changed).unwrap().unwrap();
    assert!(got
        .iter()
        .zip(rows(50, 51))
        .all(|(x, y)| (x - y).abs() < 1e-6));
    assert!(
        all.paper(&papers[20].id).unwrap().is_some(),
        "a's paper added"
    );
    assert_eq!(all.len(), 17 - 1 + 1);
    assert_eq!(PaperMap::check(dir.path()).unwrap(), all.len());
}

/// Libraries written before the topics file was framed kept it as plain JSON (`.json`): they
/// open, their topics load, and the next save that writes topics frames them.
#[test]
fn a_library_with_an_unframed_topics_file_keeps_opening() {
    let dir = tempfile::tempdir().unwrap();
    let (papers, vectors) = seed_with_vectors();
    let mut map = map_of(&papers[..30], &vectors[..30 * 384]);
    let fitted = map.topics(Some(3)).unwrap().clone();
    map.save(dir.path()).unwrap();
    // Rewrite it as the previous papermap did: the model's JSON, no frame, a `.json` name.
    let mut m = manifest(dir.path());
    let old_name = m["topics"]["name"].as_str().unwrap().to_string();
    assert!(old_name.ends_with(".pmt"), "{old_name}");
    let json = fitted.to_json();
    let new_name = old_name.replace(".pmt", ".json");
    fs::write(dir.path().join(&new_name), &json).unwrap();
    fs::remove_file(dir.path().join(&old_name)).unwrap();
    m["topics"]["name"] = new_name.clone().into();
    // Nor were there topic rows.
    let rows = m.as_object_mut().unwrap().remove("topic_rows").unwrap();
    fs::remove_file(dir.path().join(rows["name"].as_str().unwrap())).unwrap();
    let renamed = serde_json::to_vec(&m).unwrap();
    let vouched = vouch_for(&renamed, &new_name, json.as_bytes());
    fs::write(dir.path().join("manifest.json"), vouched).unwrap();

    assert_eq!(PaperMap::check(dir.path()).unwrap(), 30);
    let mut map = PaperMap::open(dir.path()).unwrap();
    assert_eq!(map.fitted_topics().unwrap(), Some(&fitted));
    map.refit_topics(&fitted.config, &mut |_| {}).unwrap();
    map.save(dir.path()).unwrap();
    let name = manifest(dir.path())["topics"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        name.ends_with(".pmt") && !dir.path().join(&new_name).exists(),
        "{name}"
    );
    assert_eq!(
        PaperMap::open(dir.path()).unwrap().fitted_topics().unwrap(),
        Some(&fitted)
    );
}

/// The paper `i` of `tests/data/format2-library` (see tests/data/README.md).
fn format2_paper(i: usize) -> (Paper, Vec<f32>) {
    let words = ["protein folding", "galaxy clusters", "speech recognition"];
    let c = i % 3;
    let mut p = Paper::new(
        &format!("On {} ({i})", words[c]),
        &format!("We study {} with method {i}.", words[c]),
    );
    p.id = format!("fx-{i}");
    let v: Vec<f32> = (0..384)
        .map(|j| {
            let centre = if j % 3 == c { 1.0 } else { 0.0 };
            centre + 0.3 * ((((i * 131 + j * 71) % 101) as f32 / 101.0) - 0.5)
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    (p, v.into_iter().map(|x| x / norm).collect())
}

/// A library of the previous format (segments without metadata columns, topics as plain JSON,
/// written by that papermap) opens, answers filtered searches paper by paper, keeps its topics,
/// and its next save writes format 3 around the old segments.
#[test]
fn a_format_2_library_keeps_opening_and_its_next_save_writes_format_3() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lib");
    copy_named_fixture("format2-library", &dir);
    assert_eq!(manifest(&dir)["format_version"], 2);
    assert_eq!(PaperMap::check(&dir).unwrap(), 35);
    let mut map = PaperMap::open(&dir).unwrap();
    assert_eq!(map.fingerprint(), &minilm());
    assert!(map.paper("fx-4").unwrap().is_none(), "its removal holds");
    assert_eq!(
        map.fitted_topics()
            .unwrap()
            .expect("its topics")
            .topics
            .len(),
        3
    );
    let galaxy = papermap::MetadataFilter::new().eq("tags", "galaxy");
    let query = format2_paper(7).1;
    let hits = map.search_vector(&query, 50, &galaxy).unwrap();
    assert_eq!(
        hits.len(),
        11,
        "the 12 galaxy papers (ids 1 mod 3) but fx-4, removed"
    );
    assert!(hits
        .iter()
        .all(|h| h.id[3..].parse::<usize>().unwrap() % 3 == 1));
    assert_eq!(hits[0].id, "fx-7");

    let (mut extra, v) = format2_paper(40);
    extra
        .metadata
        .insert("tags".into(), serde_json::json!(["galaxy"]));
    map.add_embedded(vec![extra], &v).unwrap();
    map.save(&dir).unwrap();
    let m = manifest(&dir);
    assert_eq!(m["format_version"], papermap::FORMAT_VERSION);
    let segments = m["segments"].as_array().unwrap();
    let has_column = |s: &serde_json::Value| {
        s["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["role"] == "facets")
    };
    assert!(!has_column(&segments[0]) && has_column(segments.last().unwrap()));
    let map = PaperMap::open(&dir).unwrap();
    assert_eq!(map.search_vector(&query, 50, &galaxy).unwrap().len(), 12);
    assert_eq!(map.fitted_topics().unwrap().unwrap().topics.len(), 3);
    assert_eq!(PaperMap::check(&dir).unwrap(), 36);
}
