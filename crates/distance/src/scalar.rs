//! Plain, obviously-correct reference loops.
//!
//! Every function here mirrors the non-SIMD ("Default") code path of pgvector:
//! one `f32` accumulator, elements summed strictly in index order, `f16` values
//! widened exactly to `f32` before any arithmetic, and the cosine similarity
//! finished in `f64`. They are the oracle the SIMD kernels are tested against
//! and the baseline the benchmarks compare with.
//!
//! Like the dispatched kernels, they never panic on slices of different
//! lengths: only the first `min(a.len(), b.len())` elements are used.

use half::f16;

/// Squared Euclidean distance, `sum((x - y)^2)`.
pub fn l2_squared_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for (&x, &y) in a.iter().zip(b) {
        let d = x - y;
        sum += d * d;
    }
    sum
}

/// Inner product, `sum(x * y)`.
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for (&x, &y) in a.iter().zip(b) {
        sum += x * y;
    }
    sum
}

/// Manhattan distance, `sum(|x - y|)`.
pub fn l1_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for (&x, &y) in a.iter().zip(b) {
        sum += (x - y).abs();
    }
    sum
}

/// Squared L2 norm, `sum(x^2)`.
pub fn norm_squared_f32(a: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for &x in a {
        sum += x * x;
    }
    sum
}

/// Cosine distance with pgvector semantics (see [`crate::cosine_from_parts`]).
pub fn cosine_distance_f32(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
    for (&x, &y) in a.iter().zip(b) {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    crate::cosine_from_parts(ab, aa, bb)
}

/// Squared Euclidean distance of two half vectors, accumulated in `f32`.
pub fn l2_squared_f16(a: &[f16], b: &[f16]) -> f32 {
    let mut sum = 0.0f32;
    for (&x, &y) in a.iter().zip(b) {
        let d = x.to_f32() - y.to_f32();
        sum += d * d;
    }
    sum
}

/// Inner product of two half vectors, accumulated in `f32`.
pub fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    let mut sum = 0.0f32;
    for (&x, &y) in a.iter().zip(b) {
        sum += x.to_f32() * y.to_f32();
    }
    sum
}

/// Manhattan distance of two half vectors, accumulated in `f32`.
pub fn l1_f16(a: &[f16], b: &[f16]) -> f32 {
    let mut sum = 0.0f32;
    for (&x, &y) in a.iter().zip(b) {
        sum += (x.to_f32() - y.to_f32()).abs();
    }
    sum
}

/// Squared L2 norm of a half vector, accumulated in `f32`.
pub fn norm_squared_f16(a: &[f16]) -> f32 {
    let mut sum = 0.0f32;
    for &x in a {
        let x = x.to_f32();
        sum += x * x;
    }
    sum
}

/// Cosine distance of two half vectors with pgvector semantics.
pub fn cosine_distance_f16(a: &[f16], b: &[f16]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x.to_f32(), y.to_f32());
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    crate::cosine_from_parts(ab, aa, bb)
}

/// Number of differing bits.
pub fn hamming(a: &[u8], b: &[u8]) -> u64 {
    let mut count = 0u64;
    for (&x, &y) in a.iter().zip(b) {
        count += u64::from((x ^ y).count_ones());
    }
    count
}

/// Jaccard distance with pgvector semantics: `1` when `|a & b| == 0`
/// (this includes two all-zero inputs), else `1 - |a & b| / |a | b|` in `f64`.
pub fn jaccard_distance(a: &[u8], b: &[u8]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0u64, 0u64, 0u64);
    for (&x, &y) in a.iter().zip(b) {
        ab += u64::from((x & y).count_ones());
        aa += u64::from(x.count_ones());
        bb += u64::from(y.count_ones());
    }
    crate::jaccard_from_counts(ab, aa + bb - ab)
}
