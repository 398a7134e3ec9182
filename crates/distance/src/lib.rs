//! Distance kernels for ruvec, with pgvector's semantics.
//!
//! Dense `f32` L2 and inner-product kernels call [simsimd], which picks an
//! implementation for the running CPU at run time (AVX2, AVX-512, NEON, SVE,
//! ...). Everything simsimd lacks, or computes with less precision than
//! pgvector, is implemented here (see [`simd_backend`] for what a given
//! machine uses):
//!
//! * L1 (simsimd has none): auto-vectorised loop, multiversioned on x86-64.
//! * Cosine: pgvector computes `dot / sqrt(|a|^2 * |b|^2)` in `f64` from `f32`
//!   sums and yields NaN for a zero vector; simsimd's cosine uses an
//!   approximate reciprocal square root and returns 0 or 1 for zero vectors.
//!   So ruvec computes the three `f32` sums in one fused pass (AVX-512F or
//!   AVX2+FMA; three simsimd dot products elsewhere) and finishes with
//!   [`cosine_from_parts`].
//! * `f16`: pgvector widens halves to `f32` and accumulates in `f32`. On CPUs
//!   where simsimd dispatches to kernels that accumulate in `f16` (Sapphire
//!   Rapids AVX-512-FP16, Arm SVE) the sum overflows above 65504 and keeps about
//!   three significant digits, so ruvec uses its own `f32`-accumulating kernels
//!   there instead.
//! * Jaccard/Hamming over bit strings: simsimd (same formula as pgvector).
//! * Sparse vectors: merge-join loops ([`l2_squared_sparse`], ...).
//!
//! The [`scalar`] module holds plain reference loops for every dense and bit
//! kernel.
//!
//! # Lengths
//!
//! Callers check that both operands have the same dimension. If they do not,
//! no function panics or reads out of bounds: only the first
//! `min(a.len(), b.len())` elements (bytes for bit strings) are used. Empty
//! inputs give 0 for sums, NaN for cosine and 1 for Jaccard, as in pgvector.
//!
//! # Accuracy
//!
//! SIMD kernels sum in a different order from the scalar loops (several
//! partial sums, fused multiply-add), so results can differ from
//! [`scalar`] in the last bits: in tests they agree within a relative `1e-4`
//! of the magnitude of the sum plus a small absolute term.

use half::f16;
use simsimd::{BinarySimilarity, SpatialSimilarity};
use std::sync::OnceLock;

mod aligned;
mod cosine;
mod kernels;
pub mod scalar;
mod sparse;

pub use aligned::{AlignedBytes, AlignedF32};
pub use sparse::{cosine_distance_sparse, dot_sparse, l1_sparse, l2_squared_sparse};

/// Trims two slices to their common length.
#[inline]
fn pair<'a, T>(a: &'a [T], b: &'a [T]) -> (&'a [T], &'a [T]) {
    let n = a.len().min(b.len());
    (&a[..n], &b[..n])
}

/// Finishes a cosine distance from the `f32` dot product `ab` and the squared
/// norms `aa`, `bb`, as pgvector does: `sim = ab / sqrt(aa * bb)` in `f64`,
/// clamped to `[-1, 1]`, result `1 - sim`. A zero norm gives `0 / 0` = NaN,
/// and NaN passes through the clamp.
#[inline]
pub fn cosine_from_parts(ab: f32, aa: f32, bb: f32) -> f64 {
    let sim = f64::from(ab) / (f64::from(aa) * f64::from(bb)).sqrt();
    // `clamp` keeps NaN as NaN.
    1.0 - sim.clamp(-1.0, 1.0)
}

/// pgvector's Jaccard distance from the popcounts of `a & b` and `a | b`:
/// 1 when the intersection is empty, else `1 - ab / union`.
#[inline]
pub(crate) fn jaccard_from_counts(ab: u64, union: u64) -> f64 {
    if ab == 0 {
        1.0
    } else {
        1.0 - ab as f64 / union as f64
    }
}

// ----------------------------------------------------------- prefetch ----

/// Asks the CPU to start loading the cache line at `p` (a hint: it never faults, whatever the
/// address, and does nothing off x86-64).
#[inline(always)]
pub fn prefetch_line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch is a hint and never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch(p as *const i8, core::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// [`prefetch_line`] for every cache line of `data`: issued for the next operand while the
/// current one is measured, the loads of a vector that is not in the CPU caches overlap the
/// arithmetic instead of following it (a 768-d f32 vector is 48 lines).
#[inline]
pub fn prefetch_slice<T>(data: &[T]) {
    prefetch_bytes(data.as_ptr() as *const u8, core::mem::size_of_val(data));
}

/// [`prefetch_line`] for every cache line of the `len` bytes at `start` (any address: a
/// prefetch never faults).
#[inline]
pub fn prefetch_bytes(start: *const u8, len: usize) {
    let end = start.wrapping_add(len);
    let mut line = start.wrapping_sub(start as usize & 63);
    while line < end {
        prefetch_line(line);
        line = line.wrapping_add(64);
    }
}

// ---------------------------------------------------------------- f32 ----

/// Squared Euclidean distance `sum((a[i] - b[i])^2)` (simsimd).
pub fn l2_squared_f32(a: &[f32], b: &[f32]) -> f32 {
    let (a, b) = pair(a, b);
    if a.is_empty() {
        return 0.0;
    }
    match <f32 as SpatialSimilarity>::l2sq(a, b) {
        Some(d) => d as f32,
        None => scalar::l2_squared_f32(a, b),
    }
}

/// Inner product `sum(a[i] * b[i])` (simsimd).
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let (a, b) = pair(a, b);
    if a.is_empty() {
        return 0.0;
    }
    match <f32 as SpatialSimilarity>::dot(a, b) {
        Some(d) => d as f32,
        None => scalar::dot_f32(a, b),
    }
}

/// Manhattan distance `sum(|a[i] - b[i]|)` (ruvec, auto-vectorised).
pub fn l1_f32(a: &[f32], b: &[f32]) -> f32 {
    kernels::l1_f32(a, b)
}

/// Squared L2 norm `sum(a[i]^2)`, computed exactly like `dot_f32(a, a)`.
///
/// Note: pgvector's `vector_norm`/`l2_normalize` accumulate in `f64`; this is
/// the `f32` sum its cosine distance uses.
pub fn norm_squared_f32(a: &[f32]) -> f32 {
    dot_f32(a, a)
}

/// Cosine distance with pgvector semantics (see [`cosine_from_parts`]).
///
/// The three sums come from one fused pass (AVX-512F or AVX2+FMA) where
/// available, else from three simsimd dot products.
pub fn cosine_distance_f32(a: &[f32], b: &[f32]) -> f64 {
    let (ab, aa, bb) = cosine::parts_f32(a, b);
    cosine_from_parts(ab, aa, bb)
}

// ---------------------------------------------------------------- f16 ----

/// How the `f16` L2 / dot kernels run on this CPU.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum F16Path {
    /// simsimd, whose dispatched kernel accumulates in `f32`.
    Simsimd,
    /// ruvec's AVX-512F kernels (simsimd's would accumulate in `f16`).
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// Widen blocks to `f32`, then simsimd `f32` kernels.
    Blocks,
}

/// True when simsimd would dispatch `f16` L2/dot to a kernel accumulating in
/// `f16` (checked in simsimd 6.5: `*_f16_sapphire`, `*_f16_sve`).
fn simsimd_f16_is_narrow() -> bool {
    use simsimd::capabilities as caps;
    caps::uses_sapphire() || caps::uses_sve() || caps::uses_sve_f16()
}

fn f16_path() -> F16Path {
    static PATH: OnceLock<F16Path> = OnceLock::new();
    *PATH.get_or_init(|| {
        if !simsimd_f16_is_narrow() {
            return F16Path::Simsimd;
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            return F16Path::Avx512;
        }
        F16Path::Blocks
    })
}

#[inline]
fn as_simsimd(x: &[f16]) -> &[simsimd::f16] {
    // SAFETY: `half::f16` and `simsimd::f16` are both `#[repr(transparent)]`
    // wrappers around `u16`, so the slices have identical layout; the length
    // and lifetime are carried over unchanged.
    unsafe { core::slice::from_raw_parts(x.as_ptr().cast::<simsimd::f16>(), x.len()) }
}

/// Squared Euclidean distance of two half vectors, accumulated in `f32`.
pub fn l2_squared_f16(a: &[f16], b: &[f16]) -> f32 {
    let (a, b) = pair(a, b);
    if a.is_empty() {
        return 0.0;
    }
    match f16_path() {
        F16Path::Simsimd => match simsimd::f16::l2sq(as_simsimd(a), as_simsimd(b)) {
            Some(d) => d as f32,
            None => scalar::l2_squared_f16(a, b),
        },
        // SAFETY: this path is only chosen when the CPU supports AVX-512F.
        #[cfg(target_arch = "x86_64")]
        F16Path::Avx512 => unsafe { kernels::avx512::l2_squared(a, b) },
        F16Path::Blocks => kernels::f16_blocks(a, b, l2_squared_f32),
    }
}

/// Inner product of two half vectors, accumulated in `f32`.
pub fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    let (a, b) = pair(a, b);
    if a.is_empty() {
        return 0.0;
    }
    match f16_path() {
        F16Path::Simsimd => {
            match <simsimd::f16 as SpatialSimilarity>::dot(as_simsimd(a), as_simsimd(b)) {
                Some(d) => d as f32,
                None => scalar::dot_f16(a, b),
            }
        }
        // SAFETY: this path is only chosen when the CPU supports AVX-512F.
        #[cfg(target_arch = "x86_64")]
        F16Path::Avx512 => unsafe { kernels::avx512::dot(a, b) },
        F16Path::Blocks => kernels::f16_blocks(a, b, dot_f32),
    }
}

/// Manhattan distance of two half vectors, accumulated in `f32` (ruvec).
pub fn l1_f16(a: &[f16], b: &[f16]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F (checked just above).
        return unsafe { kernels::avx512::l1(a, b) };
    }
    kernels::f16_blocks(a, b, l1_f32)
}

/// Squared L2 norm of a half vector, computed exactly like `dot_f16(a, a)`.
pub fn norm_squared_f16(a: &[f16]) -> f32 {
    dot_f16(a, a)
}

/// Cosine distance of two half vectors with pgvector semantics.
///
/// The three `f32` sums come from one fused AVX-512F pass where available,
/// else from three [`dot_f16`] calls.
pub fn cosine_distance_f16(a: &[f16], b: &[f16]) -> f64 {
    let (ab, aa, bb) = cosine::parts_f16(a, b);
    cosine_from_parts(ab, aa, bb)
}

// --------------------------------------------------------------- bits ----

/// Number of differing bits between two packed bit strings (simsimd).
pub fn hamming(a: &[u8], b: &[u8]) -> u64 {
    let (a, b) = pair(a, b);
    if a.is_empty() {
        return 0;
    }
    match <u8 as BinarySimilarity>::hamming(a, b) {
        // An exact integer count (< 2^53), returned by simsimd as f64.
        Some(d) => d as u64,
        None => scalar::hamming(a, b),
    }
}

/// Jaccard distance between two packed bit strings, as pgvector computes it:
/// `1` when `a & b` has no set bit (so also for two all-zero strings), else
/// `1 - popcount(a & b) / popcount(a | b)` in `f64` (simsimd uses the same
/// formula).
pub fn jaccard_distance(a: &[u8], b: &[u8]) -> f64 {
    let (a, b) = pair(a, b);
    if a.is_empty() {
        return 1.0;
    }
    match <u8 as BinarySimilarity>::jaccard(a, b) {
        Some(d) => d,
        None => scalar::jaccard_distance(a, b),
    }
}

// ------------------------------------------------------------- report ----

/// Describes the kernels this CPU runs, for benchmark reports, e.g.
/// `"simsimd 6.5 (dynamic dispatch: true), CPU caps: [haswell skylake ...];
/// f32 l2sq/dot: simsimd skylake; ..."`.
pub fn simd_backend() -> &'static str {
    static REPORT: OnceLock<String> = OnceLock::new();
    REPORT.get_or_init(build_report).as_str()
}

fn build_report() -> String {
    use simsimd::capabilities as caps;
    let flags: [(&str, bool); 15] = [
        ("neon", caps::uses_neon()),
        ("neon_f16", caps::uses_neon_f16()),
        ("neon_bf16", caps::uses_neon_bf16()),
        ("neon_i8", caps::uses_neon_i8()),
        ("sve", caps::uses_sve()),
        ("sve_f16", caps::uses_sve_f16()),
        ("sve_bf16", caps::uses_sve_bf16()),
        ("sve_i8", caps::uses_sve_i8()),
        ("haswell", caps::uses_haswell()),
        ("skylake", caps::uses_skylake()),
        ("ice", caps::uses_ice()),
        ("genoa", caps::uses_genoa()),
        ("sapphire", caps::uses_sapphire()),
        ("turin", caps::uses_turin()),
        ("sierra", caps::uses_sierra()),
    ];
    let has = |name: &str| flags.iter().any(|&(n, on)| on && n == name);
    let list: Vec<&str> = flags.iter().filter(|f| f.1).map(|f| f.0).collect();
    let first = |order: &[&'static str]| -> &'static str {
        order.iter().copied().find(|n| has(n)).unwrap_or("serial")
    };
    // Dispatch order of simsimd 6.5 (`_simsimd_find_kernel_punned_*`).
    let f32_kernel = first(&["sve", "neon", "skylake", "haswell"]);
    let bits_kernel = first(&["sve", "neon", "ice", "haswell"]);
    let f16 = match f16_path() {
        F16Path::Simsimd => {
            format!("simsimd {}", first(&["neon_f16", "haswell"]))
        }
        #[cfg(target_arch = "x86_64")]
        F16Path::Avx512 => {
            "ruvec AVX-512F/f32-acc (simsimd's f16 kernel here sums in f16)".to_string()
        }
        F16Path::Blocks => {
            "ruvec widen-to-f32 blocks + simsimd f32 (simsimd's f16 kernel here sums in f16)"
                .to_string()
        }
    };
    #[cfg(target_arch = "x86_64")]
    let avx512 = std::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    let avx512 = false;
    let l1_f16 = if avx512 {
        "ruvec AVX-512F"
    } else {
        "ruvec widen-to-f32 blocks"
    };
    let cos_f32 = match cosine::isa_f32() {
        Some(isa) => format!("ruvec fused {isa}"),
        None => "3x simsimd dot".to_string(),
    };
    let cos_f16 = if avx512 {
        "ruvec fused AVX-512F"
    } else {
        "3x f16 dot"
    };
    format!(
        "simsimd 6.5 (dynamic dispatch: {}), CPU caps: [{}]; f32 l2sq/dot: simsimd {}; \
         f16 l2sq/dot: {}; cosine f32: {}; cosine f16: {}; l1 f32: ruvec auto-vectorised {}; \
         l1 f16: {}; hamming/jaccard: simsimd {}",
        caps::uses_dynamic_dispatch(),
        list.join(" "),
        f32_kernel,
        f16,
        cos_f32,
        cos_f16,
        kernels::l1_f32_isa(),
        l1_f16,
        bits_kernel,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx512_f16_kernels_match_scalar_when_available() {
        if !std::is_x86_feature_detected!("avx512f") {
            return;
        }
        for n in [0usize, 1, 3, 15, 16, 17, 63, 64, 65, 100, 1536] {
            let a: Vec<f16> = (0..n)
                .map(|i| f16::from_f32((i % 13) as f32 - 6.5))
                .collect();
            let b: Vec<f16> = (0..n)
                .map(|i| f16::from_f32((i % 7) as f32 * 0.75))
                .collect();
            // SAFETY: AVX-512F checked above.
            let got = unsafe {
                [
                    kernels::avx512::l2_squared(&a, &b),
                    kernels::avx512::dot(&a, &b),
                    kernels::avx512::l1(&a, &b),
                ]
            };
            let want = [
                scalar::l2_squared_f16(&a, &b),
                scalar::dot_f16(&a, &b),
                scalar::l1_f16(&a, &b),
            ];
            // Small integers and halves: every partial sum is exact.
            assert_eq!(got, want, "n={n}");
        }
    }

    #[test]
    fn report_mentions_simsimd() {
        let r = simd_backend();
        assert!(r.starts_with("simsimd 6.5"), "{r}");
        assert!(std::ptr::eq(r, simd_backend()));
    }
}
