//! Half-precision copies of the vectors that graph traversal scores against.
//!
//! A query scores a few thousand stored vectors, each fetched from memory; that fetch, not
//! the arithmetic, bounds search speed on sets larger than the cache. Traversal only has to
//! rank candidates, and f16 keeps scores of unit vectors within ~1e-4 of the f32 ones, far
//! below the gap between neighbours, at half the bytes per vector. Results are scored again
//! in f32 before they are returned, so callers see exact similarities.

use half::f16;

use super::layout;

/// Row-major f16 bit patterns, one row per position.
pub(crate) struct HalfVectors {
    dim: usize,
    bits: Vec<u16>,
}

impl HalfVectors {
    /// Rounds `rows` (row-major, `dim` values each) to f16.
    pub fn from_f32(rows: &[f32], dim: usize) -> HalfVectors {
        let mut bits = layout::huge_page_buffer::<u16>(rows.len());
        for (b, &x) in bits.iter_mut().zip(rows) {
            *b = f16::from_f32(x).to_bits();
        }
        HalfVectors { dim, bits }
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.bits.capacity() * 2
    }

    /// Dot product of `query` with the vector at `pos`.
    #[inline]
    pub fn dot(&self, query: &[f32], pos: u32) -> f32 {
        let row = self.row(pos);
        assert_eq!(query.len(), row.len(), "query and row lengths differ");
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

    #[inline]
    fn row(&self, pos: u32) -> &[u16] {
        let start = pos as usize * self.dim;
        &self.bits[start..start + self.dim]
    }

    /// Asks for the row at `pos`, one cache line at a time, ahead of scoring it.
    #[inline(always)]
    pub fn prefetch(&self, pos: u32) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let start = pos as usize * self.dim;
            if start + self.dim <= self.bits.len() {
                let p = self.bits[start..].as_ptr() as *const i8;
                // SAFETY: prefetch is a hint that never faults; p points into `bits`.
                for line in (0..self.dim * 2).step_by(64) {
                    unsafe { _mm_prefetch(p.wrapping_add(line), _MM_HINT_T0) };
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = pos;
    }
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
        for dim in 0..80 {
            let a: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.11).cos()).collect();
            let halves = HalfVectors::from_f32(&b, dim);
            // The reference uses the rounded values, so only summation order differs.
            let naive: f64 = a
                .iter()
                .zip(&halves.bits)
                .map(|(&x, &y)| x as f64 * f16::from_bits(y).to_f32() as f64)
                .sum();
            if dim > 0 {
                assert!((halves.dot(&a, 0) as f64 - naive).abs() < 1e-4, "dim={dim}");
                assert!((dot_portable(&a, &halves.bits) as f64 - naive).abs() < 1e-4);
            }
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
        let halves = HalfVectors::from_f32(&b, dim);
        assert!((halves.dot(&a, 0) - exact).abs() < 1e-3);
    }
}
