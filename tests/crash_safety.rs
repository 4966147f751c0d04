//! Kill a process in the middle of saving a library, then open it: the last committed state
//! must open intact. The test binary runs itself as the child (`PAPERMAP_CRASH_CHILD=DIR`),
//! which adds one paper and saves, over and over, until the parent kills it with SIGKILL.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use papermap::{Paper, PaperMap};

const CHILD_ENV: &str = "PAPERMAP_CRASH_CHILD";
const ROUNDS: u64 = 12;

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

fn child(dir: &Path) -> ! {
    let mut map = PaperMap::builder()
        .fingerprint(reference_fingerprint())
        .open(dir)
        .unwrap();
    let mut i = map
        .papers()
        .iter()
        .filter(|p| p.id.starts_with("crash-"))
        .count();
    loop {
        map.add_embedded(vec![synthetic_paper(i)], &synthetic_vector(i))
            .unwrap();
        map.save(dir).unwrap();
        i += 1;
    }
}

fn generation(dir: &Path) -> u64 {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(papermap::MANIFEST_FILE)).unwrap())
            .unwrap();
    manifest["generation"].as_u64().unwrap()
}

/// Whether files of a generation newer than the manifest's are lying around: the kill hit a save.
fn killed_mid_save(dir: &Path) -> bool {
    let committed = generation(dir);
    std::fs::read_dir(dir).unwrap().any(|e| {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        name.strip_prefix('g')
            .and_then(|rest| rest.get(..6))
            .and_then(|digits| digits.parse::<u64>().ok())
            .is_some_and(|g| g > committed)
    })
}

/// Opens the library and checks every paper and vector against what the child wrote.
fn check(dir: &Path, seed: &PaperMap) -> usize {
    let map =
        PaperMap::open(dir).unwrap_or_else(|e| panic!("library does not open after a kill: {e}"));
    let crash: Vec<&Paper> = map
        .papers()
        .iter()
        .filter(|p| p.id.starts_with("crash-"))
        .collect();
    assert_eq!(map.len(), seed.len() + crash.len());
    for paper in seed.papers() {
        assert_eq!(
            map.vector(&paper.id),
            seed.vector(&paper.id),
            "{}",
            paper.id
        );
    }
    for i in 0..crash.len() {
        let id = format!("crash-{i}");
        let mut want = synthetic_vector(i);
        papermap::index::l2_normalize(&mut want).unwrap();
        let got = map
            .vector(&id)
            .unwrap_or_else(|| panic!("{id} missing: papers must be committed in order"));
        assert!(
            got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{id}"
        );
    }
    assert_eq!(map.related("2502.08279", 3).unwrap().len(), 3);
    crash.len()
}

fn main() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let (papers, vectors) = seed_with_vectors();
    let mut seed = PaperMap::builder()
        .fingerprint(reference_fingerprint())
        .build()
        .unwrap();
    seed.add_embedded(papers, &vectors).unwrap();
    seed.save(dir.path()).unwrap();

    let exe = std::env::current_exe().unwrap();
    let (mut committed, mut mid_save) = (0, 0);
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // Varied delays so kills land at different points of the save.
        std::thread::sleep(Duration::from_millis(150 + (round * 97) % 400));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "the child never ends on its own: {status}"
        );
        mid_save += usize::from(killed_mid_save(dir.path()));
        let now = check(dir.path(), &seed);
        assert!(
            now >= committed,
            "round {round}: {now} papers after {committed}: a commit was lost"
        );
        committed = now;
    }
    println!("crash_safety: {ROUNDS} kills, {mid_save} during a save, {committed} saves committed; every state opened intact");
    assert!(
        committed > 0,
        "the child never committed a save: nothing was tested"
    );
    assert!(
        mid_save > 0,
        "no kill landed during a save: nothing was tested"
    );
}
