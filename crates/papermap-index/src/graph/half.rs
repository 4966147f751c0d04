//! Half-precision copies of the vectors that graph traversal scores against.
//!
//! A query scores a few thousand stored vectors, each fetched from memory; that fetch, not
//! the arithmetic, bounds search speed on sets larger than the cache. Traversal only has to
//! rank candidates, and f16 keeps scores of unit vectors within ~1e-4 of the f32 ones, far
//! below the gap between neighbours, at half the bytes per vector. Results are scored again
//! in f32 before they are returned, so callers see exact similarities.

use half::f16;

/// f16 bit pattern of `x`, round to nearest.
#[inline]
pub(crate) fn encode(x: f32) -> u16 {
    f16::from_f32(x).to_bits()
}

/// Dot product of `query` with an f16 row of the same length (shorter of the two otherwise).
#[inline]
pub(crate) fn dot(query: &[f32], row: &[u16]) -> f32 {
    let len = query.len().min(row.len());
    let (query, row) = (&query[..len], &row[..len]);
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c")
        {
            // SAFETY: the CPU has avx2, fma and f16c (checked above); lengths are equal.
            return unsafe { dot_f16c(query, row) };
        }
    }
    dot_portable(query, row)
}

/// Asks for `bytes` bytes at `start` ahead of reading them, one cache line at a time.
#[inline(always)]
pub(crate) fn prefetch<T>(start: *const T, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = start as *const i8;
        for line in (0..bytes).step_by(64) {
            // SAFETY: prefetch is a hint that never faults, whatever the address.
            unsafe { _mm_prefetch(p.wrapping_add(line), _MM_HINT_T0) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, bytes);
}

fn dot_portable(a: &[f32], b: &[u16]) -> f32 {
    crate::vector::dot_portable_widening(a, b, |y| f16::from_bits(y).to_f32())
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f16c(a: &[f32], b: &[u16]) -> f32 {
    use std::arch::x86_64::{__m128i, _mm256_cvtph_ps, _mm_loadu_si128};
    let pb = b.as_ptr();
    // SAFETY: `fma_lanes` loads 8 halves only at i + 8 <= a.len() == b.len().
    let load = |i: usize| unsafe { _mm256_cvtph_ps(_mm_loadu_si128(pb.add(i) as *const __m128i)) };
    let (mut total, done) = crate::vector::fma_lanes(a, load);
    for i in done..a.len() {
        total += a[i] * f16::from_bits(b[i]).to_f32();
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_and_portable_agree_with_f64_on_all_lengths() {
        for dim in 1..80 {
            let a: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<u16> = (0..dim).map(|i| encode((i as f32 * 0.11).cos())).collect();
            // The reference uses the rounded values, so only summation order differs.
            let naive: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| x as f64 * f16::from_bits(y).to_f32() as f64)
                .sum();
            assert!((dot(&a, &b) as f64 - naive).abs() < 1e-4, "dim={dim}");
            assert!((dot_portable(&a, &b) as f64 - naive).abs() < 1e-4);
        }
    }

    #[test]
    fn rounding_moves_unit_vector_scores_by_less_than_1e3() {
        let dim = 384;
        let unit = |seed: f32| {
            let v: Vec<f32> = (0..dim).map(|i| (i as f32 * seed).sin()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / norm).collect::<Vec<f32>>()
        };
        let (a, b) = (unit(0.37), unit(0.13));
        let exact: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let halves: Vec<u16> = b.iter().map(|&x| encode(x)).collect();
        assert!((dot(&a, &halves) - exact).abs() < 1e-3);
    }
}
