//! Any text as a daily digest: parsing reports papers and diagnostics, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let report = papermap_corpus::parse_digest(&text, std::path::Path::new("fuzz.md"));
    let _ = (report.papers().len(), report.diagnostics().len());
});
