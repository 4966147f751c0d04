//! Opens the HTML map in headless Chromium and checks, through the page's self-check, that every
//! point is drawn, search highlights exactly the matching titles, hover shows the title, click
//! opens the link and topic toggles hide and show points.
//!
//! Needs Chromium (Debian: `apt-get install -y chromium`) or `PAPERMAP_CHROMIUM=/path/to/chrome`.
//! Without it the test fails, on purpose: a skipped browser test would hide a broken page.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::blobs;
use papermap_topics::{MapConfig, TopicConfig, TopicMap, TopicModel};

fn chromium() -> PathBuf {
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

/// Runs the page in headless Chromium and returns the DOM after its scripts ran.
fn dump_dom(page: &Path, hash: &str, profile: &Path) -> String {
    let url = format!("file://{}#{hash}", page.display());
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1400,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting chromium");
    let start = Instant::now();
    while child.try_wait().expect("waiting for chromium").is_none() {
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("chromium output");
    assert!(
        out.status.success(),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 DOM")
}

fn self_check(dom: &str) -> serde_json::Value {
    let open = "<pre id=\"papermap-selfcheck\">";
    let start = dom.find(open).unwrap_or_else(|| {
        panic!("no visible self-check block; the page script did not run:\n{dom:.2000}")
    }) + open.len();
    let end = start + dom[start..].find("</pre>").expect("closed pre");
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("self-check is not JSON ({e}): {text}"))
}

#[test]
fn html_map_works_in_headless_chromium() {
    let mut c = blobs(4, 30, 16, 0.15, 31);
    c.docs[5].title = "A QUASAR </script><b>bold</b> & \"quoted\" title".into();
    let model = TopicModel::fit(
        c.x.view(),
        &c.docs,
        &TopicConfig {
            k: Some(4),
            n_runs: 2,
            ..TopicConfig::default()
        },
    )
    .unwrap();
    let config = MapConfig {
        epochs: 100,
        link_template: Some("https://arxiv.org/abs/{id}".into()),
        ..MapConfig::default()
    };
    let map = TopicMap::build(c.x.view(), &model, &c.docs, &config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("map.html");
    std::fs::write(&page, map.to_html()).unwrap();

    let dom = dump_dom(&page, "selfcheck=quasar", &dir.path().join("profile"));
    let got = self_check(&dom);

    let n = map.points.len() as u64;
    assert_eq!(got["circles"], n, "{got}");
    assert_eq!(
        got["rendered"], n,
        "every point drawn inside the map: {got}"
    );
    assert_eq!(got["labels"], map.topics.len() as u64, "{got}");
    let want: BTreeSet<&str> = map
        .points
        .iter()
        .filter(|p| p.title.to_lowercase().contains("quasar"))
        .map(|p| p.id.as_str())
        .collect();
    assert!(
        want.len() > 5 && want.contains("doc0005"),
        "test data must have matches"
    );
    let hits: BTreeSet<&str> = got["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(hits, want);
    assert_eq!(got["count_text"], format!("{} matches", want.len()));
    assert_eq!(got["tooltip"], map.points[0].title.as_str());
    assert_eq!(got["opened"], map.points[0].link.as_deref().unwrap());
    let first_topic = map.topics[0].size as u64;
    assert_eq!(got["visible_after_toggle"], n - first_topic, "{got}");
    assert_eq!(got["visible_after_untoggle"], n, "{got}");
}
