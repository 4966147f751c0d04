//! int8 products with i32 accumulation: weights quantised symmetrically per output channel at load,
//! activations per row (token) for each product; AVX-512 VNNI, AVX-VNNI, AVX2 and portable kernels that all
//! compute the same integers.
//!
//! Weights are packed as `[block of 16 outputs][input quad][16 lanes][4]`: the 64 bytes of quad `q` of a
//! block are one `vpdpbusd` operand (two halves for 256-bit kernels). `vpdpbusd` multiplies unsigned by
//! signed bytes, so the VNNI kernels take activations offset by 128 and subtract `128 · Σ w` per channel
//! afterwards. AVX2's `vpmaddubsw` (unsigned by signed bytes, pairs summed in i16) would saturate on
//! such sums, so that kernel multiplies `|w|` (packed once at load, beside `w`) by `sign(w)·x` (one
//! `vpsignb` per operand): each pair then sums to at most 2 · 127 · 127.

use std::cell::RefCell;
use std::mem::MaybeUninit;

use super::{AlignedVec, BlockLayout, LANES, ROW_BLOCK};
use crate::cpu::{CpuFeatures, Int8Kernel, VectorWidth};

/// Adding and subtracting 1.5 · 2²³ rounds an f32 below 2²² to the nearest integer (ties to even) with
/// plain additions, which vectorise on every x86-64 CPU (`round` would be a libm call per element).
const ROUND: f32 = 12_582_912.0;

/// Quantises `values` symmetrically to [-127, 127] with one scale, writing each value's byte XOR `flip`
/// (0x80 turns the signed byte `q` into the unsigned `q + 128` the `vpdpbusd` kernels take); returns the
/// scale (0 for all zeros, NaN when a value is not finite).
#[inline(always)]
fn quantize_with(values: &[f32], out: &mut [u8], flip: u8) -> f32 {
    // 16 independent maxima so the loop vectorises (one running maximum is a serial chain).
    let mut lanes = [0f32; 16];
    let mut chunks = values.chunks_exact(16);
    for chunk in &mut chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(v.abs());
        }
    }
    let max = chunks
        .remainder()
        .iter()
        .chain(&lanes)
        .fold(0f32, |m, v| m.max(v.abs()));
    if max == 0.0 || !max.is_finite() {
        out.fill(flip);
        return if max == 0.0 { 0.0 } else { f32::NAN };
    }
    let inv = 127.0 / max;
    for (q, v) in out.iter_mut().zip(values) {
        // v · inv + ROUND has the rounded integer in its low mantissa bits, two's complement: its low
        // byte is the int8 (|v · inv| <= 127), no float-to-int conversion needed.
        *q = (v * inv + ROUND).to_bits() as u8 ^ flip;
    }
    max / 127.0
}

/// [`quantize_with`] into signed bytes.
fn quantize(values: &[f32], out: &mut [i8]) -> f32 {
    let mut bytes = vec![0u8; out.len()];
    let scale = quantize_with(values, &mut bytes, 0);
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = b as i8;
    }
    scale
}

/// Weights of one layer in int8, packed (see the module docs), with their per-channel scales.
#[derive(Debug, Clone)]
pub(crate) struct Int8Weights {
    pub(super) layout: BlockLayout,
    data: AlignedVec<i8>,
    /// `|data|`, for the AVX2 kernel only (empty otherwise).
    magnitudes: AlignedVec<u8>,
    /// Per output channel (padded to `np`): the quantisation scale and `128 · Σ w` of its int8 weights.
    scales: Vec<f32>,
    offsets: Vec<i32>,
    kernel: Int8Kernel,
}

impl Int8Weights {
    pub(crate) fn pack(weight: &[f32], layout: BlockLayout, kernel: Int8Kernel) -> Self {
        let (k, np) = (layout.k, layout.np);
        let mut rows = vec![0i8; np * k];
        let mut scales = vec![0f32; np];
        for (j, row) in weight.chunks_exact(k).enumerate() {
            scales[j] = quantize(row, &mut rows[j * k..(j + 1) * k]);
        }
        let offsets = rows
            .chunks_exact(k)
            .map(|r| 128 * r.iter().map(|&q| q as i32).sum::<i32>())
            .collect();
        Self {
            layout,
            data: layout.pack(4, |row, col| rows[row * k + col]),
            magnitudes: if kernel == Int8Kernel::Avx2 {
                layout.pack(4, |row, col| rows[row * k + col].unsigned_abs())
            } else {
                AlignedVec::new()
            },
            scales,
            offsets,
            kernel,
        }
    }

    /// Whether the kernel takes activations offset by 128 (the `vpdpbusd` kernels).
    fn offset_activations(&self) -> bool {
        matches!(self.kernel, Int8Kernel::Avx512Vnni | Int8Kernel::AvxVnni)
    }

    /// The exact integer products `q(x) · q(W)ᵀ` of up to [`ROW_BLOCK`] rows into `acc`, `ROW_BLOCK ×
    /// np` (the offset kernels' `128 · Σ w` not yet subtracted; rows past the block's own, rounded up to
    /// 8, keep stale sums), and the rows' scales.
    #[inline(always)]
    fn raw_block(&self, x: &[f32], acc: &mut Vec<i32>) -> Vec<f32> {
        let BlockLayout { k, kp, np, .. } = self.layout;
        let flip = if self.offset_activations() { 0x80 } else { 0 };
        let mut q = AlignedVec::filled(ROW_BLOCK * kp, flip);
        // A plain loop, not an iterator adapter with a closure: the closure would be compiled on its own,
        // without the AVX-512/AVX2 features of the `multiply_block_*` variant this is inlined into.
        let mut row_scales = Vec::with_capacity(ROW_BLOCK);
        for (dst, src) in q.chunks_exact_mut(kp).zip(x.chunks_exact(k)) {
            row_scales.push(quantize_with(src, &mut dst[..k], flip));
        }
        // Every kernel writes all sums of the rows it computes (see `rows` below), so a reused buffer
        // needs no clearing.
        acc.resize(ROW_BLOCK * np, 0);
        // SAFETY (all arms): `Int8Kernel::available` lists a kernel only when the CPU has its
        // instructions, and `EmbedderBuilder` accepts no other; `q` is ROW_BLOCK × kp, the weights
        // np × kp, `acc` ROW_BLOCK × np.
        let w = &self.data;
        // Only the block's rows (in the kernels' steps of 8): a layer's last block is usually short.
        let rows = (x.len() / k).next_multiple_of(8);
        match self.kernel {
            #[cfg(target_arch = "x86_64")]
            Int8Kernel::Avx512Vnni => unsafe { x86::vnni512(&q, kp, w, np, acc, rows) },
            #[cfg(target_arch = "x86_64")]
            Int8Kernel::AvxVnni => unsafe { x86::vnni256(&q, kp, w, np, acc, rows) },
            #[cfg(target_arch = "x86_64")]
            Int8Kernel::Avx2 => unsafe { x86::avx2(&q, kp, w, &self.magnitudes, np, acc, rows) },
            _ => portable(&q, kp, w, np, acc, rows),
        }
        row_scales
    }

    /// The exact integer products `q(x) · q(W)ᵀ` and the rows' scales (tests compare kernels on these).
    #[cfg(test)]
    fn integer_block(&self, x: &[f32]) -> (Vec<i32>, Vec<f32>) {
        let mut acc = Vec::new();
        let scales = self.raw_block(x, &mut acc);
        if self.offset_activations() {
            for row in acc.chunks_exact_mut(self.layout.np) {
                for (a, o) in row.iter_mut().zip(&self.offsets) {
                    *a -= o;
                }
            }
        }
        (acc, scales)
    }

    /// `y = x · Wᵀ` for up to [`ROW_BLOCK`] rows of `x` (`k` wide); `y` is `n` wide. The element-wise
    /// passes (quantising, rescaling) are compiled for the CPU's widest vectors.
    pub(crate) fn multiply_block(&self, x: &[f32], y: &mut [MaybeUninit<f32>]) {
        match CpuFeatures::detect().vector_width() {
            // SAFETY: vector_width is Avx512 only when the CPU has AVX-512 F/BW/VL, AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            VectorWidth::Avx512 => unsafe { x86::multiply_block_avx512(self, x, y) },
            // SAFETY: vector_width is Avx2 only when the CPU has AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            VectorWidth::Avx2 => unsafe { x86::multiply_block_avx2(self, x, y) },
            _ => self.multiply_block_inline(x, y),
        }
    }

    #[inline(always)]
    fn multiply_block_inline(&self, x: &[f32], y: &mut [MaybeUninit<f32>]) {
        thread_local! {
            /// Each worker's accumulators, reused across blocks and layers: a fresh zeroed one per
            /// block was a memset as large as the layer's output.
            static ACC: RefCell<Vec<i32>> = const { RefCell::new(Vec::new()) };
        }
        // Taken out and put back rather than used inside `with`: code in a closure is compiled without
        // the AVX-512/AVX2 features of the `multiply_block_*` variant this is inlined into.
        let mut acc = ACC.take();
        self.rescale(x, y, &mut acc);
        ACC.set(acc);
    }

    /// Multiplies one block into `acc` and writes `y = (acc - offset) · row scale · channel scale`.
    #[inline(always)]
    fn rescale(&self, x: &[f32], y: &mut [MaybeUninit<f32>], acc: &mut Vec<i32>) {
        let row_scales = self.raw_block(x, acc);
        let BlockLayout { n, np, .. } = self.layout;
        let offsets: &[i32] = if self.offset_activations() {
            &self.offsets[..n]
        } else {
            &[0; 0]
        };
        let scales = &self.scales[..n];
        for ((dst, src), xs) in y
            .chunks_exact_mut(n)
            .zip(acc.chunks_exact(np))
            .zip(row_scales)
        {
            let src = &src[..n];
            if offsets.is_empty() {
                for j in 0..n {
                    dst[j] = MaybeUninit::new(src[j] as f32 * (xs * scales[j]));
                }
            } else {
                for j in 0..n {
                    dst[j] = MaybeUninit::new((src[j] - offsets[j]) as f32 * (xs * scales[j]));
                }
            }
        }
    }
}

/// The reference: signed bytes, i32 sums.
fn portable(q: &[u8], kp: usize, w: &[i8], np: usize, acc: &mut [i32], rows: usize) {
    let quads = kp / 4;
    for r in 0..rows {
        let row = &q[r * kp..(r + 1) * kp];
        for j in 0..np {
            let (block, lane) = (j / LANES, j % LANES);
            let mut sum = 0i32;
            for quad in 0..quads {
                let at = ((block * quads + quad) * LANES + lane) * 4;
                for e in 0..4 {
                    sum += row[4 * quad + e] as i8 as i32 * w[at + e] as i32;
                }
            }
            acc[r * np + j] = sum;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use super::{Int8Weights, LANES};

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    pub(super) unsafe fn multiply_block_avx512(
        w: &Int8Weights,
        x: &[f32],
        y: &mut [MaybeUninit<f32>],
    ) {
        w.multiply_block_inline(x, y)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn multiply_block_avx2(
        w: &Int8Weights,
        x: &[f32],
        y: &mut [MaybeUninit<f32>],
    ) {
        w.multiply_block_inline(x, y)
    }

    /// Four activation bytes of row `r` at quad `quad`, as one i32 to broadcast.
    #[inline(always)]
    unsafe fn quad<T>(x: &[T], kp: usize, r: usize, quad: usize) -> i32 {
        x.as_ptr()
            .add(r * kp + 4 * quad)
            .cast::<i32>()
            .read_unaligned()
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    pub(super) unsafe fn vnni512(
        u: &[u8],
        kp: usize,
        w: &[i8],
        np: usize,
        acc: &mut [i32],
        rows: usize,
    ) {
        const R: usize = 8;
        let quads = kp / 4;
        for block in (0..np / LANES).step_by(2) {
            let w0 = w.as_ptr().add(block * quads * 4 * LANES);
            let w1 = w0.add(quads * 4 * LANES);
            for r0 in (0..rows).step_by(R) {
                let mut sums = [[_mm512_setzero_si512(); 2]; R];
                for q in 0..quads {
                    let b0 = _mm512_loadu_si512(w0.add(q * 4 * LANES).cast());
                    let b1 = _mm512_loadu_si512(w1.add(q * 4 * LANES).cast());
                    for (r, s) in sums.iter_mut().enumerate() {
                        let x = _mm512_set1_epi32(quad(u, kp, r0 + r, q));
                        s[0] = _mm512_dpbusd_epi32(s[0], x, b0);
                        s[1] = _mm512_dpbusd_epi32(s[1], x, b1);
                    }
                }
                for (r, s) in sums.iter().enumerate() {
                    let at = acc.as_mut_ptr().add((r0 + r) * np + block * LANES);
                    _mm512_storeu_si512(at.cast(), s[0]);
                    _mm512_storeu_si512(at.add(LANES).cast(), s[1]);
                }
            }
        }
    }

    #[target_feature(enable = "avx2,avxvnni")]
    pub(super) unsafe fn vnni256(
        u: &[u8],
        kp: usize,
        w: &[i8],
        np: usize,
        acc: &mut [i32],
        rows: usize,
    ) {
        const R: usize = 4;
        let quads = kp / 4;
        for block in 0..np / LANES {
            let wb = w.as_ptr().add(block * quads * 4 * LANES);
            for r0 in (0..rows).step_by(R) {
                let mut sums = [[_mm256_setzero_si256(); 2]; R];
                for q in 0..quads {
                    let lo = _mm256_loadu_si256(wb.add(q * 4 * LANES).cast());
                    let hi = _mm256_loadu_si256(wb.add(q * 4 * LANES + 32).cast());
                    for (r, s) in sums.iter_mut().enumerate() {
                        let x = _mm256_set1_epi32(quad(u, kp, r0 + r, q));
                        s[0] = _mm256_dpbusd_avx_epi32(s[0], x, lo);
                        s[1] = _mm256_dpbusd_avx_epi32(s[1], x, hi);
                    }
                }
                for (r, s) in sums.iter().enumerate() {
                    let at = acc.as_mut_ptr().add((r0 + r) * np + block * LANES);
                    _mm256_storeu_si256(at.cast(), s[0]);
                    _mm256_storeu_si256(at.add(8).cast(), s[1]);
                }
            }
        }
    }

    /// See the module docs: `|w| · sign(w)·x` with `vpmaddubsw`, widened by `vpmaddwd`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2(
        q: &[u8],
        kp: usize,
        w: &[i8],
        magnitudes: &[u8],
        np: usize,
        acc: &mut [i32],
        rows: usize,
    ) {
        const R: usize = 4;
        let quads = kp / 4;
        let ones = _mm256_set1_epi16(1);
        for block in 0..np / LANES {
            let at = block * quads * 4 * LANES;
            let (wb, mb) = (w.as_ptr().add(at), magnitudes.as_ptr().add(at));
            for r0 in (0..rows).step_by(R) {
                let mut sums = [[_mm256_setzero_si256(); 2]; R];
                for qd in 0..quads {
                    let w_lo = _mm256_load_si256(wb.add(qd * 4 * LANES).cast());
                    let w_hi = _mm256_load_si256(wb.add(qd * 4 * LANES + 32).cast());
                    let m_lo = _mm256_load_si256(mb.add(qd * 4 * LANES).cast());
                    let m_hi = _mm256_load_si256(mb.add(qd * 4 * LANES + 32).cast());
                    for (r, s) in sums.iter_mut().enumerate() {
                        let x = _mm256_set1_epi32(quad(q, kp, r0 + r, qd));
                        let pairs_lo = _mm256_maddubs_epi16(m_lo, _mm256_sign_epi8(x, w_lo));
                        let pairs_hi = _mm256_maddubs_epi16(m_hi, _mm256_sign_epi8(x, w_hi));
                        s[0] = _mm256_add_epi32(s[0], _mm256_madd_epi16(pairs_lo, ones));
                        s[1] = _mm256_add_epi32(s[1], _mm256_madd_epi16(pairs_hi, ones));
                    }
                }
                for (r, s) in sums.iter().enumerate() {
                    let at = acc.as_mut_ptr().add((r0 + r) * np + block * LANES);
                    _mm256_storeu_si256(at.cast(), s[0]);
                    _mm256_storeu_si256(at.add(8).cast(), s[1]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantization_is_symmetric_and_reaches_127() {
        let mut q = [0i8; 4];
        let scale = quantize(&[0.5, -1.0, 0.25, 0.0], &mut q);
        assert_eq!(q, [64, -127, 32, 0]);
        assert!((scale - 1.0 / 127.0).abs() < 1e-9);
        assert_eq!(quantize(&[0.0; 4], &mut q), 0.0);
    }

    #[test]
    fn every_int8_kernel_computes_the_same_integers() {
        // Extreme values on purpose: all ±127 would saturate a naive vpmaddubsw kernel.
        let (n, k) = (96, 136);
        let mut w = crate::linear::tests::matrix(n, k, 9);
        let mut x = crate::linear::tests::matrix(ROW_BLOCK, k, 10);
        w[..k]
            .iter_mut()
            .for_each(|v| *v = if *v < 0.0 { -1.0 } else { 1.0 });
        x[..k]
            .iter_mut()
            .for_each(|v| *v = if *v < 0.0 { -1.0 } else { 1.0 });
        let kernels = Int8Kernel::available();
        eprintln!("int8 kernels this CPU runs: {kernels:?}");
        // A full row block and a short one (37 rows: the kernels stop at 40).
        for rows in [ROW_BLOCK, 37] {
            let x = &x[..rows * k];
            let (want, want_scales) =
                Int8Weights::pack(&w, BlockLayout::new(n, k), Int8Kernel::Portable)
                    .integer_block(x);
            for &kernel in &kernels {
                let (got, scales) =
                    Int8Weights::pack(&w, BlockLayout::new(n, k), kernel).integer_block(x);
                let np = BlockLayout::new(n, k).np;
                assert_eq!(
                    got[..rows * np],
                    want[..rows * np],
                    "{kernel:?}, {rows} rows"
                );
                assert_eq!(scales, want_scales, "{kernel:?}, {rows} rows");
            }
        }
    }
}
