//! Element-wise arithmetic, concatenation, sub-vectors, normalisation,
//! quantisation, conversions, aggregate state and btree comparison, with
//! pgvector's semantics and error reports.

mod agg;
mod arith;
mod cmp;
mod convert;

pub use agg::{
    accum, avg_from_state, avg_from_state_f16, avg_from_state_kind, combine, sum_from_state,
};
pub use arith::{add_f16, add_f32, concat, mul_f16, mul_f32, sub_f16, sub_f32, subvector};
pub use cmp::{cmp_f16, cmp_f32, cmp_sparse};
pub use convert::{
    binary_quantize_f16, binary_quantize_f32, f32_to_f16_checked, l2_normalize_f16,
    l2_normalize_f32, l2_normalize_sparse, sparse_to_dense, to_sparse,
};
