//! Dense layers with packed low-precision weights: `y = x · Wᵀ + b` with bf16 or int8 products and f32
//! everywhere else (bias, GELU, and in the callers LayerNorm, softmax and pooling).
//!
//! Weights are packed once at load into blocks of 16 output channels (one 512-bit register of f32/i32
//! lanes, one AMX tile's width), each block storing its channels' inputs in the group size the dot-product
//! instructions consume (2 for bf16, 4 for int8), so a kernel streams one block with plain loads. Work is
//! split into blocks of `ROW_BLOCK` (128) rows of `x`, one rayon task each; a block's activations are
//! converted (bf16) or quantised (int8, per row) into a small scratch, multiplied, and finished with the
//! bias (and GELU) while still in cache.

mod aligned;
pub(crate) mod bf16;
pub(crate) mod int8;

pub(crate) use aligned::AlignedVec;

use rayon::prelude::*;

use crate::cpu::{Bf16Kernel, CpuFeatures, Int8Kernel};
use crate::error::{EmbedError, Result};
use crate::kernels::{bias_rows, residual_norm_rows, NormParams};
use papermap_corpus::Precision;

/// How the encoder's dense layers multiply: a precision and the kernel that runs it on this CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulKernel {
    /// f32 GEMM (gemm's kernels, chosen at run time): the vectors of sentence-transformers.
    F32,
    /// bf16 products, f32 accumulation.
    Bf16(Bf16Kernel),
    /// int8 products, i32 accumulation.
    Int8(Int8Kernel),
}

impl MatmulKernel {
    /// The fastest kernel for `precision` on this CPU. bf16 without AMX-BF16 or AVX512_BF16 is refused:
    /// emulated, it would be slower than f32 and no more exact.
    pub fn for_precision(precision: Precision) -> Result<Self> {
        Ok(match precision {
            Precision::F32 => MatmulKernel::F32,
            Precision::Int8 => MatmulKernel::Int8(Int8Kernel::best()),
            Precision::Bf16 => MatmulKernel::Bf16(Bf16Kernel::best().ok_or_else(|| {
                let has = CpuFeatures::detect().names().join(", ");
                EmbedError::InvalidSetting(format!(
                    "precision bf16 needs AMX-BF16 or AVX512_BF16, which this CPU lacks (it has: {}); \
                     use --precision int8 for the fast mode on this CPU, or f32",
                    if has.is_empty() { "none of papermap's extensions".into() } else { has }
                ))
            })?),
        })
    }

    /// The precision this kernel computes in.
    pub fn precision(self) -> Precision {
        match self {
            MatmulKernel::F32 => Precision::F32,
            MatmulKernel::Bf16(_) => Precision::Bf16,
            MatmulKernel::Int8(_) => Precision::Int8,
        }
    }
}

/// Rows of `x` one task multiplies (a multiple of 32, two AMX tiles). Kernels loop weight blocks outside
/// and rows inside, so each weight panel is read from memory once per task: at 32 rows the AMX kernel
/// spent its time re-reading weights, at 128 a batch of 2,048 tokens still splits into 16 tasks.
pub(crate) const ROW_BLOCK: usize = 128;
/// Output channels per packed block.
pub(crate) const LANES: usize = 16;
/// Inputs are padded (with zeros) to a multiple of this: one AMX bf16 tile is 32 inputs deep.
pub(crate) const K_ALIGN: usize = 32;

/// Rounds `x` up to a multiple of `to`.
fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

/// The shape of one layer's packed weights: `n` outputs × `k` inputs, padded with zeros to `np` outputs
/// (whole pairs of blocks: the kernels work on two blocks at a time) and `kp` inputs ([`K_ALIGN`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockLayout {
    pub(crate) n: usize,
    pub(crate) k: usize,
    pub(crate) kp: usize,
    pub(crate) np: usize,
}

impl BlockLayout {
    pub(crate) fn new(n: usize, k: usize) -> Self {
        Self {
            n,
            k,
            kp: round_up(k, K_ALIGN),
            np: round_up(n, 2 * LANES),
        }
    }

    /// Packs `value(row, col)` of the `n × k` matrix as `[block of LANES rows][input group][LANES][group]`
    /// (`group` inputs per lane: what one dot-product instruction consumes), zero-padded to `np × kp`.
    pub(crate) fn pack<T: bytemuck::Pod>(
        &self,
        group: usize,
        value: impl Fn(usize, usize) -> T,
    ) -> AlignedVec<T> {
        let mut data = AlignedVec::zeroed(self.np * self.kp);
        for (i, dst) in data.iter_mut().enumerate() {
            let (e, lane, g, block) = (
                i % group,
                i / group % LANES,
                i / (group * LANES) % (self.kp / group),
                i / (self.kp * LANES),
            );
            let (row, col) = (block * LANES + lane, group * g + e);
            if row < self.n && col < self.k {
                *dst = value(row, col);
            }
        }
        data
    }
}

/// What follows the product, per row block.
#[derive(Clone, Copy)]
enum Epilogue<'a> {
    /// Add the bias, then GELU when asked.
    Bias { gelu: bool },
    /// Add the bias and the residual, then LayerNorm.
    ResidualNorm {
        residual: &'a [f32],
        norm: &'a NormParams,
    },
}

/// The packed weights of one layer.
#[derive(Debug, Clone)]
enum Packed {
    /// `Wᵀ`, row-major `in × out`: what gemm reads as the right-hand side, transposed once at load.
    F32 {
        weight_t: Vec<f32>,
        layout: BlockLayout,
    },
    Bf16(bf16::Bf16Weights),
    Int8(int8::Int8Weights),
}

impl Packed {
    fn layout(&self) -> &BlockLayout {
        match self {
            Packed::F32 { layout, .. } => layout,
            Packed::Bf16(w) => &w.layout,
            Packed::Int8(w) => &w.layout,
        }
    }
}

/// One dense layer, `out_dim × in_dim`, with weights packed for a low-precision kernel.
#[derive(Debug, Clone)]
pub struct PackedLinear {
    packed: Packed,
    bias: Vec<f32>,
}

impl PackedLinear {
    /// Keeps `weight` (row-major `out_dim × in_dim`) in f32, transposed for gemm: the exact path.
    pub fn f32(weight: &[f32], bias: &[f32], in_dim: usize) -> Self {
        let layout = Self::layout(weight, bias, in_dim);
        let (n, k) = (layout.n, layout.k);
        let mut weight_t = vec![0f32; k * n];
        for (row, w) in weight.chunks_exact(k).enumerate() {
            for (col, v) in w.iter().enumerate() {
                weight_t[col * n + row] = *v;
            }
        }
        Self {
            packed: Packed::F32 { weight_t, layout },
            bias: bias.to_vec(),
        }
    }

    /// Packs `weight` (row-major `out_dim × in_dim`, as PyTorch stores it) to bf16 for `kernel`.
    pub fn bf16(weight: &[f32], bias: &[f32], in_dim: usize, kernel: Bf16Kernel) -> Self {
        let layout = Self::layout(weight, bias, in_dim);
        Self {
            packed: Packed::Bf16(bf16::Bf16Weights::pack(weight, layout, kernel)),
            bias: bias.to_vec(),
        }
    }

    /// Quantises `weight` to int8 per output channel and packs it for `kernel`.
    pub fn int8(weight: &[f32], bias: &[f32], in_dim: usize, kernel: Int8Kernel) -> Self {
        let layout = Self::layout(weight, bias, in_dim);
        Self {
            packed: Packed::Int8(int8::Int8Weights::pack(weight, layout, kernel)),
            bias: bias.to_vec(),
        }
    }

    /// The layout of an `out_dim × in_dim` weight, `out_dim` being the bias's length.
    fn layout(weight: &[f32], bias: &[f32], in_dim: usize) -> BlockLayout {
        assert_eq!(weight.len(), bias.len() * in_dim, "weight is not out × in");
        BlockLayout::new(bias.len(), in_dim)
    }

    /// Inputs per row.
    pub fn in_dim(&self) -> usize {
        self.packed.layout().k
    }

    /// Outputs per row.
    pub fn out_dim(&self) -> usize {
        self.packed.layout().n
    }

    /// `x · Wᵀ + b`, then GELU when `gelu`, for the rows of `x` (row-major, `in_dim` wide), on the current
    /// rayon pool.
    pub fn forward(&self, x: &[f32], gelu: bool) -> Vec<f32> {
        self.forward_with(x, Epilogue::Bias { gelu })
    }

    /// `LayerNorm(x · Wᵀ + b + residual)`: a transformer block's output, finished per row block while it
    /// is in cache (no separate passes for the sum and the norm).
    pub fn forward_residual_norm(
        &self,
        x: &[f32],
        residual: &[f32],
        norm: &NormParams,
    ) -> Vec<f32> {
        assert_eq!(
            residual.len(),
            x.len() / self.in_dim() * self.out_dim(),
            "residual rows differ"
        );
        self.forward_with(x, Epilogue::ResidualNorm { residual, norm })
    }

    fn forward_with(&self, x: &[f32], epilogue: Epilogue) -> Vec<f32> {
        let (in_dim, out_dim) = (self.in_dim(), self.out_dim());
        assert_eq!(x.len() % in_dim, 0, "x rows are not in_dim wide");
        let total = x.len() / in_dim * out_dim;
        let finish = |i: usize, block: &mut [f32]| match epilogue {
            Epilogue::Bias { gelu } => bias_rows(block, &self.bias, gelu),
            Epilogue::ResidualNorm { residual, norm } => {
                bias_rows(block, &self.bias, false);
                let at = i * ROW_BLOCK * out_dim;
                residual_norm_rows(block, &residual[at..at + block.len()], norm);
            }
        };
        // No zeroing: every product writes each element of its block before anything reads it.
        let mut y: Vec<f32> = Vec::with_capacity(total);
        if let Packed::F32 { weight_t, .. } = &self.packed {
            // One gemm over all rows (as candle's matmul calls it, so the sums are the same), then
            // the epilogue per row block.
            f32_product(x, weight_t, in_dim, out_dim, &mut y);
            y.par_chunks_mut(ROW_BLOCK * out_dim)
                .enumerate()
                .for_each(|(i, block)| finish(i, block));
            return y;
        }
        y.spare_capacity_mut()[..total]
            .par_chunks_mut(ROW_BLOCK * out_dim)
            .zip(x.par_chunks(ROW_BLOCK * in_dim))
            .enumerate()
            .for_each(|(i, (block, x))| {
                match &self.packed {
                    Packed::Bf16(w) => w.multiply_block(x, block),
                    Packed::Int8(w) => w.multiply_block(x, block),
                    Packed::F32 { .. } => unreachable!("handled above"),
                }
                // SAFETY: multiply_block initialised every element; MaybeUninit<f32> has f32's layout.
                let block =
                    unsafe { &mut *(block as *mut [std::mem::MaybeUninit<f32>] as *mut [f32]) };
                finish(i, block);
            });
        // SAFETY: the chunks above cover `..total` and each task initialised its whole chunk.
        unsafe { y.set_len(total) };
        y
    }
}

/// `y = x · Wᵀ` in f32 into `y`'s spare capacity, on the current rayon pool.
fn f32_product(x: &[f32], weight_t: &[f32], k: usize, n: usize, y: &mut Vec<f32>) {
    let m = x.len() / k;
    assert!(weight_t.len() == k * n && y.capacity() >= m * n);
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: dst has room for m × n floats (checked above), lhs is m × k and rhs k × n, all
    // row-major and contiguous; with read_dst = false gemm writes every element of dst without
    // reading it, so `set_len` exposes only written floats.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            y.as_mut_ptr(),
            1,
            n as isize,
            false,
            x.as_ptr(),
            1,
            k as isize,
            weight_t.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
        y.set_len(m * n);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A deterministic pseudo-random matrix with a few large entries, like real activations.
    pub(crate) fn matrix(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..rows * cols)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
                if i % 97 == 0 {
                    u * 8.0
                } else {
                    u
                }
            })
            .collect()
    }

    fn reference(x: &[f32], w: &[f32], b: &[f32], k: usize) -> Vec<f32> {
        let n = b.len();
        x.chunks(k)
            .flat_map(|row| {
                (0..n).map(move |j| {
                    row.iter()
                        .zip(&w[j * k..(j + 1) * k])
                        .map(|(a, b)| a * b)
                        .sum::<f32>()
                        + b[j]
                })
            })
            .collect()
    }

    /// Relative error of `got` against `want` over the whole matrix (Frobenius).
    fn relative_error(got: &[f32], want: &[f32]) -> f32 {
        let diff: f32 = got.iter().zip(want).map(|(a, b)| (a - b) * (a - b)).sum();
        let norm: f32 = want.iter().map(|b| b * b).sum();
        (diff / norm).sqrt()
    }

    #[test]
    fn every_precision_and_kernel_approximates_the_f32_product() {
        // Sizes off every block boundary: 45 rows (a full and a partial row block), 72 outputs (not a
        // multiple of 32), 100 inputs (padded to 128).
        let (m, n, k) = (45, 72, 100);
        let x = matrix(m, k, 1);
        let w = matrix(n, k, 2);
        let b = matrix(1, n, 3);
        let want = reference(&x, &w, &b, k);
        for kernel in Bf16Kernel::available() {
            let got = PackedLinear::bf16(&w, &b, k, kernel).forward(&x, false);
            let err = relative_error(&got, &want);
            assert!(err < 5e-3, "bf16 {kernel:?}: relative error {err}");
        }
        for kernel in Int8Kernel::available() {
            let got = PackedLinear::int8(&w, &b, k, kernel).forward(&x, false);
            let err = relative_error(&got, &want);
            assert!(err < 3e-2, "int8 {kernel:?}: relative error {err}");
        }
    }

    #[test]
    fn gelu_is_applied_after_the_bias() {
        let (m, n, k) = (3, 32, 64);
        let x = matrix(m, k, 4);
        let w = matrix(n, k, 5);
        let b = matrix(1, n, 6);
        let layer = PackedLinear::int8(&w, &b, k, Int8Kernel::Portable);
        let plain = layer.forward(&x, false);
        let activated = layer.forward(&x, true);
        for (p, a) in plain.iter().zip(&activated) {
            assert!((crate::kernels::gelu(*p) - a).abs() < 1e-6, "{p} -> {a}");
        }
    }
}
