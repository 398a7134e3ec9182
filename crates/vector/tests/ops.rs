//! Element-wise operators, subvector, normalisation, quantisation,
//! conversions and comparisons (pgvector regression test cases).

mod common;

use std::cmp::Ordering::*;

use common::assert_err0;
use half::f16;
use ruvec_vector::limits::Kind;
use ruvec_vector::ops::*;
use ruvec_vector::text::{
    format_halfvec, format_vector, parse_halfvec, parse_sparsevec, SparseVec,
};
use ruvec_vector::SqlState::*;

fn hv(v: &[f32]) -> Vec<f16> {
    v.iter().map(|&x| f16::from_f32(x)).collect()
}

#[test]
fn vector_arithmetic() {
    assert_eq!(add_f32(&[1., 2., 3.], &[4., 5., 6.]).unwrap(), [5., 7., 9.]);
    assert_eq!(
        sub_f32(&[1., 2., 3.], &[4., 5., 6.]).unwrap(),
        [-3., -3., -3.]
    );
    assert_eq!(
        mul_f32(&[1., 2., 3.], &[4., 5., 6.]).unwrap(),
        [4., 10., 18.]
    );
    assert_err0(
        add_f32(&[3e38], &[3e38]),
        NumericValueOutOfRange,
        "value out of range: overflow",
    );
    assert_err0(
        sub_f32(&[-3e38], &[3e38]),
        NumericValueOutOfRange,
        "value out of range: overflow",
    );
    assert_err0(
        mul_f32(&[1e37], &[1e37]),
        NumericValueOutOfRange,
        "value out of range: overflow",
    );
    assert_err0(
        mul_f32(&[1e-37], &[1e-37]),
        NumericValueOutOfRange,
        "value out of range: underflow",
    );
    assert_eq!(mul_f32(&[0.0, 1e-37], &[1e-37, 0.0]).unwrap(), [0.0, 0.0]);
    for r in [
        add_f32(&[1., 2.], &[3.]),
        sub_f32(&[1., 2.], &[3.]),
        mul_f32(&[1., 2.], &[3.]),
    ] {
        assert_err0(r, DataException, "different vector dimensions 2 and 1");
    }
}

#[test]
fn halfvec_arithmetic() {
    assert_eq!(
        add_f16(&hv(&[1., 2., 3.]), &hv(&[4., 5., 6.])).unwrap(),
        hv(&[5., 7., 9.])
    );
    assert_eq!(
        sub_f16(&hv(&[1., 2., 3.]), &hv(&[4., 5., 6.])).unwrap(),
        hv(&[-3., -3., -3.])
    );
    assert_eq!(
        mul_f16(&hv(&[1., 2., 3.]), &hv(&[4., 5., 6.])).unwrap(),
        hv(&[4., 10., 18.])
    );
    let big = parse_halfvec("[65519]").unwrap();
    assert_err0(
        add_f16(&big, &big),
        NumericValueOutOfRange,
        "value out of range: overflow",
    );
    assert_err0(
        sub_f16(&hv(&[-65504.]), &big),
        NumericValueOutOfRange,
        "value out of range: overflow",
    );
    assert_err0(
        mul_f16(&big, &big),
        NumericValueOutOfRange,
        "value out of range: overflow",
    );
    let tiny = parse_halfvec("[1e-7]").unwrap();
    assert_err0(
        mul_f16(&tiny, &tiny),
        NumericValueOutOfRange,
        "value out of range: underflow",
    );
    assert_err0(
        add_f16(&hv(&[1., 2.]), &hv(&[3.])),
        DataException,
        "different halfvec dimensions 2 and 1",
    );
    assert_err0(
        mul_f16(&hv(&[1., 2.]), &hv(&[3.])),
        DataException,
        "different halfvec dimensions 2 and 1",
    );
    // one rounding from the exact result (ties to even)
    let r = add_f16(&hv(&[2048.]), &hv(&[1.])).unwrap();
    assert_eq!(r[0].to_f32(), 2048.0);
    let r = add_f16(&hv(&[2050.]), &hv(&[1.])).unwrap();
    assert_eq!(r[0].to_f32(), 2052.0);
}

#[test]
fn concat_limits() {
    assert_eq!(
        concat(Kind::Vector, &[1., 2., 3.], &[4., 5.]).unwrap(),
        [1., 2., 3., 4., 5.]
    );
    let a = vec![0f32; 16000];
    assert_err0(
        concat(Kind::Vector, &a, &[1.0]),
        ProgramLimitExceeded,
        "vector cannot have more than 16000 dimensions",
    );
    let h = vec![f16::ZERO; 16000];
    assert_err0(
        concat(Kind::Halfvec, &h, &[f16::ONE]),
        ProgramLimitExceeded,
        "halfvec cannot have more than 16000 dimensions",
    );
    assert_eq!(
        concat(Kind::Halfvec, &h[..1], &[f16::ONE]).unwrap().len(),
        2
    );
}

#[test]
fn subvector_semantics() {
    let v = [1., 2., 3., 4., 5.];
    let sv = |s, c| subvector(Kind::Vector, &v, s, c);
    assert_eq!(sv(1, 3).unwrap(), [1., 2., 3.]);
    assert_eq!(sv(3, 2).unwrap(), [3., 4.]);
    assert_eq!(sv(-1, 3).unwrap(), [1.]);
    assert_eq!(sv(3, 9).unwrap(), [3., 4., 5.]);
    assert_eq!(sv(3, i32::MAX).unwrap(), [3., 4., 5.]);
    assert_eq!(sv(-2147483644, i32::MAX).unwrap(), [1., 2.]);
    for (s, c) in [
        (1, 0),
        (3, -1),
        (-1, 2),
        (i32::MAX, 10),
        (6, 1),
        (i32::MIN, 1),
        (i32::MIN, i32::MIN),
    ] {
        assert_err0(
            sv(s, c),
            DataException,
            "vector must have at least 1 dimension",
        );
    }
    let h = hv(&v);
    assert_err0(
        subvector(Kind::Halfvec, &h, 1, 0),
        DataException,
        "halfvec must have at least 1 dimension",
    );
    assert_eq!(subvector(Kind::Halfvec, &h, 5, 1).unwrap(), hv(&[5.]));
}

#[test]
fn normalize() {
    assert_eq!(format_vector(&l2_normalize_f32(&[3., 4.])), "[0.6,0.8]");
    assert_eq!(l2_normalize_f32(&[3., 0.]), [1., 0.]);
    assert_eq!(l2_normalize_f32(&[0., 0.1]), [0., 1.]);
    assert_eq!(l2_normalize_f32(&[0., 0.]), [0., 0.]);
    assert_eq!(l2_normalize_f32(&[3e38]), [1.]);
    assert_eq!(
        format_halfvec(&l2_normalize_f16(&hv(&[3., 4.])).unwrap()),
        "[0.60009766,0.7998047]"
    );
    assert_eq!(l2_normalize_f16(&hv(&[0., 0.])).unwrap(), hv(&[0., 0.]));
    assert_eq!(l2_normalize_f16(&hv(&[65504.])).unwrap(), hv(&[1.]));
    let s = SparseVec {
        dim: 5,
        indices: vec![0, 2],
        values: vec![3., 4.],
    };
    assert_eq!(
        l2_normalize_sparse(&s),
        SparseVec {
            dim: 5,
            indices: vec![0, 2],
            values: vec![0.6, 0.8]
        }
    );
    let z = SparseVec {
        dim: 3,
        indices: vec![],
        values: vec![],
    };
    assert_eq!(l2_normalize_sparse(&z), z);
    // entries that underflow to zero are dropped
    let t = SparseVec {
        dim: 3,
        indices: vec![0, 2],
        values: vec![1e38, 1e-45],
    };
    assert_eq!(
        l2_normalize_sparse(&t),
        SparseVec {
            dim: 3,
            indices: vec![0],
            values: vec![1.0]
        }
    );
}

fn bitstring(b: &[u8], n: usize) -> String {
    (0..n)
        .map(|i| {
            if b[i / 8] & (0x80 >> (i % 8)) != 0 {
                '1'
            } else {
                '0'
            }
        })
        .collect()
}

#[test]
fn binary_quantize() {
    assert_eq!(binary_quantize_f32(&[1., 0., -1.]), [0b1000_0000]);
    let v = [0., 0.1, -0.2, -0.3, 0.4, 0.5, 0.6, -0.7, 0.8, -0.9, 1.];
    assert_eq!(bitstring(&binary_quantize_f32(&v), v.len()), "01001110101");
    let w = [
        1., 2., 3., -4., 5., 6., -7., 8., 1., -2., -3., 4., 5., -6., 7., 8., -1., 2., 3.,
    ];
    assert_eq!(
        bitstring(&binary_quantize_f32(&w), w.len()),
        "1110110110011011011"
    );
    assert_eq!(binary_quantize_f32(&w).len(), 3);
    assert_eq!(
        bitstring(&binary_quantize_f16(&hv(&w)), w.len()),
        "1110110110011011011"
    );
    assert_eq!(binary_quantize_f16(&hv(&[0., -0., 1.])), [0b0010_0000]);
}

#[test]
fn f16_conversion() {
    assert_eq!(
        f32_to_f16_checked(Kind::Halfvec, 65519.0).unwrap().to_f32(),
        65504.0
    );
    assert_err0(
        f32_to_f16_checked(Kind::Halfvec, 65520.0),
        NumericValueOutOfRange,
        "\"65520\" is out of range for type halfvec",
    );
    assert_err0(
        f32_to_f16_checked(Kind::Halfvec, -1e20),
        NumericValueOutOfRange,
        "\"-1e+20\" is out of range for type halfvec",
    );
    assert!(f32_to_f16_checked(Kind::Halfvec, f32::INFINITY)
        .unwrap()
        .is_infinite());
    assert_eq!(
        f32_to_f16_checked(Kind::Halfvec, 1e-8).unwrap().to_bits(),
        0
    );
}

/// Every f16 rounding boundary: midpoints between neighbours round to the
/// even one, anything past them to the nearer one (pgvector uses
/// round-to-nearest-even conversions).
#[test]
fn f16_rounding_is_nearest_even() {
    for bits in 0u16..0x7bff {
        let (a, b) = (f16::from_bits(bits), f16::from_bits(bits + 1));
        let mid = (a.to_f32() + b.to_f32()) / 2.0; // exact in f32
        let even = if bits % 2 == 0 { a } else { b };
        assert_eq!(
            f32_to_f16_checked(Kind::Halfvec, mid).unwrap(),
            even,
            "{bits:#x}"
        );
        assert_eq!(
            f32_to_f16_checked(Kind::Halfvec, mid.next_down()).unwrap(),
            a
        );
        assert_eq!(f32_to_f16_checked(Kind::Halfvec, mid.next_up()).unwrap(), b);
    }
    // halfway between 65504 and the next would-be value overflows
    assert!(f32_to_f16_checked(Kind::Halfvec, 65520.0).is_err());
    assert!(f32_to_f16_checked(Kind::Halfvec, 65520f32.next_down()).is_ok());
}

#[test]
fn sparse_dense_conversions() {
    let s = to_sparse(&[0., 1.5, -0., 2.]);
    assert_eq!(
        s,
        SparseVec {
            dim: 4,
            indices: vec![1, 3],
            values: vec![1.5, 2.]
        }
    );
    assert_eq!(sparse_to_dense(&s), [0., 1.5, 0., 2.]);
    let p = parse_sparsevec("{}/3").unwrap();
    assert_eq!(sparse_to_dense(&p), [0., 0., 0.]);
}

#[test]
fn dense_comparison() {
    assert_eq!(cmp_f32(&[1., 2., 3.], &[1., 2., 3.]), Equal);
    assert_eq!(cmp_f32(&[1., 2., 3.], &[0., 0., 0.]), Greater);
    assert_eq!(cmp_f32(&[0., 0., 0.], &[1., 2., 3.]), Less);
    assert_eq!(cmp_f32(&[1., 2.], &[1., 2., 3.]), Less);
    assert_eq!(cmp_f32(&[1., 2., 3.], &[1., 2.]), Greater);
    assert_eq!(cmp_f32(&[1., 2.], &[2., 3., 4.]), Less);
    assert_eq!(cmp_f32(&[2., 3.], &[1., 2., 3.]), Greater);
    assert_eq!(cmp_f32(&[-0.], &[0.]), Equal);
    assert_eq!(cmp_f16(&hv(&[1., 2.]), &hv(&[1., 2., 3.])), Less);
    assert_eq!(cmp_f16(&hv(&[2., 3.]), &hv(&[1., 2., 3.])), Greater);
    assert_eq!(cmp_f16(&hv(&[-0.]), &hv(&[0.])), Equal);
}

#[test]
fn sparse_comparison() {
    let c = |a: &str, b: &str| {
        let (a, b) = (parse_sparsevec(a).unwrap(), parse_sparsevec(b).unwrap());
        cmp_sparse(
            (&a.indices, &a.values, a.dim),
            (&b.indices, &b.values, b.dim),
        )
    };
    assert_eq!(c("{1:1,2:2,3:3}/3", "{1:1,2:2,3:3}/3"), Equal);
    assert_eq!(c("{1:1,2:2,3:3}/3", "{}/3"), Greater);
    assert_eq!(c("{}/3", "{1:1,2:2,3:3}/3"), Less);
    assert_eq!(c("{1:1,2:2}/2", "{1:1,2:2,3:3}/3"), Less);
    assert_eq!(c("{1:1,2:2,3:3}/3", "{1:1,2:2}/2"), Greater);
    assert_eq!(c("{1:1,2:2}/2", "{1:2,2:3,3:4}/3"), Less);
    assert_eq!(c("{1:2,2:3}/2", "{1:1,2:2,3:3}/3"), Greater);
    // implicit zeros compare like the dense vectors
    assert_eq!(c("{1:-1}/3", "{2:1}/3"), Less); // [-1,0,0] < [0,1,0]
    assert_eq!(c("{2:1}/3", "{1:-1}/3"), Greater);
    assert_eq!(c("{3:-1}/3", "{}/3"), Less);
    assert_eq!(c("{}/2", "{3:-1}/3"), Less); // beyond a's dim: shorter first
}
