//! The pipeline with vectors brought from outside (the reference vectors): no model files needed.

mod common;

use std::fs;

use common::*;
use papermap::{MapConfig, MetadataFilter, Paper, PaperMap, PaperMapError};

fn seed_map() -> PaperMap {
    let (papers, vectors) = seed_with_vectors();
    let mut map = PaperMap::builder()
        .fingerprint(reference_fingerprint())
        .build()
        .unwrap();
    let report = map.add_embedded(papers, &vectors).unwrap();
    assert_eq!((report.added, report.updated, report.unchanged), (99, 0, 0));
    map
}

#[test]
fn related_matches_exact_cosine_and_never_lists_the_paper_itself() {
    let map = seed_map();
    let (papers, vectors) = seed_with_vectors();
    assert_eq!(map.index_kind(), "exact");
    for paper in papers.iter().step_by(7) {
        let hits = map.related(&paper.id, 5).unwrap();
        let ids: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
        let query = map.vector(&paper.id).unwrap().unwrap();
        assert_eq!(
            ids,
            exact_top(&papers, &vectors, query, 5, Some(&paper.id)),
            "related to {}",
            paper.id
        );
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        assert_eq!(
            hits[0].title,
            map.paper(&hits[0].id).unwrap().unwrap().title
        );
    }
    // k larger than the library: everything but the paper itself.
    assert_eq!(map.related("2502.08279", 500).unwrap().len(), 98);
    assert!(matches!(
        map.related("0000.00000", 3),
        Err(PaperMapError::UnknownId { .. })
    ));
}

#[test]
fn hnsw_above_the_threshold_agrees_with_exact_and_survives_save() {
    let (papers, vectors) = seed_with_vectors();
    let mut map = PaperMap::builder()
        .fingerprint(reference_fingerprint())
        .hnsw_threshold(50)
        .build()
        .unwrap();
    map.add_embedded(papers[..40].to_vec(), &vectors[..40 * 384])
        .unwrap();
    assert_eq!(map.index_kind(), "exact");
    map.add_embedded(papers[40..].to_vec(), &vectors[40 * 384..])
        .unwrap();
    assert_eq!(map.index_kind(), "hnsw");
    // Unsaved papers above the threshold are searched through a graph too.
    let unsaved_agree = papers
        .iter()
        .filter(|p| {
            let want = exact_top(
                &papers,
                &vectors,
                map.vector(&p.id).unwrap().unwrap(),
                1,
                Some(&p.id),
            );
            map.related(&p.id, 1).unwrap()[0].id == want[0]
        })
        .count();
    assert!(
        unsaved_agree >= 97,
        "top-1 agreement before saving {unsaved_agree}/99"
    );
    let dir = tempfile::tempdir().unwrap();
    map.save(dir.path()).unwrap();
    let reopened = PaperMap::open(dir.path()).unwrap();
    assert_eq!(reopened.index_kind(), "hnsw");
    let mut agree = 0;
    for paper in &papers {
        let got = reopened.related(&paper.id, 1).unwrap();
        let want = exact_top(
            &papers,
            &vectors,
            map.vector(&paper.id).unwrap().unwrap(),
            1,
            Some(&paper.id),
        );
        agree += usize::from(got[0].id == want[0]);
        assert_ne!(got[0].id, paper.id);
    }
    // HNSW is approximate; on 99 points with ef 64 it should find the true neighbour nearly always.
    assert!(agree >= 97, "top-1 agreement {agree}/99");
}

fn graph_files(dir: &std::path::Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("graph".as_ref()))
        .count()
}

#[test]
fn small_segments_get_a_graph_once_the_library_uses_hnsw() {
    let (papers, vectors) = seed_with_vectors();
    let builder = || {
        PaperMap::builder()
            .fingerprint(reference_fingerprint())
            .hnsw_threshold(50)
            .segment_graph_rows(10)
    };
    let add_and_save = |map: &mut PaperMap, dir: &std::path::Path, from: usize, to: usize| {
        map.add_embedded(papers[from..to].to_vec(), &vectors[from * 384..to * 384])
            .unwrap();
        map.save(dir).unwrap();
    };
    // Below the threshold the library stays exact, however its segments are sized.
    let small = tempfile::tempdir().unwrap();
    let mut map = builder().build().unwrap();
    add_and_save(&mut map, small.path(), 0, 20);
    add_and_save(&mut map, small.path(), 20, 40);
    assert_eq!((graph_files(small.path()), map.index_kind()), (0, "exact"));
    // Above it: a 15-row segment gets a graph, a 5-row one is scanned.
    let dir = tempfile::tempdir().unwrap();
    let mut map = builder().build().unwrap();
    add_and_save(&mut map, dir.path(), 0, 60);
    assert_eq!(graph_files(dir.path()), 1);
    add_and_save(&mut map, dir.path(), 60, 75);
    assert_eq!(graph_files(dir.path()), 2);
    add_and_save(&mut map, dir.path(), 75, 80);
    assert_eq!(graph_files(dir.path()), 2);
    let reopened = builder().open(dir.path()).unwrap();
    let agree = papers[..80]
        .iter()
        .filter(|p| {
            let query = reopened.vector(&p.id).unwrap().unwrap();
            let want = exact_top(&papers[..80], &vectors[..80 * 384], query, 1, Some(&p.id));
            reopened.related(&p.id, 1).unwrap()[0].id == want[0]
        })
        .count();
    assert!(agree >= 78, "top-1 agreement across 3 segments {agree}/80");
}

#[test]
fn save_and_open_round_trip_everything() {
    let mut map = seed_map();
    let topics = map.topics(Some(5)).unwrap().clone();
    let related = map.related("2502.08279", 5).unwrap();
    let papers = map.papers().unwrap();
    let vectors = map.embedding_matrix();
    let dir = tempfile::tempdir().unwrap();
    map.save(dir.path()).unwrap();
    let reopened = PaperMap::open(dir.path()).unwrap();
    assert_eq!(reopened.papers().unwrap(), papers);
    assert_eq!(reopened.embedding_matrix(), vectors);
    assert_eq!(reopened.fingerprint(), &reference_fingerprint());
    assert_eq!(reopened.fitted_topics().unwrap(), Some(&topics));
    assert_eq!(reopened.related("2502.08279", 5).unwrap(), related);
    // numpy can map the vectors: a plain .npy file of n × 384 little-endian float32.
    let npy = fs::read(file_with_role(dir.path(), ".npy")).unwrap();
    assert!(npy.starts_with(b"\x93NUMPY\x01\x00"));
    let header = String::from_utf8_lossy(&npy[10..128]);
    assert!(
        header.contains("'descr': '<f4'") && header.contains("(99, 384)"),
        "{header}"
    );
    // Saving again with nothing changed writes no data file, and it still opens.
    let before = data_files(dir.path());
    map.save(dir.path()).unwrap();
    assert_eq!(data_files(dir.path()), before);
    assert_eq!(PaperMap::open(dir.path()).unwrap().len(), 99);
}

/// The data files of a library directory (everything but the manifest and the lock).
fn data_files(dir: &std::path::Path) -> std::collections::BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "manifest.json" && n != ".papermap.lock")
        .collect()
}

/// The data files the manifest names.
fn manifest_files(dir: &std::path::Path) -> std::collections::BTreeSet<String> {
    let m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut names: std::collections::BTreeSet<String> = m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["files"].as_array().unwrap().iter())
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    if let Some(t) = m["topics"]["name"].as_str() {
        names.insert(t.to_string());
    }
    names
}

#[test]
fn adding_again_changes_only_what_changed_and_topics_stay() {
    let mut map = seed_map();
    map.topics(Some(4)).unwrap();
    let (mut papers, vectors) = seed_with_vectors();
    // Same papers again: nothing changes, topics stay.
    let report = map.add_embedded(papers.clone(), &vectors).unwrap();
    assert_eq!((report.added, report.updated, report.unchanged), (0, 0, 99));
    assert!(map.fitted_topics().unwrap().is_some());
    // One changed abstract, one new paper.
    papers[3].abstract_text.push_str(" Revised.");
    let changed_id = papers[3].id.clone();
    let new = Paper::new("A brand new paper", "Its abstract.");
    let mut new_vector = vec![0.0f32; 384];
    new_vector[0] = 2.0; // normalised on the way in
    let mut changed_vector = vec![0.0f32; 384];
    changed_vector[1] = 1.0;
    let batch = vec![papers[3].clone(), new.clone()];
    let rows: Vec<f32> = changed_vector.iter().chain(&new_vector).copied().collect();
    let report = map.add_embedded(batch, &rows).unwrap();
    assert_eq!((report.added, report.updated, report.unchanged), (1, 1, 0));
    assert_eq!(map.len(), 100);
    assert_eq!(
        map.vector(&changed_id).unwrap().unwrap(),
        &changed_vector[..]
    );
    assert_eq!(map.vector(&new.id).unwrap().unwrap()[0], 1.0);
    assert!(map
        .paper(&changed_id)
        .unwrap()
        .unwrap()
        .abstract_text
        .ends_with("Revised."));
    // Topics stay; the new and the changed paper join their nearest topic, the rest keep theirs.
    let fitted = map.fitted_topics().unwrap().expect("topics stay").clone();
    let centroids = fitted.centroids();
    let nearest = |v: &[f32]| {
        (0..centroids.nrows())
            .min_by(|&a, &b| {
                let d = |c: usize| -> f32 {
                    centroids
                        .row(c)
                        .iter()
                        .zip(v)
                        .map(|(x, y)| (x - y) * (x - y))
                        .sum()
                };
                d(a).total_cmp(&d(b))
            })
            .unwrap()
    };
    assert_eq!(
        map.topic_of(&new.id).unwrap(),
        Some(nearest(map.vector(&new.id).unwrap().unwrap()))
    );
    for (id, topic) in fitted
        .doc_ids
        .iter()
        .zip(&fitted.assignments)
        .filter(|(id, _)| **id != changed_id)
    {
        assert_eq!(map.topic_of(id).unwrap(), Some(*topic), "{id}");
    }
    assert_eq!(map.topic_of("no-such-paper").unwrap(), None);
    let pairs: Vec<(String, usize)> = map
        .topic_assignments()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(pairs.len(), 100);
    for (id, topic) in &pairs {
        assert_eq!(map.topic_of(id).unwrap(), Some(*topic));
    }
    // The map shows every paper, and flags the one the fit never saw.
    let topic_map = map
        .topic_map(&MapConfig {
            epochs: 20,
            deterministic: true,
            ..MapConfig::default()
        })
        .unwrap();
    let added: Vec<&str> = topic_map
        .points
        .iter()
        .filter(|p| p.added)
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(added, [new.id.as_str()]);
    // A refit is explicit, and then covers the new paper.
    let config = fitted.config.clone();
    let refitted = map.refit_topics(&config, &mut |_| {}).unwrap();
    assert_eq!(refitted.doc_ids.len(), 100);
    assert_eq!(
        map.search_vector(&changed_vector, 1, &MetadataFilter::new())
            .unwrap()[0]
            .id,
        changed_id
    );
}

#[test]
fn bad_vectors_are_refused_before_anything_changes() {
    let mut map = seed_map();
    let papers = vec![Paper::new("One", "A."), Paper::new("Two", "B.")];
    let err = map.add_embedded(papers.clone(), &[0.5; 384]).unwrap_err();
    assert!(
        matches!(
            err,
            PaperMapError::VectorShape {
                papers: 2,
                values: 384,
                ..
            }
        ),
        "{err}"
    );
    let mut rows = vec![0.1f32; 2 * 384];
    rows[384..].iter_mut().for_each(|v| *v = 0.0);
    let err = map.add_embedded(papers, &rows).unwrap_err();
    assert!(matches!(err, PaperMapError::BadVector { .. }), "{err}");
    assert_eq!(map.len(), 99, "a refused batch adds nothing");
}

#[test]
fn metadata_filter_restricts_search() {
    let (mut papers, vectors) = seed_with_vectors();
    for (i, p) in papers.iter_mut().enumerate() {
        p.metadata.insert(
            "parity".into(),
            serde_json::json!(if i % 2 == 0 { "even" } else { "odd" }),
        );
    }
    let mut map = PaperMap::builder()
        .fingerprint(reference_fingerprint())
        .build()
        .unwrap();
    map.add_embedded(papers.clone(), &vectors).unwrap();
    let query = &vectors[..384];
    let odd = map
        .search_vector(query, 10, &MetadataFilter::new().eq("parity", "odd"))
        .unwrap();
    assert_eq!(odd.len(), 10);
    let odd_ids: Vec<&str> = papers
        .iter()
        .skip(1)
        .step_by(2)
        .map(|p| p.id.as_str())
        .collect();
    assert!(odd.iter().all(|h| odd_ids.contains(&h.id.as_str())));
    let odd_papers: Vec<Paper> = papers.iter().skip(1).step_by(2).cloned().collect();
    let odd_vectors: Vec<f32> = vectors
        .chunks_exact(384)
        .skip(1)
        .step_by(2)
        .flatten()
        .copied()
        .collect();
    let want = exact_top(&odd_papers, &odd_vectors, query, 10, None);
    assert_eq!(odd.iter().map(|h| h.id.clone()).collect::<Vec<_>>(), want);
    let none = map
        .search_vector(query, 10, &MetadataFilter::new().eq("parity", "prime"))
        .unwrap();
    assert!(none.is_empty());
}

#[test]
fn another_model_is_refused_on_open_and_on_save() {
    let mut map = seed_map();
    let dir = tempfile::tempdir().unwrap();
    map.save(dir.path()).unwrap();
    let mut other = reference_fingerprint();
    other.revision = "another".into();
    let err = PaperMap::builder()
        .fingerprint(other.clone())
        .open(dir.path())
        .unwrap_err();
    assert!(matches!(err, PaperMapError::ModelMismatch { .. }), "{err}");
    assert!(err.to_string().contains("another"), "{err}");
    let mut foreign = PaperMap::builder().fingerprint(other).build().unwrap();
    let err = foreign.save(dir.path()).unwrap_err();
    assert!(matches!(err, PaperMapError::ModelMismatch { .. }), "{err}");
    assert_eq!(
        PaperMap::open(dir.path()).unwrap().len(),
        99,
        "the library is untouched"
    );
}

fn file_with_role(dir: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no *{suffix} in {}", dir.display()))
}

#[test]
fn damaged_libraries_are_refused_with_the_file_named() {
    for (suffix, damage) in [
        (".npy", "header"),
        (".papers", "truncate"),
        (".keys", "swap"),
        (".npy", "remove"),
        ("manifest.json", "garbage"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        seed_map().save(dir.path()).unwrap();
        let path = file_with_role(dir.path(), suffix);
        let mut bytes = fs::read(&path).unwrap();
        match damage {
            "header" => {
                bytes[60] ^= 0x40;
                fs::write(&path, bytes).unwrap();
            }
            "truncate" => fs::write(&path, &bytes[..bytes.len() / 2]).unwrap(),
            // Another file of the same size in its place: the header names the wrong kind.
            "swap" => {
                let papers = fs::read(file_with_role(dir.path(), ".papers")).unwrap();
                bytes[8..16].copy_from_slice(&papers[8..16]);
                fs::write(&path, bytes).unwrap();
            }
            "remove" => fs::remove_file(&path).unwrap(),
            _ => fs::write(&path, b"{ not json").unwrap(),
        }
        let err = PaperMap::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, PaperMapError::Corrupt { .. }),
            "{damage} {suffix}: {err}"
        );
        let message = err.to_string();
        assert!(message.contains(suffix), "{message}");
        if suffix == "manifest.json" {
            // An unreadable manifest is never overwritten: its files stay for recovery.
            assert!(seed_map().save(dir.path()).is_err());
        } else {
            // A readable manifest of the same model: a map built anew replaces the library whole,
            // and the damaged file, no longer named, is gone.
            seed_map().save(dir.path()).unwrap();
            assert_eq!(
                PaperMap::open(dir.path()).unwrap().len(),
                99,
                "{damage} {suffix}"
            );
            assert_eq!(data_files(dir.path()), manifest_files(dir.path()));
        }
    }
}

#[test]
fn check_reads_every_byte_that_open_does_not() {
    let dir = tempfile::tempdir().unwrap();
    seed_map().save(dir.path()).unwrap();
    assert_eq!(PaperMap::check(dir.path()).unwrap(), 99);
    // A flipped bit inside the vectors: open checks only sizes, headers and footers.
    let path = file_with_role(dir.path(), ".npy");
    let mut bytes = fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    fs::write(&path, bytes).unwrap();
    assert_eq!(PaperMap::open(dir.path()).unwrap().len(), 99);
    let err = PaperMap::check(dir.path()).unwrap_err();
    assert!(matches!(err, PaperMapError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().contains(".npy") && err.to_string().contains("xxh3"),
        "{err}"
    );
}

#[test]
fn directories_that_are_not_libraries_are_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let err = PaperMap::open(dir.path()).unwrap_err();
    assert!(matches!(err, PaperMapError::NotALibrary { .. }), "{err}");
    fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let err = seed_map().save(dir.path()).unwrap_err();
    assert!(matches!(err, PaperMapError::NotEmpty { .. }), "{err}");
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["notes.txt"]);
    assert_eq!(
        fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn empty_library_answers_with_clear_errors() {
    let mut map = PaperMap::builder()
        .fingerprint(reference_fingerprint())
        .build()
        .unwrap();
    assert!(matches!(
        map.search_vector(&[1.0; 384], 3, &MetadataFilter::new()),
        Err(PaperMapError::EmptyLibrary)
    ));
    assert!(matches!(
        map.topics(Some(2)),
        Err(PaperMapError::EmptyLibrary)
    ));
    assert!(matches!(
        map.topic_map(&Default::default()),
        Err(PaperMapError::NoTopics)
    ));
}

#[test]
fn topic_map_covers_every_paper() {
    let mut map = seed_map();
    map.topics(Some(6)).unwrap();
    let topic_map = map.topic_map(&Default::default()).unwrap();
    assert_eq!(topic_map.points.len(), 99);
    assert_eq!(topic_map.topics.len(), 6);
    let svg = topic_map.to_svg();
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "{}",
        &svg[..40]
    );
}

#[test]
fn concurrent_saves_take_turns_and_leave_one_whole_library() {
    let dir = tempfile::tempdir().unwrap();
    let (papers, vectors) = seed_with_vectors();
    std::thread::scope(|s| {
        for n in [99, 50] {
            let dir = dir.path();
            let (papers, vectors) = (&papers, &vectors);
            s.spawn(move || {
                let mut map = map_of(&papers[..n], &vectors[..n * 384]);
                for _ in 0..15 {
                    // After the other map saved, this one's save is a refused conflict, not an
                    // overwrite; either way the directory holds one whole library.
                    match map.save(dir) {
                        Ok(()) | Err(PaperMapError::Conflict { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                    // Every committed state opens whole, whichever writer made it.
                    let len = PaperMap::open(dir).unwrap().len();
                    assert!(len == 99 || len == 50, "{len} papers");
                }
            });
        }
    });
    let reopened = PaperMap::open(dir.path()).unwrap();
    assert!(reopened.len() == 99 || reopened.len() == 50);
    assert_eq!(
        data_files(dir.path()),
        manifest_files(dir.path()),
        "no leftovers"
    );
}

#[test]
fn a_save_never_overwrites_what_another_writer_saved_since_open() {
    let dir = tempfile::tempdir().unwrap();
    let (papers, vectors) = seed_with_vectors();
    let rows = |a: usize, b: usize| &vectors[a * 384..b * 384];
    map_of(&papers[..40], rows(0, 40)).save(dir.path()).unwrap();

    // Two writers open the same state and add different papers.
    let mut a = PaperMap::open(dir.path()).unwrap();
    let mut b = PaperMap::open(dir.path()).unwrap();
    a.add_embedded(papers[40..60].to_vec(), rows(40, 60))
        .unwrap();
    b.add_embedded(papers[60..80].to_vec(), rows(60, 80))
        .unwrap();
    a.save(dir.path()).unwrap();
    let err = b.save(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            PaperMapError::Conflict {
                opened: 1,
                found: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("open it again"), "{err}");
    assert_eq!(
        PaperMap::open(dir.path()).unwrap().len(),
        60,
        "a's papers kept"
    );

    // A writer's own earlier save is no conflict; b, reopened, adds its papers to a's.
    a.save(dir.path()).unwrap();
    let mut b = PaperMap::open(dir.path()).unwrap();
    b.add_embedded(papers[60..80].to_vec(), rows(60, 80))
        .unwrap();
    b.save(dir.path()).unwrap();
    let merged = PaperMap::open(dir.path()).unwrap();
    assert_eq!(merged.len(), 80);
    assert!(merged.paper(&papers[45].id).unwrap().is_some());
    assert!(merged.paper(&papers[75].id).unwrap().is_some());

    // rebase: a writer that lost the race carries its changes over without embedding again.
    let mut c = PaperMap::open(dir.path()).unwrap();
    let mut d = PaperMap::open(dir.path()).unwrap();
    c.add_embedded(papers[80..90].to_vec(), rows(80, 90))
        .unwrap();
    d.add_embedded(papers[90..].to_vec(), rows(90, 99)).unwrap();
    d.remove([papers[0].id.as_str()]).unwrap();
    c.save(dir.path()).unwrap();
    assert!(matches!(
        d.save(dir.path()),
        Err(PaperMapError::Conflict { .. })
    ));
    d.rebase(dir.path()).unwrap();
    d.save(dir.path()).unwrap();
    let all = PaperMap::open(dir.path()).unwrap();
    assert_eq!(all.len(), 98, "c's 10 and d's 9 added, d's removal kept");
    assert!(all.paper(&papers[0].id).unwrap().is_none());
    assert!(all.paper(&papers[85].id).unwrap().is_some());
}

#[test]
fn a_new_library_checked_before_long_work_is_not_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lib");
    let (papers, vectors) = seed_with_vectors();
    let mut slow = map_of(&papers[..10], &vectors[..10 * 384]);
    slow.check_save_target(&dir).unwrap();
    // Another writer creates the library while `slow` is still working.
    map_of(&papers[10..30], &vectors[10 * 384..30 * 384])
        .save(&dir)
        .unwrap();
    let err = slow.save(&dir).unwrap_err();
    assert!(
        matches!(
            err,
            PaperMapError::Conflict {
                opened: 0,
                found: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(PaperMap::open(&dir).unwrap().len(), 20);
}

#[test]
fn a_kept_map_places_new_papers_beside_their_neighbours_and_moves_no_one() {
    let mut map = seed_map();
    map.topics(Some(4)).unwrap();
    let config = MapConfig {
        epochs: 50,
        deterministic: true,
        ..MapConfig::default()
    };
    let first = map.place_map(&config, false, &mut |_| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    map.save(dir.path()).unwrap();
    let mut map = PaperMap::open(dir.path()).unwrap();

    // A near twin of paper 7 joins the library.
    let (papers, vectors) = seed_with_vectors();
    let twin = Paper::new("A near twin of paper seven", "Its abstract.");
    let mut v = vectors[7 * 384..8 * 384].to_vec();
    v[0] += 0.01;
    map.add_embedded(vec![twin.clone()], &v).unwrap();
    let second = map.place_map(&config, false, &mut |_| {}).unwrap();
    assert_eq!(second.points.len(), 100);
    for p in &first.points {
        let q = second.points.iter().find(|q| q.id == p.id).unwrap();
        assert_eq!((p.x, p.y), (q.x, q.y), "{} moved", p.id);
        assert!(!q.added);
    }
    let placed = second.points.iter().find(|q| q.id == twin.id).unwrap();
    assert!(placed.added);
    let seven = second.points.iter().find(|q| q.id == papers[7].id).unwrap();
    let dist = |a: &papermap::topics::MapPoint, b: &papermap::topics::MapPoint| {
        (a.x - b.x).hypot(a.y - b.y)
    };
    let mut spread: Vec<f32> = first
        .points
        .iter()
        .map(|p| dist(p, &first.points[0]))
        .collect();
    spread.sort_by(f32::total_cmp);
    assert!(
        dist(placed, seven) < spread[spread.len() / 10],
        "the twin lands beside paper 7: {} vs a tenth-percentile spread of {}",
        dist(placed, seven),
        spread[spread.len() / 10]
    );
    // An explicit relayout covers everyone; nothing is "added" any more.
    let third = map.place_map(&config, true, &mut |_| {}).unwrap();
    assert!(third.points.iter().all(|p| !p.added));
}

#[test]
fn k_zero_asks_for_nothing_and_gets_nothing() {
    // A scan (the seed map is below the HNSW threshold) must not index an empty best list.
    let map = seed_map();
    assert!(map.related("2502.08279", 0).unwrap().is_empty());
    let query = map.vector("2502.08279").unwrap().unwrap().to_vec();
    assert!(map
        .search_vector(&query, 0, &MetadataFilter::default())
        .unwrap()
        .is_empty());
}
