//! CPU kernels for the encoder's element-wise work, written so the compiler vectorises them.
//!
//! candle's generic ops call scalar libm `erff`/`expf` per element and allocate a fresh tensor per op; in a
//! profile of this encoder they took a quarter of the time. These kernels work in place on tensors the encoder
//! owns, fuse bias + activation and mask + softmax, and use branch-free polynomial `erf`/`exp` accurate to a
//! few ulp (checked against libm in the tests), so vectors keep parity with sentence-transformers.

use candle_core::{CpuStorage, InplaceOp1, InplaceOp2, Layout};
use rayon::prelude::*;

/// Elements handed to one rayon task: large enough to amortise scheduling, small enough to balance.
const CHUNK: usize = 16 * 1024;

/// `erf(x)` in f32 from a rational minimax approximation (the one Eigen and XLA use), clamped to [-4, 4]
/// where erf is ±1 in f32. No branches, so loops over it vectorise.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2.mul_add(-2.726_142_3e-10, 2.770_681_4e-8);
    p = x2.mul_add(p, -2.101_024e-6);
    p = x2.mul_add(p, -5.692_506_4e-5);
    p = x2.mul_add(p, -7.349_906_3e-4);
    p = x2.mul_add(p, -2.954_6e-3);
    p = x2.mul_add(p, -1.609_603_3e-2);
    p *= x;
    let mut q = x2.mul_add(-1.456_607_2e-5, -2.133_740_6e-4);
    q = x2.mul_add(q, -1.682_827e-3);
    q = x2.mul_add(q, -7.373_329e-3);
    q = x2.mul_add(q, -1.426_474e-2);
    p / q
}

/// GELU with the exact (erf) form, as BERT and PyTorch's default `gelu` use.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `exp(x)` in f32: range reduction by ln 2 and a degree-6 polynomial, exponent set by bit arithmetic.
/// Relative error about 1e-7 over the range softmax uses (x <= 0).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer kept in the low mantissa bits
    let x = x.clamp(-87.0, 88.0);
    let t = x.mul_add(std::f32::consts::LOG2_E, ROUND);
    let n = t - ROUND;
    let r = n.mul_add(-1.428_606_8e-6, n.mul_add(-0.693_145_75, x));
    let mut p = r.mul_add(1.0 / 720.0, 1.0 / 120.0);
    p = r.mul_add(p, 1.0 / 24.0);
    p = r.mul_add(p, 1.0 / 6.0);
    p = r.mul_add(p, 0.5);
    p = r.mul_add(p, 1.0);
    p = r.mul_add(p, 1.0);
    let scale = f32::from_bits(((t.to_bits() as i32 - 0x4B40_0000 + 127) << 23) as u32);
    p * scale
}

fn contiguous<'a>(
    storage: &'a mut CpuStorage,
    layout: &Layout,
    op: &str,
) -> candle_core::Result<&'a mut [f32]> {
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("{op}: input must be contiguous")))?;
    match storage {
        CpuStorage::F32(data) => Ok(&mut data[start..end]),
        _ => Err(candle_core::Error::Msg(format!(
            "{op}: only f32 is supported"
        ))),
    }
}

/// In place `x[r, j] += bias[j]`, then optionally GELU: the epilogue of a dense layer in one pass.
pub struct BiasActivation {
    /// Apply GELU after the bias.
    pub gelu: bool,
}

impl InplaceOp2 for BiasActivation {
    fn name(&self) -> &'static str {
        "papermap-bias-activation"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let bias = match (s2, l2.contiguous_offsets()) {
            (CpuStorage::F32(b), Some((start, end))) => &b[start..end],
            _ => {
                return Err(candle_core::Error::Msg(
                    "bias must be contiguous f32".into(),
                ))
            }
        };
        let n = bias.len();
        let data = contiguous(s1, l1, self.name())?;
        if n == 0 || data.len() % n != 0 {
            return Err(candle_core::Error::Msg(
                "bias length must divide the row length".into(),
            ));
        }
        let rows_per_task = (CHUNK / n).max(1);
        let gelu_on = self.gelu;
        data.par_chunks_mut(rows_per_task * n).for_each(|rows| {
            for row in rows.chunks_exact_mut(n) {
                if gelu_on {
                    for (x, b) in row.iter_mut().zip(bias) {
                        *x = gelu(*x + b);
                    }
                } else {
                    for (x, b) in row.iter_mut().zip(bias) {
                        *x += b;
                    }
                }
            }
        });
        Ok(())
    }
}

/// In-place softmax over the last axis of `batch × heads × seq × seq` attention scores, where sequence `i`
/// has `lengths[i]` real tokens followed by padding. Padded keys get probability exactly 0 (what adding
/// transformers' most-negative-float mask gives), and the padded tail is never exponentiated.
pub struct MaskedSoftmax<'a> {
    /// Real tokens per sequence.
    pub lengths: &'a [usize],
    /// Attention heads.
    pub heads: usize,
}

impl InplaceOp1 for MaskedSoftmax<'_> {
    fn name(&self) -> &'static str {
        "papermap-masked-softmax"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let dims = layout.dims();
        let &[batch, heads, seq, keys] = dims else {
            return Err(candle_core::Error::Msg(format!(
                "masked softmax wants 4 dims, got {dims:?}"
            )));
        };
        if batch != self.lengths.len() || heads != self.heads || seq != keys {
            return Err(candle_core::Error::Msg(format!(
                "masked softmax: scores {dims:?} do not match {} lengths × {} heads",
                self.lengths.len(),
                self.heads
            )));
        }
        let data = contiguous(storage, layout, self.name())?;
        let per_sequence = heads * seq * keys;
        let rows_per_task = (CHUNK / keys).max(1);
        data.par_chunks_mut(per_sequence)
            .zip(self.lengths)
            .for_each(|(block, &len)| {
                let len = len.clamp(1, keys);
                block.par_chunks_mut(rows_per_task * keys).for_each(|rows| {
                    for row in rows.chunks_exact_mut(keys) {
                        let (live, padded) = row.split_at_mut(len);
                        let max = live.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                        let mut sum = 0.0;
                        for x in live.iter_mut() {
                            *x = exp(*x - max);
                            sum += *x;
                        }
                        let inv = 1.0 / sum;
                        live.iter_mut().for_each(|x| *x *= inv);
                        padded.fill(0.0);
                    }
                });
            });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_libm() {
        let mut worst = 0f64;
        for i in -60_000..=60_000 {
            let x = i as f32 * 1e-4;
            let want = libm::erf(x as f64);
            worst = worst.max((erf(x) as f64 - want).abs());
        }
        assert!(worst < 5e-7, "max abs error {worst}");
        // Saturates to ±1 within one ulp far outside the clamp.
        assert!((erf(10.0) - 1.0).abs() <= f32::EPSILON);
        assert!((erf(-10.0) + 1.0).abs() <= f32::EPSILON);
    }

    #[test]
    fn exp_matches_libm_on_softmax_range() {
        let mut worst = 0f64;
        for i in 0..=200_000 {
            let x = -(i as f32) * 4e-4; // [-80, 0]
            let want = libm::exp(x as f64);
            worst = worst.max(((exp(x) as f64 - want) / want).abs());
        }
        assert!(worst < 3e-7, "max relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn gelu_matches_definition() {
        for x in [-6.0f32, -1.5, -0.3, 0.0, 0.2, 1.0, 3.7, 9.0] {
            let want = 0.5 * x as f64 * (1.0 + libm::erf(x as f64 / std::f64::consts::SQRT_2));
            assert!((gelu(x) as f64 - want).abs() < 1e-6, "gelu({x})");
        }
    }
}
