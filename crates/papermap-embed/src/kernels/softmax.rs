//! The f32 softmax of attention rows in explicit AVX2 and AVX-512 instructions.
//!
//! The generic loops in the parent module vectorise well for 16 lanes, but for AVX2 the compiler turned
//! them into 128-bit pieces, shuffles and blends: on a CPU capped to AVX2 that softmax took 23% of an
//! int8 forward pass. These kernels compute the same function as [`super::exp_with`] lane for lane
//! (same clamp, range reduction, polynomial and exponent bits, every step fused), so a row's vector
//! body and its scalar tail agree to the bit.

use std::arch::x86_64::*;

use super::exp_with;

const ROUND: f32 = 12_582_912.0;

macro_rules! exp_lanes {
    ($x:expr, $set1:ident, $max:ident, $min:ident, $fmadd:ident, $sub:ident, $mul:ident,
     $cast_si:ident, $cast_ps:ident, $sub_i:ident, $add_i:ident, $set1_i:ident, $slli:ident) => {{
        let x = $min($max($x, $set1(-87.0)), $set1(88.0));
        let t = $fmadd(x, $set1(std::f32::consts::LOG2_E), $set1(ROUND));
        let n = $sub(t, $set1(ROUND));
        let r = $fmadd(
            n,
            $set1(-1.428_606_8e-6),
            $fmadd(n, $set1(-0.693_145_75), x),
        );
        let mut p = $fmadd(r, $set1(1.0 / 720.0), $set1(1.0 / 120.0));
        p = $fmadd(r, p, $set1(1.0 / 24.0));
        p = $fmadd(r, p, $set1(1.0 / 6.0));
        p = $fmadd(r, p, $set1(0.5));
        p = $fmadd(r, p, $set1(1.0));
        p = $fmadd(r, p, $set1(1.0));
        let bits = $add_i($sub_i($cast_si(t), $set1_i(0x4B40_0000)), $set1_i(127));
        $mul(p, $cast_ps($slli::<23>(bits)))
    }};
}

/// [`super::exp_with`] on 8 lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp8(x: __m256) -> __m256 {
    exp_lanes!(
        x,
        _mm256_set1_ps,
        _mm256_max_ps,
        _mm256_min_ps,
        _mm256_fmadd_ps,
        _mm256_sub_ps,
        _mm256_mul_ps,
        _mm256_castps_si256,
        _mm256_castsi256_ps,
        _mm256_sub_epi32,
        _mm256_add_epi32,
        _mm256_set1_epi32,
        _mm256_slli_epi32
    )
}

/// [`super::exp_with`] on 16 lanes.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn exp16(x: __m512) -> __m512 {
    exp_lanes!(
        x,
        _mm512_set1_ps,
        _mm512_max_ps,
        _mm512_min_ps,
        _mm512_fmadd_ps,
        _mm512_sub_ps,
        _mm512_mul_ps,
        _mm512_castps_si512,
        _mm512_castsi512_ps,
        _mm512_sub_epi32,
        _mm512_add_epi32,
        _mm512_set1_epi32,
        _mm512_slli_epi32
    )
}

/// Softmax of each `keys`-long row of `rows` over its first `len` entries (the rest become 0): 8-lane
/// body, scalar tail.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn softmax_rows_avx2(rows: &mut [f32], keys: usize, len: usize) {
    let body = len - len % 8;
    for row in rows.chunks_exact_mut(keys) {
        let p = row.as_mut_ptr();
        let mut max = _mm256_set1_ps(f32::NEG_INFINITY);
        for i in (0..body).step_by(8) {
            max = _mm256_max_ps(max, _mm256_loadu_ps(p.add(i)));
        }
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), max);
        let top = lanes
            .iter()
            .chain(&row[body..len])
            .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
        let shift = _mm256_set1_ps(top);
        let mut sum = _mm256_setzero_ps();
        for i in (0..body).step_by(8) {
            let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(p.add(i)), shift));
            _mm256_storeu_ps(p.add(i), e);
            sum = _mm256_add_ps(sum, e);
        }
        let mut tail = 0f32;
        for x in &mut row[body..len] {
            *x = exp_with::<true>(*x - top);
            tail += *x;
        }
        _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
        let inv = 1.0 / lanes.iter().fold(tail, |a, b| a + b);
        let scale = _mm256_set1_ps(inv);
        for i in (0..body).step_by(8) {
            _mm256_storeu_ps(p.add(i), _mm256_mul_ps(_mm256_loadu_ps(p.add(i)), scale));
        }
        row[body..len].iter_mut().for_each(|x| *x *= inv);
        row[len..].fill(0.0);
    }
}

/// As [`softmax_rows_avx2`] with 16 lanes and masked tails.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
pub(super) unsafe fn softmax_rows_avx512(rows: &mut [f32], keys: usize, len: usize) {
    let live = |i: usize| -> __mmask16 {
        let n = len - i;
        if n >= 16 {
            0xffff
        } else {
            (1u16 << n) - 1
        }
    };
    for row in rows.chunks_exact_mut(keys) {
        let p = row.as_mut_ptr();
        let mut max = _mm512_set1_ps(f32::NEG_INFINITY);
        for i in (0..len).step_by(16) {
            max = _mm512_max_ps(max, _mm512_mask_loadu_ps(max, live(i), p.add(i)));
        }
        let shift = _mm512_set1_ps(_mm512_reduce_max_ps(max));
        let mut sum = _mm512_setzero_ps();
        for i in (0..len).step_by(16) {
            let mask = live(i);
            let e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, p.add(i)), shift));
            _mm512_mask_storeu_ps(p.add(i), mask, e);
            sum = _mm512_mask_add_ps(sum, mask, sum, e);
        }
        let scale = _mm512_set1_ps(1.0 / _mm512_reduce_add_ps(sum));
        for i in (0..len).step_by(16) {
            let mask = live(i);
            let x = _mm512_maskz_loadu_ps(mask, p.add(i));
            _mm512_mask_storeu_ps(p.add(i), mask, _mm512_mul_ps(x, scale));
        }
        row[len..].fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::{CpuFeatures, VectorWidth};

    #[test]
    fn vector_exps_equal_the_scalar_one_to_the_bit() {
        let width = CpuFeatures::detect().vector_width();
        let xs: Vec<f32> = (0..4096).map(|i| -100.0 + i as f32 * 0.0271).collect();
        let want: Vec<u32> = xs.iter().map(|&x| exp_with::<true>(x).to_bits()).collect();
        if width >= VectorWidth::Avx2 {
            let mut got = vec![0f32; xs.len()];
            for (x, g) in xs.chunks_exact(8).zip(got.chunks_exact_mut(8)) {
                // SAFETY: the CPU has AVX2 and FMA (checked above); 8 floats each.
                unsafe { _mm256_storeu_ps(g.as_mut_ptr(), exp8(_mm256_loadu_ps(x.as_ptr()))) };
            }
            assert!(
                got.iter().map(|g| g.to_bits()).eq(want.iter().copied()),
                "avx2"
            );
        }
        if width >= VectorWidth::Avx512 {
            let mut got = vec![0f32; xs.len()];
            for (x, g) in xs.chunks_exact(16).zip(got.chunks_exact_mut(16)) {
                // SAFETY: the CPU has AVX-512 F (checked above); 16 floats each.
                unsafe { _mm512_storeu_ps(g.as_mut_ptr(), exp16(_mm512_loadu_ps(x.as_ptr()))) };
            }
            assert!(
                got.iter().map(|g| g.to_bits()).eq(want.iter().copied()),
                "avx512"
            );
        }
    }
}
