//! Any bytes as one of a library's segment files (papers, keys, vectors, graph, deletes) or its
//! topics file, with the manifest vouching for them (size and xxh3), so the bytes reach the
//! file's own parser: opening, checking and querying return, never panic.
#![no_main]

#[path = "library.rs"]
mod library;

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: library::write_seeds("segment"), |data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let template = library::template();
    let names: Vec<&String> = template
        .keys()
        .filter(|n| *n != "manifest.json" && !n.starts_with('.'))
        .collect();
    let name = names[pick as usize % names.len()].clone();
    let mut files = template.clone();
    let manifest = library::vouch_for(&files["manifest.json"], &name, bytes);
    files.insert(name, bytes.to_vec());
    files.insert("manifest.json".into(), manifest);
    library::exercise(&files);
});
