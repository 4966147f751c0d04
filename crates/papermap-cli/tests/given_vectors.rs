//! Indexing vectors computed elsewhere: `papermap export` → `papermap embed --papers` →
//! `papermap index` (JSON Lines with "embedding", a `.npy` file, or a Spark job's output
//! directory) embeds nothing again, gives the library the same vectors as embedding would, and
//! refuses bad vectors with the file and row, writing nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::{json, Value};

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data/seed");
const QUERY: &str = "summarizing recorded scientific talks into text";

fn papermap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_papermap"))
        .args(args)
        .env("PAPERMAP_THREADS", "2")
        .output()
        .expect("the papermap binary runs")
}

fn ok(args: &[&str]) -> Output {
    let out = papermap(args);
    assert!(
        out.status.success(),
        "papermap {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ok_json(args: &[&str]) -> Value {
    serde_json::from_slice(&ok(args).stdout).expect("stdout is one JSON value")
}

/// The error of a command that must fail, after checking it left `library` unwritten.
fn refused(args: &[&str], library: &Path) -> String {
    let out = papermap(args);
    assert!(!out.status.success(), "papermap {args:?} should fail");
    assert!(out.stdout.is_empty(), "a failed command prints no result");
    assert!(
        !library.exists(),
        "nothing written to {}",
        library.display()
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

struct Fixture {
    tmp: tempfile::TempDir,
    /// `papermap export SEED`.
    papers: PathBuf,
    /// `papermap embed --papers` of those: each line with its "embedding".
    embedded: PathBuf,
}

/// Exported and embedded once per test binary (embedding 99 abstracts is the slow part).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let papers = tmp.path().join("papers.jsonl");
        let embedded = tmp.path().join("embedded.jsonl");
        ok(&["export", SEED, "-o", papers.to_str().unwrap()]);
        ok(&[
            "embed",
            "--papers",
            papers.to_str().unwrap(),
            "-o",
            embedded.to_str().unwrap(),
        ]);
        Fixture {
            tmp,
            papers,
            embedded,
        }
    })
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn vectors(path: &Path) -> Vec<Vec<f32>> {
    lines(path)
        .iter()
        .map(|o| {
            o["embedding"]
                .as_array()
                .expect("an embedding array")
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

/// A float32 `.npy` file as numpy's `np.save` writes it (format 1.0, C order).
fn write_npy(path: &Path, rows: &[Vec<f32>]) {
    let dim = rows.first().map_or(0, Vec::len);
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {dim}), }}",
        rows.len()
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for x in rows.iter().flatten() {
        bytes.extend(x.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

fn new_library(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    (tmp, dir)
}

#[test]
fn export_writes_every_seed_paper_once_in_papermaps_form() {
    let papers = lines(&fixture().papers);
    assert_eq!(papers.len(), 99);
    let ids: std::collections::HashSet<&str> =
        papers.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 99);
    assert!(ids.contains("2502.08279"));
    assert!(papers
        .iter()
        .all(|p| p["abstract"].is_string() && p.get("metadata").is_none()));
    // embed --papers keeps every field and order, adding the vector.
    let embedded = lines(&fixture().embedded);
    assert_eq!(embedded.len(), 99);
    for (paper, with_vector) in papers.iter().zip(&embedded) {
        let mut without = with_vector.as_object().unwrap().clone();
        assert_eq!(
            without
                .remove("embedding")
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            384
        );
        assert_eq!(&Value::Object(without), paper);
    }
}

#[test]
fn jsonl_with_embeddings_indexes_without_embedding_and_matches_an_embedded_library() {
    let (_tmp, given) = new_library("given");
    let report = ok_json(&[
        "index",
        fixture().embedded.to_str().unwrap(),
        "--out",
        given.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(report["papers"], 99, "{report}");
    assert_eq!(report["embedded"], 0, "{report}");

    let (_tmp2, embedded) = new_library("embedded");
    ok(&["index", SEED, "--out", embedded.to_str().unwrap()]);
    let search =
        |dir: &Path| ok_json(&["search", dir.to_str().unwrap(), QUERY, "-k", "5", "--json"]);
    let (a, b) = (search(&given), search(&embedded));
    assert_eq!(a[0]["id"], "2502.08279", "{a}");
    let ids = |v: &Value| -> Vec<Value> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].clone())
            .collect()
    };
    assert_eq!(ids(&a), ids(&b));
    for (x, y) in a.as_array().unwrap().iter().zip(b.as_array().unwrap()) {
        let (x, y) = (x["score"].as_f64().unwrap(), y["score"].as_f64().unwrap());
        assert!((x - y).abs() < 1e-6, "{x} vs {y}");
    }
}

#[test]
fn npy_rows_index_in_input_order() {
    let dir = &fixture().tmp;
    let npy = dir.path().join("seed.npy");
    write_npy(&npy, &vectors(&fixture().embedded));
    let (_tmp, lib) = new_library("npy");
    let report = ok_json(&[
        "index",
        fixture().papers.to_str().unwrap(),
        "--embeddings",
        npy.to_str().unwrap(),
        "--out",
        lib.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        (report["papers"].clone(), report["embedded"].clone()),
        (json!(99), json!(0))
    );
    let found = ok_json(&["search", lib.to_str().unwrap(), QUERY, "-k", "1", "--json"]);
    assert_eq!(found[0]["id"], "2502.08279", "{found}");
    // Row i is paper i's vector: every paper's neighbours are those of the JSON Lines library.
    let (_tmp2, jsonl) = new_library("jsonl");
    ok(&[
        "index",
        fixture().embedded.to_str().unwrap(),
        "--out",
        jsonl.to_str().unwrap(),
    ]);
    for paper in lines(&fixture().papers).iter().step_by(10) {
        let id = paper["id"].as_str().unwrap();
        let related =
            |dir: &Path| ok_json(&["related", dir.to_str().unwrap(), id, "-k", "3", "--json"]);
        assert_eq!(related(&lib), related(&jsonl), "paper {id}");
    }
}

#[test]
fn bad_vectors_are_refused_naming_file_and_row_and_nothing_is_written() {
    let dir = &fixture().tmp;
    let papers = fixture().papers.to_str().unwrap();
    let rows = vectors(&fixture().embedded);
    let (_tmp, lib) = new_library("refused");
    let lib_s = lib.to_str().unwrap();

    let short = dir.path().join("short.npy");
    write_npy(&short, &rows[..98]);
    let err = refused(
        &[
            "index",
            papers,
            "--embeddings",
            short.to_str().unwrap(),
            "--out",
            lib_s,
        ],
        &lib,
    );
    assert!(
        err.contains("short.npy") && err.contains("98 rows") && err.contains("99 papers"),
        "{err}"
    );

    let narrow = dir.path().join("narrow.npy");
    write_npy(
        &narrow,
        &rows.iter().map(|r| r[..383].to_vec()).collect::<Vec<_>>(),
    );
    let err = refused(
        &[
            "index",
            papers,
            "--embeddings",
            narrow.to_str().unwrap(),
            "--out",
            lib_s,
        ],
        &lib,
    );
    assert!(
        err.contains("narrow.npy: row 0") && err.contains("383 values"),
        "{err}"
    );

    let mut damaged = rows.clone();
    damaged[7] = vec![0.0; 384];
    damaged[9][3] = f32::NAN;
    let zero = dir.path().join("zero.npy");
    write_npy(&zero, &damaged);
    let err = refused(
        &[
            "index",
            papers,
            "--embeddings",
            zero.to_str().unwrap(),
            "--out",
            lib_s,
        ],
        &lib,
    );
    assert!(
        err.contains("zero.npy: row 7") && err.contains("all zeros"),
        "{err}"
    );

    // JSON Lines: the file and line of the bad entry.
    let mut text: Vec<String> = std::fs::read_to_string(&fixture().embedded)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let mut object: Value = serde_json::from_str(&text[4]).unwrap();
    object["embedding"].as_array_mut().unwrap().pop();
    text[4] = object.to_string();
    let bad = dir.path().join("bad_dim.jsonl");
    std::fs::write(&bad, text.join("\n")).unwrap();
    let err = refused(&["index", bad.to_str().unwrap(), "--out", lib_s], &lib);
    assert!(
        err.contains("bad_dim.jsonl:5") && err.contains("383 values"),
        "{err}"
    );

    object["embedding"] = json!("not a vector");
    text[4] = object.to_string();
    std::fs::write(&bad, text.join("\n")).unwrap();
    let err = refused(&["index", bad.to_str().unwrap(), "--out", lib_s], &lib);
    assert!(
        err.contains("bad_dim.jsonl:5") && err.contains("embedding"),
        "{err}"
    );
}

/// A directory laid out as `spark/papermap_embed.py` leaves it.
fn job_output(name: &str, model: Value) -> PathBuf {
    let dir = fixture().tmp.path().join(name);
    std::fs::create_dir_all(dir.join("parts")).unwrap();
    let text = std::fs::read_to_string(&fixture().embedded).unwrap();
    let all: Vec<&str> = text.lines().collect();
    std::fs::write(dir.join("parts/part-00000.jsonl"), all[..50].join("\n")).unwrap();
    std::fs::write(dir.join("parts/part-00001.jsonl"), all[50..].join("\n")).unwrap();
    let manifest = json!({
        "format": "papermap-embeddings",
        "format_version": 1,
        "model": model,
        "papers": 99,
        "parts": ["parts/part-00000.jsonl", "parts/part-00001.jsonl"],
    });
    std::fs::write(dir.join("papermap-embeddings.json"), manifest.to_string()).unwrap();
    dir
}

#[test]
fn a_job_output_directory_is_indexed_and_another_models_is_refused() {
    let model = ok_json(&["model", "fingerprint"]);
    assert_eq!(model["dimension"], 384, "{model}");
    let job = job_output("job", model.clone());
    let (_tmp, lib) = new_library("from-job");
    let report = ok_json(&[
        "index",
        job.to_str().unwrap(),
        "--out",
        lib.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        (report["papers"].clone(), report["embedded"].clone()),
        (json!(99), json!(0))
    );

    let mut other = model.clone();
    other["revision"] = json!("another-revision");
    let foreign = job_output("foreign-job", other);
    let (_tmp2, lib2) = new_library("refused");
    let err = refused(
        &[
            "index",
            foreign.to_str().unwrap(),
            "--out",
            lib2.to_str().unwrap(),
        ],
        &lib2,
    );
    assert!(
        err.contains("papermap-embeddings.json") && err.contains("another-revision"),
        "{err}"
    );

    // A part file gone missing: the output is incomplete, not silently smaller.
    std::fs::remove_file(foreign.join("parts/part-00001.jsonl")).unwrap();
    let err = refused(
        &[
            "index",
            foreign.to_str().unwrap(),
            "--out",
            lib2.to_str().unwrap(),
        ],
        &lib2,
    );
    assert!(
        err.contains("part-00001.jsonl") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn remove_and_check_from_the_command_line() {
    let (_tmp, lib) = new_library("removing");
    let l = lib.to_str().unwrap();
    ok(&["index", fixture().embedded.to_str().unwrap(), "--out", l]);
    let ids = fixture().tmp.path().join("remove-ids.txt");
    std::fs::write(&ids, "2502.08279\nno-such-id\n").unwrap();
    let report = ok_json(&["remove", l, "--ids-from", ids.to_str().unwrap(), "--json"]);
    assert_eq!(
        (
            report["removed"].clone(),
            report["not_found"].clone(),
            report["papers"].clone()
        ),
        (json!(1), json!(1), json!(98)),
        "{report}"
    );
    let found = ok_json(&["search", l, QUERY, "-k", "98", "--json"]);
    assert!(
        found
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["id"] != "2502.08279"),
        "{found}"
    );
    assert_eq!(found.as_array().unwrap().len(), 98);
    let out = ok(&["check", l]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("98 papers"));

    // A flipped byte inside the vectors: open does not read it, check does and names the file.
    let npy = std::fs::read_dir(&lib)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "npy"))
        .unwrap();
    let mut bytes = std::fs::read(&npy).unwrap();
    let at = bytes.len() - 5;
    bytes[at] ^= 0x10;
    std::fs::write(&npy, bytes).unwrap();
    let out = papermap(&["check", l]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(".npy") && err.contains("xxh3"), "{err}");
}

#[test]
fn eval_topics_scores_fitted_topics_and_names_what_is_missing() {
    let (_tmp, lib) = new_library("lib");
    let lib = lib.to_str().unwrap();
    ok(&["index", fixture().embedded.to_str().unwrap(), "--out", lib]);
    let unfitted = papermap(&["eval", "topics", lib]);
    assert!(!unfitted.status.success());
    let stderr = String::from_utf8_lossy(&unfitted.stderr);
    assert!(stderr.contains("papermap topics DIR"), "{stderr}");

    ok(&["topics", lib, "-k", "4"]);
    let scores = ok_json(&["eval", "topics", lib, "--seeds", "2", "--json"]);
    assert_eq!(scores["papers"], 99, "{scores}");
    assert_eq!(scores["topics"], 4, "{scores}");
    assert_eq!(scores["npmi_per_topic"].as_array().unwrap().len(), 4);
    let npmi = scores["npmi"].as_f64().unwrap();
    assert!((-1.0..=1.0).contains(&npmi), "{scores}");
    assert_eq!(scores["stability"]["seeds"].as_array().unwrap().len(), 2);
    let text = String::from_utf8(ok(&["eval", "topics", lib, "--seeds", "0"]).stdout).unwrap();
    assert!(text.contains(&format!("{npmi:.4}")), "{text}");

    let unknown = papermap(&["eval", "topics", lib, "--label", "label_top"]);
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("\"label_top\""), "{stderr}");
}
