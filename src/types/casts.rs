//! Casts between `vector`, `halfvec` and `sparsevec` (pgvector's cast matrix and contexts are
//! declared in sql/install/casts.sql).

use half::f16;
use pgrx::prelude::*;
use ruvec_vector::limits::{self, Kind};
use ruvec_vector::ops;

use super::datum::{Dense, DenseOut, SparseArg, Sparsevec};
use super::sparsevec::dense_to_sparse;
use crate::error::OrRaise;

#[pg_extern(sql = false)]
fn halfvec_to_vector(v: Dense<'_, f16>, typmod: i32, _explicit: bool) -> DenseOut<f32> {
    limits::check_typmod(typmod, v.dim()).or_raise();
    let xs: Vec<f32> = v.as_slice().iter().map(|&x| f32::from(x)).collect();
    DenseOut::from_slice(&xs)
}

#[pg_extern(sql = false)]
fn vector_to_halfvec(v: Dense<'_, f32>, typmod: i32, _explicit: bool) -> DenseOut<f16> {
    limits::check_typmod(typmod, v.dim()).or_raise();
    let xs: Vec<f16> = v
        .as_slice()
        .iter()
        .map(|&x| ops::f32_to_f16_checked(Kind::Halfvec, x).or_raise())
        .collect();
    DenseOut::from_slice(&xs)
}

#[pg_extern(sql = false)]
fn vector_to_sparsevec(v: Dense<'_, f32>, typmod: i32, _explicit: bool) -> Sparsevec {
    dense_to_sparse(v.as_slice(), typmod)
}

#[pg_extern(sql = false)]
fn halfvec_to_sparsevec(v: Dense<'_, f16>, typmod: i32, _explicit: bool) -> Sparsevec {
    let xs: Vec<f32> = v.as_slice().iter().map(|&x| f32::from(x)).collect();
    dense_to_sparse(&xs, typmod)
}

fn sparse_to_dense_checked(kind: Kind, v: &SparseArg<'_>, typmod: i32) -> Vec<f32> {
    limits::check_dim(kind, v.dim as usize).or_raise();
    limits::check_typmod(typmod, v.dim as usize).or_raise();
    ops::sparse_to_dense(&v.to_owned_sparse())
}

#[pg_extern(sql = false)]
fn sparsevec_to_vector(v: SparseArg<'_>, typmod: i32, _explicit: bool) -> DenseOut<f32> {
    DenseOut::from_slice(&sparse_to_dense_checked(Kind::Vector, &v, typmod))
}

#[pg_extern(sql = false)]
fn sparsevec_to_halfvec(v: SparseArg<'_>, typmod: i32, _explicit: bool) -> DenseOut<f16> {
    let xs: Vec<f16> = sparse_to_dense_checked(Kind::Halfvec, &v, typmod)
        .into_iter()
        .map(|x| ops::f32_to_f16_checked(Kind::Halfvec, x).or_raise())
        .collect();
    DenseOut::from_slice(&xs)
}
