//! How the alignment of AMX tile rows changes the throughput of `tdpbf16ps`: the 2 × 2 tile step of
//! papermap's bf16 kernel (four accumulators, two activation and two weight tiles loaded per step)
//! with rows on a cache line, 16 bytes off one (where glibc puts large `Vec`s), and without loads.
//!
//!     cargo run --release -p papermap-embed --example amx_alignment
//!
//! Needs a CPU with AMX-BF16 (Sapphire Rapids or later); prints why not otherwise.

fn main() {
    #[cfg(target_arch = "x86_64")]
    x86::run();
    #[cfg(not(target_arch = "x86_64"))]
    println!("AMX is x86-64 only");
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::asm;
    use std::time::Instant;

    use papermap_embed::cpu::{Bf16Kernel, CpuFeatures};

    const STEPS: u64 = 1_000_000;

    pub fn run() {
        // `available` also asks Linux for the tile-data permission AMX needs.
        if !Bf16Kernel::available().contains(&Bf16Kernel::Amx) {
            println!(
                "this CPU has no usable AMX-BF16 (features: {:?})",
                CpuFeatures::detect().names()
            );
            return;
        }
        let buffer = vec![0x3f80u16; 32 * 1024]; // bf16 ones
        let aligned = buffer.as_ptr().align_offset(64);
        let mut config = [0u8; 64];
        config[0] = 1; // palette 1: 8 tiles of 16 rows × 64 bytes
        for tile in 0..8 {
            config[16 + 2 * tile] = 64;
            config[48 + tile] = 16;
        }
        // SAFETY: the CPU has AMX and the permission was granted (checked above); the loads read
        // 4 kB from an offset < 128 elements into a 64 kB buffer.
        unsafe {
            asm!("ldtilecfg [{}]", in(reg) config.as_ptr(), options(nostack));
            report("no tile loads", STEPS, time(None));
            report(
                "rows on a cache line",
                STEPS,
                time(Some(buffer.as_ptr().add(aligned))),
            );
            report(
                "rows 16 bytes off a line",
                STEPS,
                time(Some(buffer.as_ptr().add(aligned + 8))),
            );
            asm!("tilerelease", options(nostack, nomem));
        }
    }

    /// Seconds for STEPS steps of four `tdpbf16ps`, each step loading its four tiles from `rows`
    /// (A0, A1 at +0 / +1 kB, B0, B1 at +2 / +3 kB) unless `None`.
    unsafe fn time(rows: Option<*const u16>) -> f64 {
        let start = Instant::now();
        match rows {
            None => asm!(
                "tilezero tmm4", "tilezero tmm5", "tilezero tmm6", "tilezero tmm7",
                "2:",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                "dec {n}",
                "jnz 2b",
                n = inout(reg) STEPS => _,
                options(nostack),
            ),
            Some(rows) => asm!(
                "2:",
                "tileloadd tmm4, [{p} + {s}*1]",
                "tileloadd tmm6, [{p} + {s}*1 + 2048]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tileloadd tmm7, [{p} + {s}*1 + 3072]",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tileloadd tmm5, [{p} + {s}*1 + 1024]",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                "dec {n}",
                "jnz 2b",
                n = inout(reg) STEPS => _,
                p = in(reg) rows,
                s = in(reg) 64usize,
                options(nostack),
            ),
        }
        start.elapsed().as_secs_f64()
    }

    fn report(name: &str, steps: u64, seconds: f64) {
        let flops = steps as f64 * 4.0 * (16.0 * 16.0 * 32.0 * 2.0);
        println!("{name:28} {:7.0} GFLOP/s", flops / seconds / 1e9);
    }
}
