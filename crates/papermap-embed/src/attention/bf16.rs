//! One head of attention with bf16 products (f32 accumulation) and an f32 softmax, for the
//! `--precision bf16` encoder.
//!
//! Both products run on the dense layers' kernels: `q · kᵀ` with the keys packed as the "weights",
//! `p · v` with the values packed so. The softmax writes bf16 probabilities straight from its
//! exponentials, unnormalised, and the context rows are divided by their sums afterwards (`len × d`
//! divisions instead of a pass over `len × len` probabilities). Where the CPU has AVX512_BF16 the
//! packing and the softmax are vector kernels (a 16 × 16 transpose per block of keys; `vscalefps`
//! exponentials); elsewhere plain loops compute the same layout.

use std::cell::RefCell;

use crate::cpu::Bf16Kernel;
#[cfg(target_arch = "x86_64")]
use crate::cpu::CpuFeatures;
use crate::kernels::exp;
use crate::linear::bf16::{as_uninit, convert_strided, product, to_bf16};
use crate::linear::{AlignedVec, LANES};

/// Per-worker buffers of [`head_bf16`], reused across heads and layers (fresh zeroed ones per head
/// cost more than the products).
#[derive(Default)]
struct HeadScratch {
    queries: AlignedVec<u16>,
    keys: AlignedVec<u32>,
    values: AlignedVec<u32>,
    scores: AlignedVec<f32>,
    probs: AlignedVec<u16>,
    inv_sums: Vec<f32>,
    context: AlignedVec<f32>,
}

/// One head: `q`, `k`, `v` are `len` rows of `d` at row stride `stride`. Calls `emit` with the
/// context, `len` rows of `d` rounded up to 32 (the padding columns are zero).
#[allow(clippy::too_many_arguments)]
pub(super) fn head_bf16(
    kernel: Bf16Kernel,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    stride: usize,
    len: usize,
    d: usize,
    emit: impl FnOnce(&[f32]),
) {
    thread_local! {
        static SCRATCH: RefCell<HeadScratch> = Default::default();
    }
    let (lp, dp) = (len.next_multiple_of(32), d.next_multiple_of(32));
    let mut s = SCRATCH.take();
    // Zeros past `len`: padded keys and values must be finite (a NaN times a zero probability is NaN).
    s.keys.zero(lp * dp / 2);
    s.values.zero(dp * lp / 2);
    pack_keys_and_values(k, v, stride, len, d, &mut s.keys, &mut s.values);
    s.queries.zero(lp * dp);
    convert_strided(q, stride, d, len, &mut s.queries, dp);
    s.scores.resize(lp * lp);
    product(
        kernel,
        &s.queries,
        dp,
        bytemuck::cast_slice(&s.keys),
        lp,
        as_uninit(&mut s.scores),
        lp,
        lp,
    );
    s.probs.resize(lp * lp);
    s.inv_sums.resize(len, 0.0);
    exp_rows_dispatched(&s.scores, lp, len, &mut s.probs, &mut s.inv_sums);
    s.context.resize(lp * dp);
    product(
        kernel,
        &s.probs,
        lp,
        bytemuck::cast_slice(&s.values),
        dp,
        as_uninit(&mut s.context),
        dp,
        lp,
    );
    for (row, inv) in s.context.chunks_exact_mut(dp).zip(&s.inv_sums) {
        row.iter_mut().for_each(|x| *x *= inv);
    }
    emit(&s.context[..len * dp]);
    SCRATCH.set(s);
}

/// Keys and values packed (see [`pack_keys`], [`pack_values`]) by the vector kernels where they apply.
fn pack_keys_and_values(
    k: &[f32],
    v: &[f32],
    stride: usize,
    len: usize,
    d: usize,
    keys: &mut [u32],
    values: &mut [u32],
) {
    let lp = len.next_multiple_of(32);
    #[cfg(target_arch = "x86_64")]
    if vector_kernels(d) {
        // SAFETY: `vector_kernels` checked AVX512_BF16 (with AVX-512 F/BW/VL) and d % 32 == 0; the
        // kernels assert the sizes.
        unsafe {
            x86::pack_keys(k, stride, len, d, keys);
            x86::pack_values(v, stride, len, d, lp, values);
        }
        return;
    }
    pack_keys(k, stride, len, d, keys);
    pack_values(v, stride, len, d, lp, values);
}

/// [`exp_rows`] by the vector kernel where it applies.
fn exp_rows_dispatched(
    scores: &[f32],
    lp: usize,
    len: usize,
    probs: &mut [u16],
    inv_sums: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if vector_kernels(32) {
        // SAFETY: `vector_kernels` checked AVX512_BF16; the kernel asserts the sizes.
        return unsafe { x86::exp_rows(scores, lp, len, probs, inv_sums) };
    }
    exp_rows(scores, lp, len, probs, inv_sums)
}

/// Whether the vector packing and softmax apply: the CPU has AVX512_BF16 and heads are whole
/// multiples of 32 (MiniLM's 32, BERT-base's 64).
#[cfg(target_arch = "x86_64")]
fn vector_kernels(d: usize) -> bool {
    d.is_multiple_of(32) && CpuFeatures::detect().avx512_bf16
}

/// Keys in bf16 as the "weights" of `q · kᵀ`: `[block of 16 keys][pair of dims][16 lanes]`, each u32
/// a pair of bf16 (the transpose of the keys' rows at pair granularity). Keys past `len` untouched.
fn pack_keys(k: &[f32], stride: usize, len: usize, d: usize, keys: &mut [u32]) {
    let pairs = d.next_multiple_of(32) / 2;
    for key in 0..len {
        let (block, lane) = (key / LANES, key % LANES);
        let row = &k[key * stride..key * stride + d];
        for p in 0..d.div_ceil(2) {
            let hi = row.get(2 * p + 1).map_or(0, |&x| to_bf16(x));
            keys[(block * pairs + p) * LANES + lane] =
                to_bf16(row[2 * p]) as u32 | (hi as u32) << 16;
        }
    }
}

/// Values in bf16 as the "weights" of `p · v`: `[block of 16 dims][pair of keys][16 lanes]`, each
/// u32 the bf16 of an even key and the next one. Keys past `len` untouched.
fn pack_values(v: &[f32], stride: usize, len: usize, d: usize, lp: usize, values: &mut [u32]) {
    let key_pairs = lp / 2;
    for key in 0..len {
        let (p, half) = (key / 2, 16 * (key % 2));
        for (c, &x) in v[key * stride..key * stride + d].iter().enumerate() {
            let (block, lane) = (c / LANES, c % LANES);
            values[(block * key_pairs + p) * LANES + lane] |= (to_bf16(x) as u32) << half;
        }
    }
}

/// Row `r < len` of `scores` (rows of `lp`, the first `len` entries live): `probs` gets the bf16 of
/// `exp(score - max)` (zeros past `len`), `inv_sums[r]` the reciprocal of their f32 sum.
fn exp_rows(scores: &[f32], lp: usize, len: usize, probs: &mut [u16], inv_sums: &mut [f32]) {
    for (r, inv) in inv_sums.iter_mut().enumerate().take(len) {
        let row = &scores[r * lp..r * lp + len];
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let out = &mut probs[r * lp..(r + 1) * lp];
        let mut sum = 0f32;
        for (p, &x) in out.iter_mut().zip(row) {
            let e = exp(x - max);
            sum += e;
            *p = to_bf16(e);
        }
        out[len..].fill(0);
        *inv = 1.0 / sum;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::LANES;

    /// The 32 floats at `src` as 32 bf16 in one register.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
    unsafe fn bf16x32(src: *const f32) -> __m512i {
        let (lo, hi) = (_mm512_loadu_ps(src), _mm512_loadu_ps(src.add(16)));
        std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo))
    }

    /// The mask of the first `n` (capped at 16) lanes.
    #[inline]
    fn live(n: usize) -> __mmask16 {
        if n >= 16 {
            0xffff
        } else {
            (1u16 << n) - 1
        }
    }

    /// [`super::pack_keys`] for `d` a multiple of 32: per block of 16 keys and 32 dims, 16 rows of 16
    /// bf16 pairs converted in registers and transposed.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
    pub(super) unsafe fn pack_keys(
        k: &[f32],
        stride: usize,
        len: usize,
        d: usize,
        keys: &mut [u32],
    ) {
        assert!(d.is_multiple_of(32) && keys.len() >= len.next_multiple_of(LANES) * d / 2);
        assert!(len == 0 || k.len() >= (len - 1) * stride + d);
        let pairs = d / 2;
        for block in 0..len.div_ceil(LANES) {
            for chunk in 0..d / 32 {
                let mut rows = [_mm512_setzero_si512(); 16];
                for (lane, row) in rows.iter_mut().enumerate() {
                    let key = block * LANES + lane;
                    if key < len {
                        *row = bf16x32(k.as_ptr().add(key * stride + 32 * chunk));
                    }
                }
                transpose16(&mut rows);
                let dst = keys.as_mut_ptr().add((block * pairs + 16 * chunk) * LANES);
                for (p, row) in rows.iter().enumerate() {
                    _mm512_storeu_si512(dst.add(p * LANES).cast(), *row);
                }
            }
        }
    }

    /// Transposes a 16 × 16 matrix of u32 held as 16 rows: pairs of rows interleaved by 32 and 64
    /// bits within 128-bit lanes, then 128-bit lanes gathered across registers in two shuffles.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn transpose16(r: &mut [__m512i; 16]) {
        let mut t = [_mm512_setzero_si512(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
        }
        // u[4g + j], 128-bit lane L: rows 4g..4g+4 of column 4L + j.
        let mut u = [_mm512_setzero_si512(); 16];
        for g in 0..4 {
            let (a0, a1, b0, b1) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
            u[4 * g] = _mm512_unpacklo_epi64(a0, b0);
            u[4 * g + 1] = _mm512_unpackhi_epi64(a0, b0);
            u[4 * g + 2] = _mm512_unpacklo_epi64(a1, b1);
            u[4 * g + 3] = _mm512_unpackhi_epi64(a1, b1);
        }
        for j in 0..4 {
            let v0 = _mm512_shuffle_i32x4::<0x88>(u[j], u[4 + j]);
            let v1 = _mm512_shuffle_i32x4::<0x88>(u[8 + j], u[12 + j]);
            let w0 = _mm512_shuffle_i32x4::<0xdd>(u[j], u[4 + j]);
            let w1 = _mm512_shuffle_i32x4::<0xdd>(u[8 + j], u[12 + j]);
            r[j] = _mm512_shuffle_i32x4::<0x88>(v0, v1);
            r[8 + j] = _mm512_shuffle_i32x4::<0xdd>(v0, v1);
            r[4 + j] = _mm512_shuffle_i32x4::<0x88>(w0, w1);
            r[12 + j] = _mm512_shuffle_i32x4::<0xdd>(w0, w1);
        }
    }

    /// [`super::pack_values`] for `d` a multiple of 32: per pair of keys and 16 dims, the two rows'
    /// bf16 interleaved by one 16-bit permute.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
    pub(super) unsafe fn pack_values(
        v: &[f32],
        stride: usize,
        len: usize,
        d: usize,
        lp: usize,
        values: &mut [u32],
    ) {
        assert!(d.is_multiple_of(32) && lp >= len && values.len() >= d * lp / 2);
        assert!(len == 0 || v.len() >= (len - 1) * stride + d);
        // Lane 2c takes the even key's dim c (element c), lane 2c + 1 the odd key's (element 16 + c).
        const INTERLEAVE: [u16; 32] = {
            let mut idx = [0u16; 32];
            let mut c = 0;
            while c < 16 {
                idx[2 * c] = c as u16;
                idx[2 * c + 1] = 16 + c as u16;
                c += 1;
            }
            idx
        };
        let interleave = _mm512_loadu_si512(INTERLEAVE.as_ptr().cast());
        let key_pairs = lp / 2;
        for p in 0..len.div_ceil(2) {
            let even = v.as_ptr().add(2 * p * stride);
            // Past the slice when `len` is odd: the load below then reads nothing (mask 0).
            let odd = v.as_ptr().wrapping_add((2 * p + 1) * stride);
            let odd_live = if 2 * p + 1 < len { 16 } else { 0 };
            for block in 0..d / LANES {
                let e = _mm512_loadu_ps(even.add(block * LANES));
                let o = _mm512_maskz_loadu_ps(live(odd_live), odd.add(block * LANES));
                let pair: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(o, e));
                let dst = values.as_mut_ptr().add((block * key_pairs + p) * LANES);
                _mm512_storeu_si512(dst.cast(), _mm512_permutexvar_epi16(interleave, pair));
            }
        }
    }

    /// `exp` of the 16 scores at `row + i` past the maximum (`shift` is max · log2 e); lanes at or
    /// past `len` give 0. See [`exp_rows`].
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn exp2(
        row: *const f32,
        i: usize,
        len: usize,
        log2e: __m512,
        shift: __m512,
        c: &[__m512; 6],
    ) -> __m512 {
        let mask = live(len.saturating_sub(i));
        let t = _mm512_fmsub_ps(_mm512_maskz_loadu_ps(mask, row.add(i)), log2e, shift);
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(t);
        let f = _mm512_sub_ps(t, n);
        let mut p = _mm512_fmadd_ps(c[5], f, c[4]);
        p = _mm512_fmadd_ps(p, f, c[3]);
        p = _mm512_fmadd_ps(p, f, c[2]);
        p = _mm512_fmadd_ps(p, f, c[1]);
        p = _mm512_fmadd_ps(p, f, c[0]);
        _mm512_maskz_scalef_ps(mask, p, n)
    }

    /// [`super::exp_rows`] with `exp(x - max) = 2^(x·log2 e - max·log2 e)`: the power of two split
    /// into an integer `n` and `f` in [-1/2, 1/2], `2^f` by its degree-5 Taylor polynomial (relative
    /// error < 4e-6, far below bf16's 4e-3), and `vscalefps` for `· 2^n` (underflow to 0 included).
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
    pub(super) unsafe fn exp_rows(
        scores: &[f32],
        lp: usize,
        len: usize,
        probs: &mut [u16],
        inv_sums: &mut [f32],
    ) {
        assert!(
            lp.is_multiple_of(32)
                && len <= lp
                && scores.len() >= len * lp
                && probs.len() >= len * lp
        );
        assert!(inv_sums.len() >= len);
        let log2e = _mm512_set1_ps(std::f32::consts::LOG2_E);
        let c = [
            1.0,
            std::f32::consts::LN_2,
            0.240_226_5,
            0.055_504_11,
            0.009_618_129,
            0.001_333_355_8,
        ]
        .map(|x: f32| _mm512_set1_ps(x));
        for (r, inv) in inv_sums[..len].iter_mut().enumerate() {
            let row = scores.as_ptr().add(r * lp);
            let mut max = _mm512_set1_ps(f32::NEG_INFINITY);
            for i in (0..len).step_by(16) {
                let x = _mm512_mask_loadu_ps(max, live(len - i), row.add(i));
                max = _mm512_max_ps(max, x);
            }
            let shift = _mm512_set1_ps(_mm512_reduce_max_ps(max) * std::f32::consts::LOG2_E);
            let mut sum = _mm512_setzero_ps();
            let out = probs.as_mut_ptr().add(r * lp);
            for i in (0..lp).step_by(32) {
                if i >= len {
                    _mm512_storeu_si512(out.add(i).cast(), _mm512_setzero_si512());
                    continue;
                }
                let lo = exp2(row, i, len, log2e, shift, &c);
                let hi = exp2(row, i + 16, len, log2e, shift, &c);
                sum = _mm512_add_ps(sum, _mm512_add_ps(lo, hi));
                let packed: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
                _mm512_storeu_si512(out.add(i).cast(), packed);
            }
            *inv = 1.0 / _mm512_reduce_add_ps(sum);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::tests::matrix;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_packing_matches_the_plain_loops() {
        if !vector_kernels(32) {
            eprintln!("no AVX512_BF16: the vector packing is not dispatched to on this CPU");
            return;
        }
        for (len, d) in [(1, 32), (17, 32), (40, 64), (64, 32)] {
            let stride = 3 * d + 8;
            let x = matrix(len, stride, len as u64);
            let lp = len.next_multiple_of(32);
            let (mut want, mut got) = (vec![0u32; lp * d / 2], vec![0u32; lp * d / 2]);
            pack_keys(&x, stride, len, d, &mut want);
            // SAFETY: vector_kernels checked the CPU; sizes as head_bf16 makes them.
            unsafe { x86::pack_keys(&x, stride, len, d, &mut got) };
            assert_eq!(got, want, "keys, len {len}, d {d}");
            let (mut want, mut got) = (vec![0u32; lp * d / 2], vec![0u32; lp * d / 2]);
            pack_values(&x, stride, len, d, lp, &mut want);
            // SAFETY: as above.
            unsafe { x86::pack_values(&x, stride, len, d, lp, &mut got) };
            assert_eq!(got, want, "values, len {len}, d {d}");
        }
    }

    /// Both softmax kernels against an f64 softmax: every probability within bf16's rounding.
    #[test]
    fn exp_rows_give_probabilities_within_bf16_rounding() {
        let from_bf16 = |h: u16| f32::from_bits((h as u32) << 16) as f64;
        for len in [1usize, 5, 16, 31, 32, 33, 70] {
            let lp = len.next_multiple_of(32);
            // Scores spread like attention's and one far below the rest (its exponential underflows).
            let mut scores: Vec<f32> = matrix(lp, lp, 7 + len as u64)
                .iter()
                .map(|x| 8.0 * x)
                .collect();
            scores[0] = -200.0;
            type ExpRows = fn(&[f32], usize, usize, &mut [u16], &mut [f32]);
            #[allow(unused_mut)] // no vector kernel off x86-64
            let mut kernels: Vec<(&str, ExpRows)> = vec![("plain", exp_rows)];
            #[cfg(target_arch = "x86_64")]
            if vector_kernels(32) {
                // SAFETY: vector_kernels checked the CPU; the test passes lp × lp and len buffers.
                kernels.push(("avx512", |s, lp, len, p, i| unsafe {
                    x86::exp_rows(s, lp, len, p, i)
                }));
            }
            for (name, kernel) in kernels {
                let (mut probs, mut inv) = (vec![u16::MAX; lp * lp], vec![0f32; len]);
                kernel(&scores, lp, len, &mut probs, &mut inv);
                for r in 0..len {
                    let row = &scores[r * lp..r * lp + len];
                    let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
                    let sum: f64 = row.iter().map(|&x| (x as f64 - max).exp()).sum();
                    for (j, &x) in row.iter().enumerate() {
                        let want = (x as f64 - max).exp() / sum;
                        let got = from_bf16(probs[r * lp + j]) * inv[r] as f64;
                        assert!(
                            (got - want).abs() <= want * 4e-3 + 1e-30,
                            "{name}: len {len} row {r} col {j}: {got} vs {want}"
                        );
                    }
                    assert!(probs[r * lp + len..(r + 1) * lp].iter().all(|&p| p == 0));
                }
            }
        }
    }
}
