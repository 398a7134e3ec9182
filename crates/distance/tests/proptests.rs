//! Property tests: dispatched (SIMD) kernels against the scalar reference,
//! sparse kernels against dense scalar kernels on the densified vectors.

use half::f16;
use proptest::prelude::*;
use ruvec_distance as d;
use ruvec_distance::scalar as s;

/// Relative tolerance of the magnitude of a sum, plus a small absolute term.
const REL: f64 = 1e-4;
const ABS: f64 = 1e-5;

fn close(got: f32, want: f32, magnitude: f64) -> bool {
    (f64::from(got) - f64::from(want)).abs() <= REL * magnitude + ABS
}

/// `sum |term_i|` of a dense kernel: the scale its rounding error grows with.
fn mag(a: &[f32], b: &[f32], term: impl Fn(f64, f64) -> f64) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| term(f64::from(x), f64::from(y)).abs())
        .sum()
}

fn vec_pair(max_dim: usize, range: f32) -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    (1..=max_dim).prop_flat_map(move |n| {
        (
            prop::collection::vec(-range..range, n),
            prop::collection::vec(-range..range, n),
        )
    })
}

fn widen(v: &[f16]) -> Vec<f32> {
    v.iter().map(|x| x.to_f32()).collect()
}

fn check_dense_f32(a: &[f32], b: &[f32]) -> Result<(), TestCaseError> {
    let l2m = mag(a, b, |x, y| (x - y) * (x - y));
    let dotm = mag(a, b, |x, y| x * y);
    let l1m = mag(a, b, |x, y| x - y);
    let (g, w) = (d::l2_squared_f32(a, b), s::l2_squared_f32(a, b));
    prop_assert!(close(g, w, l2m), "l2 {g} vs {w}");
    let (g, w) = (d::dot_f32(a, b), s::dot_f32(a, b));
    prop_assert!(close(g, w, dotm), "dot {g} vs {w}");
    let (g, w) = (d::l1_f32(a, b), s::l1_f32(a, b));
    prop_assert!(close(g, w, l1m), "l1 {g} vs {w}");
    let (g, w) = (d::norm_squared_f32(a), s::norm_squared_f32(a));
    prop_assert!(close(g, w, mag(a, a, |x, y| x * y)), "norm {g} vs {w}");
    let (g, w) = (d::cosine_distance_f32(a, b), s::cosine_distance_f32(a, b));
    // |error of sim| <= error(dot) / (|a| |b|) <= REL (Cauchy-Schwarz), plus norms.
    prop_assert!((g - w).abs() <= 4.0 * REL + 1e-6, "cos {g} vs {w}");
    Ok(())
}

fn check_dense_f16(a: &[f16], b: &[f16]) -> Result<(), TestCaseError> {
    let (fa, fb) = (widen(a), widen(b));
    let l2m = mag(&fa, &fb, |x, y| (x - y) * (x - y));
    let dotm = mag(&fa, &fb, |x, y| x * y);
    let l1m = mag(&fa, &fb, |x, y| x - y);
    let (g, w) = (d::l2_squared_f16(a, b), s::l2_squared_f16(a, b));
    prop_assert!(close(g, w, l2m), "l2 {g} vs {w}");
    let (g, w) = (d::dot_f16(a, b), s::dot_f16(a, b));
    prop_assert!(close(g, w, dotm), "dot {g} vs {w}");
    let (g, w) = (d::l1_f16(a, b), s::l1_f16(a, b));
    prop_assert!(close(g, w, l1m), "l1 {g} vs {w}");
    let (g, w) = (d::norm_squared_f16(a), s::norm_squared_f16(a));
    prop_assert!(close(g, w, mag(&fa, &fa, |x, y| x * y)), "norm {g} vs {w}");
    let (g, w) = (d::cosine_distance_f16(a, b), s::cosine_distance_f16(a, b));
    prop_assert!((g - w).abs() <= 4.0 * REL + 1e-6, "cos {g} vs {w}");
    // The f16 kernels must agree with the f32 kernels on the widened values.
    prop_assert!(close(
        g as f32,
        d::cosine_distance_f32(&fa, &fb) as f32,
        4.0
    ));
    prop_assert!(close(d::dot_f16(a, b), d::dot_f32(&fa, &fb), 2.0 * dotm));
    Ok(())
}

/// A random sparse vector: dimension, sorted distinct indices, values.
/// Indices and values of a sparse vector.
type Sparse = (Vec<u32>, Vec<f32>);

fn sparse(dim: u32, density: f64) -> impl Strategy<Value = Sparse> {
    prop::collection::vec(
        (prop::bool::weighted(density), -50.0f32..50.0),
        dim as usize,
    )
    .prop_map(|cells| {
        let mut idx = Vec::new();
        let mut val = Vec::new();
        for (i, (keep, v)) in cells.into_iter().enumerate() {
            if keep {
                idx.push(i as u32);
                val.push(v);
            }
        }
        (idx, val)
    })
}

fn densify(dim: u32, idx: &[u32], val: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; dim as usize];
    for (&i, &v) in idx.iter().zip(val) {
        out[i as usize] = v;
    }
    out
}

fn sparse_pair() -> impl Strategy<Value = (u32, Sparse, Sparse)> {
    (1u32..=2000, 0.0f64..=1.0, 0.0f64..=1.0)
        .prop_flat_map(|(dim, da, db)| (Just(dim), sparse(dim, da), sparse(dim, db)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn dense_f32_matches_scalar((a, b) in vec_pair(4096, 100.0)) {
        check_dense_f32(&a, &b)?;
    }

    #[test]
    fn dense_f32_small_values_match_scalar((a, b) in vec_pair(4096, 1e-3)) {
        check_dense_f32(&a, &b)?;
    }

    #[test]
    fn dense_f16_matches_scalar((a, b) in vec_pair(4096, 60.0)) {
        let a: Vec<f16> = a.into_iter().map(f16::from_f32).collect();
        let b: Vec<f16> = b.into_iter().map(f16::from_f32).collect();
        check_dense_f16(&a, &b)?;
    }

    #[test]
    fn dense_f16_full_range_matches_scalar((a, b) in vec_pair(2048, 60000.0)) {
        // Values up to the f16 maximum: sums far beyond 65504 must stay finite.
        let a: Vec<f16> = a.into_iter().map(f16::from_f32).collect();
        let b: Vec<f16> = b.into_iter().map(f16::from_f32).collect();
        check_dense_f16(&a, &b)?;
    }

    #[test]
    fn sparse_matches_dense_scalar((dim, (ai, av), (bi, bv)) in sparse_pair()) {
        let (a, b) = (densify(dim, &ai, &av), densify(dim, &bi, &bv));
        // Same summation order as the dense loop minus exact zeros: equal
        // up to rounding of the absent 0 terms (none), so a tight tolerance.
        let (g, w) = (d::l2_squared_sparse(&ai, &av, &bi, &bv), s::l2_squared_f32(&a, &b));
        prop_assert!(close(g, w, 1e-3 * mag(&a, &b, |x, y| (x - y) * (x - y))), "l2 {g} vs {w}");
        let (g, w) = (d::dot_sparse(&ai, &av, &bi, &bv), s::dot_f32(&a, &b));
        prop_assert!(close(g, w, 1e-3 * mag(&a, &b, |x, y| x * y)), "dot {g} vs {w}");
        let (g, w) = (d::l1_sparse(&ai, &av, &bi, &bv), s::l1_f32(&a, &b));
        prop_assert!(close(g, w, 1e-3 * mag(&a, &b, |x, y| x - y)), "l1 {g} vs {w}");
        let (g, w) = (d::cosine_distance_sparse(&ai, &av, &bi, &bv), s::cosine_distance_f32(&a, &b));
        prop_assert!(g.is_nan() == w.is_nan(), "cos nan {g} vs {w}");
        if !w.is_nan() {
            prop_assert!((g - w).abs() <= 1e-6, "cos {g} vs {w}");
        }
    }

    #[test]
    fn bits_match_scalar((a, b) in (0usize..600).prop_flat_map(|n| (
        prop::collection::vec(any::<u8>(), n),
        prop::collection::vec(any::<u8>(), n),
    ))) {
        prop_assert_eq!(d::hamming(&a, &b), s::hamming(&a, &b));
        let (g, w) = (d::jaccard_distance(&a, &b), s::jaccard_distance(&a, &b));
        prop_assert_eq!(g.to_bits(), w.to_bits(), "jaccard {} vs {}", g, w);
    }

    #[test]
    fn sparse_bits_match_scalar((a, b) in (0usize..600).prop_flat_map(|n| (
        prop::collection::vec(prop::sample::select(vec![0u8, 0, 0, 1, 0x80, 0xff]), n),
        prop::collection::vec(prop::sample::select(vec![0u8, 0, 0, 2, 0x80, 0xff]), n),
    ))) {
        // Mostly-zero bit strings exercise the empty-intersection rule.
        prop_assert_eq!(d::hamming(&a, &b), s::hamming(&a, &b));
        let (g, w) = (d::jaccard_distance(&a, &b), s::jaccard_distance(&a, &b));
        prop_assert_eq!(g.to_bits(), w.to_bits(), "jaccard {} vs {}", g, w);
    }

    #[test]
    fn mismatched_lengths_use_shorter((a, b) in vec_pair(300, 10.0), cut in 0usize..300) {
        let cut = cut.min(b.len());
        let b = &b[..cut];
        let a_short = &a[..a.len().min(cut)];
        let b_short = &b[..a_short.len()];
        prop_assert_eq!(d::l2_squared_f32(&a, b), d::l2_squared_f32(a_short, b_short));
        prop_assert_eq!(d::dot_f32(&a, b), d::dot_f32(a_short, b_short));
        prop_assert_eq!(d::l1_f32(&a, b), d::l1_f32(a_short, b_short));
        let ha: Vec<f16> = a.iter().copied().map(f16::from_f32).collect();
        let hb: Vec<f16> = b.iter().copied().map(f16::from_f32).collect();
        let n = ha.len().min(hb.len());
        prop_assert_eq!(d::dot_f16(&ha, &hb), d::dot_f16(&ha[..n], &hb[..n]));
        prop_assert_eq!(d::l2_squared_f16(&hb, &ha), d::l2_squared_f16(&hb[..n], &ha[..n]));
        prop_assert_eq!(d::l1_f16(&ha, &hb), d::l1_f16(&ha[..n], &hb[..n]));
    }
}
