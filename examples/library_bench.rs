//! The library at scale, through the CLI as a user runs it: build from given vectors, queries
//! from new processes, adding and removing 1,000 papers, verifying every checksum.
//!
//! ```text
//! cargo build --release -p papermap-cli
//! cargo run --release --example library_bench -- --n 100000 --work /tmp/libbench
//!     [--papermap target/release/papermap] [--texts ../shared/data/arxiv/abstracts.jsonl]
//! ```
//!
//! Papers get real titles and abstracts (the labelled arXiv file, cycled, each id unique) and
//! seeded clustered unit vectors (100 Gaussian clusters in 384-d). Each step is one `papermap`
//! process; the table gives its wall time and peak RSS (from `wait4`), and for updates the bytes
//! they wrote. Queries run 5 times each (page cache warm); medians. Filtered search (`--where`)
//! runs on a rare field (`rare=true`, 1 paper in 10,000) and a common one (the arXiv `label`),
//! first through the segments' metadata columns, then (last, on the same library with the
//! columns dropped from its manifest, the shape of an older library) paper by paper.

use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use clap::Parser;
use ndarray::Array2;
use rand::prelude::*;
use rand_distr::StandardNormal;

#[derive(Parser)]
struct Args {
    /// Papers in the library.
    #[arg(long, default_value_t = 100_000)]
    n: usize,
    /// Working directory (data and library); reused when it holds data for this n.
    #[arg(long)]
    work: PathBuf,
    /// The papermap binary.
    #[arg(long, default_value = "target/release/papermap")]
    papermap: PathBuf,
    /// Titles and abstracts to cycle through (JSON Lines with title, abstract).
    #[arg(long, default_value = "../shared/data/arxiv/abstracts.jsonl")]
    texts: PathBuf,
    /// Papers added, then removed.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

const DIM: usize = 384;
/// One paper in this many carries `rare: true`.
const RARE: usize = 10_000;

/// Wall seconds and peak RSS (bytes) of one process.
struct Run {
    secs: f64,
    rss: u64,
    stdout: String,
}

/// Runs one papermap process; its wall time and, from `wait4`, its peak RSS.
fn measured(bin: &Path, args: &[&str]) -> Result<Run> {
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {}", bin.display()))?;
    let mut stdout = String::new();
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines() {
            stdout.push_str(&line?);
            stdout.push('\n');
        }
    }
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        std::io::Read::read_to_string(&mut err, &mut stderr)?;
    }
    let mut status = 0;
    // SAFETY: rusage is plain data the kernel fills; the pid is our own unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let secs = start.elapsed().as_secs_f64();
    ensure!(pid > 0, "wait4 failed");
    ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "papermap {args:?} failed: {stderr}"
    );
    Ok(Run {
        secs,
        rss: usage.ru_maxrss as u64 * 1024,
        stdout,
    })
}

fn sizes(dir: &Path) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        out.insert(
            e.file_name().to_string_lossy().into_owned(),
            e.metadata()?.len(),
        );
    }
    Ok(out)
}

/// Bytes of files that are new or changed between two listings (names of data files are never
/// reused, so a new name is a new file; the manifest is rewritten each time).
fn written(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> u64 {
    after
        .iter()
        .filter(|(name, size)| before.get(*name) != Some(size) || name.as_str() == "manifest.json")
        .map(|(_, size)| size)
        .sum()
}

/// Title, abstract and label of each paper in the texts file.
type Text = (String, String, String);

fn texts(path: &Path) -> Result<Vec<Text>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        if let (Some(t), Some(a)) = (v["title"].as_str(), v["abstract"].as_str()) {
            let label = v["label"].as_str().unwrap_or("none");
            out.push((t.to_string(), a.to_string(), label.to_string()));
        }
    }
    ensure!(
        !out.is_empty(),
        "no titles and abstracts in {}",
        path.display()
    );
    Ok(out)
}

/// Writes `papers.jsonl`-style lines for ids `from..to` and their vectors as `.npy`.
fn write_set(
    dir: &Path,
    name: &str,
    from: usize,
    to: usize,
    texts: &[Text],
    seed: u64,
) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..100)
        .map(|_| {
            (0..DIM)
                .map(|_| rng.sample::<f32, _>(StandardNormal))
                .collect()
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(seed ^ from as u64);
    let mut out = BufWriter::new(std::fs::File::create(dir.join(format!("{name}.jsonl")))?);
    let mut vectors = Array2::<f32>::zeros((to - from, DIM));
    for (row, i) in (from..to).enumerate() {
        let (title, abs, label) = &texts[i % texts.len()];
        let mut paper = serde_json::json!({"id": format!("bench-{i}"), "title": format!("{title} ({i})"), "abstract": abs, "label": label});
        if i % RARE == 7 {
            paper["rare"] = true.into();
        }
        serde_json::to_writer(&mut out, &paper)?;
        out.write_all(b"\n")?;
        let centre = &centres[rng.random_range(0..centres.len())];
        let mut v: Vec<f32> = centre
            .iter()
            .map(|c| c + 0.6 * rng.sample::<f32, _>(StandardNormal))
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        vectors.row_mut(row).assign(&ndarray::ArrayView1::from(&v));
    }
    out.flush()?;
    ndarray_npy::write_npy(dir.join(format!("{name}.npy")), &vectors)?;
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let bin = std::fs::canonicalize(&args.papermap)
        .context("the papermap binary (cargo build --release -p papermap-cli)")?;
    let data = args.work.join(format!("data-{}", args.n));
    if !data.join("add.npy").exists() {
        std::fs::create_dir_all(&data)?;
        let texts = texts(&args.texts)?;
        eprintln!("writing {} papers to {}", args.n, data.display());
        write_set(&data, "papers", 0, args.n, &texts, args.seed)?;
        write_set(&data, "add", args.n, args.n + args.batch, &texts, args.seed)?;
        let ids: Vec<String> = (0..args.batch)
            .map(|i| format!("bench-{}", i * (args.n / args.batch)))
            .collect();
        std::fs::write(data.join("remove.txt"), ids.join("\n"))?;
        // Linux carries a process's RSS high-water mark across fork and exec, so every papermap
        // child would report this process's peak (the generated data: 1.5 GB at 1,000,000).
        // A fresh copy of this program, finding the data written, measures from a small parent.
        let status = Command::new(std::env::current_exe()?)
            .args(std::env::args_os().skip(1))
            .status()?;
        ensure!(status.success(), "the measuring run failed");
        return Ok(());
    }
    let lib = args.work.join(format!("lib-{}", args.n));
    let _ = std::fs::remove_dir_all(&lib);
    let (d, l) = (data.to_str().unwrap(), lib.to_str().unwrap());
    let p = |name: &str| format!("{d}/{name}");

    println!("| step ({} papers) | wall | peak RSS | written |", args.n);
    println!("|---|---:|---:|---:|");
    let build = measured(
        &bin,
        &[
            "index",
            &p("papers.jsonl"),
            "--embeddings",
            &p("papers.npy"),
            "--out",
            l,
            "--json",
        ],
    )?;
    let size: u64 = sizes(&lib)?.values().sum();
    println!(
        "| build from given vectors (`index --embeddings`) | {:.1} s | {} | {} |",
        build.secs,
        mb(build.rss),
        mb(size)
    );

    let id = format!("bench-{}", args.n / 2 + 1);
    let mut times = Vec::new();
    let mut rss = 0;
    for _ in 0..5 {
        let r = measured(&bin, &["related", l, &id, "-k", "10", "--json"])?;
        times.push(r.secs);
        rss = rss.max(r.rss);
    }
    println!(
        "| `related ID -k 10`, new process (median of 5) | {:.0} ms | {} | – |",
        median(times) * 1e3,
        mb(rss)
    );

    let (mut times, mut rss) = (Vec::new(), 0);
    for _ in 0..5 {
        let r = measured(
            &bin,
            &[
                "search",
                l,
                "graph neural networks for molecules",
                "-k",
                "10",
                "--json",
            ],
        )?;
        times.push(r.secs);
        rss = rss.max(r.rss);
    }
    println!(
        "| `search TEXT -k 10`, model load included (median of 5) | {:.0} ms | {} | – |",
        median(times) * 1e3,
        mb(rss)
    );

    let before = sizes(&lib)?;
    let add = measured(
        &bin,
        &[
            "index",
            &p("add.jsonl"),
            "--embeddings",
            &p("add.npy"),
            "--out",
            l,
            "--json",
        ],
    )?;
    let after = sizes(&lib)?;
    let w = written(&before, &after);
    println!(
        "| add {} papers (`index --embeddings`) | {:.2} s | {} | {} ({:.2}% of the library) |",
        args.batch,
        add.secs,
        mb(add.rss),
        mb(w),
        100.0 * w as f64 / size as f64
    );

    let before = sizes(&lib)?;
    let rm = measured(
        &bin,
        &["remove", l, "--ids-from", &p("remove.txt"), "--json"],
    )?;
    let after = sizes(&lib)?;
    let w = written(&before, &after);
    println!(
        "| remove {} papers (`remove --ids-from`) | {:.2} s | {} | {} ({:.3}% of the library) |",
        args.batch,
        rm.secs,
        mb(rm.rss),
        mb(w),
        100.0 * w as f64 / size as f64
    );
    ensure!(
        rm.stdout.contains(&format!("\"removed\":{}", args.batch)),
        "remove: {}",
        rm.stdout
    );

    let gone = measured(&bin, &["related", l, "bench-0", "-k", "1", "--json"]);
    ensure!(gone.is_err(), "a removed paper is still found");
    let r = measured(&bin, &["related", l, &id, "-k", "10", "--json"])?;
    ensure!(
        !r.stdout.contains("\"bench-0\""),
        "a removed paper came back"
    );
    println!(
        "| `related` after the updates | {:.0} ms | {} | – |",
        r.secs * 1e3,
        mb(r.rss)
    );

    let check = measured(&bin, &["check", l])?;
    println!(
        "| `check` (every checksum) | {:.1} s | {} | – |",
        check.secs,
        mb(check.rss)
    );

    let label = &texts(&args.texts)?[0].2.clone();
    let filters = [
        ("rare=true".to_string(), "rare"),
        (format!("label={label}"), "common"),
    ];
    for (path, columns) in [
        ("metadata columns", true),
        ("paper by paper (no columns)", false),
    ] {
        if !columns {
            drop_columns(&lib)?;
        }
        for (filter, kind) in &filters {
            let r = filtered_search(&bin, l, filter)?;
            println!(
                "| `search TEXT -k 10 --where {filter}` ({kind} field), {path} | {:.0} ms | {} | – |",
                r.secs * 1e3,
                mb(r.rss)
            );
        }
    }
    Ok(())
}

/// `search TEXT -k 10 --where FILTER`, median of 5 (wall) and the highest peak RSS.
fn filtered_search(bin: &Path, lib: &str, filter: &str) -> Result<Run> {
    let (mut times, mut rss, mut stdout) = (Vec::new(), 0, String::new());
    for _ in 0..5 {
        let text = "graph neural networks for molecules";
        let r = measured(
            bin,
            &["search", lib, text, "-k", "10", "--where", filter, "--json"],
        )?;
        times.push(r.secs);
        rss = rss.max(r.rss);
        stdout = r.stdout;
    }
    ensure!(
        stdout.contains("bench-"),
        "--where {filter} found nothing: {stdout}"
    );
    Ok(Run {
        secs: median(times),
        rss,
        stdout,
    })
}

/// Drops the metadata columns from the library's manifest: what a library written before them
/// looks like (their files stay until the next save; nothing reads them).
fn drop_columns(lib: &Path) -> Result<()> {
    let path = lib.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    for segment in manifest["segments"].as_array_mut().context("segments")? {
        let files = segment["files"].as_array_mut().context("files")?;
        files.retain(|f| f["role"] != "facets");
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest)?)?;
    Ok(())
}
