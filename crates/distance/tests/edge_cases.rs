//! Edge cases with pgvector's semantics (zero vectors, identical and opposite
//! vectors, lengths that cross SIMD tails, bit-string corner cases).

use half::f16;
use ruvec_distance as d;
use ruvec_distance::scalar as s;

/// Lengths on both sides of every SIMD width used (8/16/32/64 lanes).
const LENS: [usize; 17] = [
    1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129,
];

fn ramp(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919) % 23) as f32 * 0.25 - 2.5)
        .collect()
}

fn halves(v: &[f32]) -> Vec<f16> {
    v.iter().copied().map(f16::from_f32).collect()
}

fn nonzero(n: usize) -> Vec<f32> {
    (0..n).map(|i| 0.5 + (i % 5) as f32).collect()
}

#[test]
fn cosine_of_zero_vector_is_nan() {
    for n in LENS {
        let z = vec![0.0f32; n];
        let x = nonzero(n);
        for (a, b) in [(&z, &z), (&z, &x), (&x, &z)] {
            assert!(d::cosine_distance_f32(a, b).is_nan(), "n={n}");
            assert!(s::cosine_distance_f32(a, b).is_nan(), "n={n}");
            assert!(
                d::cosine_distance_f16(&halves(a), &halves(b)).is_nan(),
                "n={n}"
            );
            assert!(
                s::cosine_distance_f16(&halves(a), &halves(b)).is_nan(),
                "n={n}"
            );
        }
    }
    // Empty inputs: 0 / 0.
    assert!(d::cosine_distance_f32(&[], &[]).is_nan());
    assert!(d::cosine_distance_f16(&[], &[]).is_nan());
    assert!(d::cosine_distance_sparse(&[], &[], &[], &[]).is_nan());
    assert!(d::cosine_distance_sparse(&[3], &[1.0], &[], &[]).is_nan());
}

#[test]
fn identical_vectors() {
    for n in LENS {
        let a = ramp(n);
        if a.iter().all(|&x| x == 0.0) {
            continue;
        }
        let h = halves(&a);
        assert_eq!(d::cosine_distance_f32(&a, &a), 0.0, "n={n}");
        assert_eq!(d::cosine_distance_f16(&h, &h), 0.0, "n={n}");
        assert_eq!(d::l2_squared_f32(&a, &a), 0.0, "n={n}");
        assert_eq!(d::l2_squared_f16(&h, &h), 0.0, "n={n}");
        assert_eq!(d::l1_f32(&a, &a), 0.0, "n={n}");
        assert_eq!(d::l1_f16(&h, &h), 0.0, "n={n}");
        let idx: Vec<u32> = (0..n as u32).map(|i| i * 3).collect();
        assert_eq!(d::cosine_distance_sparse(&idx, &a, &idx, &a), 0.0, "n={n}");
        assert_eq!(d::l2_squared_sparse(&idx, &a, &idx, &a), 0.0, "n={n}");
    }
}

#[test]
fn opposite_vectors() {
    for n in LENS {
        let a = nonzero(n);
        let b: Vec<f32> = a.iter().map(|x| -x).collect();
        assert_eq!(d::cosine_distance_f32(&a, &b), 2.0, "n={n}");
        assert_eq!(
            d::cosine_distance_f16(&halves(&a), &halves(&b)),
            2.0,
            "n={n}"
        );
        assert_eq!(s::cosine_distance_f32(&a, &b), 2.0, "n={n}");
        assert_eq!(d::dot_f32(&a, &b), -d::norm_squared_f32(&a), "n={n}");
        let idx: Vec<u32> = (0..n as u32).collect();
        assert_eq!(d::cosine_distance_sparse(&idx, &a, &idx, &b), 2.0, "n={n}");
    }
}

#[test]
fn orthogonal_and_scaled_vectors() {
    let a = [1.0f32, 0.0, 0.0];
    let b = [0.0f32, 2.0, 0.0];
    assert_eq!(d::cosine_distance_f32(&a, &b), 1.0);
    assert_eq!(d::cosine_distance_sparse(&[0], &[1.0], &[1], &[2.0]), 1.0);
    let c = [3.0f32, 0.0, 0.0];
    assert_eq!(d::cosine_distance_f32(&a, &c), 0.0);
}

#[test]
fn length_one() {
    let (a, b) = ([3.0f32], [-1.5f32]);
    assert_eq!(d::l2_squared_f32(&a, &b), 20.25);
    assert_eq!(d::dot_f32(&a, &b), -4.5);
    assert_eq!(d::l1_f32(&a, &b), 4.5);
    assert_eq!(d::norm_squared_f32(&a), 9.0);
    assert_eq!(d::cosine_distance_f32(&a, &b), 2.0);
    let (ha, hb) = (halves(&a), halves(&b));
    assert_eq!(d::l2_squared_f16(&ha, &hb), 20.25);
    assert_eq!(d::dot_f16(&ha, &hb), -4.5);
    assert_eq!(d::l1_f16(&ha, &hb), 4.5);
    assert_eq!(d::norm_squared_f16(&ha), 9.0);
    assert_eq!(d::cosine_distance_f16(&ha, &hb), 2.0);
    assert_eq!(d::hamming(&[0b1010_0000], &[0b0110_0000]), 2);
    assert_eq!(
        d::jaccard_distance(&[0b1010_0000], &[0b0110_0000]),
        1.0 - 1.0 / 3.0
    );
}

#[test]
fn odd_lengths_exact_on_small_integers() {
    // Small integer values: every partial sum is exact in f32, so any
    // summation order gives the same bits.
    for n in LENS {
        let a: Vec<f32> = (0..n).map(|i| (i % 9) as f32 - 4.0).collect();
        let b: Vec<f32> = (0..n).map(|i| (i % 5) as f32).collect();
        let (ha, hb) = (halves(&a), halves(&b));
        assert_eq!(
            d::l2_squared_f32(&a, &b),
            s::l2_squared_f32(&a, &b),
            "n={n}"
        );
        assert_eq!(d::dot_f32(&a, &b), s::dot_f32(&a, &b), "n={n}");
        assert_eq!(d::l1_f32(&a, &b), s::l1_f32(&a, &b), "n={n}");
        assert_eq!(d::norm_squared_f32(&a), s::norm_squared_f32(&a), "n={n}");
        assert_eq!(
            d::cosine_distance_f32(&a, &b).to_bits(),
            s::cosine_distance_f32(&a, &b).to_bits()
        );
        assert_eq!(
            d::l2_squared_f16(&ha, &hb),
            s::l2_squared_f16(&ha, &hb),
            "n={n}"
        );
        assert_eq!(d::dot_f16(&ha, &hb), s::dot_f16(&ha, &hb), "n={n}");
        assert_eq!(d::l1_f16(&ha, &hb), s::l1_f16(&ha, &hb), "n={n}");
        assert_eq!(d::norm_squared_f16(&ha), s::norm_squared_f16(&ha), "n={n}");
        assert_eq!(
            d::cosine_distance_f16(&ha, &hb).to_bits(),
            s::cosine_distance_f16(&ha, &hb).to_bits()
        );
    }
}

#[test]
fn f16_sums_beyond_f16_range_stay_finite() {
    // 1536 * 200 * 200 = 61,440,000: far above f16::MAX (65504). pgvector
    // accumulates halfvec in f32; a kernel accumulating in f16 gives inf.
    let a = vec![f16::from_f32(200.0); 1536];
    let b = vec![f16::from_f32(-200.0); 1536];
    assert_eq!(d::dot_f16(&a, &a), 61_440_000.0);
    assert_eq!(d::norm_squared_f16(&a), 61_440_000.0);
    assert_eq!(d::l2_squared_f16(&a, &b), 4.0 * 61_440_000.0);
    assert_eq!(d::l1_f16(&a, &b), 400.0 * 1536.0);
    assert_eq!(d::cosine_distance_f16(&a, &b), 2.0);
    // Precision: values 1 + k/64 whose sums need more than f16's 11 bits.
    let c: Vec<f16> = (0..1000)
        .map(|i| f16::from_f32(1.0 + (i % 10) as f32 / 64.0))
        .collect();
    let (g, w) = (d::dot_f16(&c, &c), s::dot_f16(&c, &c));
    assert!((g - w).abs() <= 1e-5 * w, "{g} vs {w}");
}

#[test]
fn mismatched_lengths_do_not_panic() {
    let a = ramp(33);
    let b = ramp(17);
    assert_eq!(d::dot_f32(&a, &b), d::dot_f32(&a[..17], &b));
    assert_eq!(d::l2_squared_f32(&b, &a), d::l2_squared_f32(&b, &a[..17]));
    assert_eq!(d::l1_f32(&a, &b), s::l1_f32(&a[..17], &b));
    assert_eq!(
        d::cosine_distance_f32(&a, &b),
        d::cosine_distance_f32(&a[..17], &b)
    );
    assert_eq!(d::dot_f32(&a, &[]), 0.0);
    let (ha, hb) = (halves(&a), halves(&b));
    assert_eq!(d::dot_f16(&ha, &hb), d::dot_f16(&ha[..17], &hb));
    assert_eq!(d::l1_f16(&hb, &ha), d::l1_f16(&hb, &ha[..17]));
    assert_eq!(d::hamming(&[0xff, 0xff], &[0x0f]), 4);
    assert_eq!(d::jaccard_distance(&[0xff], &[0x0f, 0xff]), 0.5);
    // Sparse: index/value slices of different lengths use the shorter.
    assert_eq!(
        d::dot_sparse(&[0, 1, 2], &[1.0, 2.0], &[1, 2], &[3.0, 4.0]),
        6.0
    );
    assert_eq!(
        d::l2_squared_sparse(&[0], &[1.0, 5.0], &[0, 9], &[1.0]),
        0.0
    );
}

#[test]
fn empty_inputs() {
    assert_eq!(d::l2_squared_f32(&[], &[]), 0.0);
    assert_eq!(d::l1_f32(&[], &[]), 0.0);
    assert_eq!(d::norm_squared_f32(&[]), 0.0);
    assert_eq!(d::l2_squared_f16(&[], &[]), 0.0);
    assert_eq!(d::l1_f16(&[], &[]), 0.0);
    assert_eq!(d::hamming(&[], &[]), 0);
    assert_eq!(d::jaccard_distance(&[], &[]), 1.0);
    assert_eq!(d::l2_squared_sparse(&[], &[], &[], &[]), 0.0);
    assert_eq!(d::l1_sparse(&[], &[], &[2], &[-3.0]), 3.0);
    assert_eq!(d::dot_sparse(&[], &[], &[2], &[-3.0]), 0.0);
}

#[test]
fn sparse_merge() {
    // a = {1: 1, 4: 2, 7: 3}, b = {0: 5, 4: -1, 8: 2}
    let (ai, av) = ([1u32, 4, 7], [1.0f32, 2.0, 3.0]);
    let (bi, bv) = ([0u32, 4, 8], [5.0f32, -1.0, 2.0]);
    assert_eq!(d::dot_sparse(&ai, &av, &bi, &bv), -2.0);
    assert_eq!(
        d::l2_squared_sparse(&ai, &av, &bi, &bv),
        1.0 + 9.0 + 9.0 + 25.0 + 4.0
    );
    assert_eq!(
        d::l1_sparse(&ai, &av, &bi, &bv),
        1.0 + 3.0 + 3.0 + 5.0 + 2.0
    );
    let want = 1.0 - (-2.0f64) / (14.0f64 * 30.0).sqrt();
    assert_eq!(d::cosine_distance_sparse(&ai, &av, &bi, &bv), want);
    // Disjoint supports: orthogonal.
    assert_eq!(d::cosine_distance_sparse(&[0], &[1.0], &[1], &[1.0]), 1.0);
}

#[test]
fn jaccard_follows_pgvector() {
    // bitutils.c: `if (ab == 0) return 1; else return 1 - ab / (aa + bb - ab)`.
    assert_eq!(d::jaccard_distance(&[0, 0, 0], &[0, 0, 0]), 1.0);
    assert_eq!(s::jaccard_distance(&[0, 0, 0], &[0, 0, 0]), 1.0);
    assert_eq!(d::jaccard_distance(&[0xf0], &[0x0f]), 1.0);
    assert_eq!(d::jaccard_distance(&[0xff; 100], &[0xff; 100]), 0.0);
    assert_eq!(d::hamming(&[0xff; 100], &[0x00; 100]), 800);
    let a = [0b1100_0000u8; 70]; // crosses the 64-byte AVX-512 block
    let b = [0b0100_0001u8; 70];
    assert_eq!(d::hamming(&a, &b), 140);
    assert_eq!(d::jaccard_distance(&a, &b), 1.0 - 70.0 / 210.0);
}

#[test]
fn cosine_clamps_into_range() {
    // Rounding can push |sim| a hair above 1; the result stays in [0, 2].
    for n in LENS {
        let a: Vec<f32> = (0..n).map(|i| 0.1 + i as f32 * 1e-3).collect();
        let b: Vec<f32> = a.iter().map(|x| x * 3.0).collect();
        let c = d::cosine_distance_f32(&a, &b);
        assert!((0.0..1e-6).contains(&c), "n={n} {c}");
        assert_eq!(d::cosine_from_parts(2.0, 1.0, 1.0), 0.0);
        assert_eq!(d::cosine_from_parts(-2.0, 1.0, 1.0), 2.0);
        assert!(d::cosine_from_parts(0.0, 0.0, 1.0).is_nan());
    }
}

#[test]
fn backend_report() {
    let r = d::simd_backend();
    assert!(!r.is_empty());
    println!("{r}");
}
