//! `papermap serve` end to end: a real server process on loopback with the real model, asked
//! over HTTP. Every endpoint and every bad input the API promises; writes behind the token;
//! readers answered while a writer (and another process) write; SIGTERM with a write in
//! flight; a save killed mid-way; the live page in headless Chromium.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use serde_json::{json, Value};

#[path = "../../papermap-topics/tests/common/browser.rs"]
mod browser;

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data/seed");
const TOKEN: &str = "test-token-0123456789abcdef";

fn papermap(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_papermap"))
        .args(args)
        .env("PAPERMAP_THREADS", "2")
        .output()
        .expect("the papermap binary runs")
}

fn ok(args: &[&str]) -> String {
    let out = papermap(args);
    assert!(
        out.status.success(),
        "papermap {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The seed library with topics and a kept map, made once per test binary.
fn seed_library() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, dir) = DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("seed");
        let lib = dir.to_str().unwrap();
        ok(&["index", SEED, "--out", lib]);
        let page = tmp.path().join("map.html");
        ok(&["map", lib, "--html", page.to_str().unwrap()]);
        (tmp, dir)
    });
    dir
}

/// A private copy of the seed library, for a test that writes.
fn private_library() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("seed");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(seed_library()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    (tmp, dir)
}

fn token_file(dir: &Path) -> PathBuf {
    let path = dir.join("token");
    std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
    path
}

/// A running `papermap serve`; killed when dropped.
struct Served {
    child: Child,
    base: String,
}

impl Served {
    /// Starts a server on a free port and returns once it says it is serving (loaded).
    fn start(lib: &Path, extra: &[&str], env: &[(&str, &str)]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_papermap"))
            .arg("serve")
            .arg(lib)
            .args(["--addr", "127.0.0.1:0"])
            .args(extra)
            .env("PAPERMAP_THREADS", "2")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting papermap serve");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        let base = loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 {
                panic!("papermap serve exited before serving: {seen}");
            }
            seen.push_str(&line);
            if let Some(at) = line.find(" on http://") {
                let addr = &line[at + " on http://".len()..];
                break format!("http://{}", &addr[..addr.find('/').unwrap()]);
            }
        };
        // Keep reading so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in stderr.lines() {});
        Served { child, base }
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> (u16, Value) {
        let mut request = ureq::request(method, &format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        let answer = match body {
            Some(body) => request.send_bytes(body),
            None => request.call(),
        };
        let response = match answer {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = response.status();
        let text = response.into_string().unwrap();
        let value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("{method} {path} answered {status} with non-JSON ({e}): {text:.300}")
        });
        (status, value)
    }

    /// Sends only the head of a request whose body it declares over the limit, as a client
    /// with `Expect: 100-continue` does, and reads the answer: the server must refuse from the
    /// declared length, without waiting for (or half-reading) the body.
    fn declare_body(&self, method: &str, path: &str, length: usize) -> (u16, Value) {
        let (head, body) = self.raw(&format!(
            "{method} {path} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n"
        ));
        assert!(!head.contains(" 100 "), "asked for the body: {head}");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status");
        let body = String::from_utf8(body).expect("a UTF-8 body");
        let value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{head}: non-JSON ({e}): {body:.300}"));
        (status, value)
    }

    /// Sends `request` (its request line and headers; `Host` and `Connection: close` are added)
    /// on a connection of its own and reads the whole answer: (its head, its body's bytes).
    fn raw(&self, request: &str) -> (String, Vec<u8>) {
        use std::io::{Read, Write};
        let host = self.base.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(host).expect("connecting to the server");
        write!(stream, "{request}Host: {host}\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("reading the answer");
        let end = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP answer");
        let head = String::from_utf8_lossy(&answer[..end]).into_owned();
        (head, answer[end + 4..].to_vec())
    }

    /// The `Content-Encoding` of a GET that accepts gzip, read from the raw answer's head.
    fn encoding(&self, path: &str) -> Option<String> {
        let (head, _) = self.raw(&format!("GET {path} HTTP/1.1\r\nAccept-Encoding: gzip\r\n"));
        assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
        head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-encoding")
                .then(|| value.trim().to_string())
        })
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None, None)
    }

    fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        self.call("POST", path, token, Some(body.to_string().as_bytes()))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A 4xx/5xx answer of the promised shape; returns its message.
fn error(answer: (u16, Value), status: u16, code: &str) -> String {
    let (got, body) = answer;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"]
        .as_str()
        .expect("a message")
        .to_string()
}

fn paper(id: &str, title: &str) -> Value {
    json!({"id": id, "title": title, "abstract": format!("{title}. We study this with experiments on public benchmarks.")})
}

fn ids(hits: &Value) -> Vec<String> {
    hits.as_array()
        .expect("hits")
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}

fn library_papers(lib: &Path) -> usize {
    papermap::PaperMap::check(lib).expect("the library passes its checks")
}

#[test]
fn every_endpoint_answers_and_every_bad_input_is_a_json_error() {
    let (tmp, lib) = private_library();
    let token = token_file(tmp.path());
    let s = Served::start(
        &lib,
        &[
            "--token-file",
            token.to_str().unwrap(),
            "--max-body-mib",
            "1",
        ],
        &[],
    );

    let (status, health) = s.get("/health");
    assert_eq!((status, health["status"].as_str()), (200, Some("ready")));
    let (_, info) = s.get("/v1/library");
    assert_eq!(info["papers"], 99);
    assert_eq!(info["model"], "all-MiniLM-L6-v2");
    assert_eq!(info["dimension"], 384);
    assert_eq!(info["writes"], "token");
    let topic_count = info["topics"]
        .as_u64()
        .expect("the seed library has topics") as usize;

    // gzip only where it pays: a short answer goes as it is, a long one compressed.
    assert_eq!(s.encoding("/v1/papers/2502.08279/related?k=3"), None);
    assert_eq!(
        s.encoding("/v1/search?q=graph+learning&k=99").as_deref(),
        Some("gzip")
    );

    // Search: the talk-summarisation paper for a query about it, with topics, links and reasons.
    let (status, found) = s.get("/v1/search?q=summarizing+recorded+scientific+talks&k=3&why=true");
    assert_eq!(status, 200, "{found}");
    let hits = found["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3);
    let first = &hits[0];
    assert!(
        first["title"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("talk"),
        "{first}"
    );
    assert!(first["topic"].as_u64().unwrap() < topic_count as u64);
    assert!(first["topic_label"].as_str().is_some_and(|l| !l.is_empty()));
    assert!(first["link"]
        .as_str()
        .unwrap()
        .contains(first["id"].as_str().unwrap()));
    assert!(hits
        .windows(2)
        .all(|w| w[0]["score"].as_f64() >= w[1]["score"].as_f64()));
    let title = first["title"].as_str().unwrap().to_lowercase();
    for term in first["why"].as_array().unwrap() {
        let term = term.as_str().unwrap();
        assert!(
            term.split(' ')
                .all(|w| title.contains(w) || "summarizing recorded scientific talks".contains(w)),
            "{term}"
        );
    }
    // The same ranking as the CLI gives.
    let cli: Value = serde_json::from_str(&ok(&[
        "search",
        lib.to_str().unwrap(),
        "summarizing recorded scientific talks",
        "-k",
        "3",
        "--json",
    ]))
    .unwrap();
    assert_eq!(ids(&cli), ids(&found["hits"]));

    // A paper, its related papers (never itself), topics.
    let id = first["id"].as_str().unwrap();
    let (status, one) = s.get(&format!("/v1/papers/{id}"));
    assert_eq!(status, 200);
    assert_eq!(one["id"], id);
    assert_eq!(one["topic"], first["topic"]);
    let (status, related) = s.get(&format!("/v1/papers/{id}/related?k=5&why=true"));
    assert_eq!(status, 200);
    let related_ids = ids(&related["hits"]);
    assert_eq!(related_ids.len(), 5);
    assert!(!related_ids.contains(&id.to_string()));
    let cli: Value = serde_json::from_str(&ok(&[
        "related",
        lib.to_str().unwrap(),
        id,
        "-k",
        "5",
        "--json",
    ]))
    .unwrap();
    assert_eq!(ids(&cli), related_ids);
    let (_, topics) = s.get("/v1/topics");
    let topics = topics["topics"].as_array().unwrap();
    assert_eq!(topics.len(), topic_count);
    assert_eq!(
        topics
            .iter()
            .map(|t| t["size"].as_u64().unwrap())
            .sum::<u64>(),
        99
    );

    // Embedding: unit vectors of the model's width, batched with nobody here.
    let (status, embedded) = s.post(
        "/v1/embed",
        None,
        &json!({"texts": ["graph neural networks", "protein folding"]}),
    );
    assert_eq!(status, 200, "{embedded}");
    let vectors = embedded["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    for v in vectors {
        let v: Vec<f64> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(v.len(), 384);
        assert!((v.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-4);
    }

    // Bad input: a 400 naming the field, 404 for unknown ids and routes, 405, 413.
    assert!(error(s.get("/v1/search"), 400, "bad_request").contains("`q`"));
    assert!(error(s.get("/v1/search?q=+"), 400, "bad_request").contains("`q`"));
    assert!(error(s.get("/v1/search?q=x&k=0"), 400, "bad_request").contains("`k`"));
    assert!(error(s.get("/v1/search?q=x&k=1001"), 400, "bad_request").contains("`k`"));
    assert!(error(s.get("/v1/search?q=x&k=ten"), 400, "bad_request").contains("`k`"));
    assert!(error(s.get("/v1/search?q=x&top=3"), 400, "bad_request").contains("`top`"));
    assert!(error(s.get("/v1/search?q=%FF%FE"), 400, "bad_request").contains("not UTF-8"));
    assert!(error(s.get("/v1/search?q=x&where=nofield"), 400, "bad_request").contains("`where`"));
    assert!(error(s.get("/v1/papers/9999.99999"), 404, "not_found").contains("9999.99999"));
    assert!(error(s.get("/v1/papers/9999.99999/related"), 404, "not_found").contains("9999.99999"));
    error(
        s.get(&format!("/v1/papers/{id}/related?k=0")),
        400,
        "bad_request",
    );
    error(s.get("/v1/nothing"), 404, "not_found");
    error(
        s.call("PUT", "/v1/search", None, None),
        405,
        "method_not_allowed",
    );
    assert!(error(
        s.post("/v1/embed", None, &json!({"text": ["x"]})),
        400,
        "bad_request"
    )
    .contains("texts"));
    assert!(error(
        s.post("/v1/embed", None, &json!({"texts": []})),
        400,
        "bad_request"
    )
    .contains("`texts`"));
    error(
        s.call("POST", "/v1/embed", None, Some(b"{not json")),
        400,
        "bad_request",
    );
    error(
        s.call("POST", "/v1/embed", None, Some(b"{\"texts\": [\"\xff\"]}")),
        400,
        "bad_request",
    );
    assert!(error(
        s.declare_body("POST", "/v1/embed", 2 << 20),
        413,
        "payload_too_large"
    )
    .contains("limit"));

    // Writes: refused without the token or with a wrong one; bad papers refused whole.
    let new = json!([paper(
        "2601.00001",
        "Diffusion models for protein backbone design"
    )]);
    error(s.post("/v1/papers", None, &new), 401, "unauthorized");
    error(
        s.post("/v1/papers", Some("wrong-token-0123456789"), &new),
        401,
        "unauthorized",
    );
    let half_bad =
        json!([paper("2601.00002", "A fine paper"), {"id": "2601.00003", "title": "No abstract"}]);
    assert!(error(
        s.post("/v1/papers", Some(TOKEN), &half_bad),
        400,
        "bad_request"
    )
    .contains("abstract"));
    error(
        s.call("POST", "/v1/papers", Some(TOKEN), Some(b"[{\"id\": 1,")),
        400,
        "bad_request",
    );
    error(
        s.call("POST", "/v1/papers", Some(TOKEN), Some(b"\xff\xfe")),
        400,
        "bad_request",
    );
    error(
        s.post("/v1/papers", Some(TOKEN), &json!([])),
        400,
        "bad_request",
    );
    let short =
        json!([{"id": "2601.00004", "title": "t", "abstract": "a", "embedding": [1.0, 2.0]}]);
    assert!(error(
        s.post("/v1/papers", Some(TOKEN), &short),
        400,
        "bad_request"
    )
    .contains("384"));
    assert_eq!(library_papers(&lib), 99, "refused writes wrote nothing");

    // A write: embedded, saved, searchable at once; JSON Lines too; then removed.
    let (status, added) = s.post("/v1/papers", Some(TOKEN), &new);
    assert_eq!(status, 200, "{added}");
    assert_eq!(
        (
            added["added"].as_u64(),
            added["embedded"].as_u64(),
            added["papers"].as_u64()
        ),
        (Some(1), Some(1), Some(100))
    );
    let (_, found) = s.get("/v1/search?q=protein+backbone+diffusion&k=1");
    assert_eq!(ids(&found["hits"]), ["2601.00001"]);
    let lines = format!(
        "{}\n{}\n",
        paper("2601.00005", "Sparse attention for long documents"),
        paper("2601.00001", "Diffusion models for protein backbone design")
    );
    let (status, added) = s.call("POST", "/v1/papers", Some(TOKEN), Some(lines.as_bytes()));
    assert_eq!(status, 200, "{added}");
    assert_eq!(
        (
            added["added"].as_u64(),
            added["unchanged"].as_u64(),
            added["embedded"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(library_papers(&lib), 101);
    assert_eq!(s.get("/v1/library").1["added_this_session"], 2);

    error(
        s.call("DELETE", "/v1/papers/2601.00005", None, None),
        401,
        "unauthorized",
    );
    let (status, removed) = s.call("DELETE", "/v1/papers/2601.00005", Some(TOKEN), None);
    assert_eq!(
        (status, removed["papers"].as_u64()),
        (200, Some(100)),
        "{removed}"
    );
    error(
        s.call("DELETE", "/v1/papers/2601.00005", Some(TOKEN), None),
        404,
        "not_found",
    );
    error(s.get("/v1/papers/2601.00005"), 404, "not_found");
    assert_eq!(library_papers(&lib), 100);
}

#[test]
fn read_only_and_tokenless_servers_refuse_every_write() {
    let (tmp, lib) = private_library();
    let token = token_file(tmp.path());
    let new = json!([paper("2601.00001", "A paper")]);
    let tokenless = Served::start(&lib, &[], &[]);
    assert!(error(
        tokenless.post("/v1/papers", Some(TOKEN), &new),
        403,
        "writes_disabled"
    )
    .contains("--token-file"));
    assert_eq!(tokenless.get("/v1/library").1["writes"], "disabled");
    drop(tokenless);
    let read_only = Served::start(
        &lib,
        &["--read-only", "--token-file", token.to_str().unwrap()],
        &[],
    );
    error(
        read_only.post("/v1/papers", Some(TOKEN), &new),
        403,
        "read_only",
    );
    error(
        read_only.call("DELETE", "/v1/papers/2511.17909", Some(TOKEN), None),
        403,
        "read_only",
    );
    assert_eq!(read_only.get("/v1/library").1["writes"], "read-only");
    assert_eq!(library_papers(&lib), 99);
}

#[test]
fn readers_are_answered_while_the_server_and_another_process_write() {
    let (tmp, lib) = private_library();
    let token = token_file(tmp.path());
    let s = Arc::new(Served::start(
        &lib,
        &["--token-file", token.to_str().unwrap()],
        &[],
    ));
    let known = ids(&s.get("/v1/search?q=learning&k=20").1["hits"]);
    let done = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let (s, done, answered, known) =
                (s.clone(), done.clone(), answered.clone(), known.clone());
            std::thread::spawn(move || {
                let mut i = r;
                // At least a few rounds, however fast the writer is.
                while !done.load(Ordering::Relaxed) || i < r + 30 {
                    let id = &known[i % known.len()];
                    let path = match i % 3 {
                        0 => format!("/v1/papers/{id}/related?k=5"),
                        1 => format!("/v1/papers/{id}"),
                        _ => "/v1/search?q=neural+networks&k=5".to_string(),
                    };
                    let (status, body) = s.get(&path);
                    assert_eq!(status, 200, "{path}: {body}");
                    answered.fetch_add(1, Ordering::Relaxed);
                    i += 3;
                }
            })
        })
        .collect();
    let mut posted = Vec::new();
    for batch in 0..3 {
        let papers: Vec<Value> = (0..3)
            .map(|j| {
                let id = format!("2601.{:05}", batch * 10 + j);
                posted.push(id.clone());
                paper(
                    &id,
                    &format!("Concurrent write {batch} paper {j} on graph transformers"),
                )
            })
            .collect();
        let (status, body) = s.post("/v1/papers", Some(TOKEN), &Value::Array(papers));
        assert_eq!(status, 200, "{body}");
        if batch == 0 {
            // Another process writes the same library between the server's writes: the server's
            // next write is made on top of it (its papers kept), never over it.
            let other = tmp.path().join("other.jsonl");
            std::fs::write(
                &other,
                format!("{}\n", paper("2601.09999", "Written by another process")),
            )
            .unwrap();
            ok(&[
                "index",
                other.to_str().unwrap(),
                "--out",
                lib.to_str().unwrap(),
            ]);
        }
    }
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.join().expect("every read was answered with 200");
    }
    assert!(answered.load(Ordering::Relaxed) >= 90);
    for id in posted
        .iter()
        .chain(std::iter::once(&"2601.09999".to_string()))
    {
        assert_eq!(s.get(&format!("/v1/papers/{id}")).0, 200, "{id} was lost");
    }
    assert_eq!(s.get("/v1/library").1["papers"], 99 + 9 + 1);
    assert_eq!(library_papers(&lib), 99 + 9 + 1);
}

#[test]
fn sigterm_lets_the_write_in_flight_finish_and_exits_zero() {
    let (tmp, lib) = private_library();
    let token = token_file(tmp.path());
    let hold = tmp.path().join("hold");
    let mut s = Served::start(
        &lib,
        &["--token-file", token.to_str().unwrap()],
        &[("PAPERMAP_FAULT_HOLD_WRITES", hold.to_str().unwrap())],
    );
    let base = s.base.clone();
    let writer = std::thread::spawn(move || {
        let body = json!([paper("2601.00001", "Held in flight")]).to_string();
        let answer = ureq::post(&format!("{base}/v1/papers"))
            .set("Authorization", &format!("Bearer {TOKEN}"))
            .send_string(&body);
        let response = answer.expect("the write in flight is answered");
        (response.status(), response.into_string().unwrap())
    });
    // The hook says when the write is inside the server; then the signal comes.
    let held = tmp.path().join("hold.held");
    while !held.exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(
        s.child.try_wait().unwrap().is_none(),
        "the server waits for the write"
    );
    std::fs::write(tmp.path().join("hold.release"), b"").unwrap();
    let (status, body) = writer.join().unwrap();
    assert_eq!(status, 200, "{body}");
    let exit = s.child.wait().unwrap();
    assert!(exit.success(), "exit status {exit}");
    assert_eq!(library_papers(&lib), 100);
}

#[test]
fn a_server_killed_mid_save_leaves_the_old_or_the_new_papers() {
    let (tmp, lib) = private_library();
    let token = token_file(tmp.path());
    let new_ids = ["2601.00001", "2601.00002"];
    let body = json!([
        paper(new_ids[0], "Killed save one"),
        paper(new_ids[1], "Killed save two")
    ]);
    let mut outcomes = Vec::new();
    // Abort after the 1st, 2nd, ... durable step of the save, until a save completes.
    for step in 1..=20 {
        let mut s = Served::start(
            &lib,
            &["--token-file", token.to_str().unwrap()],
            &[("PAPERMAP_FAULT_AFTER_FILES", &step.to_string())],
        );
        let answer = ureq::post(&format!("{}/v1/papers", s.base))
            .set("Authorization", &format!("Bearer {TOKEN}"))
            .send_string(&body.to_string());
        let completed = answer.is_ok();
        if !completed {
            let exit = s.child.wait().unwrap();
            assert!(!exit.success(), "the server died at step {step}");
        }
        let map = papermap::PaperMap::open(&lib).expect("the library opens after the kill");
        let present: Vec<bool> = new_ids
            .iter()
            .map(|id| map.paper(id).unwrap().is_some())
            .collect();
        assert!(
            present.iter().all(|&p| p == present[0]),
            "half a write at step {step}"
        );
        assert_eq!(library_papers(&lib), if present[0] { 101 } else { 99 });
        outcomes.push((completed, present[0]));
        drop(s);
        if completed {
            break;
        }
        if present[0] {
            // The commit happened before the kill: undo it for the next step's try.
            let mut map = papermap::PaperMap::open(&lib).unwrap();
            map.remove(new_ids).unwrap();
            map.save(&lib).unwrap();
        }
    }
    assert!(
        outcomes.iter().any(|&(completed, _)| !completed),
        "no save was killed: {outcomes:?}"
    );
    assert_eq!(
        outcomes.last(),
        Some(&(true, true)),
        "the save never completed: {outcomes:?}"
    );
}

#[test]
fn the_live_page_searches_by_meaning_and_lists_related_papers_in_chromium() {
    let (tmp, lib) = private_library();
    let token = token_file(tmp.path());
    let s = Served::start(&lib, &["--token-file", token.to_str().unwrap()], &[]);
    let (status, _) = s.post(
        "/v1/papers",
        Some(TOKEN),
        &json!([paper(
            "2601.00001",
            "Speech recognition for lecture recordings"
        )]),
    );
    assert_eq!(status, 200);
    let query = "speech recognition";
    let (_, expected) = s.get("/v1/search?q=speech+recognition&k=50&why=true");
    let expected = ids(&expected["hits"]);
    assert_eq!(expected.len(), 50);

    let dom = browser::dump_dom_url(
        &format!("{}/#selfcheck=speech%20recognition", s.base),
        &tmp.path().join("profile"),
    );
    let got = browser::self_check(&dom);
    assert_eq!(got["live"], true, "{got}");
    assert_eq!(got["points"], 100);
    assert_eq!(got["query"], query);
    assert_eq!(
        got["search_list_ids"],
        json!(expected),
        "the hits are listed in the server's order"
    );
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(
        got["hit_ids"],
        json!(sorted),
        "every hit is ringed on the map"
    );
    assert_eq!(got["count_text"], "50 papers by meaning");
    // The paper written through the server is marked as new this session.
    assert_eq!(got["today_highlighted"], 1);

    // The click on point 0 listed its related papers, as the API gives them, with reasons.
    let clicked = got["related"]["for"]
        .as_str()
        .expect("a point was clicked")
        .to_string();
    assert_eq!(got["related"]["focused"], clicked.as_str());
    let (_, related) = s.get(&format!("/v1/papers/{clicked}/related?k=10&why=true"));
    assert_eq!(got["related"]["list_ids"], json!(ids(&related["hits"])));
    let details = got["related"]["details"].as_array().unwrap();
    assert!(
        details.iter().any(|d| d
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("shares: "))),
        "{details:?}"
    );
    assert!(
        got["opened"].is_null(),
        "a live click lists, it does not navigate"
    );
}
