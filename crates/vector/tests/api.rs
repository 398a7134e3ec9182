//! Pins the public API the pgrx glue is written against: if a name or a
//! signature changes, this file stops compiling.
#![allow(clippy::type_complexity)]

use std::cmp::Ordering;

use half::f16;
use ruvec_vector::limits::{self, Kind};
use ruvec_vector::{float_text, ops, text, wire, Result, SparseVec, SqlState, VecError};

#[test]
fn signatures() {
    let _: fn(&SqlState) -> &'static str = SqlState::code;
    let _: fn(usize, usize) -> VecError = VecError::dim_mismatch;
    let _: fn(i32, usize) -> VecError = VecError::expected_dims;
    let _: fn(&Kind) -> &'static str = Kind::name;
    let _: fn(Kind, &[i32]) -> Result<i32> = limits::typmod_in;
    let _: fn(i32, usize) -> Result<()> = limits::check_typmod;
    let _: fn(Kind, usize) -> Result<()> = limits::check_dim;
    let _: fn(Kind, f32) -> Result<()> = limits::check_element;
    let _: fn(&mut String, f32) = float_text::write_f32;
    let _: fn(&str) -> Result<Vec<f32>> = text::parse_vector;
    let _: fn(&[f32]) -> String = text::format_vector;
    let _: fn(&str) -> Result<Vec<f16>> = text::parse_halfvec;
    let _: fn(&[f16]) -> String = text::format_halfvec;
    let _: fn(&str) -> Result<SparseVec> = text::parse_sparsevec;
    let _: fn(u32, &[u32], &[f32]) -> String = text::format_sparsevec;
    let _: fn(&[f32]) -> Vec<u8> = wire::send_vector;
    let _: fn(&[u8]) -> Result<Vec<f32>> = wire::recv_vector;
    let _: fn(&[f16]) -> Vec<u8> = wire::send_halfvec;
    let _: fn(&[u8]) -> Result<Vec<f16>> = wire::recv_halfvec;
    let _: fn(u32, &[u32], &[f32]) -> Vec<u8> = wire::send_sparsevec;
    let _: fn(&[u8]) -> Result<SparseVec> = wire::recv_sparsevec;
    let _: fn(&[f32], &[f32]) -> Result<Vec<f32>> = ops::add_f32;
    let _: fn(&[f32], &[f32]) -> Result<Vec<f32>> = ops::sub_f32;
    let _: fn(&[f32], &[f32]) -> Result<Vec<f32>> = ops::mul_f32;
    let _: fn(&[f16], &[f16]) -> Result<Vec<f16>> = ops::add_f16;
    let _: fn(&[f16], &[f16]) -> Result<Vec<f16>> = ops::sub_f16;
    let _: fn(&[f16], &[f16]) -> Result<Vec<f16>> = ops::mul_f16;
    let _: fn(Kind, &[f32], &[f32]) -> Result<Vec<f32>> = ops::concat::<f32>;
    let _: fn(Kind, &[f16], i32, i32) -> Result<Vec<f16>> = ops::subvector::<f16>;
    let _: fn(&[f32]) -> Vec<f32> = ops::l2_normalize_f32;
    let _: fn(&[f16]) -> Result<Vec<f16>> = ops::l2_normalize_f16;
    let _: fn(&SparseVec) -> SparseVec = ops::l2_normalize_sparse;
    let _: fn(&[f32]) -> Vec<u8> = ops::binary_quantize_f32;
    let _: fn(&[f16]) -> Vec<u8> = ops::binary_quantize_f16;
    let _: fn(Kind, f32) -> Result<f16> = ops::f32_to_f16_checked;
    let _: fn(&[f32]) -> SparseVec = ops::to_sparse;
    let _: fn(&SparseVec) -> Vec<f32> = ops::sparse_to_dense;
    let _: fn(&mut Vec<f64>, &[f32]) -> Result<()> = ops::accum;
    let _: fn(&mut Vec<f64>, &[f64]) -> Result<()> = ops::combine;
    let _: fn(&[f64]) -> Result<Option<Vec<f32>>> = ops::avg_from_state;
    let _: fn(&[f64]) -> Result<Option<Vec<f32>>> = ops::sum_from_state;
    let _: fn(&[f32], &[f32]) -> Ordering = ops::cmp_f32;
    let _: fn(&[f16], &[f16]) -> Ordering = ops::cmp_f16;
    let _: fn((&[u32], &[f32], u32), (&[u32], &[f32], u32)) -> Ordering = ops::cmp_sparse;
    let e = VecError {
        state: SqlState::DataException,
        message: String::new(),
        detail: None,
        hint: None,
    };
    assert_eq!(e.state, SqlState::DataException);
    assert_eq!(limits::SPARSEVEC_MAX_DIM, 1_000_000_000i64);
}
