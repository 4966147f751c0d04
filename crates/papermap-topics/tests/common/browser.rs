//! Headless Chromium for the page tests: the browser binary, the DOM after the page's scripts
//! ran, and the page's self-check report. Shared by path with the CLI's page tests.
//!
//! Needs Chromium (Debian: `apt-get install -y chromium`) or `PAPERMAP_CHROMIUM=/path/to/chrome`.
//! Without it the tests fail, on purpose: a skipped browser test would hide a broken page.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("PAPERMAP_CHROMIUM") {
        return p.into();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "the headless-browser test needs Chromium and found none on PATH: install it \
         (Debian/Ubuntu: apt-get install -y chromium) or set PAPERMAP_CHROMIUM to the browser binary"
    );
}

/// Runs the page in headless Chromium and returns the DOM after its scripts ran. The page keeps
/// a timer pending until its asynchronous decode, first frame and self-check are done, so
/// `--virtual-time-budget` makes Chromium wait for exactly that (`--dump-dom` alone would dump
/// right after `load`). WebGL comes from SwiftShader (software), as on a machine without a GPU.
pub fn dump_dom(page: &Path, query: &str, hash: &str, profile: &Path) -> String {
    dump_dom_url(&format!("file://{}{query}#{hash}", page.display()), profile)
}

/// [`dump_dom`] of any URL (the live page a server serves). Virtual time also waits for the
/// page's pending fetches.
pub fn dump_dom_url(url: &str, profile: &Path) -> String {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1400,1000",
            "--use-angle=swiftshader",
            "--enable-unsafe-swiftshader",
            "--virtual-time-budget=600000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting chromium");
    // Drain both pipes while waiting: a DOM over the pipe's 64 KiB would otherwise block
    // Chromium's write, and Chromium would never exit.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                pipe.read_to_end(&mut bytes)
                    .expect("reading chromium's output");
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for chromium") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            panic!("chromium did not finish within 180 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(
        status.success(),
        "chromium failed ({status}): {}",
        String::from_utf8_lossy(&stderr)
    );
    String::from_utf8(stdout).expect("utf-8 DOM")
}

pub fn self_check(dom: &str) -> serde_json::Value {
    let open = "<pre id=\"papermap-selfcheck\">";
    let start = dom.find(open).unwrap_or_else(|| {
        panic!("no visible self-check block; the page script did not finish:\n{dom:.2000}")
    }) + open.len();
    let end = start + dom[start..].find("</pre>").expect("closed pre");
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    let value: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("self-check is not JSON ({e}): {text}"));
    assert!(value.get("error").is_none(), "the page failed: {value}");
    value
}
