//! No byte sequence on disk panics a reader (issue 25): every file of a small library (manifest,
//! papers, keys, vectors, graph, deletes, topics) is truncated at every offset class and has bits
//! flipped across its header, body and footer, both as found (the manifest's size and checksum
//! then disagree) and with the manifest rewritten to vouch for the damaged bytes (so the damage
//! reaches each parser). Opening, querying and checking must return, never panic, and never
//! write to the directory. A proptest then throws random bytes at random places.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use common::*;
use papermap::{MetadataFilter, PaperMap};
use proptest::prelude::*;

/// Every file of `dir` by name.
fn read_all(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// A library with every kind of file: two segments (one with an HNSW graph), removed rows,
/// topics.
fn library() -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let (papers, vectors) = seed_with_vectors();
    let mut map = PaperMap::builder()
        .fingerprint(reference_fingerprint())
        .hnsw_threshold(30)
        .build()
        .unwrap();
    map.add_embedded(papers[..40].to_vec(), &vectors[..40 * 384])
        .unwrap();
    map.topics(Some(3)).unwrap();
    map.save(dir.path()).unwrap();
    let mut map = PaperMap::open(dir.path()).unwrap();
    map.add_embedded(papers[40..45].to_vec(), &vectors[40 * 384..45 * 384])
        .unwrap();
    map.remove([papers[3].id.as_str()]).unwrap();
    map.save(dir.path()).unwrap();
    let files = read_all(dir.path());
    for ext in [
        "papers", "keys", "npy", "graph", "deletes", "facets", "pmt", "pmr",
    ] {
        assert!(
            files
                .keys()
                .any(|n| n.ends_with(ext) && n != "manifest.json"),
            "the fixture has a .{ext} file: {:?}",
            files.keys()
        );
    }
    files
}

/// Opens `files` as a library and asks it everything a reader asks; panics are the failure.
fn exercise(files: &BTreeMap<String, Vec<u8>>, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        fs::write(dir.path().join(name), bytes).unwrap();
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let _ = PaperMap::check(dir.path());
        let Ok(mut map) = PaperMap::open(dir.path()) else {
            return;
        };
        let _ = map.len();
        let query = vec![0.05f32; 384];
        let _ = map.search_vector(&query, 5, &MetadataFilter::default());
        // Through the segments' metadata columns.
        let _ = map.search_vector(&query, 5, &MetadataFilter::new().eq("year", "2025"));
        for id in ["2502.08279", "not-an-id"] {
            let _ = map.paper(id);
            let _ = map.vector(id);
            let _ = map.related(id, 5);
            let _ = map.topic_of(id);
        }
        let _ = map.topic_table();
        let _ = map.fitted_topics();
        if let Ok(papers) = map.papers() {
            if let Some(p) = papers.first() {
                let _ = map.related(&p.id, 3);
            }
        }
        if let Ok(all) = map.topic_assignments() {
            all.for_each(drop);
        }
        let _ = map.topics(None);
    }));
    assert!(outcome.is_ok(), "a reader panicked on {what}");
    assert_eq!(
        &read_all(dir.path()),
        files,
        "reading {what} wrote to the library"
    );
}

/// Offsets worth damaging in a file of `len` bytes: its ends, frame edges, and a spread between.
fn offsets(len: usize) -> Vec<usize> {
    let mut at: Vec<usize> = [
        0, 1, 7, 8, 15, 16, 23, 24, 31, 32, 63, 64, 65, 127, 128, 191, 192,
    ]
    .into_iter()
    .chain((1..8).map(|i| len * i / 8))
    .chain([
        len.saturating_sub(17),
        len.saturating_sub(16),
        len.saturating_sub(9),
    ])
    .chain([len.saturating_sub(8), len.saturating_sub(1)])
    .filter(|&o| o < len)
    .collect();
    at.sort_unstable();
    at.dedup();
    at
}

#[test]
fn truncated_or_flipped_files_never_panic_a_reader() {
    let files = fixture();
    let mut cases = 0;
    for (name, bytes) in files {
        if name.starts_with('.') {
            continue;
        }
        let mut damaged = Vec::new();
        for at in offsets(bytes.len()) {
            damaged.push((format!("{name} cut at {at}"), bytes[..at].to_vec()));
            for bit in [0, 7] {
                let mut b = bytes.clone();
                b[at] ^= 1 << bit;
                damaged.push((format!("{name} bit {bit} of byte {at} flipped"), b));
            }
            let mut b = bytes.clone();
            b[at] = 0xff;
            damaged.push((format!("{name} byte {at} set to 0xff"), b));
        }
        for (what, b) in damaged {
            let mut copy = files.clone();
            copy.insert(name.clone(), b.clone());
            exercise(&copy, &what);
            if name != "manifest.json" {
                let vouched = vouch_for(&files["manifest.json"], name, &b);
                copy.insert("manifest.json".into(), vouched);
                exercise(&copy, &format!("{what}, the manifest vouching for it"));
            }
            cases += 1;
        }
    }
    assert!(cases > 300, "{cases} damaged libraries tried");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_bytes_anywhere_never_panic_a_reader(
        file in 0usize..16,
        at in 0.0f64..1.0,
        junk in proptest::collection::vec(any::<u8>(), 1..64),
        vouch in any::<bool>(),
    ) {
        let files = fixture();
        let names: Vec<&String> = files.keys().filter(|n| !n.starts_with('.')).collect();
        let name = names[file % names.len()].clone();
        let mut b = files[&name].clone();
        let start = ((b.len() as f64) * at) as usize;
        for (i, x) in junk.iter().enumerate() {
            if let Some(slot) = b.get_mut(start + i) {
                *slot = *x;
            }
        }
        let mut copy = files.clone();
        copy.insert(name.clone(), b.clone());
        if vouch && name != "manifest.json" {
            copy.insert("manifest.json".into(), vouch_for(&files["manifest.json"], &name, &b));
        }
        exercise(&copy, &format!("{} random bytes at {start} of {name}", junk.len()));
    }
}

/// The library, built once per test binary.
fn fixture() -> &'static BTreeMap<String, Vec<u8>> {
    static FILES: std::sync::OnceLock<BTreeMap<String, Vec<u8>>> = std::sync::OnceLock::new();
    FILES.get_or_init(library)
}

/// A damaged topic table or topic rows file is an error naming that file, never "no topics";
/// a damaged rows file leaves the table (what `papermap topics` shows) readable.
#[test]
fn a_damaged_topics_file_is_an_error_naming_it_never_no_topics() {
    let files = fixture();
    let names: Vec<&String> = files.keys().filter(|n| n.starts_with("topics.")).collect();
    assert_eq!(names.len(), 2, "a table and a rows file: {names:?}");
    for name in names {
        let mut copy = files.clone();
        let bytes = copy.get_mut(name).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        let dir = tempfile::tempdir().unwrap();
        for (n, b) in &copy {
            fs::write(dir.path().join(n), b).unwrap();
        }
        assert!(PaperMap::check(dir.path()).is_err());
        let mut map = PaperMap::open(dir.path()).unwrap();
        let err = map.fitted_topics().unwrap_err().to_string();
        assert!(
            err.contains(name.as_str()) && err.contains("--refit"),
            "{err}"
        );
        let rows_damaged = name.ends_with(".pmr");
        assert_eq!(map.topic_table().is_ok(), rows_damaged, "{name}");
        assert_eq!(map.topic_of("2502.08279").is_ok(), rows_damaged, "{name}");
        assert!(map.topics(Some(3)).is_err(), "not silently refitted");
        // The refit is what replaces it.
        let config = papermap::TopicConfig {
            k: Some(3),
            ..Default::default()
        };
        map.refit_topics(&config, &mut |_| {}).unwrap();
        assert_eq!(map.fitted_topics().unwrap().unwrap().topics.len(), 3);
    }
}
