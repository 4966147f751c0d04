//! What `papermap index` and `papermap export` read: papers, and the vectors that came with
//! them (JSON Lines `embedding` arrays, a `.npy` file, or the output of the Spark job).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use papermap::corpus::{read_paths, Diagnostic, DiagnosticKind, LoadReport, ReadOptions};
use papermap::{ModelFingerprint, Paper};
use serde::Deserialize;

/// Diagnostics printed before the rest are summarised.
const SHOWN_DIAGNOSTICS: usize = 20;
/// The file that marks a directory as the complete output of `spark/papermap_embed.py`.
pub const JOB_MANIFEST: &str = "papermap-embeddings.json";
const JOB_FORMAT: &str = "papermap-embeddings";
const JOB_FORMAT_VERSION: u32 = 1;

/// Papers read from the command line's inputs, each with the vector it brought, if any.
pub struct Input {
    pub papers: Vec<Paper>,
    pub embeddings: Vec<Option<Vec<f32>>>,
    /// Entries skipped or suspicious, already printed.
    pub diagnostics: Vec<Diagnostic>,
    /// The model the vectors come from, where the input says so (a job manifest).
    pub model: Option<(PathBuf, ModelFingerprint)>,
    /// File and line of each paper, for errors about its vector.
    origins: Vec<(PathBuf, usize)>,
    /// The `.npy` file the vectors came from, if they did.
    npy: Option<PathBuf>,
}

#[derive(Deserialize)]
struct JobManifest {
    format: String,
    format_version: u32,
    model: ModelFingerprint,
    papers: usize,
    parts: Vec<PathBuf>,
}

/// Reads `inputs`: corpus files and directories, and directories holding a job manifest
/// (whose part files are read, and whose model is remembered), the corpus files by `options`.
/// Prints the diagnostics.
pub fn read(inputs: &[PathBuf], options: &ReadOptions) -> anyhow::Result<Input> {
    let mut report = LoadReport::new();
    let mut model: Option<(PathBuf, ModelFingerprint)> = None;
    let mut plain = Vec::new();
    for input in inputs {
        let manifest_path = input.join(JOB_MANIFEST);
        if !manifest_path.is_file() {
            plain.push(input.clone());
            continue;
        }
        let (job, part) = read_job(input, &manifest_path)?;
        if let Some((first, m)) = &model {
            if m != &job.model {
                bail!(
                    "{} holds vectors of {} but {} holds vectors of {}: index them into separate libraries",
                    manifest_path.display(),
                    job.model,
                    first.display(),
                    m
                );
            }
        }
        model = Some((manifest_path, job.model));
        report.extend(part);
    }
    if !plain.is_empty() {
        report.extend(read_paths(&plain, options)?);
    }
    print_diagnostics(report.diagnostics());
    if let Some(bad) = report
        .diagnostics()
        .iter()
        .find(|d| d.kind == DiagnosticKind::BadEmbedding)
    {
        bail!(
            "{bad}: every given vector must be an array of 32-bit numbers; fix or remove the entry"
        );
    }
    let entries = report.into_entries();
    Ok(Input {
        papers: entries.papers,
        embeddings: entries.embeddings,
        diagnostics: entries.diagnostics,
        model,
        origins: entries.origins,
        npy: None,
    })
}

/// Reads a job's part files, checking them against its manifest.
fn read_job(dir: &Path, manifest_path: &Path) -> anyhow::Result<(JobManifest, LoadReport)> {
    let text = std::fs::read_to_string(manifest_path)
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let job: JobManifest = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a papermap job manifest", manifest_path.display()))?;
    if job.format != JOB_FORMAT || job.format_version != JOB_FORMAT_VERSION {
        bail!(
            "{} is format {} version {}; this papermap reads {JOB_FORMAT} version {JOB_FORMAT_VERSION}",
            manifest_path.display(),
            job.format,
            job.format_version
        );
    }
    let parts: Vec<PathBuf> = job.parts.iter().map(|p| dir.join(p)).collect();
    if let Some(missing) = parts.iter().find(|p| !p.is_file()) {
        bail!(
            "{} names {}, which is missing: the job's output is incomplete, run the job again",
            manifest_path.display(),
            missing.display()
        );
    }
    let report = read_paths(&parts, &ReadOptions::default())?;
    let with_vectors = (0..report.papers().len())
        .filter(|&i| report.embedding(i).is_some())
        .count();
    if report.papers().len() != job.papers || with_vectors != job.papers {
        bail!(
            "{} records {} papers but its parts hold {} ({} with vectors): the output is damaged, run the job again",
            manifest_path.display(),
            job.papers,
            report.papers().len(),
            with_vectors
        );
    }
    Ok((job, report))
}

fn print_diagnostics(diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics.iter().take(SHOWN_DIAGNOSTICS) {
        eprintln!("warning: {diagnostic}");
    }
    if diagnostics.len() > SHOWN_DIAGNOSTICS {
        eprintln!(
            "warning: … and {} more skipped or ignored entries",
            diagnostics.len() - SHOWN_DIAGNOSTICS
        );
    }
}

impl Input {
    /// Takes the rows of a `.npy` file (f32, one row per paper in input order) as the papers'
    /// vectors. Refused when entries were skipped (rows would no longer line up) or when the
    /// input already carries vectors.
    pub fn attach_npy(&mut self, path: &Path) -> anyhow::Result<()> {
        if let Some(d) = self.diagnostics.iter().find(|d| {
            matches!(
                d.kind,
                DiagnosticKind::SkippedEntry | DiagnosticKind::DuplicateId
            )
        }) {
            bail!("{d}\n--embeddings {} needs one row per input entry in input order; with entries skipped the rows no longer line up: fix the input first", path.display());
        }
        if self.embeddings.iter().any(Option::is_some) {
            bail!(
                "the input already carries \"embedding\" arrays; give --embeddings {} or the arrays, not both",
                path.display()
            );
        }
        let rows: ndarray::Array2<f32> = ndarray_npy::read_npy(path).with_context(|| {
            format!(
                "cannot read {} as a 2-D little-endian float32 .npy file (numpy: np.save(path, vectors.astype('<f4')))",
                path.display()
            )
        })?;
        if rows.nrows() != self.papers.len() {
            bail!(
                "{} has {} rows but the input holds {} papers: give one row per paper, in input order",
                path.display(),
                rows.nrows(),
                self.papers.len()
            );
        }
        self.embeddings = rows.outer_iter().map(|r| Some(r.to_vec())).collect();
        self.npy = Some(path.to_path_buf());
        Ok(())
    }

    /// Checks every given vector for the library's dimension, NaN and zero length, naming the
    /// file and line (or `.npy` row) of the first bad one.
    pub fn check_vectors(&self, model: &ModelFingerprint) -> anyhow::Result<()> {
        for (i, vector) in self.embeddings.iter().enumerate() {
            let Some(v) = vector else { continue };
            let problem = if v.len() != model.dimension {
                format!(
                    "has {} values but the library's model {} makes {}",
                    v.len(),
                    model.name,
                    model.dimension
                )
            } else if v.iter().any(|x| !x.is_finite()) {
                "holds NaN or infinity".to_string()
            } else if v.iter().all(|&x| x == 0.0) {
                "is all zeros (it has no direction to compare)".to_string()
            } else {
                continue;
            };
            let place = match &self.npy {
                Some(npy) => format!("{}: row {i} (paper {})", npy.display(), self.papers[i].id),
                None => match self.origins.get(i) {
                    Some((file, line)) => format!("{}:{line}", file.display()),
                    None => format!("paper {}", self.papers[i].id),
                },
            };
            bail!("{place}: the embedding {problem}; nothing was written");
        }
        Ok(())
    }
}
