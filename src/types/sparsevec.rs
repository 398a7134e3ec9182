//! `sparsevec`: I/O, distances, norms, btree support, array casts.

use std::ffi::{CStr, CString};

use pgrx::datum::Internal;
use pgrx::prelude::*;
use ruvec_distance as dist;
use ruvec_vector::limits::{self, Kind};
use ruvec_vector::{ops, text, wire, SparseVec, VecError};

use super::arrays;
use super::datum::{ArrayArg, SparseArg, Sparsevec};
use super::dense::take_message;
use crate::error::{raise, OrRaise};

fn same_dims(a: &SparseArg<'_>, b: &SparseArg<'_>) {
    if a.dim != b.dim {
        raise(VecError::dim_mismatch(a.dim as usize, b.dim as usize));
    }
}

/// Validated sparse value from any source: nnz limit, typmod, element checks.
pub fn finish(s: SparseVec, typmod: i32) -> Sparsevec {
    limits::check_typmod(typmod, s.dim as usize).or_raise();
    Sparsevec::from_sparse(&s)
}

#[pg_extern(sql = false)]
fn sparsevec_in(input: &CStr, _oid: pg_sys::Oid, typmod: i32) -> Sparsevec {
    let s = input.to_str().unwrap_or_else(|_| {
        raise(VecError {
            state: ruvec_vector::SqlState::InvalidTextRepresentation,
            message: "invalid input syntax for type sparsevec".into(),
            detail: Some("The literal is not valid UTF-8.".into()),
            hint: None,
        })
    });
    finish(text::parse_sparsevec(s).or_raise(), typmod)
}

#[pg_extern(sql = false)]
fn sparsevec_out(v: SparseArg<'_>) -> CString {
    CString::new(text::format_sparsevec(v.dim, v.indices, v.values)).expect("no NUL in sparsevec")
}

#[pg_extern(sql = false)]
fn sparsevec_typmod_in(list: ArrayArg<'_>) -> i32 {
    arrays::typmod_in(Kind::Sparsevec, &list)
}

#[pg_extern(sql = false)]
fn sparsevec_recv(buf: Internal, _oid: pg_sys::Oid, typmod: i32) -> Sparsevec {
    finish(wire::recv_sparsevec(take_message(buf)).or_raise(), typmod)
}

#[pg_extern(sql = false)]
fn sparsevec_send(v: SparseArg<'_>) -> Vec<u8> {
    wire::send_sparsevec(v.dim, v.indices, v.values)
}

#[pg_extern(sql = false)]
fn sparsevec_typmod_cast(v: SparseArg<'_>, typmod: i32, _explicit: bool) -> Sparsevec {
    limits::check_typmod(typmod, v.dim as usize).or_raise();
    Sparsevec::new(v.dim, v.indices, v.values)
}

#[pg_extern(sql = false)]
fn sparsevec_l2_distance(a: SparseArg<'_>, b: SparseArg<'_>) -> f64 {
    same_dims(&a, &b);
    (dist::l2_squared_sparse(a.indices, a.values, b.indices, b.values) as f64).sqrt()
}

#[pg_extern(sql = false)]
fn sparsevec_l2_squared_distance(a: SparseArg<'_>, b: SparseArg<'_>) -> f64 {
    same_dims(&a, &b);
    dist::l2_squared_sparse(a.indices, a.values, b.indices, b.values) as f64
}

#[pg_extern(sql = false)]
fn sparsevec_inner_product(a: SparseArg<'_>, b: SparseArg<'_>) -> f64 {
    same_dims(&a, &b);
    dist::dot_sparse(a.indices, a.values, b.indices, b.values) as f64
}

#[pg_extern(sql = false)]
fn sparsevec_negative_inner_product(a: SparseArg<'_>, b: SparseArg<'_>) -> f64 {
    same_dims(&a, &b);
    -(dist::dot_sparse(a.indices, a.values, b.indices, b.values) as f64)
}

#[pg_extern(sql = false)]
fn sparsevec_cosine_distance(a: SparseArg<'_>, b: SparseArg<'_>) -> f64 {
    same_dims(&a, &b);
    dist::cosine_distance_sparse(a.indices, a.values, b.indices, b.values)
}

#[pg_extern(sql = false)]
fn sparsevec_l1_distance(a: SparseArg<'_>, b: SparseArg<'_>) -> f64 {
    same_dims(&a, &b);
    dist::l1_sparse(a.indices, a.values, b.indices, b.values) as f64
}

#[pg_extern(sql = false)]
fn sparsevec_l2_norm(v: SparseArg<'_>) -> f64 {
    v.values
        .iter()
        .map(|&x| x as f64 * x as f64)
        .sum::<f64>()
        .sqrt()
}

#[pg_extern(sql = false)]
fn sparsevec_l2_normalize(v: SparseArg<'_>) -> Sparsevec {
    Sparsevec::from_sparse(&ops::l2_normalize_sparse(&v.to_owned_sparse()))
}

fn cmp(a: &SparseArg<'_>, b: &SparseArg<'_>) -> std::cmp::Ordering {
    ops::cmp_sparse((a.indices, a.values, a.dim), (b.indices, b.values, b.dim))
}

#[pg_extern(sql = false)]
fn sparsevec_cmp(a: SparseArg<'_>, b: SparseArg<'_>) -> i32 {
    cmp(&a, &b) as i32
}
#[pg_extern(sql = false)]
fn sparsevec_lt(a: SparseArg<'_>, b: SparseArg<'_>) -> bool {
    cmp(&a, &b).is_lt()
}
#[pg_extern(sql = false)]
fn sparsevec_le(a: SparseArg<'_>, b: SparseArg<'_>) -> bool {
    cmp(&a, &b).is_le()
}
#[pg_extern(sql = false)]
fn sparsevec_eq(a: SparseArg<'_>, b: SparseArg<'_>) -> bool {
    cmp(&a, &b).is_eq()
}
#[pg_extern(sql = false)]
fn sparsevec_ne(a: SparseArg<'_>, b: SparseArg<'_>) -> bool {
    cmp(&a, &b).is_ne()
}
#[pg_extern(sql = false)]
fn sparsevec_ge(a: SparseArg<'_>, b: SparseArg<'_>) -> bool {
    cmp(&a, &b).is_ge()
}
#[pg_extern(sql = false)]
fn sparsevec_gt(a: SparseArg<'_>, b: SparseArg<'_>) -> bool {
    cmp(&a, &b).is_gt()
}

/// `array_to_sparsevec(integer[] | real[] | double precision[] | numeric[], typmod, explicit)`
#[pg_extern(sql = false)]
fn array_to_sparsevec(arr: ArrayArg<'_>, typmod: i32, _explicit: bool) -> Sparsevec {
    let v = arrays::array_to_f32s(&arr);
    dense_to_sparse(&v, typmod)
}

/// Checked conversion of dense elements (already finite) to a sparsevec.
pub fn dense_to_sparse(v: &[f32], typmod: i32) -> Sparsevec {
    limits::check_dim(Kind::Sparsevec, v.len()).or_raise();
    for &x in v {
        limits::check_element(Kind::Sparsevec, x).or_raise();
    }
    let s = ops::to_sparse(v);
    if s.indices.len() > limits::SPARSEVEC_MAX_NNZ {
        raise(VecError {
            state: ruvec_vector::SqlState::ProgramLimitExceeded,
            message: format!(
                "sparsevec cannot have more than {} non-zero elements",
                limits::SPARSEVEC_MAX_NNZ
            ),
            detail: None,
            hint: None,
        });
    }
    finish(s, typmod)
}
