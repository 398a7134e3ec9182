//! `avg`/`sum` aggregate state: a float8 array `{n, s1, ..., sd}`.
//!
//! pgvector's aggregates start from `INITCOND = '{0}'` (n = 0, no sums);
//! here an empty slice is accepted as that initial state too. (pgvector
//! rejects `'{}'` with "`<fn>`: expected state array"; the glue must raise
//! that itself, along with the multi-dimensional / NULL-containing cases,
//! before calling these functions.)

use half::f16;

use crate::error::{Result, VecError};
use crate::limits::{check_dim, check_element, Kind};
use crate::ops::convert::f32_to_f16_checked;

fn split(state: &[f64]) -> (f64, &[f64]) {
    match state.split_first() {
        Some((&n, sums)) => (n, sums),
        None => (0.0, &[]),
    }
}

/// `vector_accum` / `halfvec_accum` (pass halves widened to f32).
///
/// A state without sums takes its dimensions from `v`; otherwise the
/// dimensions must match (`22000 expected {d} dimensions, not {n}`), and a
/// sum reaching infinity is `22003 value out of range: overflow`. On error
/// `state` is left unchanged.
pub fn accum(state: &mut Vec<f64>, v: &[f32]) -> Result<()> {
    let (n, sums) = split(state);
    if sums.is_empty() {
        let mut s = Vec::with_capacity(v.len() + 1);
        s.push(n + 1.0);
        s.extend(v.iter().map(|&x| f64::from(x)));
        *state = s;
        return Ok(());
    }
    if sums.len() != v.len() {
        return Err(VecError::expected_dims(sums.len() as i32, v.len()));
    }
    if sums
        .iter()
        .zip(v)
        .any(|(&s, &x)| (s + f64::from(x)).is_infinite())
    {
        return Err(VecError::overflow());
    }
    state[0] = n + 1.0;
    for (s, &x) in state[1..].iter_mut().zip(v) {
        *s += f64::from(x);
    }
    Ok(())
}

/// `vector_combine` (also pgvector's `halfvec_combine`): merges `b` into `a`.
///
/// Errors: `54000`/`22000` from the dimension check (worded for `vector`,
/// as in pgvector), `22000 expected {d1} dimensions, not {d2}`, `22003`
/// overflow. On error `a` is left unchanged.
pub fn combine(a: &mut Vec<f64>, b: &[f64]) -> Result<()> {
    let (n1, s1) = split(a);
    let (n2, s2) = split(b);
    let n = n1 + n2;
    let merged = match (s1.is_empty(), s2.is_empty()) {
        (true, true) => vec![n],
        (true, false) => {
            check_dim(Kind::Vector, s2.len())?;
            let mut m = Vec::with_capacity(s2.len() + 1);
            m.push(n);
            m.extend_from_slice(s2);
            m
        }
        (false, true) => {
            check_dim(Kind::Vector, s1.len())?;
            let mut m = a.clone();
            m[0] = n;
            m
        }
        (false, false) => {
            check_dim(Kind::Vector, s1.len())?;
            if s1.len() != s2.len() {
                return Err(VecError::expected_dims(s1.len() as i32, s2.len()));
            }
            let mut m = Vec::with_capacity(s1.len() + 1);
            m.push(n);
            for (&x, &y) in s1.iter().zip(s2) {
                let v = x + y;
                if v.is_infinite() {
                    return Err(VecError::overflow());
                }
                m.push(v);
            }
            m
        }
    };
    *a = merged;
    Ok(())
}

/// `vector_avg`: `None` when n = 0; otherwise each sum / n as f32.
///
/// Errors (as pgvector): `22000 vector must have at least 1 dimension` for
/// a state with a count but no sums, `54000` above the maximum, and
/// `22000 infinite value not allowed in vector` if a mean overflows f32.
pub fn avg_from_state(state: &[f64]) -> Result<Option<Vec<f32>>> {
    avg_from_state_kind(Kind::Vector, state)
}

/// [`avg_from_state`] with the dimension and element checks worded for `kind`.
pub fn avg_from_state_kind(kind: Kind, state: &[f64]) -> Result<Option<Vec<f32>>> {
    let (n, sums) = split(state);
    if n == 0.0 {
        return Ok(None);
    }
    check_dim(kind, sums.len())?;
    let mut out = Vec::with_capacity(sums.len());
    for &s in sums {
        let x = (s / n) as f32;
        check_element(kind, x)?;
        out.push(x);
    }
    Ok(Some(out))
}

/// `halfvec_avg`: like [`avg_from_state`], each mean rounded to half with
/// pgvector's `Float4ToHalf` range check (`22003 "{x}" is out of range for
/// type halfvec`).
pub fn avg_from_state_f16(state: &[f64]) -> Result<Option<Vec<f16>>> {
    let (n, sums) = split(state);
    if n == 0.0 {
        return Ok(None);
    }
    check_dim(Kind::Halfvec, sums.len())?;
    let mut out = Vec::with_capacity(sums.len());
    for &s in sums {
        let h = f32_to_f16_checked(Kind::Halfvec, (s / n) as f32)?;
        check_element(Kind::Halfvec, h.to_f32())?;
        out.push(h);
    }
    Ok(Some(out))
}

/// Sum from an accumulation state: `None` when n = 0; a sum outside the
/// f32 range is `22003 value out of range: overflow`.
///
/// Note: pgvector's `sum(vector)` / `sum(halfvec)` aggregates use
/// `vector_add` / `halfvec_add` as the transition function (state is the
/// running vector, rounded to f32/f16 at every step), not this state; use
/// [`crate::ops::add_f32`] / [`crate::ops::add_f16`] for bit-identical sums.
pub fn sum_from_state(state: &[f64]) -> Result<Option<Vec<f32>>> {
    let (n, sums) = split(state);
    if n == 0.0 {
        return Ok(None);
    }
    check_dim(Kind::Vector, sums.len())?;
    let mut out = Vec::with_capacity(sums.len());
    for &s in sums {
        let x = s as f32;
        if x.is_infinite() {
            return Err(VecError::overflow());
        }
        out.push(x);
    }
    Ok(Some(out))
}
