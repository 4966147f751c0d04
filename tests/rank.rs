//! Ranking a digest against a profile (issue 23): a profile ranks its own kind of papers first,
//! disliked papers push theirs down, every reason is real, bad input is a clear error, and
//! nothing is written to the library.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::*;
use papermap::{Paper, PaperMap, PaperMapError, Profile};

const DIM: usize = 384;
const WORDS: [&str; 3] = ["protein folding", "galaxy clusters", "speech recognition"];

/// A unit vector near the centre of cluster `c`, jittered by `i`.
fn vector(c: usize, i: usize) -> Vec<f32> {
    let v: Vec<f32> = (0..DIM)
        .map(|j| {
            let centre = if j % 3 == c { 1.0 } else { 0.0 };
            centre + 0.3 * ((((i * 131 + j * 71) % 101) as f32 / 101.0) - 0.5)
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

fn paper(id: &str, c: usize, i: usize) -> Paper {
    let text = format!("We study {} with method {i}.", WORDS[c]);
    let mut p = Paper::new(&format!("On {} ({i})", WORDS[c]), &text);
    p.id = id.into();
    p
}

/// A saved library of 60 papers, 20 per cluster: `lib-C-I`.
fn library(dir: &Path) -> PaperMap {
    let mut map = PaperMap::builder()
        .fingerprint(reference_fingerprint())
        .build()
        .unwrap();
    let (mut papers, mut rows) = (Vec::new(), Vec::new());
    for c in 0..3 {
        for i in 0..20 {
            papers.push(paper(&format!("lib-{c}-{i}"), c, i));
            rows.extend(vector(c, i));
        }
    }
    map.add_embedded(papers, &rows).unwrap();
    map.save(dir).unwrap();
    PaperMap::open(dir).unwrap()
}

/// Today's digest: 5 papers per cluster, `new-C-I`.
fn digest() -> (Vec<Paper>, Vec<f32>) {
    let (mut papers, mut rows) = (Vec::new(), Vec::new());
    for c in 0..3 {
        for i in 100..105 {
            papers.push(paper(&format!("new-{c}-{i}"), c, i));
            rows.extend(vector(c, i));
        }
    }
    (papers, rows)
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_profile_ranks_its_own_kind_first_with_real_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let map = library(dir.path());
    let before = files(dir.path());
    let (papers, rows) = digest();
    let liked = Profile::liked((0..5).map(|i| format!("lib-1-{i}")));
    let ranking = map.rank_embedded(&papers, &rows, &liked).unwrap();
    assert_eq!(ranking.papers.len(), 15);
    assert!(ranking.unknown_ids.is_empty());
    let top: Vec<&str> = ranking.papers[..5].iter().map(|r| r.id.as_str()).collect();
    assert!(top.iter().all(|id| id.starts_with("new-1-")), "{top:?}");
    assert!(ranking.papers.windows(2).all(|w| w[0].score >= w[1].score));
    for ranked in &ranking.papers {
        assert_eq!(ranked.nearest.len(), 3);
        assert!(
            ranked.nearest.iter().all(|n| n.id.starts_with("lib-1-")),
            "from the profile"
        );
        assert!(!ranked.in_library && !ranked.title_only);
        let own = papers.iter().find(|p| p.id == ranked.id).unwrap();
        for (neighbour, terms) in ranked.nearest.iter().zip(&ranked.shared_terms) {
            let theirs = map.paper(&neighbour.id).unwrap().unwrap();
            for term in terms {
                for text in [&own.embedding_text(), &theirs.embedding_text()] {
                    assert!(
                        text.to_lowercase().contains(term.as_str()),
                        "{term} in {text}"
                    );
                }
            }
        }
    }
    // Papers of the liked kind share its words with their neighbours.
    assert!(ranking.papers[0].shared_terms[0]
        .iter()
        .any(|t| t.contains("galaxy")));
    // The whole library as the profile: every paper's nearest are its own cluster.
    let all = map
        .rank_embedded(&papers, &rows, &Profile::library())
        .unwrap();
    for ranked in &all.papers {
        let cluster = &ranked.id[4..5];
        assert!(
            ranked.nearest.iter().all(|n| &n.id[4..5] == cluster),
            "{ranked:?}"
        );
    }
    assert_eq!(files(dir.path()), before, "ranking writes nothing");
}

#[test]
fn disliked_papers_push_theirs_down_and_library_papers_are_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let map = library(dir.path());
    let (mut papers, mut rows) = digest();
    // A paper the library holds already, and one without an abstract.
    papers.push(paper("lib-0-3", 0, 3));
    rows.extend(vector(0, 3));
    let mut bare = paper("new-2-999", 2, 999);
    bare.abstract_text.clear();
    papers.push(bare);
    rows.extend(vector(2, 999));
    let liked = Profile::liked(["lib-0-1", "lib-2-1"]);
    let plain = map.rank_embedded(&papers, &rows, &liked).unwrap();
    let disliking = liked.clone().disliking(["lib-2-2", "lib-2-3"]);
    let pushed = map.rank_embedded(&papers, &rows, &disliking).unwrap();
    // Scores of a liked profile are standardised over the digest: compare places.
    let place = |r: &papermap::Ranking, id: &str| r.papers.iter().position(|p| p.id == id).unwrap();
    let places = |r: &papermap::Ranking, c: usize| -> usize {
        (100..105).map(|i| place(r, &format!("new-{c}-{i}"))).sum()
    };
    assert!(
        places(&pushed, 2) > places(&plain, 2),
        "the disliked kind goes down"
    );
    assert!(
        places(&pushed, 0) < places(&plain, 0),
        "the other liked kind comes up"
    );
    let held = pushed.papers.iter().find(|p| p.id == "lib-0-3").unwrap();
    assert!(held.in_library && held.nearest.iter().all(|n| n.id != "lib-0-3"));
    assert!(
        pushed
            .papers
            .iter()
            .find(|p| p.id == "new-2-999")
            .unwrap()
            .title_only
    );
}

#[test]
fn bad_profiles_and_digests_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let map = library(dir.path());
    let (papers, rows) = digest();
    let some_unknown = Profile::liked(["lib-0-1", "nope-1", "nope-2"]);
    let ranking = map.rank_embedded(&papers, &rows, &some_unknown).unwrap();
    assert_eq!(ranking.unknown_ids, ["nope-1", "nope-2"]);
    let err = map
        .rank_embedded(&papers, &rows, &Profile::liked(["nope"]))
        .unwrap_err();
    assert!(matches!(err, PaperMapError::EmptyProfile { .. }), "{err}");
    assert!(err.to_string().contains("nope"));
    let err = map
        .rank_embedded(&[], &[], &Profile::library())
        .unwrap_err();
    assert!(matches!(err, PaperMapError::EmptyDigest), "{err}");
    assert!(map
        .rank_embedded(&papers, &rows[..10], &Profile::library())
        .is_err());
}

/// The digest on the kept map: new papers are placed among their own cluster's papers (the
/// nearest kept positions), a paper the library holds is its own point, the list is the
/// ranking's order, and the library's points stay where the kept map put them.
#[test]
fn todays_papers_are_placed_on_the_kept_map_beside_their_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let mut map = library(dir.path());
    let config = papermap::MapConfig {
        epochs: 60,
        ..papermap::MapConfig::default()
    };
    let (papers, rows) = digest();
    let ranking = map
        .rank_embedded(&papers, &rows, &Profile::library())
        .unwrap();
    assert!(matches!(
        map.digest_map(&papers, &rows, &ranking, &config),
        Err(PaperMapError::NoKeptMap)
    ));
    map.topics(Some(3)).unwrap();
    let kept = map.place_map(&config, false, &mut |_| {}).unwrap();
    // One digest paper the library already holds.
    let (mut papers, mut rows) = (papers, rows);
    papers.push(paper("lib-2-7", 2, 7));
    rows.extend(vector(2, 7));
    let ranking = map
        .rank_embedded(&papers, &rows, &Profile::library())
        .unwrap();
    let page = map.digest_map(&papers, &rows, &ranking, &config).unwrap();
    assert_eq!(page.points.len(), 60 + 15);
    let at = |p: &papermap::topics::MapPoint| (p.id.clone(), p.x, p.y, p.topic);
    assert!(
        page.points[..60]
            .iter()
            .map(at)
            .eq(kept.points.iter().map(at)),
        "the library's points stay put"
    );
    assert_eq!(page.points.iter().filter(|p| p.today).count(), 16);
    let held = page.points.iter().position(|p| p.id == "lib-2-7").unwrap();
    assert!(held < 60 && page.points[held].today);
    let list = page.list.as_ref().unwrap();
    let listed: Vec<&str> = list
        .items
        .iter()
        .map(|it| page.points[it.point].id.as_str())
        .collect();
    let ranked: Vec<&str> = ranking.papers.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(listed, ranked);
    // Each new paper sits closer to its own cluster's kept centre than to any other's.
    let centre = |c: usize| {
        let own: Vec<_> = kept
            .points
            .iter()
            .filter(|p| p.id.starts_with(&format!("lib-{c}-")))
            .collect();
        let n = own.len() as f32;
        [
            own.iter().map(|p| p.x).sum::<f32>() / n,
            own.iter().map(|p| p.y).sum::<f32>() / n,
        ]
    };
    let centres: Vec<[f32; 2]> = (0..3).map(centre).collect();
    for p in page.points.iter().filter(|p| p.id.starts_with("new-")) {
        let c: usize = p.id[4..5].parse().unwrap();
        let d = |k: usize| (p.x - centres[k][0]).hypot(p.y - centres[k][1]);
        assert!(
            (0..3).all(|k| k == c || d(c) < d(k)),
            "{} placed away from its cluster",
            p.id
        );
        assert_eq!(
            p.topic,
            page.points
                .iter()
                .find(|q| q.id == format!("lib-{c}-0"))
                .unwrap()
                .topic
        );
    }
}
