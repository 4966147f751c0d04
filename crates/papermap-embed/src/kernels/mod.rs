//! CPU kernels for the encoder's element-wise work, written so the compiler vectorises them.
//!
//! candle's generic ops call scalar libm `erff`/`expf` per element and allocate a fresh tensor per op; in a
//! profile of this encoder they took a quarter of the time. These kernels work in place on tensors the encoder
//! owns, fuse bias + activation, and use branch-free polynomial `erf`/`exp` accurate to a
//! few ulp (checked against libm in the tests), so vectors keep parity with sentence-transformers.

#[cfg(target_arch = "x86_64")]
mod softmax;

use crate::cpu::{CpuFeatures, VectorWidth};

/// Whether `mul_add` is one instruction without run-time dispatch: then the scalar entry points fuse too.
const NATIVE_FMA: bool = cfg!(any(target_arch = "aarch64", target_feature = "fma"));

/// `a * b + c`, fused when `FMA`. Unfused, `mul_add` on a CPU target without FMA is a libm call per element
/// (it was 40% of the forward pass), so the kernels pick the form the running CPU does in one instruction.
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `erf(x)` in f32 from a rational minimax approximation (the one Eigen and XLA use), clamped to [-4, 4]
/// where erf is ±1 in f32. No branches, so loops over it vectorise.
#[inline(always)]
fn erf_with<const FMA: bool>(x: f32) -> f32 {
    let m = madd::<FMA>;
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = m(x2, -2.726_142_3e-10, 2.770_681_4e-8);
    p = m(x2, p, -2.101_024e-6);
    p = m(x2, p, -5.692_506_4e-5);
    p = m(x2, p, -7.349_906_3e-4);
    p = m(x2, p, -2.954_6e-3);
    p = m(x2, p, -1.609_603_3e-2);
    p *= x;
    let mut q = m(x2, -1.456_607_2e-5, -2.133_740_6e-4);
    q = m(x2, q, -1.682_827e-3);
    q = m(x2, q, -7.373_329e-3);
    q = m(x2, q, -1.426_474e-2);
    p / q
}

#[inline(always)]
fn gelu_with<const FMA: bool>(x: f32) -> f32 {
    0.5 * x * (1.0 + erf_with::<FMA>(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `exp(x)` in f32: range reduction by ln 2 and a degree-6 polynomial, exponent set by bit arithmetic.
#[inline(always)]
fn exp_with<const FMA: bool>(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer kept in the low mantissa bits
    let m = madd::<FMA>;
    let x = x.clamp(-87.0, 88.0);
    let t = m(x, std::f32::consts::LOG2_E, ROUND);
    let n = t - ROUND;
    let r = m(n, -1.428_606_8e-6, m(n, -0.693_145_75, x));
    let mut p = m(r, 1.0 / 720.0, 1.0 / 120.0);
    p = m(r, p, 1.0 / 24.0);
    p = m(r, p, 1.0 / 6.0);
    p = m(r, p, 0.5);
    p = m(r, p, 1.0);
    p = m(r, p, 1.0);
    let scale = f32::from_bits(((t.to_bits() as i32 - 0x4B40_0000 + 127) << 23) as u32);
    p * scale
}

/// `erf(x)` in f32, accurate to about 5e-7 absolute.
pub fn erf(x: f32) -> f32 {
    erf_with::<NATIVE_FMA>(x)
}

/// GELU with the exact (erf) form, as BERT and PyTorch's default `gelu` use.
pub fn gelu(x: f32) -> f32 {
    gelu_with::<NATIVE_FMA>(x)
}

/// `exp(x)` in f32. Relative error about 1e-7 over the range softmax uses (x <= 0).
pub fn exp(x: f32) -> f32 {
    exp_with::<NATIVE_FMA>(x)
}

/// `rows[r, j] = gelu(rows[r, j] + bias[j])` (or just the bias), over whole rows.
#[inline(always)]
fn bias_rows_with<const FMA: bool>(rows: &mut [f32], bias: &[f32], gelu: bool) {
    for row in rows.chunks_exact_mut(bias.len()) {
        if gelu {
            for (x, b) in row.iter_mut().zip(bias) {
                *x = gelu_with::<FMA>(*x + b);
            }
        } else {
            for (x, b) in row.iter_mut().zip(bias) {
                *x += b;
            }
        }
    }
}

/// `rows[r] = LayerNorm(rows[r] + residual[r])` with `gamma`, `beta` and `eps`, row by row (two passes
/// over a row that is in cache: mean, then variance of the centred values, as PyTorch computes it).
#[inline(always)]
fn residual_norm_rows_with<const LANES: usize>(
    rows: &mut [f32],
    residual: &[f32],
    norm: &NormParams,
) {
    let width = norm.gamma.len();
    for (row, res) in rows
        .chunks_exact_mut(width)
        .zip(residual.chunks_exact(width))
    {
        row.iter_mut().zip(res).for_each(|(x, r)| *x += r);
        let mean = lanes_reduce::<LANES>(row, 0.0, |a, b| a + b) / width as f32;
        row.iter_mut().for_each(|x| *x -= mean);
        let var = sum_squares::<LANES>(row) / width as f32;
        let inv = 1.0 / (var + norm.eps).sqrt();
        for ((x, g), b) in row.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
            *x = *x * inv * g + b;
        }
    }
}

/// `Σ x²` in `LANES` independent sums (see [`lanes_reduce`], whose `op` also folds the lanes and so
/// cannot square as it goes).
#[inline(always)]
fn sum_squares<const LANES: usize>(xs: &[f32]) -> f32 {
    let mut lanes = [0f32; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += x * x;
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|x| x * x).sum();
    lanes.into_iter().fold(tail, |a, b| a + b)
}

/// The parameters of one LayerNorm, for the fused epilogues of packed layers.
#[derive(Debug, Clone)]
pub struct NormParams {
    /// Scale per feature.
    pub gamma: Vec<f32>,
    /// Shift per feature.
    pub beta: Vec<f32>,
    /// Added to the variance.
    pub eps: f32,
}

/// `rows = LayerNorm(rows + residual)`, row by row, with the CPU's widest instructions.
pub(crate) fn residual_norm_rows(rows: &mut [f32], residual: &[f32], norm: &NormParams) {
    match CpuFeatures::detect().vector_width() {
        // SAFETY: vector_width is Avx512 only when the CPU has AVX-512 F/BW/VL, AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        VectorWidth::Avx512 => unsafe { x86::residual_norm_rows_avx512(rows, residual, norm) },
        // SAFETY: vector_width is Avx2 only when the CPU has AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        VectorWidth::Avx2 => unsafe { x86::residual_norm_rows(rows, residual, norm) },
        _ => residual_norm_rows_with::<8>(rows, residual, norm),
    }
}

/// Softmax of each `keys`-long row over its first `len` entries; the rest become 0.
#[inline(always)]
fn softmax_rows_with<const FMA: bool, const LANES: usize>(
    rows: &mut [f32],
    keys: usize,
    len: usize,
) {
    for row in rows.chunks_exact_mut(keys) {
        let (live, padded) = row.split_at_mut(len);
        let max = lanes_reduce::<LANES>(live, f32::NEG_INFINITY, f32::max);
        // exp and its sum in one pass, summed in the lanes and order `lanes_reduce` uses (so the
        // result is the same to the bit as a separate summing pass).
        let mut lanes = [0f32; LANES];
        let mut chunks = live.chunks_exact_mut(LANES);
        for chunk in &mut chunks {
            for (lane, x) in lanes.iter_mut().zip(chunk) {
                *x = exp_with::<FMA>(*x - max);
                *lane += *x;
            }
        }
        let mut tail = 0f32;
        for x in chunks.into_remainder() {
            *x = exp_with::<FMA>(*x - max);
            tail += *x;
        }
        let inv = 1.0 / lanes.into_iter().fold(tail, |a, b| a + b);
        live.iter_mut().for_each(|x| *x *= inv);
        padded.fill(0.0);
    }
}

/// Folds `xs` with `op` in `LANES` independent lanes (one vector register), then folds the lanes. A single
/// running accumulator is a serial dependency the compiler may not reorder for floats, which keeps the
/// whole loop scalar.
#[inline(always)]
fn lanes_reduce<const LANES: usize>(xs: &[f32], init: f32, op: impl Fn(f32, f32) -> f32) -> f32 {
    let mut lanes = [init; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane = op(*lane, x);
        }
    }
    let tail = chunks.remainder().iter().fold(init, |a, &x| op(a, x));
    lanes.into_iter().fold(tail, op)
}

/// The same loops compiled for AVX-512 (16 lanes) and for AVX2 + FMA (8 lanes, fused), chosen at run
/// time: a portable binary cannot assume them, and without them the loops stay 4-lane SSE2 with separate
/// multiply and add. Both are tested against the portable loops (`tests` below).
#[cfg(target_arch = "x86_64")]
mod x86 {
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    pub(super) unsafe fn bias_rows_avx512(rows: &mut [f32], bias: &[f32], gelu: bool) {
        super::bias_rows_with::<true>(rows, bias, gelu)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    pub(super) unsafe fn residual_norm_rows_avx512(
        rows: &mut [f32],
        residual: &[f32],
        norm: &super::NormParams,
    ) {
        super::residual_norm_rows_with::<16>(rows, residual, norm)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn residual_norm_rows(
        rows: &mut [f32],
        residual: &[f32],
        norm: &super::NormParams,
    ) {
        super::residual_norm_rows_with::<8>(rows, residual, norm)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn bias_rows(rows: &mut [f32], bias: &[f32], gelu: bool) {
        super::bias_rows_with::<true>(rows, bias, gelu)
    }
}

/// Adds `bias` to each row of `rows` (then GELU when `gelu`), with the CPU's widest fused instructions.
pub(crate) fn bias_rows(rows: &mut [f32], bias: &[f32], gelu: bool) {
    match CpuFeatures::detect().vector_width() {
        // SAFETY: vector_width is Avx512 only when the CPU has AVX-512 F/BW/VL, AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        VectorWidth::Avx512 => unsafe { x86::bias_rows_avx512(rows, bias, gelu) },
        // SAFETY: vector_width is Avx2 only when the CPU has AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        VectorWidth::Avx2 => unsafe { x86::bias_rows(rows, bias, gelu) },
        _ => bias_rows_with::<NATIVE_FMA>(rows, bias, gelu),
    }
}

/// Softmax of each `keys`-long row of `rows` over its first `len` entries (the rest become 0), with the
/// CPU's widest fused instructions.
pub(crate) fn softmax_rows(rows: &mut [f32], keys: usize, len: usize) {
    match CpuFeatures::detect().vector_width() {
        // SAFETY: vector_width is Avx512 only when the CPU has AVX-512 F/BW/VL, AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        VectorWidth::Avx512 => unsafe { softmax::softmax_rows_avx512(rows, keys, len) },
        // SAFETY: vector_width is Avx2 only when the CPU has AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        VectorWidth::Avx2 => unsafe { softmax::softmax_rows_avx2(rows, keys, len) },
        _ => softmax_rows_with::<NATIVE_FMA, 8>(rows, keys, len),
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
            for got in [erf_with::<true>(x), erf_with::<false>(x)] {
                worst = worst.max((got as f64 - want).abs());
            }
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
            for got in [exp_with::<true>(x), exp_with::<false>(x)] {
                worst = worst.max(((got as f64 - want) / want).abs());
            }
        }
        assert!(worst < 3e-7, "max relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
    }

    type BiasFn = fn(&mut [f32], &[f32], bool);
    type SoftmaxFn = fn(&mut [f32], usize, usize);

    /// Every variant the dispatchers may pick on this CPU, and the portable one.
    fn variants() -> Vec<(&'static str, BiasFn, SoftmaxFn)> {
        let mut all: Vec<(&'static str, BiasFn, SoftmaxFn)> = vec![(
            "portable",
            |r, b, g| bias_rows_with::<NATIVE_FMA>(r, b, g),
            |r, k, l| softmax_rows_with::<NATIVE_FMA, 8>(r, k, l),
        )];
        #[cfg(target_arch = "x86_64")]
        {
            let width = CpuFeatures::detect().vector_width();
            if width >= VectorWidth::Avx2 {
                all.push((
                    "avx2",
                    // SAFETY: the CPU has AVX2 and FMA (checked above).
                    |r, b, g| unsafe { x86::bias_rows(r, b, g) },
                    |r, k, l| unsafe { softmax::softmax_rows_avx2(r, k, l) },
                ));
            }
            if width >= VectorWidth::Avx512 {
                all.push((
                    "avx512",
                    // SAFETY: the CPU has AVX-512 F/BW/VL, AVX2 and FMA (checked above).
                    |r, b, g| unsafe { x86::bias_rows_avx512(r, b, g) },
                    |r, k, l| unsafe { softmax::softmax_rows_avx512(r, k, l) },
                ));
            }
        }
        all.push(("dispatched", bias_rows, softmax_rows));
        all
    }

    #[test]
    fn every_variant_matches_the_scalar_definition() {
        let variants = variants();
        eprintln!(
            "element-wise variants this CPU runs: {:?}",
            variants.iter().map(|v| v.0).collect::<Vec<_>>()
        );
        let bias: Vec<f32> = (0..37).map(|j| j as f32 * 0.1 - 1.8).collect();
        let input: Vec<f32> = (0..37 * 5)
            .map(|i| ((i * 7919) % 613) as f32 * 0.013 - 4.0)
            .collect();
        for (name, bias_fn, softmax_fn) in variants {
            let mut rows = input.clone();
            bias_fn(&mut rows, &bias, true);
            for (i, got) in rows.iter().enumerate() {
                let want = gelu(input[i] + bias[i % 37]);
                assert!(
                    (got - want).abs() <= 1e-6,
                    "{name}: row element {i}: {got} vs {want}"
                );
            }

            // 37 keys, 33 live: more than one 16-lane vector plus a tail.
            let (keys, len) = (37, 33);
            let mut scores = input[..keys * 3].to_vec();
            softmax_fn(&mut scores, keys, len);
            for (r, row) in scores.chunks(keys).enumerate() {
                let live = &input[r * keys..r * keys + len];
                let max = live.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let total: f64 = live.iter().map(|&x| ((x - max) as f64).exp()).sum();
                for (j, got) in row.iter().enumerate() {
                    let want = if j < len {
                        ((live[j] - max) as f64).exp() / total
                    } else {
                        0.0
                    };
                    assert!(
                        (*got as f64 - want).abs() < 1e-6,
                        "{name}: row {r} key {j}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_residual_norm_variant_matches_the_definition() {
        let width = 37;
        let norm = NormParams {
            gamma: (0..width).map(|j| 0.5 + j as f32 * 0.03).collect(),
            beta: (0..width).map(|j| j as f32 * 0.01 - 0.2).collect(),
            eps: 1e-12,
        };
        let input: Vec<f32> = (0..width * 3)
            .map(|i| ((i * 7919) % 613) as f32 * 0.013 - 4.0)
            .collect();
        let residual: Vec<f32> = (0..width * 3)
            .map(|i| ((i * 104729) % 331) as f32 * 0.02 - 3.0)
            .collect();
        type NormFn = fn(&mut [f32], &[f32], &NormParams);
        let mut variants: Vec<(&str, NormFn)> = vec![
            ("portable", residual_norm_rows_with::<8>),
            ("dispatched", residual_norm_rows),
        ];
        #[cfg(target_arch = "x86_64")]
        {
            let width = CpuFeatures::detect().vector_width();
            if width >= VectorWidth::Avx2 {
                // SAFETY: the CPU has AVX2 and FMA (checked above).
                variants.push(("avx2", |r, s, n| unsafe {
                    x86::residual_norm_rows(r, s, n)
                }));
            }
            if width >= VectorWidth::Avx512 {
                // SAFETY: the CPU has AVX-512 F/BW/VL, AVX2 and FMA (checked above).
                variants.push(("avx512", |r, s, n| unsafe {
                    x86::residual_norm_rows_avx512(r, s, n)
                }));
            }
        }
        for (name, f) in variants {
            let mut rows = input.clone();
            f(&mut rows, &residual, &norm);
            for r in 0..3 {
                let sum: Vec<f64> = (0..width)
                    .map(|j| (input[r * width + j] + residual[r * width + j]) as f64)
                    .collect();
                let mean = sum.iter().sum::<f64>() / width as f64;
                let var = sum.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / width as f64;
                for j in 0..width {
                    let want = (sum[j] - mean) / (var + 1e-12).sqrt() * norm.gamma[j] as f64
                        + norm.beta[j] as f64;
                    let got = rows[r * width + j] as f64;
                    assert!(
                        (got - want).abs() < 2e-5,
                        "{name}: row {r} col {j}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn gelu_matches_definition() {
        for x in [-6.0f32, -1.5, -0.3, 0.0, 0.2, 1.0, 3.7, 9.0] {
            let want = 0.5 * x as f64 * (1.0 + libm::erf(x as f64 / std::f64::consts::SQRT_2));
            for got in [gelu(x), gelu_with::<true>(x), gelu_with::<false>(x)] {
                assert!((got as f64 - want).abs() < 1e-6, "gelu({x}) = {got}");
            }
        }
    }
}
