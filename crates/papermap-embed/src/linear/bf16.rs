//! bf16 products with f32 accumulation: AMX tiles, AVX512_BF16, and a portable reference.
//!
//! Weights are packed as `[block of 16 outputs][input pair][16 lanes][2]`: for one block, the 64 bytes of
//! input pair `p` are exactly one `vdpbf16ps` operand, and 16 consecutive pairs (32 inputs) are one AMX
//! B tile in the VNNI layout `tdpbf16ps` wants, so both kernels read the same packing.

use std::cell::RefCell;
use std::mem::MaybeUninit;

use super::{AlignedVec, BlockLayout, LANES, ROW_BLOCK};
use crate::cpu::Bf16Kernel;

/// f32 → bf16, rounding to nearest even (as `vcvtne2ps2bf16` and PyTorch's conversion do).
pub(crate) fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

fn from_bf16(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// Weights of one layer in bf16, packed (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Bf16Weights {
    pub(super) layout: BlockLayout,
    data: AlignedVec<u16>,
    kernel: Bf16Kernel,
}

impl Bf16Weights {
    pub(crate) fn pack(weight: &[f32], layout: BlockLayout, kernel: Bf16Kernel) -> Self {
        let data = layout.pack(2, |row, col| to_bf16(weight[row * layout.k + col]));
        Self {
            layout,
            data,
            kernel,
        }
    }

    /// `y = x · Wᵀ` for up to [`ROW_BLOCK`] rows of `x` (`k` wide); `y` is `n` wide. Writes every
    /// element of `y`.
    pub(crate) fn multiply_block(&self, x: &[f32], y: &mut [MaybeUninit<f32>]) {
        thread_local! {
            /// Each worker's converted activations and (for partial blocks) products, reused across
            /// blocks and layers: fresh zeroed buffers per block were a memset as large as the layer.
            static SCRATCH: RefCell<(AlignedVec<u16>, AlignedVec<f32>)> = const { RefCell::new((AlignedVec::new(), AlignedVec::new())) };
        }
        let BlockLayout { n, k, kp, np } = self.layout;
        let rows = x.len() / k;
        debug_assert!(rows <= ROW_BLOCK && y.len() == rows * n);
        let (mut a, mut scratch) = SCRATCH.take();
        if a.len() != ROW_BLOCK * kp {
            // Zeros once: the padding columns `k..kp` are never written and must stay zero. Rows past
            // `rows` keep earlier activations; their products land in rows nobody reads.
            a = AlignedVec::zeroed(ROW_BLOCK * kp);
        }
        convert_rows(x, k, &mut a, kp);
        let direct = rows == ROW_BLOCK && np == n;
        let (out, ldc) = if direct {
            (&mut *y, n)
        } else {
            scratch.resize(ROW_BLOCK * np);
            (as_uninit(&mut scratch), np)
        };
        // Only the rows this block has, in AMX's steps of 32: a layer's last block is usually short
        // (rows = sequences · padded length), and its stale rows would cost as much as live ones.
        product(
            self.kernel,
            &a,
            kp,
            &self.data,
            np,
            out,
            ldc,
            rows.next_multiple_of(32),
        );
        if !direct {
            for (dst, src) in y.chunks_exact_mut(n).zip(scratch.chunks_exact(np)) {
                for (d, s) in dst.iter_mut().zip(src) {
                    *d = MaybeUninit::new(*s);
                }
            }
        }
        SCRATCH.set((a, scratch));
    }
}

/// `out[r][j] = Σ a[r][·] · w[j][·]` for `rows` rows (a multiple of 32) of bf16 activations `a`
/// (`kp` wide, a multiple of 32) and packed bf16 weights `w` (`np` outputs, a multiple of 32), written
/// at row stride `ldc` ≥ np, with `kernel`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn product(
    kernel: Bf16Kernel,
    a: &[u16],
    kp: usize,
    w: &[u16],
    np: usize,
    out: &mut [MaybeUninit<f32>],
    ldc: usize,
    rows: usize,
) {
    assert!(
        rows.is_multiple_of(32)
            && kp.is_multiple_of(32)
            && np.is_multiple_of(2 * LANES)
            && a.len() >= rows * kp
            && w.len() >= np * kp
            && (rows == 0 || out.len() >= (rows - 1) * ldc + np)
            && ldc >= np
    );
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Bf16Kernel::available` lists Amx only when the CPU has AMX-BF16 and the process may
        // use tile data; sizes checked just above.
        Bf16Kernel::Amx => unsafe { x86::amx(a, kp, w, np, out, ldc, rows) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: listed only when the CPU has AVX512_BF16 (and AVX-512 F/BW/VL); sizes as above.
        Bf16Kernel::Avx512Bf16 => unsafe { x86::avx512(a, kp, w, np, out, ldc, rows) },
        _ => portable(a, kp, w, np, out, ldc, rows),
    }
}

/// Initialised floats seen as slots to overwrite (sound: only floats are ever written through it).
pub(crate) fn as_uninit(v: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // SAFETY: MaybeUninit<f32> has f32's layout, and every slot starts initialised.
    unsafe { &mut *(v as *mut [f32] as *mut [MaybeUninit<f32>]) }
}

/// Rows of `x` (`k` wide) to bf16 rows of `a` (`kp` wide), rounding to nearest even.
pub(crate) fn convert_rows(x: &[f32], k: usize, a: &mut [u16], kp: usize) {
    let rows = (x.len() / k).min(a.len() / kp);
    convert_strided(x, k, k, rows, a, kp)
}

/// `rows` rows of `k` floats starting every `stride` floats of `x`, to bf16 rows of `a` (`kp` wide,
/// columns past `k` untouched), rounding to nearest even: one call for a head's strided rows.
pub(crate) fn convert_strided(
    x: &[f32],
    stride: usize,
    k: usize,
    rows: usize,
    a: &mut [u16],
    kp: usize,
) {
    assert!(
        k <= stride
            && k <= kp
            && a.len() >= rows * kp
            && (rows == 0 || x.len() >= (rows - 1) * stride + k)
    );
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::CpuFeatures::detect().avx512_bf16 {
        // SAFETY: the CPU has AVX512_BF16 and AVX-512 F/BW/VL, checked just above; sizes above.
        return unsafe { x86::convert_strided(x, stride, k, rows, a, kp) };
    }
    convert_strided_portable(x, stride, k, rows, a, kp)
}

fn convert_strided_portable(
    x: &[f32],
    stride: usize,
    k: usize,
    rows: usize,
    a: &mut [u16],
    kp: usize,
) {
    for r in 0..rows {
        let (src, dst) = (&x[r * stride..r * stride + k], &mut a[r * kp..r * kp + k]);
        for (d, s) in dst.iter_mut().zip(src) {
            *d = to_bf16(*s);
        }
    }
}

/// The reference: the same bf16 inputs, products and sums in f32.
fn portable(
    a: &[u16],
    kp: usize,
    w: &[u16],
    np: usize,
    out: &mut [MaybeUninit<f32>],
    ldc: usize,
    rows: usize,
) {
    let pairs = kp / 2;
    for r in 0..rows {
        let row = &a[r * kp..(r + 1) * kp];
        for j in 0..np {
            let (block, lane) = (j / LANES, j % LANES);
            let mut sum = 0f32;
            for p in 0..pairs {
                let at = ((block * pairs + p) * LANES + lane) * 2;
                sum += from_bf16(row[2 * p]) * from_bf16(w[at])
                    + from_bf16(row[2 * p + 1]) * from_bf16(w[at + 1]);
            }
            out[r * ldc + j] = MaybeUninit::new(sum);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::asm;
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use super::LANES;

    /// The AMX palette-1 configuration: tiles 0-3 accumulate a 32 × 32 f32 block (2 × 2 tiles of
    /// 16 × 16), tiles 4-5 hold 32 rows × 32 bf16 of activations, tiles 6-7 two weight blocks of
    /// 16 input pairs × 16 lanes; every tile is 16 rows of 64 bytes.
    #[repr(C, align(64))]
    struct TileConfig([u8; 64]);

    impl TileConfig {
        fn new() -> Self {
            let mut c = [0u8; 64];
            c[0] = 1; // palette 1
            for tile in 0..8 {
                c[16 + 2 * tile] = 64; // bytes per row
                c[48 + tile] = 16; // rows
            }
            TileConfig(c)
        }
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn amx(
        a: &[u16],
        kp: usize,
        w: &[u16],
        np: usize,
        out: &mut [MaybeUninit<f32>],
        ldc: usize,
        rows: usize,
    ) {
        let config = TileConfig::new();
        let pairs = kp / 2;
        // SAFETY (whole function): tile loads read 16 rows of 64 bytes: A at a[0..32·kp] in steps of 32
        // inputs, B within one weight block (pairs × 32 u16); stores write 32 rows × 32 f32 inside `out`.
        asm!("ldtilecfg [{}]", in(reg) config.0.as_ptr(), options(nostack, readonly));
        // Rows outer, weight blocks inner: 32 rows of activations (32 · kp bf16) stay in L1 while the
        // weight panels stream past them.
        for row0 in (0..rows).step_by(32) {
            for block in (0..np / LANES).step_by(2) {
                let b0 = w.as_ptr().add(block * pairs * 2 * LANES);
                let b1 = b0.add(pairs * 2 * LANES);
                let a = a.as_ptr().add(row0 * kp);
                let c = out
                    .as_mut_ptr()
                    .cast::<f32>()
                    .add(row0 * ldc + block * LANES);
                asm!(
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    "2:",
                    // Loads interleaved with the products that need them: tiles are not renamed,
                    // so a load waits for the last product reading its register; in this order the
                    // next step's A0 and B0 loads overlap the last two products.
                    "tileloadd tmm4, [{a} + {lda}*1]",
                    "tileloadd tmm6, [{b0} + {s64}*1]",
                    "tdpbf16ps tmm0, tmm4, tmm6",
                    "tileloadd tmm7, [{b1} + {s64}*1]",
                    "tdpbf16ps tmm1, tmm4, tmm7",
                    "tileloadd tmm5, [{a16} + {lda}*1]",
                    "tdpbf16ps tmm2, tmm5, tmm6",
                    "tdpbf16ps tmm3, tmm5, tmm7",
                    "add {a}, 64",
                    "add {a16}, 64",
                    "add {b0}, 1024",
                    "add {b1}, 1024",
                    "dec {steps}",
                    "jnz 2b",
                    "tilestored [{c} + {ldc}*1], tmm0",
                    "tilestored [{c} + {ldc}*1 + 64], tmm1",
                    "tilestored [{c16} + {ldc}*1], tmm2",
                    "tilestored [{c16} + {ldc}*1 + 64], tmm3",
                    a = inout(reg) a => _,
                    a16 = inout(reg) a.add(16 * kp) => _,
                    lda = in(reg) kp * 2,
                    b0 = inout(reg) b0 => _,
                    b1 = inout(reg) b1 => _,
                    s64 = in(reg) 64usize,
                    steps = inout(reg) kp / 32 => _,
                    c = in(reg) c,
                    c16 = in(reg) c.add(16 * ldc),
                    ldc = in(reg) ldc * 4,
                    options(nostack),
                );
            }
        }
        asm!("tilerelease", options(nostack, nomem));
    }

    /// `vcvtne2ps2bf16`: 32 floats per instruction, rounding to nearest even like `to_bf16`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
    pub(super) unsafe fn convert_strided(
        x: &[f32],
        stride: usize,
        k: usize,
        rows: usize,
        a: &mut [u16],
        kp: usize,
    ) {
        for r in 0..rows {
            let (src, dst) = (x.as_ptr().add(r * stride), a.as_mut_ptr().add(r * kp));
            let mut i = 0;
            while i + 32 <= k {
                let lo = _mm512_loadu_ps(src.add(i));
                let hi = _mm512_loadu_ps(src.add(i + 16));
                let packed: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
                _mm512_storeu_si512(dst.add(i).cast(), packed);
                i += 32;
            }
            for j in i..k {
                *dst.add(j) = super::to_bf16(*src.add(j));
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
    pub(super) unsafe fn avx512(
        a: &[u16],
        kp: usize,
        w: &[u16],
        np: usize,
        out: &mut [MaybeUninit<f32>],
        ldc: usize,
        rows: usize,
    ) {
        const R: usize = 8;
        let pairs = kp / 2;
        for block in (0..np / LANES).step_by(2) {
            let w0 = w.as_ptr().add(block * pairs * 2 * LANES);
            let w1 = w0.add(pairs * 2 * LANES);
            for r0 in (0..rows).step_by(R) {
                let mut acc = [[_mm512_setzero_ps(); 2]; R];
                for p in 0..pairs {
                    let b0: __m512bh =
                        std::mem::transmute(_mm512_loadu_si512(w0.add(p * 2 * LANES).cast()));
                    let b1: __m512bh =
                        std::mem::transmute(_mm512_loadu_si512(w1.add(p * 2 * LANES).cast()));
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let pair = a
                            .as_ptr()
                            .add((r0 + r) * kp + 2 * p)
                            .cast::<i32>()
                            .read_unaligned();
                        let x: __m512bh = std::mem::transmute(_mm512_set1_epi32(pair));
                        acc[0] = _mm512_dpbf16_ps(acc[0], x, b0);
                        acc[1] = _mm512_dpbf16_ps(acc[1], x, b1);
                    }
                }
                for (r, acc) in acc.iter().enumerate() {
                    let at = out
                        .as_mut_ptr()
                        .cast::<f32>()
                        .add((r0 + r) * ldc + block * LANES);
                    _mm512_storeu_ps(at, acc[0]);
                    _mm512_storeu_ps(at.add(LANES), acc[1]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_to_bf16_is_to_nearest_even() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
        assert_eq!(to_bf16(1.0 + 1.0 / 256.0), 0x3f80);
        // 1 + 3·2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: ties go to the even one (1 + 2^-6).
        assert_eq!(to_bf16(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(from_bf16(to_bf16(-2.5)), -2.5);
    }

    #[test]
    fn dispatched_conversion_rounds_like_the_scalar_one() {
        let (k, kp) = (70, 96);
        let mut x = crate::linear::tests::matrix(3, k, 11);
        x[5] = 1.0 + 1.0 / 256.0; // a tie
        x[6] = 1.0 + 3.0 / 256.0; // the other tie
        let (mut fast, mut scalar) = (vec![7u16; 3 * kp], vec![7u16; 3 * kp]);
        convert_rows(&x, k, &mut fast, kp);
        convert_strided_portable(&x, k, k, 3, &mut scalar, kp);
        assert_eq!(fast, scalar);
    }

    #[test]
    fn each_bf16_kernel_matches_the_portable_one() {
        let (n, k) = (96, 160);
        let w = crate::linear::tests::matrix(n, k, 7);
        let x = crate::linear::tests::matrix(ROW_BLOCK, k, 8);
        let reference = Bf16Weights::pack(&w, BlockLayout::new(n, k), Bf16Kernel::Portable);
        let mut want = vec![0f32; ROW_BLOCK * n];
        reference.multiply_block(&x, as_uninit(&mut want));
        let kernels = Bf16Kernel::available();
        eprintln!("bf16 kernels this CPU runs: {kernels:?}");
        for kernel in kernels {
            let mut got = vec![0f32; ROW_BLOCK * n];
            Bf16Weights::pack(&w, BlockLayout::new(n, k), kernel)
                .multiply_block(&x, as_uninit(&mut got));
            for (g, e) in got.iter().zip(&want) {
                // Same bf16 inputs, exact products; only the f32 summation order differs.
                assert!(
                    (g - e).abs() <= 1e-4 * (1.0 + e.abs()),
                    "{kernel:?}: {g} vs {e}"
                );
            }
        }
    }
}
