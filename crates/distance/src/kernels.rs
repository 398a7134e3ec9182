//! Kernels ruvec implements itself, where simsimd has none or where its
//! kernel does not keep pgvector's precision:
//!
//! * L1 over `f32`: a chunked loop with independent accumulators that LLVM
//!   auto-vectorises. It is compiled three times (AVX-512F, AVX2, baseline)
//!   and picked at run time on x86-64; elsewhere the baseline build already
//!   has the platform's vector unit (NEON on aarch64).
//! * `f16` on x86-64 with AVX-512F: widen 16 halves to `f32` with
//!   `vcvtph2ps` and accumulate in `f32` with FMA. This replaces simsimd's
//!   Sapphire Rapids `f16` kernels, which accumulate in `f16` (overflow to
//!   infinity above 65504, about three significant digits), whereas pgvector
//!   accumulates half vectors in `f32`.
//! * A portable `f16` path: widen blocks of halves to `f32` on the stack
//!   (`half` uses F16C/NEON conversions when available) and run an `f32`
//!   kernel on each block.

use half::f16;
use half::slice::HalfFloatSliceExt;

/// Lanes per chunk of the auto-vectorised loops: 32 `f32` = two AVX-512 or
/// four AVX2 registers of independent accumulators.
const LANES: usize = 32;

#[inline(always)]
fn l1_f32_generic(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..LANES {
            acc[l] += (x[l] - y[l]).abs();
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += (x - y).abs();
    }
    // Pairwise reduction of the lanes.
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] += acc[l + width];
        }
    }
    acc[0] + tail
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn l1_f32_avx512(a: &[f32], b: &[f32]) -> f32 {
    l1_f32_generic(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn l1_f32_avx2(a: &[f32], b: &[f32]) -> f32 {
    l1_f32_generic(a, b)
}

/// L1 distance over the first `min(a.len(), b.len())` elements.
pub(crate) fn l1_f32(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            return unsafe { l1_f32_avx512(a, b) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { l1_f32_avx2(a, b) };
        }
    }
    l1_f32_generic(a, b)
}

/// Name of the instruction set [`l1_f32`] runs with on this CPU.
pub(crate) fn l1_f32_isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return "AVX-512F";
        }
        if std::is_x86_feature_detected!("avx2") {
            return "AVX2";
        }
        "SSE2"
    }
    #[cfg(target_arch = "aarch64")]
    {
        "NEON"
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "scalar"
    }
}

/// Halves widened per block by [`f16_blocks`] (two 1 KiB stack buffers).
const BLOCK: usize = 256;

/// Portable `f16` path: widen `BLOCK` halves of each input to `f32` and sum
/// `kernel` over the blocks. Uses the first `min(a.len(), b.len())` elements.
pub(crate) fn f16_blocks(a: &[f16], b: &[f16], kernel: fn(&[f32], &[f32]) -> f32) -> f32 {
    let n = a.len().min(b.len());
    let mut fa = [0.0f32; BLOCK];
    let mut fb = [0.0f32; BLOCK];
    let mut sum = 0.0f32;
    for (ca, cb) in a[..n].chunks(BLOCK).zip(b[..n].chunks(BLOCK)) {
        let len = ca.len();
        ca.convert_to_f32_slice(&mut fa[..len]);
        cb.convert_to_f32_slice(&mut fb[..len]);
        sum += kernel(&fa[..len], &fb[..len]);
    }
    sum
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    //! `f16` kernels for AVX-512F: 4 x 16 `f32` accumulators, halves widened
    //! with `vcvtph2ps`, tail (< 16 elements) zero-padded into a stack buffer
    //! (zeros add nothing to any of these sums).

    use core::arch::x86_64::*;
    use half::f16;

    /// Loads 16 halves from `p` and widens them to `f32`.
    ///
    /// # Safety
    /// `p..p+16` must be readable and the CPU must support AVX-512F.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load16(p: *const f16) -> __m512 {
        // SAFETY: the caller guarantees 16 readable halves (32 bytes);
        // `loadu` has no alignment requirement.
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())) }
    }

    macro_rules! f16_kernel {
        ($(#[$doc:meta])* $name:ident, |$x:ident, $y:ident, $acc:ident| $step:expr) => {
            $(#[$doc])*
            #[target_feature(enable = "avx512f")]
            pub(crate) fn $name(a: &[f16], b: &[f16]) -> f32 {
                let n = a.len().min(b.len());
                let (pa, pb) = (a.as_ptr(), b.as_ptr());
                let mut acc0 = _mm512_setzero_ps();
                let mut acc1 = _mm512_setzero_ps();
                let mut acc2 = _mm512_setzero_ps();
                let mut acc3 = _mm512_setzero_ps();
                let mut i = 0usize;
                // SAFETY (all loads below): every load reads 16 elements at
                // offset `i` with `i + 16 <= n <= a.len(), b.len()`.
                while i + 64 <= n {
                    unsafe {
                        let ($x, $y, $acc) = (load16(pa.add(i)), load16(pb.add(i)), acc0);
                        acc0 = $step;
                        let ($x, $y, $acc) = (load16(pa.add(i + 16)), load16(pb.add(i + 16)), acc1);
                        acc1 = $step;
                        let ($x, $y, $acc) = (load16(pa.add(i + 32)), load16(pb.add(i + 32)), acc2);
                        acc2 = $step;
                        let ($x, $y, $acc) = (load16(pa.add(i + 48)), load16(pb.add(i + 48)), acc3);
                        acc3 = $step;
                    }
                    i += 64;
                }
                while i + 16 <= n {
                    // SAFETY: i + 16 <= n: 16 halves in bounds of both slices.
                    unsafe {
                        let ($x, $y, $acc) = (load16(pa.add(i)), load16(pb.add(i)), acc0);
                        acc0 = $step;
                    }
                    i += 16;
                }
                if i < n {
                    let mut ta = [f16::ZERO; 16];
                    let mut tb = [f16::ZERO; 16];
                    ta[..n - i].copy_from_slice(&a[i..n]);
                    tb[..n - i].copy_from_slice(&b[i..n]);
                    // SAFETY: ta/tb are local 16-element arrays.
                    unsafe {
                        let ($x, $y, $acc) = (load16(ta.as_ptr()), load16(tb.as_ptr()), acc1);
                        acc1 = $step;
                    }
                }
                let acc = _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
                _mm512_reduce_add_ps(acc)
            }
        };
    }

    f16_kernel!(
        /// `sum((a[i] - b[i])^2)` over halves, in `f32`.
        l2_squared,
        |x, y, acc| {
            let d = _mm512_sub_ps(x, y);
            _mm512_fmadd_ps(d, d, acc)
        }
    );

    f16_kernel!(
        /// `sum(a[i] * b[i])` over halves, in `f32`.
        dot,
        |x, y, acc| _mm512_fmadd_ps(x, y, acc)
    );

    f16_kernel!(
        /// `sum(|a[i] - b[i]|)` over halves, in `f32`.
        l1,
        |x, y, acc| _mm512_add_ps(acc, _mm512_abs_ps(_mm512_sub_ps(x, y)))
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 2001) as f32 / 100.0 - 10.0)
            .collect()
    }

    #[test]
    fn l1_variants_match_scalar() {
        for n in [0, 1, 3, 7, 15, 17, 31, 33, 63, 65, 100, 1000] {
            let (a, b) = (data(n, 1), data(n, 7));
            let want = crate::scalar::l1_f32(&a, &b);
            let tol = 1e-4 * want.abs() + 1e-4;
            assert!((l1_f32_generic(&a, &b) - want).abs() <= tol, "n={n}");
            assert!((l1_f32(&a, &b) - want).abs() <= tol, "n={n}");
        }
    }

    #[test]
    fn f16_blocks_match_scalar() {
        for n in [0, 1, 17, 255, 256, 257, 1000] {
            let a: Vec<f16> = data(n, 3).into_iter().map(f16::from_f32).collect();
            let b: Vec<f16> = data(n, 9).into_iter().map(f16::from_f32).collect();
            type K32 = fn(&[f32], &[f32]) -> f32;
            type K16 = fn(&[f16], &[f16]) -> f32;
            let cases: [(K32, K16); 3] = [
                (crate::scalar::dot_f32, crate::scalar::dot_f16),
                (crate::scalar::l2_squared_f32, crate::scalar::l2_squared_f16),
                (crate::scalar::l1_f32, crate::scalar::l1_f16),
            ];
            for (k32, k16) in cases {
                let (got, want) = (f16_blocks(&a, &b, k32), k16(&a, &b));
                assert!((got - want).abs() <= 1e-4 * want.abs() + 1e-3, "n={n}");
            }
        }
    }
}
