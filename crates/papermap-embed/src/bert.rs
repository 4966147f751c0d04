//! A BERT encoder for sentence embeddings, on candle tensors.
//!
//! It reads the same safetensors and `config.json` as candle-transformers' `models::bert` and computes the same
//! function, arranged for inference speed: hidden states stay 2-D (`tokens × hidden`) so every projection is
//! one GEMM, query/key/value are one fused projection with the attention scale folded into the query weights,
//! bias and GELU run in place right after each product, and padding is handled inside a fused softmax that never
//! touches padded keys (see [`crate::kernels`]).

use candle_core::{CpuStorage, Device, Module, Storage, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder};
pub use candle_transformers::models::bert::{Config as BertConfig, HiddenAct};

use crate::attention::PackedAttention;
use crate::error::Result;
use crate::kernels::NormParams;
use crate::linear::{MatmulKernel, PackedLinear};

/// A dense layer of the encoder: weights packed once at load for the precision's kernel, bias and
/// (where a block ends) residual + LayerNorm applied per row block while the product is in cache.
#[derive(Debug, Clone)]
struct Dense(PackedLinear);

impl Dense {
    fn load(vb: VarBuilder, in_dim: usize, out_dim: usize, kernel: MatmulKernel) -> Result<Self> {
        let weight = vb.get((out_dim, in_dim), "weight")?;
        let bias = vb.get(out_dim, "bias")?;
        Self::new(weight, bias, kernel)
    }

    fn new(weight: Tensor, bias: Tensor, kernel: MatmulKernel) -> Result<Self> {
        let in_dim = weight.dim(1)?;
        let (w, b): (Vec<f32>, Vec<f32>) = (weight.flatten_all()?.to_vec1()?, bias.to_vec1()?);
        Ok(Dense(match kernel {
            MatmulKernel::F32 => PackedLinear::f32(&w, &b, in_dim),
            MatmulKernel::Bf16(k) => PackedLinear::bf16(&w, &b, in_dim, k),
            MatmulKernel::Int8(k) => PackedLinear::int8(&w, &b, in_dim, k),
        }))
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(x, false)
    }

    /// The product, then bias (and GELU when `gelu`) added per row block while it is in cache.
    fn forward_with(&self, x: &Tensor, gelu: bool) -> Result<Tensor> {
        let y = with_cpu_f32(x, |input| self.0.forward(input, gelu))?;
        Ok(Tensor::from_vec(
            y,
            (x.dim(0)?, self.0.out_dim()),
            x.device(),
        )?)
    }

    /// `LayerNorm(x · Wᵀ + b + residual)`, the end of an attention or feed-forward block, in one pass
    /// per row block.
    fn forward_residual_norm(
        &self,
        x: &Tensor,
        residual: &Tensor,
        norm: &NormParams,
    ) -> Result<Tensor> {
        let y = with_cpu_f32(x, |input| {
            with_cpu_f32(residual, |res| {
                self.0.forward_residual_norm(input, res, norm)
            })
        })??;
        Ok(Tensor::from_vec(
            y,
            (x.dim(0)?, self.0.out_dim()),
            x.device(),
        )?)
    }
}

/// Calls `f` with the elements of a contiguous f32 CPU tensor.
fn with_cpu_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    match (&*storage, layout.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(data)), Some((start, end))) => Ok(f(&data[start..end])),
        _ => Err(
            candle_core::Error::Msg("packed products take contiguous f32 on the CPU".into()).into(),
        ),
    }
}

/// The embeddings' LayerNorm, as candle's module.
fn layer_norm(vb: VarBuilder, size: usize, eps: f64) -> Result<LayerNorm> {
    let weight = vb.get(size, "weight")?;
    let bias = vb.get(size, "bias")?;
    Ok(LayerNorm::new(weight, bias, eps))
}

/// A block's LayerNorm as plain parameters, for the dense layers' fused epilogues.
fn norm(vb: VarBuilder, size: usize, eps: f64) -> Result<NormParams> {
    Ok(NormParams {
        gamma: vb.get(size, "weight")?.to_vec1()?,
        beta: vb.get(size, "bias")?.to_vec1()?,
        eps: eps as f32,
    })
}

/// Token, position and segment embeddings, summed and normalised.
#[derive(Debug, Clone)]
pub struct BertEmbeddings {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    layer_norm: LayerNorm,
}

impl BertEmbeddings {
    /// Loads the `embeddings.*` tensors.
    pub fn load(vb: VarBuilder, config: &BertConfig) -> Result<Self> {
        let h = config.hidden_size;
        let emb = |name: &str, n: usize| -> Result<Embedding> {
            Ok(Embedding::new(vb.pp(name).get((n, h), "weight")?, h))
        };
        Ok(Self {
            word: emb("word_embeddings", config.vocab_size)?,
            position: emb("position_embeddings", config.max_position_embeddings)?,
            token_type: emb("token_type_embeddings", config.type_vocab_size)?,
            layer_norm: layer_norm(vb.pp("LayerNorm"), h, config.layer_norm_eps)?,
        })
    }

    /// `input_ids`, `token_type_ids`: `batch × seq` (u32). Returns `(batch·seq) × hidden`.
    pub fn forward(&self, input_ids: &Tensor, token_type_ids: &Tensor) -> Result<Tensor> {
        let (batch, seq) = input_ids.dims2()?;
        let words = self.word.forward(&input_ids.flatten_all()?)?;
        let types = self.token_type.forward(&token_type_ids.flatten_all()?)?;
        let positions = Tensor::arange(0u32, seq as u32, input_ids.device())?;
        let positions = self.position.forward(&positions)?.repeat((batch, 1))?;
        let sum = ((words + types)? + positions)?;
        Ok(self.layer_norm.forward(&sum)?)
    }
}

/// One transformer block: self-attention and a feed-forward network, each with a residual and layer norm.
#[derive(Debug, Clone)]
pub struct BertLayer {
    qkv: Dense,
    attention_out: Dense,
    attention_norm: NormParams,
    intermediate: Dense,
    output: Dense,
    output_norm: NormParams,
    activation: HiddenAct,
    heads: usize,
    head_dim: usize,
    /// The precision of every product, attention's included.
    kernel: MatmulKernel,
}

impl BertLayer {
    /// Loads one `encoder.layer.N.*` block, its products packed for `kernel`.
    pub fn load(vb: VarBuilder, config: &BertConfig, kernel: MatmulKernel) -> Result<Self> {
        let h = config.hidden_size;
        let heads = config.num_attention_heads;
        let head_dim = h / heads;
        let attn = vb.pp("attention");
        let this = attn.pp("self");
        // Folding 1/sqrt(d) into the query projection saves a pass over every score matrix.
        let scale = 1.0 / (head_dim as f64).sqrt();
        let q_w = (this.pp("query").get((h, h), "weight")? * scale)?;
        let q_b = (this.pp("query").get(h, "bias")? * scale)?;
        let k_w = this.pp("key").get((h, h), "weight")?;
        let k_b = this.pp("key").get(h, "bias")?;
        let v_w = this.pp("value").get((h, h), "weight")?;
        let v_b = this.pp("value").get(h, "bias")?;
        let qkv = Dense::new(
            Tensor::cat(&[q_w, k_w, v_w], 0)?,
            Tensor::cat(&[q_b, k_b, v_b], 0)?,
            kernel,
        )?;
        let eps = config.layer_norm_eps;
        Ok(Self {
            qkv,
            attention_out: Dense::load(attn.pp("output").pp("dense"), h, h, kernel)?,
            attention_norm: norm(attn.pp("output").pp("LayerNorm"), h, eps)?,
            intermediate: Dense::load(
                vb.pp("intermediate").pp("dense"),
                h,
                config.intermediate_size,
                kernel,
            )?,
            output: Dense::load(
                vb.pp("output").pp("dense"),
                config.intermediate_size,
                h,
                kernel,
            )?,
            output_norm: norm(vb.pp("output").pp("LayerNorm"), h, eps)?,
            activation: config.hidden_act,
            heads,
            head_dim,
            kernel,
        })
    }

    /// `hidden`: `(batch·seq) × hidden` for `lengths.len()` right-padded sequences of `seq` positions, sequence
    /// `i` having `lengths[i]` real tokens.
    pub fn forward(&self, hidden: &Tensor, lengths: &[usize], seq: usize) -> Result<Tensor> {
        let (heads, head_dim) = (self.heads, self.head_dim);
        let qkv = self.qkv.forward(hidden)?;
        let context = qkv.apply_op1_no_bwd(&PackedAttention {
            lengths,
            seq,
            heads,
            head_dim,
            bf16: match self.kernel {
                MatmulKernel::Bf16(kernel) => Some(kernel),
                _ => None,
            },
        })?;
        let hidden =
            self.attention_out
                .forward_residual_norm(&context, hidden, &self.attention_norm)?;

        let inner = match self.activation {
            HiddenAct::Gelu => self.intermediate.forward_with(&hidden, true)?,
            HiddenAct::GeluApproximate => self.intermediate.forward(&hidden)?.gelu()?,
            HiddenAct::Relu => self.intermediate.forward(&hidden)?.relu()?,
        };
        self.output
            .forward_residual_norm(&inner, &hidden, &self.output_norm)
    }
}

/// The BERT encoder: embeddings and a stack of [`BertLayer`]s.
#[derive(Debug, Clone)]
pub struct BertModel {
    embeddings: BertEmbeddings,
    layers: Vec<BertLayer>,
    hidden_size: usize,
    device: Device,
}

impl BertModel {
    /// Loads weights named as in Hugging Face BERT checkpoints, with or without a `bert.` prefix; the
    /// encoder's dense layers run with `kernel` ([`MatmulKernel::F32`]: the exact path).
    pub fn load(vb: VarBuilder, config: &BertConfig, kernel: MatmulKernel) -> Result<Self> {
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        };
        let layers = (0..config.num_hidden_layers)
            .map(|i| BertLayer::load(vb.pp(format!("encoder.layer.{i}")), config, kernel))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embeddings: BertEmbeddings::load(vb.pp("embeddings"), config)?,
            layers,
            hidden_size: config.hidden_size,
            device: vb.device().clone(),
        })
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Runs the encoder on right-padded sequences. `input_ids`, `token_type_ids`: `batch × seq` (u32);
    /// `lengths[i]`: real tokens of sequence `i` (the rest is padding, which no real token attends to).
    /// Returns the last hidden states, `batch × seq × hidden`.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        lengths: &[usize],
    ) -> Result<Tensor> {
        let (batch, seq) = input_ids.dims2()?;
        if lengths.len() != batch || lengths.iter().any(|&l| l == 0 || l > seq) {
            return Err(candle_core::Error::Msg(format!(
                "lengths {lengths:?} do not fit a batch of {batch} × {seq}"
            ))
            .into());
        }
        let mut hidden = self.embeddings.forward(input_ids, token_type_ids)?;
        for layer in &self.layers {
            hidden = layer.forward(&hidden, lengths, seq)?;
        }
        Ok(hidden.reshape((batch, seq, self.hidden_size))?)
    }
}
