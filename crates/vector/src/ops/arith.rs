//! `+`, `-`, `*`, `||` and `subvector` for `vector` and `halfvec`.

use half::f16;

use crate::error::{Result, VecError};
use crate::limits::{check_dim, check_dim_i64, Kind};

fn same_dims(kind: Kind, a: usize, b: usize) -> Result<()> {
    if a != b {
        return Err(VecError::dim_mismatch_kind(kind, a, b));
    }
    Ok(())
}

/// Element-wise f32 operation with pgvector's overflow check.
fn f32_op(a: &[f32], b: &[f32], op: impl Fn(f32, f32) -> f32) -> Result<Vec<f32>> {
    same_dims(Kind::Vector, a.len(), b.len())?;
    let r: Vec<f32> = a.iter().zip(b).map(|(&x, &y)| op(x, y)).collect();
    if r.iter().any(|x| x.is_infinite()) {
        return Err(VecError::overflow());
    }
    Ok(r)
}

/// `vector + vector`. Errors: `22000` different dimensions, `22003` overflow.
pub fn add_f32(a: &[f32], b: &[f32]) -> Result<Vec<f32>> {
    f32_op(a, b, |x, y| x + y)
}

/// `vector - vector`. Errors: `22000` different dimensions, `22003` overflow.
pub fn sub_f32(a: &[f32], b: &[f32]) -> Result<Vec<f32>> {
    f32_op(a, b, |x, y| x - y)
}

/// `vector * vector`. Errors: `22000` different dimensions, `22003`
/// overflow, or underflow when a product of non-zero elements is zero.
pub fn mul_f32(a: &[f32], b: &[f32]) -> Result<Vec<f32>> {
    same_dims(Kind::Vector, a.len(), b.len())?;
    let r: Vec<f32> = a.iter().zip(b).map(|(&x, &y)| x * y).collect();
    for ((&r, &x), &y) in r.iter().zip(a).zip(b) {
        if r.is_infinite() {
            return Err(VecError::overflow());
        }
        if r == 0.0 && !(x == 0.0 || y == 0.0) {
            return Err(VecError::underflow());
        }
    }
    Ok(r)
}

/// Element-wise half operation computed in f32 and rounded once (which is
/// exactly what native half arithmetic gives for +, -, *).
fn f16_op(a: &[f16], b: &[f16], op: impl Fn(f32, f32) -> f32) -> Result<Vec<f16>> {
    same_dims(Kind::Halfvec, a.len(), b.len())?;
    let r: Vec<f16> = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f16::from_f32(op(x.to_f32(), y.to_f32())))
        .collect();
    Ok(r)
}

fn check_f16_overflow(r: Vec<f16>) -> Result<Vec<f16>> {
    if r.iter().any(|x| x.is_infinite()) {
        return Err(VecError::overflow());
    }
    Ok(r)
}

/// `halfvec + halfvec`.
pub fn add_f16(a: &[f16], b: &[f16]) -> Result<Vec<f16>> {
    check_f16_overflow(f16_op(a, b, |x, y| x + y)?)
}

/// `halfvec - halfvec`.
pub fn sub_f16(a: &[f16], b: &[f16]) -> Result<Vec<f16>> {
    check_f16_overflow(f16_op(a, b, |x, y| x - y)?)
}

/// `halfvec * halfvec`, with overflow and underflow checks.
pub fn mul_f16(a: &[f16], b: &[f16]) -> Result<Vec<f16>> {
    let r = f16_op(a, b, |x, y| x * y)?;
    let zero = |h: f16| h.to_bits() & 0x7fff == 0;
    for ((&r, &x), &y) in r.iter().zip(a).zip(b) {
        if r.is_infinite() {
            return Err(VecError::overflow());
        }
        if zero(r) && !(zero(x) || zero(y)) {
            return Err(VecError::underflow());
        }
    }
    Ok(r)
}

/// `a || b`. Error: `54000` if the result exceeds the type's maximum.
pub fn concat<T: Copy>(kind: Kind, a: &[T], b: &[T]) -> Result<Vec<T>> {
    check_dim(kind, a.len() + b.len())?;
    let mut r = Vec::with_capacity(a.len() + b.len());
    r.extend_from_slice(a);
    r.extend_from_slice(b);
    Ok(r)
}

/// `subvector(v, start, count)`: 1-based `start`, clamped like `substring`.
/// An empty result is `22000 {kind} must have at least 1 dimension`.
pub fn subvector<T: Copy>(kind: Kind, v: &[T], start: i32, count: i32) -> Result<Vec<T>> {
    // i64 arithmetic; pgvector arranges its int32 arithmetic never to
    // overflow, so the results agree.
    let dim = v.len() as i64;
    let (start, count) = (i64::from(start), i64::from(count));
    if count < 1 {
        return Err(VecError::too_few_dims(kind));
    }
    let end = if start > dim - count {
        dim + 1
    } else {
        start + count
    };
    let start = if start < 1 {
        1
    } else if start > dim {
        return Err(VecError::too_few_dims(kind));
    } else {
        start
    };
    let n = end - start;
    check_dim_i64(kind, n)?;
    let from = (start - 1) as usize;
    Ok(v[from..from + n as usize].to_vec())
}
