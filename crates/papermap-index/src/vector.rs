//! Dot products, input validation and the clamped cosine distance handed to hnsw_rs.

use crate::error::{IndexError, Result};

/// How far from 1 an L2 norm may be before a vector counts as "not normalised".
///
/// f32 embeddings normalised in another library land within ~1e-6 of 1; 1e-3 leaves room for
/// vectors that went through half precision while still catching raw, unnormalised output.
pub const NORM_TOLERANCE: f32 = 1e-3;

/// Dot product of two equally long slices (cosine similarity for unit vectors).
///
/// Uses AVX2+FMA when the CPU has them (checked at run time), a portable loop otherwise.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot of slices with different lengths");
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports avx2 and fma (checked just above); lengths are equal.
            return unsafe { dot_avx2(a, b) };
        }
    }
    dot_portable(a, b)
}

fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    dot_portable_widening(a, b, |y| y)
}

/// Portable dot product of `a` with `b` stored in another element type, `widen` turning each
/// element into f32 (the identity for f32, a conversion for f16). Eight independent
/// accumulators so the compiler can keep them in one SIMD register.
#[inline]
pub(crate) fn dot_portable_widening<B: Copy>(a: &[f32], b: &[B], widen: impl Fn(B) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, &y)| x * widen(y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * widen(y[i]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::_mm256_loadu_ps;
    let pb = b.as_ptr();
    // SAFETY: `fma_lanes` loads only at i + 8 <= a.len() == b.len().
    let (mut total, done) = fma_lanes(a, |i| unsafe { _mm256_loadu_ps(pb.add(i)) });
    for i in done..a.len() {
        total += a[i] * b[i];
    }
    total
}

/// The SIMD body of a dot product: `a` against 8-float lanes that `load(i)` produces for
/// `i = 0, 8, 16, …` while `i + 8 <= a.len()`. Returns that part's sum and where the scalar
/// tail starts. Shared by the f32 and f16 dot products; inlined into their
/// `#[target_feature]` callers.
///
/// # Safety
/// The CPU must have avx2 and fma; `load(i)` must be valid for every such `i`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn fma_lanes(
    a: &[f32],
    load: impl Fn(usize) -> std::arch::x86_64::__m256,
) -> (f32, usize) {
    use std::arch::x86_64::*;
    let n = a.len();
    let pa = a.as_ptr();
    // Four accumulators hide the FMA latency; 32 floats per step.
    let mut s0 = _mm256_setzero_ps();
    let mut s1 = _mm256_setzero_ps();
    let mut s2 = _mm256_setzero_ps();
    let mut s3 = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (all loads of `a`): i + 32 <= n, or i + 8 <= n below.
    while i + 32 <= n {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), load(i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 8)), load(i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 16)), load(i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 24)), load(i + 24), s3);
        i += 32;
    }
    while i + 8 <= n {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), load(i), s0);
        i += 8;
    }
    let s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    let half = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    let quarter = _mm_add_ps(half, _mm_movehl_ps(half, half));
    let one = _mm_add_ss(quarter, _mm_shuffle_ps(quarter, quarter, 1));
    (_mm_cvtss_f32(one), i)
}

/// Scales `v` to unit L2 norm in place, as the index requires.
///
/// Fails on a zero or non-finite vector, which has no direction.
pub fn l2_normalize(v: &mut [f32]) -> Result<()> {
    if let Some(position) = v.iter().position(|x| !x.is_finite()) {
        return Err(IndexError::NonFinite {
            subject: "vector to normalise".into(),
            position,
        });
    }
    let norm = dot(v, v).sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return Err(IndexError::NotNormalized {
            subject: "vector to normalise (all zeros or overflowing)".into(),
            norm,
        });
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Ok(())
}

/// Checks length, finiteness and unit norm; `subject` names the input in the error.
pub(crate) fn check_vector(v: &[f32], dim: usize, subject: impl FnOnce() -> String) -> Result<()> {
    if v.len() != dim {
        return Err(IndexError::DimensionMismatch {
            subject: subject(),
            expected: dim,
            got: v.len(),
        });
    }
    if let Some(position) = v.iter().position(|x| !x.is_finite()) {
        return Err(IndexError::NonFinite {
            subject: subject(),
            position,
        });
    }
    let norm = dot(v, v).sqrt();
    if !norm.is_finite() || (norm - 1.0).abs() > NORM_TOLERANCE {
        return Err(IndexError::NotNormalized {
            subject: subject(),
            norm,
        });
    }
    Ok(())
}

pub(crate) fn key_subject(key: &str) -> impl FnOnce() -> String + '_ {
    move || format!("vector for key {key:?}")
}

pub(crate) fn query_subject() -> String {
    "query vector".to_string()
}

/// `1 - a·b`, clamped at 0.
///
/// hnsw_rs's own `DistDot` asserts `1 - a·b >= 0` and panics when rounding makes a·a exceed 1
/// (its insert path also asserts non-negative distances), so the clamp is what keeps
/// near-duplicate papers from aborting a build.
#[cfg(feature = "reference")]
#[derive(Debug, Default, Clone, Copy)]
pub struct CosineDistance;

#[cfg(feature = "reference")]
impl hnsw_rs::prelude::Distance<f32> for CosineDistance {
    #[inline]
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        // f32::max returns the non-NaN operand, so even a NaN can not reach hnsw_rs's asserts.
        (1.0 - dot(a, b)).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_and_portable_agree_on_all_lengths() {
        for n in 0..100 {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot(&a, &b) as f64 - naive).abs() < 1e-4, "n={n}");
            assert!((dot_portable(&a, &b) as f64 - naive).abs() < 1e-4, "n={n}");
        }
    }

    #[test]
    #[cfg(feature = "reference")]
    fn distance_is_never_negative_for_self() {
        use hnsw_rs::prelude::Distance;
        let mut v = vec![0.1f32; 384];
        v[3] = 0.7;
        l2_normalize(&mut v).unwrap();
        // Scaling a hair above unit norm reproduces the hnsw_rs DistDot panic case.
        let w: Vec<f32> = v.iter().map(|x| x * 1.000_001).collect();
        assert!(CosineDistance.eval(&w, &w) >= 0.0);
        assert_eq!(CosineDistance.eval(&[f32::NAN], &[1.0]), 0.0);
    }

    #[test]
    fn check_vector_names_the_problem() {
        let err = check_vector(&[1.0, 0.0], 3, query_subject).unwrap_err();
        assert!(matches!(err, IndexError::DimensionMismatch { got: 2, .. }));
        let err = check_vector(&[1.0, f32::NAN], 2, key_subject("p1")).unwrap_err();
        assert!(err.to_string().contains("\"p1\""), "{err}");
        let err = check_vector(&[3.0, 4.0], 2, query_subject).unwrap_err();
        assert!(matches!(err, IndexError::NotNormalized { norm, .. } if (norm - 5.0).abs() < 1e-6));
        assert!(check_vector(&[0.6, 0.8], 2, query_subject).is_ok());
        assert!(l2_normalize(&mut [0.0, 0.0]).is_err());
    }
}
