//! Multi-head self-attention of right-padded sequences, read straight from the fused QKV projection.
//!
//! The tensor formulation (permute Q, K, V to `batch × heads × seq × head_dim`, one batched matmul for the
//! scores, a masked softmax, another batched matmul, permute back) copies Q, K and V twice, computes scores
//! for padding, and splits each of `batch × heads` small products across threads one after another. Here
//! each (sequence, head) pair is one task: its scores are `len × len` for the sequence's real length, the
//! products read Q, K and V in place through strides, and the context lands directly in the
//! `(batch·seq) × hidden` layout the output projection wants. The arithmetic is the same, so parity holds.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape};
use gemm::{gemm, Parallelism};
use rayon::prelude::*;

mod bf16;

use crate::cpu::Bf16Kernel;
use crate::kernels::softmax_rows;
use bf16::head_bf16;

/// Attention over the output of the fused QKV projection, `(batch·seq) × 3·hidden` with the query, key and
/// value blocks side by side (query already scaled by `1/sqrt(head_dim)`). Produces the `(batch·seq) ×
/// hidden` context; rows of padding positions are zero.
pub struct PackedAttention<'a> {
    /// Real tokens of each sequence; the rest of its `seq` positions is padding.
    pub lengths: &'a [usize],
    /// Positions per sequence, padding included.
    pub seq: usize,
    /// Attention heads.
    pub heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Products in bf16 with this kernel (the `--precision bf16` encoder); `None`: f32 (exact).
    pub bf16: Option<Bf16Kernel>,
}

/// A pointer tasks may share because each writes a disjoint set of elements.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: only used for writes to disjoint (sequence, head) blocks, see `cpu_fwd`.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    // A method, not `.0`: closures would capture the bare field, which is not `Send`.
    fn ptr(self) -> *mut f32 {
        self.0
    }
}

impl CustomOp1 for PackedAttention<'_> {
    fn name(&self) -> &'static str {
        "papermap-packed-attention"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (batch, seq, heads, d) = (self.lengths.len(), self.seq, self.heads, self.head_dim);
        let hidden = heads * d;
        let fail = |what: String| Err(candle_core::Error::Msg(format!("{}: {what}", self.name())));
        if layout.dims() != [batch * seq, 3 * hidden] {
            return fail(format!(
                "input {:?} is not ({batch}·{seq}) × 3·{hidden}",
                layout.dims()
            ));
        }
        if self.lengths.iter().any(|&l| l == 0 || l > seq) {
            return fail(format!(
                "lengths {:?} do not fit {seq} positions",
                self.lengths
            ));
        }
        let qkv = match (storage, layout.contiguous_offsets()) {
            (CpuStorage::F32(data), Some((start, end))) => &data[start..end],
            _ => return fail("input must be contiguous f32".into()),
        };
        // Not zeroed: each task writes its head's columns of every position of its sequence (the
        // context of real tokens, zeros for padding), so together they write every element once.
        let mut out: Vec<f32> = Vec::with_capacity(batch * seq * hidden);
        let out_ptr = SharedOut(out.as_mut_ptr());
        let row = 3 * hidden as isize;
        (0..batch * heads).into_par_iter().for_each(|task| {
            let (b, h) = (task / heads, task % heads);
            let len = self.lengths[b];
            let base = b * seq * 3 * hidden + h * d;
            let (q, k, v) = (
                &qkv[base..],
                &qkv[base + hidden..],
                &qkv[base + 2 * hidden..],
            );
            // Padding positions: zeros in this head's columns.
            for p in len..seq {
                // SAFETY: row `b·seq + p` (p < seq), columns `h·d .. (h+1)·d` of `out`'s capacity
                // belong to this task alone.
                unsafe {
                    let row = out_ptr.ptr().add((b * seq + p) * hidden + h * d);
                    std::ptr::write_bytes(row, 0, d);
                }
            }
            if let Some(kernel) = self.bf16 {
                head_bf16(kernel, q, k, v, 3 * hidden, len, d, |context| {
                    let dp = context.len() / len;
                    for (r, row) in context.chunks_exact(dp).enumerate() {
                        // SAFETY: row `b·seq + r` (r < len), columns `h·d .. (h+1)·d` of `out`'s
                        // capacity belong to this task alone.
                        unsafe {
                            let dst = out_ptr.ptr().add((b * seq + r) * hidden + h * d);
                            std::ptr::copy_nonoverlapping(row.as_ptr(), dst, d);
                        }
                    }
                });
                return;
            }
            thread_local! {
                /// Each worker's score matrix, reused: a fresh zeroed one per (sequence, head) was a
                /// memset per task.
                static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
            }
            let mut scores = SCORES.take();
            // gemm below overwrites all len × len entries (read_dst = false).
            scores.resize(len * len, 0.0);
            // SAFETY: every pointer stays inside its slice: `len <= seq` rows of stride `3·hidden` starting
            // at `base` (+ hidden, + 2·hidden), `d` columns each, within sequence `b`'s block; `scores` is
            // `len × len`; the destination is rows `b·seq .. b·seq+len`, columns `h·d .. (h+1)·d` of
            // `out`'s capacity, which no other task writes.
            unsafe {
                // scores = q · kᵀ
                gemm(
                    len,
                    len,
                    d,
                    scores.as_mut_ptr(),
                    1,
                    len as isize,
                    false,
                    q.as_ptr(),
                    1,
                    row,
                    k.as_ptr(),
                    row,
                    1,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::None,
                );
            }
            softmax_rows(&mut scores, len, len);
            unsafe {
                // context = softmax(scores) · v, straight into its place in `out`
                gemm(
                    len,
                    d,
                    len,
                    out_ptr.ptr().add(b * seq * hidden + h * d),
                    1,
                    hidden as isize,
                    false,
                    scores.as_ptr(),
                    1,
                    len as isize,
                    v.as_ptr(),
                    1,
                    row,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::None,
                );
            }
            SCORES.set(scores);
        });
        // SAFETY: the tasks above wrote all batch × seq × hidden elements (see `out`).
        unsafe { out.set_len(batch * seq * hidden) };
        Ok((CpuStorage::F32(out), Shape::from((batch * seq, hidden))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the op on `qkv` ((batch·seq) × 3·heads·d) and returns the context.
    fn attend(
        qkv: &[f32],
        lengths: &[usize],
        seq: usize,
        heads: usize,
        d: usize,
        bf16: Option<Bf16Kernel>,
    ) -> Vec<f32> {
        let op = PackedAttention {
            lengths,
            seq,
            heads,
            head_dim: d,
            bf16,
        };
        let layout = Layout::contiguous((lengths.len() * seq, 3 * heads * d));
        match op.cpu_fwd(&CpuStorage::F32(qkv.to_vec()), &layout).unwrap() {
            (CpuStorage::F32(out), _) => out,
            _ => unreachable!(),
        }
    }

    #[test]
    fn bf16_attention_with_every_kernel_matches_the_f32_one() {
        // Two sequences, one of them padded and odd; a head width (24) that is not a multiple of 32
        // (plain packing and softmax) and two that are (vector ones where the CPU has AVX512_BF16).
        for d in [24, 32, 64] {
            bf16_attention_matches_the_f32_one(d);
        }
    }

    fn bf16_attention_matches_the_f32_one(d: usize) {
        let (lengths, seq, heads) = ([37usize, 64], 64, 2);
        let qkv = crate::linear::tests::matrix(lengths.len() * seq, 3 * heads * d, 21);
        let want = attend(&qkv, &lengths, seq, heads, d, None);
        let kernels = Bf16Kernel::available();
        eprintln!("bf16 attention kernels this CPU runs: {kernels:?}");
        for kernel in kernels {
            let got = attend(&qkv, &lengths, seq, heads, d, Some(kernel));
            assert_eq!(got.len(), want.len());
            let (mut diff, mut norm) = (0f32, 0f32);
            for (g, w) in got.iter().zip(&want) {
                diff += (g - w) * (g - w);
                norm += w * w;
            }
            let err = (diff / norm).sqrt();
            assert!(err < 1e-2, "{kernel:?}, d {d}: relative error {err}");
            // Padding positions of the first sequence are zeros in every head.
            let hidden = heads * d;
            assert!(
                got[37 * hidden..seq * hidden].iter().all(|&x| x == 0.0),
                "{kernel:?}"
            );
        }
    }
}
