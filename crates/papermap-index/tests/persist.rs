//! save/open: round trips, refusals, and crash safety.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{clustered, keys};
use papermap_index::{
    BuildMode, ExactIndex, Expected, HnswIndex, HnswParams, IndexError, VectorIndex, MANIFEST_FILE,
};

const DIM: usize = 32;
const FP: &str = "test-model@rev1";

fn hnsw(n: usize) -> (HnswIndex, Vec<f32>) {
    let rows = clustered(n, DIM, 10, 0.3, 42);
    let params = HnswParams {
        build: BuildMode::Deterministic,
        ..HnswParams::default()
    };
    let mut index = HnswIndex::new(DIM, params).unwrap();
    index.add_batch(&keys(n), &rows).unwrap();
    index.set_fingerprint(FP);
    (index, rows)
}

fn exact(n: usize) -> (ExactIndex, Vec<f32>) {
    let rows = clustered(n, DIM, 10, 0.3, 43);
    let mut index = ExactIndex::new(DIM).unwrap();
    index.add_batch(&keys(n), &rows).unwrap();
    index.set_fingerprint(FP);
    (index, rows)
}

fn expected() -> Expected {
    Expected::new(FP, DIM)
}

/// Data files named in the manifest, by role.
fn file(dir: &Path, role: &str) -> PathBuf {
    let m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join(MANIFEST_FILE)).unwrap()).unwrap();
    let name = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["role"] == role)
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    dir.join(name)
}

#[test]
fn hnsw_round_trip_gives_identical_answers_and_stays_mutable() {
    let (mut index, rows) = hnsw(1500);
    index.remove("p00003");
    let dir = tempfile::tempdir().unwrap();
    index.save(dir.path()).unwrap();
    let mut opened = HnswIndex::open(dir.path(), &expected()).unwrap();
    assert_eq!(opened.len(), 1499);
    assert_eq!(opened.fingerprint(), FP);
    assert_eq!(opened.params(), index.params());
    for q in rows.chunks_exact(DIM).step_by(37) {
        assert_eq!(index.search(q, 10).unwrap(), opened.search(q, 10).unwrap());
        assert_eq!(
            index.search_with_ef(q, 10, 200).unwrap(),
            opened.search_with_ef(q, 10, 200).unwrap()
        );
    }
    assert!(!opened.contains("p00003"));
    assert_eq!(opened.vector("p00010"), index.vector("p00010"));
    // The reloaded graph still takes inserts, and a second save replaces the first.
    let extra = clustered(20, DIM, 3, 0.3, 9);
    let extra_keys: Vec<String> = (0..20).map(|i| format!("new{i}")).collect();
    opened.add_batch(&extra_keys, &extra).unwrap();
    assert_eq!(opened.search(&extra[..DIM], 1).unwrap()[0].key, "new0");
    opened.save(dir.path()).unwrap();
    let again = VectorIndex::open(dir.path(), &expected()).unwrap();
    assert_eq!(again.kind(), "hnsw");
    assert_eq!(again.len(), 1519);
    assert_eq!(again.search(&extra[..DIM], 1).unwrap()[0].key, "new0");
    // Only the current generation's files remain.
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".papermap.lock",
            "g000002-graph.pmg",
            "g000002-keys.pmk",
            "g000002-vectors.npy",
            "manifest.json"
        ]
    );
}

#[test]
fn exact_and_empty_round_trips() {
    let (index, rows) = exact(300);
    let dir = tempfile::tempdir().unwrap();
    index.save(dir.path()).unwrap();
    let opened = ExactIndex::open(dir.path(), &expected()).unwrap();
    for q in rows.chunks_exact(DIM).step_by(11) {
        assert_eq!(index.search(q, 5).unwrap(), opened.search(q, 5).unwrap());
    }
    assert!(matches!(
        HnswIndex::open(dir.path(), &expected()),
        Err(IndexError::KindMismatch { .. })
    ));
    for empty in [
        VectorIndex::exact(DIM).unwrap(),
        VectorIndex::hnsw(DIM, HnswParams::default()).unwrap(),
    ] {
        let dir = tempfile::tempdir().unwrap();
        empty.save(dir.path()).unwrap();
        let mut opened = VectorIndex::open(dir.path(), &Expected::new("", DIM)).unwrap();
        assert!(opened.is_empty());
        assert_eq!(opened.kind(), empty.kind());
        opened.add("a", &rows[..DIM]).unwrap();
        assert_eq!(opened.search(&rows[..DIM], 3).unwrap()[0].key, "a");
    }
}

#[test]
fn open_refuses_expectation_mismatches() {
    let (index, _) = exact(50);
    let dir = tempfile::tempdir().unwrap();
    index.save(dir.path()).unwrap();
    let err = VectorIndex::open(dir.path(), &Expected::new("other-model", DIM)).unwrap_err();
    assert!(
        matches!(err, IndexError::FingerprintMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("other-model"));
    let err = VectorIndex::open(dir.path(), &Expected::new(FP, 384)).unwrap_err();
    assert!(matches!(
        err,
        IndexError::DimensionChanged {
            expected: 384,
            found: DIM,
            ..
        }
    ));
    let err = VectorIndex::open(dir.path().join("nope"), &expected()).unwrap_err();
    assert!(matches!(err, IndexError::MissingFile { .. }));
    // A manifest from a newer format.
    let manifest = dir.path().join(MANIFEST_FILE);
    let text = fs::read_to_string(&manifest).unwrap();
    fs::write(
        &manifest,
        text.replace("\"format_version\": 3", "\"format_version\": 4"),
    )
    .unwrap();
    let err = VectorIndex::open(dir.path(), &expected()).unwrap_err();
    assert!(
        matches!(
            err,
            IndexError::UnsupportedVersion {
                found: 4,
                supported: 3,
                ..
            }
        ),
        "{err}"
    );
    // Saving over an index this build can not read would delete its files: refused.
    let data_files = fs::read_dir(dir.path()).unwrap().count();
    let err = index.save(dir.path()).unwrap_err();
    assert!(
        matches!(err, IndexError::UnsupportedVersion { .. }),
        "{err}"
    );
    fs::write(&manifest, "{ not json").unwrap();
    let err = VectorIndex::open(dir.path(), &expected()).unwrap_err();
    assert!(matches!(err, IndexError::Corrupt { .. }), "{err}");
    assert!(matches!(
        index.save(dir.path()),
        Err(IndexError::Corrupt { .. })
    ));
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        data_files,
        "files were touched"
    );
}

#[test]
fn open_refuses_damaged_files() {
    let (index, _) = hnsw(400);
    for role in ["keys", "graph", "vectors"] {
        // Flipped byte: same size, wrong checksum.
        let dir = tempfile::tempdir().unwrap();
        index.save(dir.path()).unwrap();
        let path = file(dir.path(), role);
        let mut bytes = fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        fs::write(&path, &bytes).unwrap();
        let err = HnswIndex::open(dir.path(), &expected()).unwrap_err();
        assert!(
            matches!(err, IndexError::ChecksumMismatch { .. }),
            "{role}: {err}"
        );
        // Truncated.
        fs::write(&path, &bytes[..mid]).unwrap();
        let err = HnswIndex::open(dir.path(), &expected()).unwrap_err();
        assert!(
            matches!(err, IndexError::SizeMismatch { .. }),
            "{role}: {err}"
        );
        // Missing.
        fs::remove_file(&path).unwrap();
        let err = HnswIndex::open(dir.path(), &expected()).unwrap_err();
        assert!(
            matches!(err, IndexError::MissingFile { .. }),
            "{role}: {err}"
        );
    }
    let (index, _) = exact(40);
    let dir = tempfile::tempdir().unwrap();
    index.save(dir.path()).unwrap();
    let path = file(dir.path(), "vectors");
    let len = fs::metadata(&path).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 4)
        .unwrap();
    assert!(matches!(
        ExactIndex::open(dir.path(), &expected()),
        Err(IndexError::SizeMismatch { .. })
    ));
}

#[test]
fn interrupted_save_leaves_previous_index_openable() {
    let (index, rows) = hnsw(300);
    let dir = tempfile::tempdir().unwrap();
    index.save(dir.path()).unwrap();
    let before = index.search(&rows[..DIM], 10).unwrap();
    // What a save killed before its commit leaves behind: next-generation data files (one cut
    // short) and a half-written manifest temp file. The manifest itself is untouched.
    fs::write(dir.path().join("g000002-keys.pmk"), b"PAPERMAP").unwrap();
    fs::write(dir.path().join("g000002-graph.pmg"), b"garbage").unwrap();
    fs::write(dir.path().join(".manifest123.tmp"), b"{\"format\":").unwrap();
    let opened = HnswIndex::open(dir.path(), &expected()).unwrap();
    assert_eq!(opened.search(&rows[..DIM], 10).unwrap(), before);
    // The next save cleans the debris up and commits normally.
    let mut opened = opened;
    opened.remove("p00000");
    opened.save(dir.path()).unwrap();
    let reopened = HnswIndex::open(dir.path(), &expected()).unwrap();
    assert_eq!(reopened.len(), 299);
    assert!(!dir.path().join("g000001-keys.pmk").exists());
    assert!(!dir.path().join(".manifest123.tmp").exists());
}

/// A copy of a checked-in directory, so that opening and saving never touch the original.
fn copy_dir(from: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

/// Opens a copy of the committed fixture `tests/data/NAME` (300 seeded rows of 8 dims, "p00007"
/// removed) and checks the answers the build that wrote it gave: NAME.expected holds its top-5 keys
/// (ef = 64) for every 50th row. Returns the index, its directory and the rows.
fn open_fixture(name: &str, fingerprint: &str) -> (HnswIndex, tempfile::TempDir, Vec<f32>) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let dir = copy_dir(&data.join(name));
    let rows = clustered(300, 8, 5, 0.3, 7);
    let index = HnswIndex::open(dir.path(), &Expected::new(fingerprint, 8)).unwrap();
    assert_eq!((index.len(), index.tombstones()), (299, 1));
    assert!(!index.contains("p00007"));
    let answers = fs::read_to_string(data.join(format!("{name}.expected"))).unwrap();
    for (q, line) in rows.chunks_exact(8).step_by(50).zip(answers.lines()) {
        let got: Vec<String> = index
            .search_with_ef(q, 5, 64)
            .unwrap()
            .into_iter()
            .map(|h| h.key)
            .collect();
        assert_eq!(got.join(","), line, "{name}");
    }
    assert_eq!(index.vector("p00010").unwrap(), &rows[80..88]);
    (index, dir, rows)
}

#[test]
fn format1_hnsw_directories_still_open_and_resave_as_format3() {
    // Written by the hnsw_rs-based index (format 1): its graph, searched by papermap's search,
    // gives the same nearest neighbours.
    let (mut index, dir, rows) = open_fixture("format1-hnsw", "format1-fixture");
    // It takes inserts, and saving writes format 3.
    index.add("new", &rows[..8]).unwrap();
    index.save(dir.path()).unwrap();
    let manifest = fs::read_to_string(dir.path().join(MANIFEST_FILE)).unwrap();
    assert!(manifest.contains("\"format_version\": 3"), "{manifest}");
    let reopened = HnswIndex::open(dir.path(), &Expected::new("format1-fixture", 8)).unwrap();
    assert_eq!(reopened.len(), 300);
    assert!(reopened.contains("new"));
}

#[test]
fn damaged_graph_file_with_matching_checksum_is_refused() {
    // A graph file replaced together with its manifest entry (checksum recomputed): the
    // graph's own header and footer checks catch what the manifest can not.
    let (index, _) = hnsw(200);
    let dir = tempfile::tempdir().unwrap();
    index.save(dir.path()).unwrap();
    let path = file(dir.path(), "graph");
    let bytes = fs::read(&path).unwrap();
    let manifest_path = dir.path().join(MANIFEST_FILE);
    let manifest = fs::read_to_string(&manifest_path).unwrap();
    for cut in [bytes.len() - 16, 100] {
        let short = &bytes[..cut];
        fs::write(&path, short).unwrap();
        let mut m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
        for f in m["files"].as_array_mut().unwrap() {
            if f["role"] == "graph" {
                f["bytes"] = short.len().into();
                f["xxh3"] = xxh3_hex(short).into();
            }
        }
        fs::write(&manifest_path, serde_json::to_string(&m).unwrap()).unwrap();
        let err = HnswIndex::open(dir.path(), &expected()).unwrap_err();
        assert!(matches!(err, IndexError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}

fn xxh3_hex(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}

#[test]
fn format2_directories_still_open_verify_their_sha256_and_resave_as_format3() {
    // Written by papermap-index format 2 (SHA-256 checksums, keys.json, vectors.f32, graph.pmg;
    // m 8, ef_construction 64, deterministic build). The exact index holds the first 40 rows.
    let (mut index, dir, rows) = open_fixture("format2-hnsw", "format2-fixture");
    let expected = Expected::new("format2-fixture", 8);
    index.add("new", &rows[..8]).unwrap();
    index.save(dir.path()).unwrap();
    let manifest = fs::read_to_string(dir.path().join(MANIFEST_FILE)).unwrap();
    assert!(manifest.contains("\"format_version\": 3"), "{manifest}");
    assert!(manifest.contains("\"xxh3\"") && !manifest.contains("sha256"));
    assert!(HnswIndex::open(dir.path(), &expected)
        .unwrap()
        .contains("new"));

    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let dir = copy_dir(&data.join("format2-exact"));
    let exact = VectorIndex::open(dir.path(), &expected).unwrap();
    assert_eq!(exact.len(), 40);
    assert_eq!(exact.vector("p00039").unwrap(), &rows[39 * 8..40 * 8]);
    // Its SHA-256 is still checked: a flipped byte is refused.
    let path = dir.path().join("g000001-vectors.f32");
    let mut bytes = fs::read(&path).unwrap();
    bytes[100] ^= 1;
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        VectorIndex::open(dir.path(), &expected),
        Err(IndexError::ChecksumMismatch { .. })
    ));
}

/// The index writer follows the library's write policy (papermap-store): saves take turns on the
/// lock, so two concurrent saves to one directory commit one after the other (each its own
/// generation), and the directory opens as one whole index with only that index's files.
#[test]
fn concurrent_saves_to_one_directory_take_turns_and_never_mix_files() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = exact(50);
    let (b, _) = hnsw(300);
    std::thread::scope(|s| {
        let (a, b, dir) = (&a, &b, dir.path());
        let ta = s.spawn(move || {
            for _ in 0..5 {
                a.save(dir).unwrap();
            }
        });
        let tb = s.spawn(move || {
            for _ in 0..5 {
                b.save(dir).unwrap();
            }
        });
        ta.join().unwrap();
        tb.join().unwrap();
    });
    let opened = VectorIndex::open(dir.path(), &expected()).unwrap();
    assert!([50, 300].contains(&opened.len()), "{}", opened.len());
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["generation"], 10, "ten saves, ten generations");
    let data: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('g'))
        .collect();
    assert!(data.iter().all(|n| n.starts_with("g000010-")), "{data:?}");
}

#[test]
fn saves_into_foreign_or_library_directories_are_refused_and_delete_nothing() {
    let (index, _) = exact(10);
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("thesis.tex"), b"mine").unwrap();
    fs::write(dir.path().join("g000001-keys.pmk"), b"looks like ours").unwrap();
    let err = index.save(dir.path()).unwrap_err();
    assert!(matches!(err, IndexError::Foreign { .. }), "{err}");
    assert!(
        dir.path().join("g000001-keys.pmk").exists(),
        "nothing deleted"
    );
    // A library's manifest is another format: not an index to replace.
    let lib = tempfile::tempdir().unwrap();
    let manifest = br#"{"format":"papermap-library","format_version":2,"generation":3}"#;
    fs::write(lib.path().join("manifest.json"), manifest).unwrap();
    let err = index.save(lib.path()).unwrap_err();
    assert!(matches!(err, IndexError::Foreign { .. }), "{err}");
    assert_eq!(
        fs::read(lib.path().join("manifest.json")).unwrap(),
        manifest
    );
}
