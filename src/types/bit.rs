//! Distance operators on PostgreSQL's `bit`: `<~>` Hamming and `<%>` Jaccard.

use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;
use ruvec_distance as dist;

use super::datum::BitArg;
use crate::error::raise_with;

fn same_len(a: &BitArg<'_>, b: &BitArg<'_>) {
    if a.bit_len != b.bit_len {
        raise_with(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("different bit lengths {} and {}", a.bit_len, b.bit_len),
            None,
            None,
        );
    }
}

#[pg_extern(sql = false)]
fn bit_hamming_distance(a: BitArg<'_>, b: BitArg<'_>) -> f64 {
    same_len(&a, &b);
    dist::hamming(a.bytes, b.bytes) as f64
}

#[pg_extern(sql = false)]
fn bit_jaccard_distance(a: BitArg<'_>, b: BitArg<'_>) -> f64 {
    same_len(&a, &b);
    dist::jaccard_distance(a.bytes, b.bytes)
}
