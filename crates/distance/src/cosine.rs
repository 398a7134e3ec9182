//! Fused cosine kernels: one pass over both vectors producing the three `f32`
//! sums `(a.b, a.a, b.b)` that pgvector's cosine distance is built from.
//!
//! Three separate dot products read each vector twice and, in simsimd's
//! AVX-512 kernels, run one dependent FMA chain each; the fused kernels read
//! each element once and keep two independent accumulator sets. The three
//! sums use the same lane layout and order, so for `a == b` they are
//! bit-identical (cosine distance exactly 0), and for `b == -a` the dot
//! product is exactly `-a.a` (distance exactly 2).

use half::f16;

/// `(a.b, a.a, b.b)` over the first `min(a.len(), b.len())` elements.
pub(crate) fn parts_f32(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            return unsafe { x86::parts_f32_avx512(a, b) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { x86::parts_f32_avx2(a, b) };
        }
    }
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    (
        crate::dot_f32(a, b),
        crate::dot_f32(a, a),
        crate::dot_f32(b, b),
    )
}

/// `(a.b, a.a, b.b)` for half vectors, accumulated in `f32`.
pub(crate) fn parts_f16(a: &[f16], b: &[f16]) -> (f32, f32, f32) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F (checked just above).
        return unsafe { x86::parts_f16_avx512(a, b) };
    }
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    (
        crate::dot_f16(a, b),
        crate::dot_f16(a, a),
        crate::dot_f16(b, b),
    )
}

/// Instruction set of the fused `f32` kernel on this CPU, for reports.
pub(crate) fn isa_f32() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return Some("AVX-512F");
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Some("AVX2+FMA");
        }
    }
    None
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use core::arch::x86_64::*;
    use half::f16;

    /// Fused cosine sums, AVX-512F, `f32` input; masked loads for the tail.
    #[target_feature(enable = "avx512f")]
    pub(crate) fn parts_f32_avx512(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let (mut ab0, mut aa0, mut bb0) = (
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
        );
        let (mut ab1, mut aa1, mut bb1) = (
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
        );
        let mut i = 0usize;
        // SAFETY (loads): each unmasked load reads 16 floats at `i` with
        // `i + 16 <= n`; the masked load reads only the `n - i` valid lanes.
        while i + 32 <= n {
            let (x0, y0, x1, y1) = unsafe {
                (
                    _mm512_loadu_ps(pa.add(i)),
                    _mm512_loadu_ps(pb.add(i)),
                    _mm512_loadu_ps(pa.add(i + 16)),
                    _mm512_loadu_ps(pb.add(i + 16)),
                )
            };
            ab0 = _mm512_fmadd_ps(x0, y0, ab0);
            aa0 = _mm512_fmadd_ps(x0, x0, aa0);
            bb0 = _mm512_fmadd_ps(y0, y0, bb0);
            ab1 = _mm512_fmadd_ps(x1, y1, ab1);
            aa1 = _mm512_fmadd_ps(x1, x1, aa1);
            bb1 = _mm512_fmadd_ps(y1, y1, bb1);
            i += 32;
        }
        while i < n {
            let rem = n - i;
            let (x, y) = if rem >= 16 {
                // SAFETY: i + 16 <= n, so 16 floats are in bounds of both slices.
                unsafe { (_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i))) }
            } else {
                let mask: __mmask16 = (1u16 << rem) - 1;
                // SAFETY: the mask enables only the rem < 16 in-bounds lanes; masked-off lanes
                // are not read.
                unsafe {
                    (
                        _mm512_maskz_loadu_ps(mask, pa.add(i)),
                        _mm512_maskz_loadu_ps(mask, pb.add(i)),
                    )
                }
            };
            ab0 = _mm512_fmadd_ps(x, y, ab0);
            aa0 = _mm512_fmadd_ps(x, x, aa0);
            bb0 = _mm512_fmadd_ps(y, y, bb0);
            i += 16.min(rem);
        }
        (
            _mm512_reduce_add_ps(_mm512_add_ps(ab0, ab1)),
            _mm512_reduce_add_ps(_mm512_add_ps(aa0, aa1)),
            _mm512_reduce_add_ps(_mm512_add_ps(bb0, bb1)),
        )
    }

    /// Horizontal sum of 8 lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn hsum256(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
        _mm_cvtss_f32(s)
    }

    /// Fused cosine sums, AVX2 + FMA, `f32` input; zero-padded tail.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn parts_f32_avx2(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let (mut ab0, mut aa0, mut bb0) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        let (mut ab1, mut aa1, mut bb1) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        let mut i = 0usize;
        // SAFETY (loads): each load reads 8 floats at `i` with `i + 8 <= n`.
        while i + 16 <= n {
            let (x0, y0, x1, y1) = unsafe {
                (
                    _mm256_loadu_ps(pa.add(i)),
                    _mm256_loadu_ps(pb.add(i)),
                    _mm256_loadu_ps(pa.add(i + 8)),
                    _mm256_loadu_ps(pb.add(i + 8)),
                )
            };
            ab0 = _mm256_fmadd_ps(x0, y0, ab0);
            aa0 = _mm256_fmadd_ps(x0, x0, aa0);
            bb0 = _mm256_fmadd_ps(y0, y0, bb0);
            ab1 = _mm256_fmadd_ps(x1, y1, ab1);
            aa1 = _mm256_fmadd_ps(x1, x1, aa1);
            bb1 = _mm256_fmadd_ps(y1, y1, bb1);
            i += 16;
        }
        while i < n {
            let rem = (n - i).min(8);
            let mut ta = [0.0f32; 8];
            let mut tb = [0.0f32; 8];
            ta[..rem].copy_from_slice(&a[i..i + rem]);
            tb[..rem].copy_from_slice(&b[i..i + rem]);
            // SAFETY: ta/tb are local 8-float arrays.
            let (x, y) = unsafe { (_mm256_loadu_ps(ta.as_ptr()), _mm256_loadu_ps(tb.as_ptr())) };
            ab0 = _mm256_fmadd_ps(x, y, ab0);
            aa0 = _mm256_fmadd_ps(x, x, aa0);
            bb0 = _mm256_fmadd_ps(y, y, bb0);
            i += rem;
        }
        (
            hsum256(_mm256_add_ps(ab0, ab1)),
            hsum256(_mm256_add_ps(aa0, aa1)),
            hsum256(_mm256_add_ps(bb0, bb1)),
        )
    }

    /// Loads 16 halves from `p` and widens them to `f32`.
    ///
    /// # Safety
    /// `p..p+16` must be readable and the CPU must support AVX-512F.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load16(p: *const f16) -> __m512 {
        // SAFETY: guaranteed by the caller; `loadu` needs no alignment.
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())) }
    }

    /// Fused cosine sums, AVX-512F, `f16` input widened with `vcvtph2ps`.
    #[target_feature(enable = "avx512f")]
    pub(crate) fn parts_f16_avx512(a: &[f16], b: &[f16]) -> (f32, f32, f32) {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let (mut ab0, mut aa0, mut bb0) = (
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
        );
        let (mut ab1, mut aa1, mut bb1) = (
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
        );
        let mut i = 0usize;
        // SAFETY (pointer offsets): `i + 32 <= n <= a.len(), b.len()`.
        while i + 32 <= n {
            let (x0, y0) = unsafe { (load16(pa.add(i)), load16(pb.add(i))) };
            let (x1, y1) = unsafe { (load16(pa.add(i + 16)), load16(pb.add(i + 16))) };
            ab0 = _mm512_fmadd_ps(x0, y0, ab0);
            aa0 = _mm512_fmadd_ps(x0, x0, aa0);
            bb0 = _mm512_fmadd_ps(y0, y0, bb0);
            ab1 = _mm512_fmadd_ps(x1, y1, ab1);
            aa1 = _mm512_fmadd_ps(x1, x1, aa1);
            bb1 = _mm512_fmadd_ps(y1, y1, bb1);
            i += 32;
        }
        while i < n {
            let rem = (n - i).min(16);
            let mut ta = [f16::ZERO; 16];
            let mut tb = [f16::ZERO; 16];
            ta[..rem].copy_from_slice(&a[i..i + rem]);
            tb[..rem].copy_from_slice(&b[i..i + rem]);
            // SAFETY: the stack buffers hold 16 halves each.
            let (x, y) = unsafe { (load16(ta.as_ptr()), load16(tb.as_ptr())) };
            ab0 = _mm512_fmadd_ps(x, y, ab0);
            aa0 = _mm512_fmadd_ps(x, x, aa0);
            bb0 = _mm512_fmadd_ps(y, y, bb0);
            i += rem;
        }
        (
            _mm512_reduce_add_ps(_mm512_add_ps(ab0, ab1)),
            _mm512_reduce_add_ps(_mm512_add_ps(aa0, aa1)),
            _mm512_reduce_add_ps(_mm512_add_ps(bb0, bb1)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(got: (f32, f32, f32), want: (f32, f32, f32), n: usize) {
        let tol = |w: f32| 1e-5 * w.abs() + 1e-4;
        assert!(
            (got.0 - want.0).abs() <= tol(want.0),
            "n={n} {got:?} {want:?}"
        );
        assert!(
            (got.1 - want.1).abs() <= tol(want.1),
            "n={n} {got:?} {want:?}"
        );
        assert!(
            (got.2 - want.2).abs() <= tol(want.2),
            "n={n} {got:?} {want:?}"
        );
    }

    #[test]
    fn every_variant_matches_scalar() {
        for n in [0usize, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 100, 1536] {
            let a: Vec<f32> = (0..n)
                .map(|i| ((i * 37) % 19) as f32 * 0.125 - 1.0)
                .collect();
            let b: Vec<f32> = (0..n)
                .map(|i| ((i * 11) % 23) as f32 * 0.25 - 2.0)
                .collect();
            let want = (
                crate::scalar::dot_f32(&a, &b),
                crate::scalar::norm_squared_f32(&a),
                crate::scalar::norm_squared_f32(&b),
            );
            check(parts_f32(&a, &b), want, n);
            let (ha, hb): (Vec<f16>, Vec<f16>) = (
                a.iter().copied().map(f16::from_f32).collect(),
                b.iter().copied().map(f16::from_f32).collect(),
            );
            check(parts_f16(&ha, &hb), want, n);
            #[cfg(target_arch = "x86_64")]
            {
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: AVX-512F checked above.
                    check(unsafe { x86::parts_f32_avx512(&a, &b) }, want, n);
                    check(unsafe { x86::parts_f16_avx512(&ha, &hb) }, want, n);
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: AVX2 and FMA checked above.
                    check(unsafe { x86::parts_f32_avx2(&a, &b) }, want, n);
                }
            }
        }
    }
}
