//! Any bytes as a `.npy` vectors file of any claimed shape: `check` refuses them or the rows it
//! vouches for can be read.
#![no_main]

// Only its seed writer is used here.
#[allow(dead_code)]
#[path = "library.rs"]
mod library;

use libfuzzer_sys::fuzz_target;
use papermap_store::{npy, FileEntry, Mapped};

fuzz_target!(init: library::write_seeds("npy"), |data: &[u8]| {
    let (shape, body) = data.split_at(data.len().min(4));
    let rows = shape.first().map_or(0, |&b| b as usize);
    let dim = shape.get(1).map_or(1, |&b| b as usize % 64 + 1);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("v.npy"), body).unwrap();
    let entry = FileEntry {
        role: "vectors".into(),
        name: "v.npy".into(),
        bytes: body.len() as u64,
        xxh3: format!("{:016x}", xxhash_rust::xxh3::xxh3_64(body)),
    };
    let Ok(file) = Mapped::open(dir.path(), &entry) else {
        return;
    };
    let _ = file.verify(&entry);
    if let Ok(at) = npy::check(&file, rows, dim) {
        if rows > 0 {
            let last = npy::rows(&file, at, rows * dim);
            assert_eq!(last.len(), rows * dim);
        }
    }
});
