//! What the running CPU can do, read at run time (never from the build machine's target features), and the
//! matrix-product kernels each precision can run on it.
//!
//! Every kernel a precision may dispatch to is listed by [`Bf16Kernel::available`] /
//! [`Int8Kernel::available`], so tests run each one the CPU has against the portable reference.

use std::sync::OnceLock;

/// Instruction-set extensions papermap's kernels use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuFeatures {
    /// AVX2 and FMA.
    pub avx2: bool,
    /// AVX-512 F, BW and VL.
    pub avx512: bool,
    /// AVX-512 VNNI (`vpdpbusd` on 512-bit registers).
    pub avx512_vnni: bool,
    /// AVX-VNNI (`vpdpbusd` on 256-bit registers, VEX-encoded).
    pub avx_vnni: bool,
    /// AVX512_BF16 (`vdpbf16ps`).
    pub avx512_bf16: bool,
    /// AMX-TILE and AMX-BF16, with the kernel's permission to use tile data granted to this process.
    pub amx_bf16: bool,
}

impl CpuFeatures {
    /// The features of the CPU this process runs on (detected once), capped by `PAPERMAP_MAX_CPU_ISA`
    /// when it is set (see [`CpuFeatures::capped`]).
    pub fn detect() -> Self {
        static FEATURES: OnceLock<CpuFeatures> = OnceLock::new();
        *FEATURES.get_or_init(|| {
            let cap = std::env::var("PAPERMAP_MAX_CPU_ISA").unwrap_or_default();
            detect().capped(&cap)
        })
    }

    /// These features without those above `isa`: `avx2` keeps AVX2 and FMA only (what an AVX2-only
    /// CPU such as AMD Zen 2/3 runs), `portable` nothing; anything else changes nothing. Like oneDNN's
    /// `ONEDNN_MAX_CPU_ISA`: it lets one machine run, test and measure the paths of smaller CPUs.
    /// (The f32 products' `gemm` crate detects its own kernels and is not capped.)
    pub fn capped(self, isa: &str) -> Self {
        match isa.to_ascii_lowercase().as_str() {
            "avx2" => CpuFeatures {
                avx2: self.avx2,
                ..CpuFeatures::default()
            },
            "portable" => CpuFeatures::default(),
            _ => self,
        }
    }

    /// The widest vectors the element-wise loops (softmax, GELU, LayerNorm, quantising) may be compiled
    /// for on this CPU; each loop has a variant per width, chosen here in one place.
    pub fn vector_width(&self) -> VectorWidth {
        if self.avx512 && self.avx2 {
            VectorWidth::Avx512
        } else if self.avx2 {
            VectorWidth::Avx2
        } else {
            VectorWidth::Portable
        }
    }

    /// The names of the features present, for messages and benchmark reports.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.avx2, "avx2+fma"),
            (self.avx512, "avx512"),
            (self.avx512_vnni, "avx512-vnni"),
            (self.avx_vnni, "avx-vnni"),
            (self.avx512_bf16, "avx512-bf16"),
            (self.amx_bf16, "amx-bf16"),
        ]
        .into_iter()
        .filter_map(|(has, name)| has.then_some(name))
        .collect()
    }
}

/// Which compiled variant of an element-wise loop runs (see [`CpuFeatures::vector_width`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum VectorWidth {
    /// Baseline x86-64 (SSE2) or another architecture.
    Portable,
    /// AVX2 and FMA: 8 f32 lanes, fused multiply-add.
    Avx2,
    /// AVX-512 F/BW/VL (with AVX2 and FMA): 16 f32 lanes.
    Avx512,
}

#[cfg(target_arch = "x86_64")]
fn detect() -> CpuFeatures {
    let avx512 = is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl");
    CpuFeatures {
        avx2: is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
        avx512,
        avx512_vnni: avx512 && is_x86_feature_detected!("avx512vnni"),
        avx_vnni: is_x86_feature_detected!("avx2") && is_x86_feature_detected!("avxvnni"),
        avx512_bf16: avx512 && is_x86_feature_detected!("avx512bf16"),
        amx_bf16: amx_bf16_usable(),
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> CpuFeatures {
    CpuFeatures::default()
}

/// AMX needs the CPU bits (CPUID leaf 7: AMX-BF16 is EDX bit 22, AMX-TILE bit 24) and, on Linux, the
/// process's permission to use the 8 kB tile-data state, which it must ask for before the first tile
/// instruction (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`); without it the first tile
/// instruction faults. The permission is per process, so asking once covers every thread.
#[cfg(target_arch = "x86_64")]
fn amx_bf16_usable() -> bool {
    let leaf7 = std::arch::x86_64::__cpuid_count(7, 0);
    let cpu = leaf7.edx & (1 << 22) != 0 && leaf7.edx & (1 << 24) != 0;
    cpu && request_tile_permission()
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn request_tile_permission() -> bool {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: a plain system call with integer arguments; it only changes which register state the
    // kernel lets this process use.
    unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        ) == 0
    }
}

#[cfg(all(target_arch = "x86_64", not(target_os = "linux")))]
fn request_tile_permission() -> bool {
    false
}

/// The bf16 matrix-product kernels (bf16 inputs, f32 accumulation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bf16Kernel {
    /// AMX tiles: `tdpbf16ps` on 16 × 32 by 32 × 16 blocks.
    Amx,
    /// AVX512_BF16: `vdpbf16ps`, 16 lanes of 2 products each.
    Avx512Bf16,
    /// Plain Rust with the same rounding; the reference the others are tested against (not dispatched
    /// to: bf16 is refused on CPUs without bf16 instructions, where it would be slower than f32).
    Portable,
}

impl Bf16Kernel {
    /// The fastest kernel this CPU has, or `None` when it has no bf16 instructions.
    pub fn best() -> Option<Self> {
        Self::available()
            .into_iter()
            .find(|k| *k != Bf16Kernel::Portable)
    }

    /// Every kernel this CPU can run, fastest first (always ends with [`Bf16Kernel::Portable`]).
    pub fn available() -> Vec<Self> {
        let f = CpuFeatures::detect();
        let mut kernels = Vec::new();
        if f.amx_bf16 {
            kernels.push(Bf16Kernel::Amx);
        }
        if f.avx512_bf16 {
            kernels.push(Bf16Kernel::Avx512Bf16);
        }
        kernels.push(Bf16Kernel::Portable);
        kernels
    }
}

/// The int8 matrix-product kernels (u8/s8 inputs, i32 accumulation). All compute the same integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int8Kernel {
    /// AVX-512 VNNI: `vpdpbusd` on 512-bit registers.
    Avx512Vnni,
    /// AVX-VNNI: `vpdpbusd` on 256-bit registers.
    AvxVnni,
    /// AVX2: `vpmaddubsw` + `vpmaddwd` (signs moved onto the weights so no pair sum saturates).
    Avx2,
    /// Plain Rust, for every CPU.
    Portable,
}

impl Int8Kernel {
    /// The fastest kernel this CPU has.
    pub fn best() -> Self {
        Self::available()[0]
    }

    /// Every kernel this CPU can run, fastest first (always ends with [`Int8Kernel::Portable`]).
    pub fn available() -> Vec<Self> {
        let f = CpuFeatures::detect();
        let mut kernels = Vec::new();
        if f.avx512_vnni {
            kernels.push(Int8Kernel::Avx512Vnni);
        }
        if f.avx_vnni {
            kernels.push(Int8Kernel::AvxVnni);
        }
        if f.avx2 {
            kernels.push(Int8Kernel::Avx2);
        }
        kernels.push(Int8Kernel::Portable);
        kernels
    }

    /// Parses a kernel name as `PAPERMAP_INT8_KERNEL` and benchmarks spell it.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "avx512-vnni" => Int8Kernel::Avx512Vnni,
            "avx-vnni" => Int8Kernel::AvxVnni,
            "avx2" => Int8Kernel::Avx2,
            "portable" => Int8Kernel::Portable,
            _ => return None,
        })
    }

    /// The kernel's name, as [`Int8Kernel::parse`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Int8Kernel::Avx512Vnni => "avx512-vnni",
            Int8Kernel::AvxVnni => "avx-vnni",
            Int8Kernel::Avx2 => "avx2",
            Int8Kernel::Portable => "portable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_keeps_only_the_features_at_or_below_it() {
        let all = CpuFeatures {
            avx2: true,
            avx512: true,
            avx512_vnni: true,
            avx_vnni: true,
            avx512_bf16: true,
            amx_bf16: true,
        };
        assert_eq!(all.capped("AVX2").names(), ["avx2+fma"]);
        assert_eq!(all.capped("avx2").vector_width(), VectorWidth::Avx2);
        assert_eq!(all.capped("portable"), CpuFeatures::default());
        assert_eq!(all.capped(""), all);
        // A cap never adds what the CPU lacks.
        assert_eq!(
            CpuFeatures::default().capped("avx2"),
            CpuFeatures::default()
        );
    }
}
