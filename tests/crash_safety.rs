//! A process that dies in the middle of a save leaves a library that opens as the state before
//! the save or the state after it, never anything else. Every crash point of a save is hit on
//! every run: the child (this test binary run with `PAPERMAP_CRASH_CHILD=DIR`) saves with
//! `PAPERMAP_FAULT_AFTER_FILES=N`, which aborts it right after the N-th durable step (a data file
//! written, the manifest replaced); N goes up until a save completes.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use papermap::{Paper, PaperMap};

const CHILD_ENV: &str = "PAPERMAP_CRASH_CHILD";
const FAULT_ENV: &str = "PAPERMAP_FAULT_AFTER_FILES";

/// The vector of synthetic paper `i`, before normalisation.
fn synthetic_vector(i: usize) -> Vec<f32> {
    (0..384)
        .map(|j| ((i * 31 + j * 17) % 97) as f32 - 48.0)
        .collect()
}

fn synthetic_paper(i: usize) -> Paper {
    let mut paper = Paper::new(
        &format!("Synthetic paper {i}"),
        "Written by the crash test.",
    );
    paper.id = format!("crash-{i}");
    paper
}

/// One save of every kind of change: papers added, one removed, topics refitted.
fn child(dir: &Path) -> ! {
    let mut map = PaperMap::builder()
        .fingerprint(reference_fingerprint())
        .open(dir)
        .unwrap();
    let rows: Vec<f32> = (0..5).flat_map(synthetic_vector).collect();
    map.add_embedded((0..5).map(synthetic_paper).collect(), &rows)
        .unwrap();
    map.remove(["2502.08279"]).unwrap();
    map.topics(Some(3)).unwrap();
    map.save(dir).unwrap();
    std::process::exit(0);
}

/// What a library holds: every paper's id and vector, sorted by id.
fn contents(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let map =
        PaperMap::open(dir).unwrap_or_else(|e| panic!("library does not open after a crash: {e}"));
    assert_eq!(
        PaperMap::check(dir).unwrap(),
        map.len(),
        "every checksum holds"
    );
    let mut all: Vec<(String, Vec<f32>)> = map
        .papers()
        .unwrap()
        .into_iter()
        .map(|p| {
            let v = map.vector(&p.id).unwrap().unwrap().to_vec();
            (p.id, v)
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn main() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
    }
    let tmp = tempfile::tempdir().unwrap();
    let pristine = tmp.path().join("pristine");
    let (papers, vectors) = seed_with_vectors();
    let mut seed = PaperMap::builder()
        .fingerprint(reference_fingerprint())
        .build()
        .unwrap();
    seed.add_embedded(papers, &vectors).unwrap();
    seed.topics(Some(4)).unwrap();
    seed.save(&pristine).unwrap();
    let before = contents(&pristine);

    let exe = std::env::current_exe().unwrap();
    let run = |dir: &Path, fault: Option<usize>| {
        let mut command = Command::new(&exe);
        command
            .env(CHILD_ENV, dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(n) = fault {
            command.env(FAULT_ENV, n.to_string());
        }
        command.status().unwrap()
    };
    // The state after a complete save.
    let done = tmp.path().join("done");
    copy_dir(&pristine, &done);
    assert!(
        run(&done, None).success(),
        "the child's save fails on its own"
    );
    let after = contents(&done);
    assert_ne!(before, after);

    let mut crashes = 0;
    for n in 1.. {
        let dir = tmp.path().join(format!("crash-{n}"));
        copy_dir(&pristine, &dir);
        let status = run(&dir, Some(n));
        let now = contents(&dir);
        assert!(
            now == before || now == after,
            "crash after step {n}: a state that is neither"
        );
        if status.success() {
            assert_eq!(now, after, "a save that completed");
            break;
        }
        crashes += 1;
        // Until the manifest is replaced the old state opens; from then on the new one.
        let papers = PaperMap::open(&dir).unwrap().len();
        println!("crash after step {n}: opens with {papers} papers");
        assert!(n < 64, "the save never completes");
    }
    println!("crash_safety: {crashes} crash points of a save, every one opened intact");
    assert!(
        crashes >= 5,
        "a save has at least 5 durable steps, only {crashes} were hit"
    );
}
