//! Turning column values (and ORDER BY arguments) into the bytes and queries the graph uses.

use half::f16;
use pgrx::{pg_sys, PgSqlErrorCode};
use ruvec_vector::VecError;

use super::codec::Query;
use super::format::{ElemKind, Metric};
use crate::error::{raise, raise_with};
use crate::types::datum::{BitArg, Dense};

/// The vector of a datum of the index's type, as stored bytes, after checking its dimensions.
/// None when the value cannot be indexed: the zero vector under cosine distance (its distance
/// to everything is NaN), or all-zero bits under Jaccard.
///
/// # Safety
/// `datum` must be a non-null value of the type matching `kind`.
pub unsafe fn storage_bytes(
    kind: ElemKind,
    metric: Metric,
    dims: usize,
    datum: pg_sys::Datum,
) -> Option<Vec<u8>> {
    // SAFETY: forwarded.
    unsafe { with_storage_bytes(kind, metric, dims, datum, <[u8]>::to_vec) }
}

/// [`storage_bytes`] lent to `f` instead of copied: the rerank reads each row's value where
/// the row holds it, with no allocation and copy per re-scored row.
///
/// # Safety
/// As for [`storage_bytes`].
pub unsafe fn with_storage_bytes<R>(
    kind: ElemKind,
    metric: Metric,
    dims: usize,
    datum: pg_sys::Datum,
    f: impl FnOnce(&[u8]) -> R,
) -> Option<R> {
    // SAFETY: forwarded.
    unsafe {
        match kind {
            ElemKind::F32 => {
                let v = Dense::<f32>::from_datum_unchecked(datum);
                check_dims(dims, v.dim());
                let s = v.as_slice();
                if metric == Metric::Cosine && s.iter().all(|&x| x == 0.0) {
                    return None;
                }
                Some(f(bytemuck::cast_slice(s)))
            }
            ElemKind::F16 => {
                let v = Dense::<f16>::from_datum_unchecked(datum);
                check_dims(dims, v.dim());
                let s = v.as_slice();
                if metric == Metric::Cosine && s.iter().all(|x| x.to_f32() == 0.0) {
                    return None;
                }
                Some(f(bytemuck::cast_slice(s)))
            }
            ElemKind::Bit => {
                let b = BitArg::from_datum_unchecked(datum);
                if b.bit_len != dims {
                    raise_with(
                        PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                        format!("expected {} bits, not {}", dims, b.bit_len),
                        None,
                        None,
                    );
                }
                Some(f(b.bytes))
            }
        }
    }
}

/// The query of an `ORDER BY col <op> $1` argument.
///
/// # Safety
/// `datum` must be a non-null value of the type matching `kind`.
pub unsafe fn query(kind: ElemKind, dims: usize, datum: pg_sys::Datum) -> Query {
    // SAFETY: forwarded.
    unsafe {
        match kind {
            ElemKind::F32 => {
                let v = Dense::<f32>::from_datum_unchecked(datum);
                check_dims(dims, v.dim());
                Query::F32(ruvec_distance::AlignedF32::from_slice(v.as_slice()))
            }
            ElemKind::F16 => {
                let v = Dense::<f16>::from_datum_unchecked(datum);
                check_dims(dims, v.dim());
                Query::F16(v.as_slice().to_vec())
            }
            ElemKind::Bit => {
                let b = BitArg::from_datum_unchecked(datum);
                if b.bit_len != dims {
                    raise_with(
                        PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                        format!("different bit lengths {} and {}", dims, b.bit_len),
                        None,
                        None,
                    );
                }
                Query::Bit(b.bytes.to_vec())
            }
        }
    }
}

fn check_dims(index_dims: usize, got: usize) {
    if index_dims != got {
        raise(VecError::expected_dims(index_dims as i32, got));
    }
}
