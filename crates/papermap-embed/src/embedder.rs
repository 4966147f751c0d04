//! [`Embedder`]: loads a model once and turns texts into normalised vectors.

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;

use crate::bert::{BertConfig, BertModel};
use crate::cache::{locate, ModelFiles};
use crate::cpu::{Bf16Kernel, CpuFeatures, Int8Kernel};
use crate::error::{EmbedError, Result};
use crate::linear::MatmulKernel;
use crate::pooling::{l2_normalize, PoolingMode};
use crate::registry::ModelRegistry;
use crate::tokenize::{TextTokenizer, TokenizedText};
use crate::{Embeddings, ModelFingerprint, Precision};

/// Environment variable overriding the number of threads (default: all cores).
pub const THREADS_ENV: &str = "PAPERMAP_THREADS";

/// How far an embedding run has got; passed to progress callbacks after every batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbedProgress {
    /// Texts embedded so far.
    pub done: usize,
    /// Texts in this run.
    pub total: usize,
}

/// Default upper bound on padded tokens per forward pass. Measured with `examples/embed_bench.rs` on a 2-core
/// AVX2 machine: 2,048 gave 26 docs/s against 19 for 8,192 (2 threads), 13.6 against 10.4 (1 thread). Larger
/// batches' activations (over 32 MB) outgrow the cache and glibc's heap, so every tensor is a fresh `mmap`
/// paid in page faults.
pub const DEFAULT_TOKEN_BUDGET: usize = 2048;

/// Default token budget of the bf16 and int8 encoders, whose products are fast enough that the
/// element-wise passes (conversion, bias, LayerNorm) over activations that left the cache weigh more:
/// on a 2-core Xeon (AMX, VNNI), 1,024 gave bf16 103.2 / 102.6 docs/s against 100.2 / 100.8 for
/// 2,048 and 99.6 / 96.9 for 512, int8 77.2 / 81.5 against 73.6 / 76.7 (f32: 44.4 / 45.5 against
/// 44.7 / 46.1, so f32 keeps 2,048).
pub const DEFAULT_TOKEN_BUDGET_PACKED: usize = 1024;

/// Configures and loads an [`Embedder`].
#[derive(Debug, Clone)]
pub struct EmbedderBuilder {
    registry: Option<ModelRegistry>,
    model: Option<String>,
    model_dir: Option<PathBuf>,
    threads: Option<usize>,
    token_budget: Option<usize>,
    max_batch: usize,
    precision: Precision,
    kernel: Option<MatmulKernel>,
}

impl Default for EmbedderBuilder {
    fn default() -> Self {
        Self {
            registry: None,
            model: None,
            model_dir: None,
            threads: None,
            token_budget: None,
            max_batch: 64,
            precision: Precision::F32,
            kernel: None,
        }
    }
}

impl EmbedderBuilder {
    /// Model name from the registry (default: the registry's default model).
    pub fn model(mut self, name: impl Into<String>) -> Self {
        self.model = Some(name.into());
        self
    }

    /// Load from this directory instead of searching the caches. Its files are still checked against the
    /// registry entry's checksums.
    pub fn model_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.model_dir = Some(dir.into());
        self
    }

    /// Use this registry instead of [`ModelRegistry::from_env`].
    pub fn registry(mut self, registry: ModelRegistry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Worker threads (default: `$PAPERMAP_THREADS`, else all cores).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Upper bound on padded tokens (batch size × longest text) per forward pass (default
    /// [`DEFAULT_TOKEN_BUDGET`] in f32, [`DEFAULT_TOKEN_BUDGET_PACKED`] in bf16 and int8); at least
    /// the model's max sequence length.
    pub fn token_budget(mut self, tokens: usize) -> Self {
        self.token_budget = Some(tokens);
        self
    }

    /// Upper bound on texts per forward pass.
    pub fn max_batch_size(mut self, texts: usize) -> Self {
        self.max_batch = texts;
        self
    }

    /// The arithmetic of the encoder's products (default [`Precision::F32`], the exact path). `Bf16` needs
    /// AMX-BF16 or AVX512_BF16 and [`EmbedderBuilder::build`] refuses it elsewhere; `Int8` runs on every
    /// CPU. The fingerprint of the vectors names the precision.
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self.kernel = None;
        self
    }

    /// A specific kernel instead of the fastest one for the precision (benchmarks and tests compare them).
    /// It must be one of `Bf16Kernel::available()` / `Int8Kernel::available()` on this CPU.
    pub fn kernel(mut self, kernel: MatmulKernel) -> Self {
        self.precision = kernel.precision();
        self.kernel = Some(kernel);
        self
    }

    /// Finds, verifies and loads the model.
    pub fn build(self) -> Result<Embedder> {
        let registry = match self.registry {
            Some(r) => r,
            None => ModelRegistry::from_env()?,
        };
        let spec = match &self.model {
            Some(name) => registry.get(name)?.clone(),
            None => registry.default_model().clone(),
        };
        let threads = match self.threads {
            Some(n) => n,
            None => threads_from_env()?,
        };
        let kernel = match self.kernel {
            Some(k) => check_available(k)?,
            None => MatmulKernel::for_precision(self.precision)?,
        };
        let token_budget = self.token_budget.unwrap_or(match kernel {
            MatmulKernel::F32 => DEFAULT_TOKEN_BUDGET,
            MatmulKernel::Bf16(_) | MatmulKernel::Int8(_) => DEFAULT_TOKEN_BUDGET_PACKED,
        });
        if threads == 0 || self.max_batch == 0 || token_budget < spec.max_seq_length {
            return Err(EmbedError::InvalidSetting(format!(
                "threads ({threads}) and max batch size ({}) must be >= 1 and the token budget ({}) at least \
                 the model's max_seq_length ({})",
                self.max_batch, token_budget, spec.max_seq_length
            )));
        }
        let files = locate(&spec, self.model_dir.as_deref())?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("papermap-embed-{i}"))
            .build()
            .map_err(|e| {
                EmbedError::InvalidSetting(format!("cannot start {threads} threads: {e}"))
            })?;
        let (model, config) = pool.install(|| load_model(&files, kernel))?;
        if config.hidden_size != spec.dimension {
            return Err(EmbedError::Config {
                path: files.path("config.json"),
                message: format!(
                    "hidden_size {} differs from the dimension {} that models.toml gives for `{}`",
                    config.hidden_size, spec.dimension, spec.name
                ),
            });
        }
        let max_len = spec.max_seq_length.min(config.max_position_embeddings);
        let tokenizer = TextTokenizer::load(&files.path("tokenizer.json"), max_len)?;
        let pooling_file = files.path("1_Pooling/config.json");
        let pooling = if pooling_file.is_file() {
            PoolingMode::from_file(&pooling_file)?
        } else {
            spec.pooling
        };
        Ok(Embedder {
            fingerprint: spec.fingerprint().with_precision(kernel.precision()),
            kernel,
            files,
            model,
            tokenizer,
            pooling,
            pad_id: config.pad_token_id as u32,
            pool,
            threads,
            token_budget,
            max_batch: self.max_batch,
        })
    }
}

fn threads_from_env() -> Result<usize> {
    match std::env::var(THREADS_ENV) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|_| {
            EmbedError::InvalidSetting(format!(
                "{THREADS_ENV}={v:?} is not a whole number of threads"
            ))
        }),
        _ => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

fn check_available(kernel: MatmulKernel) -> Result<MatmulKernel> {
    let ok = match kernel {
        MatmulKernel::F32 => true,
        MatmulKernel::Bf16(k) => Bf16Kernel::available().contains(&k),
        MatmulKernel::Int8(k) => Int8Kernel::available().contains(&k),
    };
    if ok {
        Ok(kernel)
    } else {
        Err(EmbedError::InvalidSetting(format!(
            "kernel {kernel:?} needs CPU features this CPU lacks (it has: {})",
            CpuFeatures::detect().names().join(", ")
        )))
    }
}

fn load_model(files: &ModelFiles, kernel: MatmulKernel) -> Result<(BertModel, BertConfig)> {
    let config_path = files.path("config.json");
    let text =
        std::fs::read_to_string(&config_path).map_err(|e| EmbedError::io(&config_path, e))?;
    let config: BertConfig = serde_json::from_str(&text).map_err(|e| EmbedError::Config {
        path: config_path.clone(),
        message: format!("not a BERT config: {e}"),
    })?;
    let weights = files.path("model.safetensors");
    // SAFETY: the file was checksummed just before and papermap never writes into a model directory while it
    // is loaded; the mapping is read-only.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, &Device::Cpu)? };
    let model = BertModel::load(vb, &config, kernel).map_err(|e| EmbedError::Config {
        path: weights,
        message: format!("weights do not fit config.json: {e}"),
    })?;
    Ok((model, config))
}

/// A loaded sentence-transformer. Cheap to share across threads by reference; embedding runs on its own pool.
#[derive(Debug)]
pub struct Embedder {
    files: ModelFiles,
    fingerprint: ModelFingerprint,
    model: BertModel,
    tokenizer: TextTokenizer,
    pooling: PoolingMode,
    pad_id: u32,
    pool: rayon::ThreadPool,
    threads: usize,
    kernel: MatmulKernel,
    token_budget: usize,
    max_batch: usize,
}

impl Embedder {
    /// A builder with default settings.
    pub fn builder() -> EmbedderBuilder {
        EmbedderBuilder::default()
    }

    /// Loads a model by registry name with default settings.
    pub fn load(model: &str) -> Result<Self> {
        Self::builder().model(model).build()
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.fingerprint.dimension
    }

    /// What identifies this model's vectors (name, revision, weights hash, dimension).
    pub fn fingerprint(&self) -> &ModelFingerprint {
        &self.fingerprint
    }

    /// The verified model files in use.
    pub fn files(&self) -> &ModelFiles {
        &self.files
    }

    /// The pooling mode in use.
    pub fn pooling(&self) -> PoolingMode {
        self.pooling
    }

    /// The precision and kernel of the encoder's products.
    pub fn kernel(&self) -> MatmulKernel {
        self.kernel
    }

    /// Worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Upper bound on padded tokens per forward pass.
    pub fn token_budget(&self) -> usize {
        self.token_budget
    }

    /// The tokenizer (with the model's truncation).
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Embeds `texts` into a `texts.len() × dim` matrix, rows in input order.
    pub fn embed<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Embeddings> {
        self.embed_with_progress(texts, |_| {})
    }

    /// Like [`Embedder::embed`], calling `progress` after every batch.
    pub fn embed_with_progress<S, F>(&self, texts: &[S], mut progress: F) -> Result<Embeddings>
    where
        S: AsRef<str> + Sync,
        F: FnMut(EmbedProgress) + Send,
    {
        let dim = self.dim();
        let total = texts.len();
        self.pool.install(|| {
            let tokens = self.tokenizer.encode_all(texts)?;
            let mut data = vec![0f32; total * dim];
            let mut done = 0;
            // One batch per worker at a time: each forward pass then runs mostly on its own core (its
            // parallel loops only spread when another worker is idle), which keeps caches private and
            // spares the synchronisation of splitting every small product across all cores.
            let batches = plan_batches(&tokens, self.token_budget, self.max_batch);
            for group in batches.chunks(self.threads) {
                let rows = group
                    .par_iter()
                    .map(|batch| {
                        self.forward_batch(&batch.iter().map(|&i| &tokens[i]).collect::<Vec<_>>())
                    })
                    .collect::<Result<Vec<_>>>()?;
                for (rows, batch) in rows.iter().zip(group) {
                    for (row, &i) in rows.chunks_exact(dim).zip(batch) {
                        data[i * dim..(i + 1) * dim].copy_from_slice(row);
                    }
                    done += batch.len();
                }
                progress(EmbedProgress { done, total });
            }
            Ok(Embeddings::from_vec(data, dim))
        })
    }

    /// Embeds a stream of texts `chunk` at a time, yielding one matrix per chunk; memory stays bounded by the
    /// chunk size however long the stream is.
    pub fn embed_chunks<'a, I>(
        &'a self,
        texts: I,
        chunk: usize,
    ) -> impl Iterator<Item = Result<Embeddings>> + 'a
    where
        I: IntoIterator + 'a,
        I::Item: AsRef<str>,
    {
        let mut texts = texts.into_iter();
        let chunk = chunk.max(1);
        std::iter::from_fn(move || {
            let block: Vec<String> = texts
                .by_ref()
                .take(chunk)
                .map(|t| t.as_ref().to_owned())
                .collect();
            (!block.is_empty()).then(|| self.embed(&block))
        })
    }

    /// Runs one padded batch and returns its pooled (and, if the model says so, normalised) rows.
    fn forward_batch(&self, batch: &[&TokenizedText]) -> Result<Vec<f32>> {
        let n = batch.len();
        let seq = batch.iter().map(|t| t.len()).max().unwrap_or(0);
        let mut ids = vec![self.pad_id; n * seq];
        let mut types = vec![0u32; n * seq];
        let mut mask = vec![0u32; n * seq];
        for (row, text) in batch.iter().enumerate() {
            let at = row * seq;
            ids[at..at + text.len()].copy_from_slice(&text.ids);
            types[at..at + text.len()].copy_from_slice(&text.type_ids);
            mask[at..at + text.len()].fill(1);
        }
        let device = self.model.device();
        let ids = Tensor::from_vec(ids, (n, seq), device)?;
        let types = Tensor::from_vec(types, (n, seq), device)?;
        let mask = Tensor::from_vec(mask, (n, seq), device)?;
        let lengths: Vec<usize> = batch.iter().map(|t| t.len()).collect();
        let hidden = self.model.forward(&ids, &types, &lengths)?;
        let mut pooled = self.pooling.pool(&hidden, &mask)?;
        if self.files.spec.normalize {
            pooled = l2_normalize(&pooled)?;
        }
        Ok(pooled.flatten_all()?.to_vec1::<f32>()?)
    }
}

/// Groups text indices into batches: longest first, each batch's padded size (count × longest) within
/// `token_budget` and at most `max_batch` texts. Sorting by length keeps padding, and so wasted work, small.
pub fn plan_batches(
    tokens: &[TokenizedText],
    token_budget: usize,
    max_batch: usize,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..tokens.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(tokens[i].len()));
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        let longest = current
            .first()
            .map_or(tokens[i].len(), |&j| tokens[j].len());
        if !current.is_empty()
            && (current.len() == max_batch || (current.len() + 1) * longest > token_budget)
        {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(len: usize) -> TokenizedText {
        TokenizedText {
            ids: vec![1; len],
            type_ids: vec![0; len],
        }
    }

    #[test]
    fn batches_cover_every_text_once_within_budget() {
        let tokens: Vec<_> = [5, 200, 17, 256, 3, 90, 90, 1, 256]
            .iter()
            .map(|&l| text(l))
            .collect();
        let batches = plan_batches(&tokens, 512, 3);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..tokens.len()).collect::<Vec<_>>());
        for b in &batches {
            let longest = b.iter().map(|&i| tokens[i].len()).max().unwrap();
            assert!(b.len() <= 3);
            assert!(b.len() == 1 || b.len() * longest <= 512, "{b:?}");
        }
    }
}
