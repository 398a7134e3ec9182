//! Quantizers for the tiered `ruhnsw` index (issue 4): compact codes to navigate the graph on,
//! with the final order always decided by exact distances elsewhere.
//!
//! - [`Sq8`]: int8 scalar quantization, one byte per dimension, per-dimension range learned
//!   from a sample.
//! - [`Pq`]: product quantization, the vector split into subvectors each coded by the nearest
//!   of 256 (8-bit codes) or 16 (4-bit codes, two per byte) k-means centroids; queries are
//!   answered with per-query lookup tables (asymmetric distance computation).
//! - [`Rbq`]: binary codes after a learned centring and a random orthogonal rotation, so data
//!   that is non-negative in every dimension (SIFT) does not collapse onto a few sign patterns.
//!
//! Every trainer is deterministic for a given seed (`SplitMix64` below); training uses rayon
//! only for pure computation. Distances follow pgvector's conventions: squared L2, negative
//! inner product; cosine is inner product on normalised vectors (the caller normalises).

mod binary;
mod bytes;
mod coarse;
mod kmeans;
mod pq;
mod rng;
mod sq8;

pub use binary::{Rbq, RbqQuery};
pub use kmeans::kmeans;
pub use pq::{Pq, PqBits, PqTable};
pub use rng::SplitMix64;
pub use sq8::{Sq8, Sq8Query};

/// Distance a quantizer estimates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Squared Euclidean distance.
    L2,
    /// Negative inner product (smaller is closer), also cosine on normalised vectors.
    InnerProduct,
}

/// Errors of training and encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuantError {
    /// The training sample is empty or not a multiple of the dimension.
    BadSample { dims: usize, len: usize },
    /// A vector of the wrong length.
    DimensionMismatch { expected: usize, got: usize },
    /// A NaN or infinite value.
    NonFinite,
    /// Parameters that cannot work (e.g. more subvectors than dimensions).
    BadParameters(&'static str),
    /// Serialised quantizer bytes that do not decode (truncated, inconsistent or non-finite).
    Malformed,
}

impl std::fmt::Display for QuantError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuantError::BadSample { dims, len } => {
                write!(f, "training sample of {len} values is not a non-empty multiple of {dims} dimensions")
            }
            QuantError::DimensionMismatch { expected, got } => {
                write!(f, "expected {expected} dimensions, not {got}")
            }
            QuantError::NonFinite => write!(f, "NaN or infinite value"),
            QuantError::BadParameters(why) => write!(f, "{why}"),
            QuantError::Malformed => write!(f, "malformed quantizer data"),
        }
    }
}

impl std::error::Error for QuantError {}

pub(crate) fn check_sample(data: &[f32], dims: usize) -> Result<usize, QuantError> {
    if dims == 0 || data.is_empty() || !data.len().is_multiple_of(dims) {
        return Err(QuantError::BadSample {
            dims,
            len: data.len(),
        });
    }
    if data.iter().any(|x| !x.is_finite()) {
        return Err(QuantError::NonFinite);
    }
    Ok(data.len() / dims)
}

pub(crate) fn check_vector(v: &[f32], dims: usize) -> Result<(), QuantError> {
    if v.len() != dims {
        return Err(QuantError::DimensionMismatch {
            expected: dims,
            got: v.len(),
        });
    }
    if v.iter().any(|x| !x.is_finite()) {
        return Err(QuantError::NonFinite);
    }
    Ok(())
}

// The project's SIMD kernels (the same ones the SQL operators use).
pub(crate) use ruvec_distance::{dot_f32 as dot, l2_squared_f32 as l2sq};
