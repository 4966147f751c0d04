//! The `papermap` binary end to end on the bundled seed corpus with the real model: the JSON
//! shapes the README promises, the search the issue names, and bad input refused without
//! touching what is on disk.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

#[path = "../../papermap-topics/tests/common/browser.rs"]
mod browser;

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data/seed");

fn papermap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_papermap"))
        .args(args)
        .env("PAPERMAP_THREADS", "2")
        .output()
        .expect("the papermap binary runs")
}

fn ok_json(args: &[&str]) -> Value {
    let out = papermap(args);
    assert!(
        out.status.success(),
        "papermap {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON value")
}

fn failure(args: &[&str]) -> String {
    let out = papermap(args);
    assert!(!out.status.success(), "papermap {args:?} should fail");
    assert!(out.stdout.is_empty(), "a failed command prints no result");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The seed library, indexed once per test binary (embedding 99 abstracts is the slow part).
fn library() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, dir) = DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("seed");
        let report = ok_json(&["index", SEED, "--out", dir.to_str().unwrap(), "--json"]);
        assert_eq!(report["papers"], 99, "{report}");
        assert_eq!(report["embedded"], 99, "{report}");
        (tmp, dir)
    });
    dir
}

fn lib() -> &'static str {
    library().to_str().unwrap()
}

/// A copy of the seed library for a test that saves into it: saves from concurrent processes
/// into one directory are not what these tests are about.
fn private_library() -> (tempfile::TempDir, String) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("seed");
    copy(library(), &dir);
    let dir = dir.to_str().unwrap().to_string();
    (tmp, dir)
}

fn hits(value: &Value) -> Vec<(String, f64)> {
    value
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|hit| {
            assert!(
                hit["title"].as_str().is_some_and(|t| !t.is_empty()),
                "{hit}"
            );
            (
                hit["id"].as_str().expect("string id").to_string(),
                hit["score"].as_f64().expect("numeric score"),
            )
        })
        .collect()
}

#[test]
fn search_puts_the_talk_summarisation_paper_first() {
    let text = "summarizing recorded scientific talks into text";
    let found = hits(&ok_json(&["search", lib(), text, "-k", "5", "--json"]));
    assert_eq!(found.len(), 5);
    assert_eq!(found[0].0, "2502.08279", "{found:?}");
    assert!(found.windows(2).all(|w| w[0].1 >= w[1].1), "{found:?}");
}

#[test]
fn related_never_lists_the_paper_itself() {
    let found = hits(&ok_json(&[
        "related",
        lib(),
        "2502.08279",
        "-k",
        "98",
        "--json",
    ]));
    assert_eq!(found.len(), 98, "every other paper, once");
    assert!(found.iter().all(|(id, _)| id != "2502.08279"));
    assert!(found.windows(2).all(|w| w[0].1 >= w[1].1), "{found:?}");
}

#[test]
fn topics_json_assigns_every_paper() {
    let (_tmp, dir) = private_library();
    let value = ok_json(&["topics", &dir, "-k", "6", "--json"]);
    let topics = value["topics"].as_array().expect("topics array");
    assert_eq!(topics.len(), 6);
    let sizes: u64 = topics.iter().map(|t| t["size"].as_u64().unwrap()).sum();
    assert_eq!(sizes, 99);
    for t in topics {
        assert!(!t["label"].as_str().unwrap().is_empty(), "{t}");
        assert!(!t["keywords"].as_array().unwrap().is_empty(), "{t}");
        assert!(!t["representatives"].as_array().unwrap().is_empty(), "{t}");
    }
    // Two levels: every topic in exactly one group, groups labelled.
    let groups = value["groups"].as_array().expect("groups array");
    assert!(!groups.is_empty() && groups.len() < 6, "{value}");
    let mut grouped: Vec<u64> = groups
        .iter()
        .flat_map(|g| {
            g["topics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_u64().unwrap())
        })
        .collect();
    grouped.sort_unstable();
    assert_eq!(grouped, (0..6).collect::<Vec<u64>>());
    assert!(groups
        .iter()
        .all(|g| !g["label"].as_str().unwrap().is_empty()));
    let assignments = value["assignments"].as_array().expect("assignments array");
    assert_eq!(assignments.len(), 99);
    assert!(assignments
        .iter()
        .all(|a| a["topic"].as_u64().is_some_and(|t| t < 6)));
}

#[test]
fn indexing_the_same_corpus_again_embeds_nothing() {
    let (_tmp, dir) = private_library();
    let report = ok_json(&["index", SEED, "--out", &dir, "--json"]);
    assert_eq!(report["papers"], 99, "{report}");
    assert_eq!(report["added"], 0, "{report}");
    assert_eq!(report["embedded"], 0, "{report}");
}

#[test]
fn two_concurrent_index_runs_into_one_new_library_keep_both_corpora() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shared");
    let seed = |names: &[&str]| -> Vec<String> {
        let mut files: Vec<String> = std::fs::read_dir(SEED)
            .unwrap()
            .map(|e| e.unwrap().path().to_str().unwrap().to_string())
            .collect();
        files.sort();
        names
            .iter()
            .map(|n| files[n.parse::<usize>().unwrap()].clone())
            .collect()
    };
    // Both runs find no library, embed for a while, then save: the second save finds the
    // first one's library and must add to it (retrying on the conflict), not replace it.
    let run = |files: Vec<String>| {
        let mut args = vec!["index".to_string()];
        args.extend(files);
        args.extend([
            "--out".into(),
            dir.to_str().unwrap().into(),
            "--json".into(),
        ]);
        Command::new(env!("CARGO_BIN_EXE_papermap"))
            .args(&args)
            .env("PAPERMAP_THREADS", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the papermap binary runs")
    };
    let first = run(seed(&["0", "1"]));
    let second = run(seed(&["2", "3", "4"]));
    for child in [first, second] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let topics = ok_json(&["topics", dir.to_str().unwrap(), "-k", "4", "--json"]);
    let assigned = topics["assignments"].as_array().expect("assignments").len();
    assert_eq!(assigned, 99, "both runs' papers are in the library");
}

#[test]
fn showing_topics_never_refits_them() {
    let (_tmp, dir) = private_library();
    let fitted = ok_json(&["topics", &dir, "-k", "5", "--json"]);
    assert_eq!(fitted["topics"].as_array().unwrap().len(), 5);
    let files = |dir: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("topics."))
            .collect();
        names.sort();
        names
    };
    let before = files(&dir);
    // No -k: the stored five, not a k chosen anew (which would be 9 or more on 99 papers).
    let shown = ok_json(&["topics", &dir, "--json"]);
    assert_eq!(shown, fitted);
    assert_eq!(files(&dir), before, "showing wrote no topics file");
    // A different seed is a different fit, written as a new generation.
    let reseeded = ok_json(&["topics", &dir, "--seed", "7", "--json"]);
    assert!(
        reseeded["topics"].as_array().unwrap().len() >= 8,
        "k chosen anew"
    );
    assert_ne!(files(&dir), before);
}

#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    // `papermap related LIB ID | head -0`: the reader is gone before the first line is printed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_papermap"))
        .args(["related", lib(), "2502.08279"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the papermap binary runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

#[test]
fn unknown_paper_and_missing_library_are_clear_errors() {
    let err = failure(&["related", lib(), "9999.99999", "--json"]);
    assert!(err.contains("9999.99999"), "{err}");

    let missing = library().with_file_name("no-such-library");
    let err = failure(&["search", missing.to_str().unwrap(), "anything", "--json"]);
    assert!(err.contains("no-such-library"), "{err}");
}

#[test]
fn index_refuses_a_foreign_directory_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let precious = dir.path().join("notes.txt");
    std::fs::write(&precious, "mine").unwrap();
    let err = failure(&["index", SEED, "--out", dir.path().to_str().unwrap()]);
    assert!(err.contains(dir.path().to_str().unwrap()), "{err}");
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "mine");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn map_writes_svg_and_html() {
    let (out, dir) = private_library();
    let svg = out.path().join("map.svg");
    let html = out.path().join("map.html");
    let status = papermap(&[
        "map",
        &dir,
        "-k",
        "5",
        "--svg",
        svg.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "{}",
        &svg[..80]
    );
    let points = svg.matches("<circle").count();
    assert_eq!(points, 99, "one point per paper");
    assert_eq!(svg.matches("data-topic=").count(), 99);
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("id=\"papermap-points\"") && html.contains("</html>"));
    assert!(
        !html.contains("src=\"http"),
        "self-contained: no external scripts"
    );
    // The page is titled by the library's name, not the path it was opened by.
    let name = std::path::Path::new(&dir)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        html.contains(&format!("<title>{name}</title>")),
        "{}",
        &html[..300]
    );

    let err = failure(&["map", &dir]);
    assert!(err.contains("--svg"), "{err}");
    // Bad input: one clear error, nothing written.
    let err = failure(&["map", &dir, "-k", "500", "--svg", "/tmp/never-written.svg"]);
    assert!(err.contains("500") && err.lines().count() <= 2, "{err}");
    let unwritable = out.path().join("no/such/dir/map.svg");
    let err = failure(&["map", &dir, "--svg", unwritable.to_str().unwrap()]);
    assert!(err.contains("no/such/dir"), "{err}");
    assert!(!unwritable.exists() && !std::path::Path::new("/tmp/never-written.svg").exists());
    let empty = out.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = failure(&[
        "map",
        empty.to_str().unwrap(),
        "--svg",
        "/tmp/never-written.svg",
    ]);
    assert!(err.lines().count() <= 2, "{err}");
}

#[test]
fn an_int8_library_searches_in_int8_and_refuses_other_precisions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("int8");
    let d = dir.to_str().unwrap();
    let report = ok_json(&["index", SEED, "--out", d, "--precision", "int8", "--json"]);
    assert_eq!(report["embedded"], 99, "{report}");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["model"]["precision"], "int8", "{manifest}");
    // Without --precision the library's own is used, and the search still finds the talk paper.
    let text = "summarizing recorded scientific talks into text";
    let found = hits(&ok_json(&["search", d, text, "-k", "3", "--json"]));
    assert_eq!(found[0].0, "2502.08279", "{found:?}");
    for other in ["f32", "bf16"] {
        let err = failure(&["search", d, text, "--precision", other, "--json"]);
        assert!(
            err.contains("int8") && err.contains("was asked for"),
            "{other}: {err}"
        );
    }
    let err = failure(&["index", SEED, "--out", d, "--precision", "fp16"]);
    assert!(
        err.contains("f32|bf16|int8") || err.contains("f32, bf16, int8"),
        "{err}"
    );
}

/// `papermap rank`: the JSON schema, a liked profile steering the order, the reasons, bad input.
#[test]
fn rank_orders_a_digest_by_the_profile_and_gives_reasons() {
    let digest = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../papermap-corpus/tests/data/messy_digest.md"
    );
    let all = ok_json(&["rank", digest, "--library", lib(), "--json", "-k", "50"]);
    let papers = all["papers"].as_array().unwrap();
    assert!(papers.len() >= 3, "{all}");
    let scores: Vec<f64> = papers
        .iter()
        .map(|p| p["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "best first: {scores:?}"
    );
    for p in papers {
        for key in [
            "id",
            "title",
            "score",
            "nearest",
            "shared_terms",
            "topic",
            "in_library",
            "title_only",
        ] {
            assert!(p.get(key).is_some(), "{key} missing in {p}");
        }
        assert_eq!(p["nearest"].as_array().unwrap().len(), 3);
        assert_eq!(p["shared_terms"].as_array().unwrap().len(), 3);
    }
    // The entry without an English abstract is ranked on its title and flagged; the others aren't.
    let flagged: Vec<&Value> = papers.iter().filter(|p| p["title_only"] == true).collect();
    assert_eq!(flagged.len(), 1, "{all}");
    assert_eq!(flagged[0]["id"], "2501.00003", "{all}");
    assert_eq!(flagged[0]["title"], "Entry Without Abstract", "{all}");
    // The digest's own copy of 2502.08279 (the talk-summarisation paper) is in the library.
    let talk = papers
        .iter()
        .find(|p| p["id"] == "2502.08279")
        .expect("ranked");
    assert_eq!(talk["in_library"], true);
    assert!(talk["nearest"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["id"] != "2502.08279"));
    // Liking the talk paper: its neighbours are the only profile papers, unknown ids are listed.
    let liked = ok_json(&[
        "rank",
        digest,
        "--library",
        lib(),
        "--liked-ids",
        "2502.08279,nope",
        "--json",
    ]);
    assert_eq!(liked["unknown_ids"], serde_json::json!(["nope"]));
    for p in liked["papers"].as_array().unwrap() {
        let near = p["nearest"].as_array().unwrap();
        assert!(near.iter().all(|n| n["id"] == "2502.08279") || p["id"] == "2502.08279");
    }
    let err = failure(&["rank", digest, "--library", lib(), "--liked-ids", "nope"]);
    assert!(
        err.contains("profile is empty") && err.contains("nope"),
        "{err}"
    );
    let err = failure(&["rank", digest, "--library", "/nonexistent/lib"]);
    assert!(err.contains("/nonexistent/lib"), "{err}");
}

/// `rank --digest-precision int8` (every x86 CPU has a kernel for it): the digest embedded in
/// another precision than the f32 library ranks the same papers with scores within int8's error,
/// and cannot be added to the library (a library keeps vectors of one precision).
#[test]
fn rank_embeds_the_digest_in_another_precision_without_writing() {
    let digest = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../papermap-corpus/tests/data/messy_digest.md"
    );
    let scores = |extra: &[&str]| -> std::collections::BTreeMap<String, f64> {
        let mut args = vec!["rank", digest, "--library", lib(), "--json", "-k", "50"];
        args.extend_from_slice(extra);
        ok_json(&args)["papers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["id"].as_str().unwrap().to_string(),
                    p["score"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let exact = scores(&[]);
    let int8 = scores(&["--digest-precision", "int8"]);
    assert_eq!(
        exact.keys().collect::<Vec<_>>(),
        int8.keys().collect::<Vec<_>>()
    );
    let moved = exact
        .iter()
        .map(|(id, s)| (s - int8[id]).abs())
        .fold(0.0, f64::max);
    // int8 vectors are within cosine 0.996 of f32 ones; every score is a mean of similarities.
    assert!(moved > 0.0 && moved < 0.03, "largest score change {moved}");
    let err = failure(&[
        "rank",
        digest,
        "--library",
        lib(),
        "--digest-precision",
        "int8",
        "--add",
    ]);
    assert!(err.contains("--add"), "{err}");
}

/// `rank --json` output is what `schemas/rank.schema.json` promises, with and without a liked
/// profile (and the schema is strict enough to refuse a paper without its reasons).
#[test]
fn rank_json_follows_its_schema() {
    let schema: Value = serde_json::from_str(include_str!("../schemas/rank.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON schema");
    let digest = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../papermap-corpus/tests/data/messy_digest.md"
    );
    for extra in [&[][..], &["--liked-ids", "2502.08279,unknown-id"][..]] {
        let mut args = vec!["rank", digest, "--library", lib(), "--json", "-k", "50"];
        args.extend_from_slice(extra);
        let out = ok_json(&args);
        let errors: Vec<String> = validator.iter_errors(&out).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?} in {out}");
        let mut broken = out.clone();
        broken["papers"][0]
            .as_object_mut()
            .unwrap()
            .remove("nearest");
        assert!(!validator.is_valid(&broken), "the schema requires nearest");
    }
}

/// `rank --html`: the ranked list beside the library's kept map in headless Chromium: every
/// digest paper drawn and highlighted (new ones placed on the map, the one the library holds at
/// its own point), the list in score order, a click on an item centres the map on it. Nothing
/// is written to the library; without a kept map the command says how to make one.
#[test]
fn rank_html_lists_todays_papers_on_the_kept_map_in_chromium() {
    let (_tmp, lib) = private_library();
    let digest = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../papermap-corpus/tests/data/messy_digest.md"
    );
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("today.html");
    let page_s = page.to_str().unwrap();
    let err = failure(&["rank", digest, "--library", &lib, "--html", page_s]);
    assert!(
        err.contains("keeps no map") && err.contains("papermap map"),
        "{err}"
    );
    assert!(!page.exists());
    let map_page = dir.path().join("map.html");
    let out = papermap(&["map", &lib, "--html", map_page.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = std::fs::read(Path::new(&lib).join("manifest.json")).unwrap();
    let ranking = ok_json(&[
        "rank",
        digest,
        "--library",
        &lib,
        "--html",
        page_s,
        "--json",
        "-k",
        "100",
    ]);
    assert_eq!(
        std::fs::read(Path::new(&lib).join("manifest.json")).unwrap(),
        manifest,
        "rank wrote to the library"
    );
    let ranked: Vec<&str> = ranking["papers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    let held = ranking["papers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in_library"] == true)
        .count();
    assert!(held >= 1 && ranked.len() > held, "{ranking}");

    let dom = browser::dump_dom(&page, "", "selfcheck=talk", &dir.path().join("profile"));
    let got = browser::self_check(&dom);
    let points = 99 + ranked.len() - held;
    assert_eq!(got["points"], points as u64, "{got}");
    assert_eq!(got["drawn"], points as u64, "every point drawn: {got}");
    assert_eq!(got["today_highlighted"], ranked.len() as u64, "{got}");
    let listed: Vec<&str> = got["list_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(listed, ranked, "the list is the ranking, in its order");
    assert_eq!(got["list_click"]["focused"], true, "{got}");
    assert_eq!(got["list_click"]["centred"], true, "{got}");

    // --add: the digest joins the library as `papermap index` would add it, so a second
    // ranking finds every paper already there, except the one without an abstract (index
    // skips it, and so does --add, saying so).
    let added = papermap(&["rank", digest, "--library", &lib, "--add", "-k", "1"]);
    let stderr = String::from_utf8_lossy(&added.stderr);
    assert!(added.status.success(), "{stderr}");
    assert!(
        stderr.contains("not added (no abstract): 2501.00003"),
        "{stderr}"
    );
    let again = ok_json(&["rank", digest, "--library", &lib, "--json", "-k", "100"]);
    let papers = again["papers"].as_array().unwrap();
    assert_eq!(papers.len(), ranked.len());
    for p in papers {
        assert_eq!(p["in_library"], p["title_only"] == false, "{p}");
    }
}

/// `--why` on `related` and `search`: each hit's shared key terms, terms of both texts.
#[test]
fn why_lists_terms_both_texts_hold() {
    let hits = ok_json(&["related", lib(), "2502.08279", "-k", "5", "--why", "--json"]);
    let export = papermap(&["export", SEED]);
    let papers: Vec<Value> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let text = |id: &str| {
        let p = papers.iter().find(|p| p["id"] == id).unwrap();
        format!("{} {}", p["title"], p["abstract"]).to_lowercase()
    };
    let mut any = 0;
    for hit in hits.as_array().unwrap() {
        for term in hit["why"].as_array().unwrap() {
            let term = term.as_str().unwrap();
            for id in ["2502.08279", hit["id"].as_str().unwrap()] {
                assert!(text(id).contains(term), "{term:?} not in {id}");
            }
            any += 1;
        }
    }
    assert!(any > 0, "related papers share some terms: {hits}");
    let found = ok_json(&[
        "search",
        lib(),
        "video summarization of talks",
        "-k",
        "3",
        "--why",
        "--json",
    ]);
    assert!(
        found[0]["why"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "video summarization"),
        "{found}"
    );
    // Without --why the JSON stays {"id","title","score"}.
    let plain = ok_json(&["related", lib(), "2502.08279", "-k", "1", "--json"]);
    assert!(plain[0].get("why").is_none());
}
