//! Any bytes as a library's manifest, beside intact data files: opening, checking and querying
//! return (an error or answers), never panic.
#![no_main]

#[allow(dead_code)] // vouch_for is the segment target's.
#[path = "library.rs"]
mod library;

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: library::write_seeds("manifest"), |data: &[u8]| {
    let mut files = library::template().clone();
    files.insert("manifest.json".into(), data.to_vec());
    library::exercise(&files);
});
