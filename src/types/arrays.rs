//! Array plumbing shared by the types: typmod lists, casts from numeric arrays, float8[] state.

use pgrx::{pg_sys, PgSqlErrorCode};
use ruvec_vector::limits::{self, Kind};

use super::datum::ArrayArg;
use crate::error::{raise_with, OrRaise};

/// `TYPMOD_IN`: the single integer modifier of `vector(n)` / `halfvec(n)` / `sparsevec(n)`.
pub fn typmod_in(kind: Kind, list: &ArrayArg<'_>) -> i32 {
    let mut n: core::ffi::c_int = 0;
    // SAFETY: `list` is a detoasted cstring[]; ArrayGetIntegerTypmods parses each element with
    // the standard "invalid type modifier" errors and returns a palloc'd int32 array of `n`.
    let mods = unsafe {
        let p = pg_sys::ArrayGetIntegerTypmods(list.as_ptr(), &mut n);
        if n <= 0 || p.is_null() {
            Vec::new()
        } else {
            core::slice::from_raw_parts(p, n as usize).to_vec()
        }
    };
    limits::typmod_in(kind, &mods).or_raise()
}

/// The elements of an `integer[]`, `real[]`, `double precision[]` or `numeric[]` as f32, with
/// pgvector's checks: 1-D, no NULLs. Element checks (NaN/inf) and dimension checks are the
/// caller's, because sparsevec allows zero-length-free inputs differently.
pub fn array_to_f32s(arr: &ArrayArg<'_>) -> Vec<f32> {
    if arr.ndim() > 1 {
        raise_with(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            "array must be 1-D".into(),
            None,
            None,
        );
    }
    if arr.has_nulls() {
        raise_with(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "array must not contain nulls".into(),
            None,
            None,
        );
    }
    let elem = arr.elem_type();
    let datums = arr.datums();
    match elem {
        pg_sys::INT4OID => datums.iter().map(|d| d.value() as i32 as f32).collect(),
        pg_sys::FLOAT8OID => {
            // SAFETY: float8 is pass-by-value on 64-bit builds; the datum holds the bits.
            datums
                .iter()
                .map(|d| f64::from_bits(d.value() as u64) as f32)
                .collect()
        }
        pg_sys::FLOAT4OID => datums
            .iter()
            .map(|d| f32::from_bits(d.value() as u32))
            .collect(),
        pg_sys::NUMERICOID => datums
            .iter()
            .map(|d| {
                // SAFETY: numeric_float4 is a plain V1 function over a numeric datum; it raises
                // 22003 itself when the value does not fit a real.
                unsafe {
                    pgrx::direct_function_call::<f32>(pg_sys::numeric_float4, &[Some(*d)])
                        .unwrap_or(0.0)
                }
            })
            .collect(),
        _ => raise_with(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            "unsupported array type".into(),
            Some("Supported element types are integer, real, double precision and numeric.".into()),
            None,
        ),
    }
}

/// Checked dense elements from an array: the shared body of `array_to_vector` and
/// `array_to_halfvec`.
pub fn array_to_dense_f32(kind: Kind, arr: &ArrayArg<'_>, typmod: i32) -> Vec<f32> {
    let v = array_to_f32s(arr);
    limits::check_dim(kind, v.len()).or_raise();
    limits::check_typmod(typmod, v.len()).or_raise();
    for &x in &v {
        limits::check_element(kind, x).or_raise();
    }
    v
}

/// An aggregate transition state (`double precision[]`, no NULLs by construction).
pub fn float8_state(arr: &ArrayArg<'_>) -> Vec<f64> {
    if arr.elem_type() != pg_sys::FLOAT8OID || arr.ndim() > 1 || arr.has_nulls() {
        raise_with(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            "invalid aggregate state: expected a 1-D double precision[] without NULLs".into(),
            None,
            None,
        );
    }
    arr.datums()
        .iter()
        .map(|d| f64::from_bits(d.value() as u64))
        .collect()
}
