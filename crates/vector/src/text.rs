//! pgvector's text formats: `[1,2,3]` for `vector`/`halfvec` and
//! `{1:1.5,3:2}/5` for `sparsevec`.
//!
//! The parsers follow pgvector's `vector_in`, `halfvec_in` and
//! `sparsevec_in` step by step, so that the same inputs are accepted, the
//! same values produced (numbers are read with C `strtof` semantics,
//! including hexadecimal floats and `inf`/`nan` spellings, which are then
//! rejected) and the same error is reported first.
//!
//! Input is treated as a C string: anything from the first NUL byte on is
//! ignored, as it would be in PostgreSQL.
//!
//! Whitespace is the C `isspace` set (space, `\t`, `\n`, `\r`, `\v`, `\f`),
//! which is what pgvector uses on PostgreSQL 13 to 16. (On PostgreSQL 17+
//! pgvector uses `scanner_isspace`, which does not include `\v`.)

use half::f16;

use crate::cparse::{is_c_space, strtof, strtol, FloatScan};
use crate::error::{Result, SqlState, VecError};
use crate::float_text::write_f32;
use crate::limits::{check_dim, check_dim_i64, check_element, too_many_nnz, Kind};

/// A sparse vector value.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseVec {
    /// Number of dimensions, 1 ..= 1,000,000,000.
    pub dim: u32,
    /// 0-based indices of the stored elements, strictly increasing, `< dim`.
    pub indices: Vec<u32>,
    /// Stored values: finite and non-zero, same length as `indices`.
    pub values: Vec<f32>,
}

/// The part of `s` before the first NUL, as a C function would see it.
fn c_str(s: &str) -> &str {
    match s.find('\0') {
        Some(i) => &s[..i],
        None => s,
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    i
}

/// Shared loop of `vector_in` / `halfvec_in`; `elem` converts one scanned
/// number (and its source text, for range errors) to an element.
fn parse_dense<T>(
    s: &str,
    kind: Kind,
    mut elem: impl FnMut(FloatScan, &str) -> Result<T>,
) -> Result<Vec<T>> {
    let lit = c_str(s);
    let b = lit.as_bytes();
    let syntax = || VecError::syntax(kind, lit);
    let max = kind.max_dim() as usize;

    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return Err(syntax().with_detail("Vector contents must start with \"[\"."));
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b']') {
        return Err(VecError::too_few_dims(kind));
    }

    let mut out = Vec::new();
    loop {
        // pgvector checks the limit before reading each further element.
        if out.len() == max {
            check_dim(kind, max + 1)?;
        }
        i = skip_ws(b, i);
        if i == b.len() {
            return Err(syntax());
        }
        let scan = strtof(&b[i..]).ok_or_else(syntax)?;
        // The consumed bytes are all ASCII, so this slice is on char boundaries.
        let token = &lit[i..i + scan.len];
        out.push(elem(scan, token)?);
        i = skip_ws(b, i + scan.len);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b']') => {
                i += 1;
                break;
            }
            _ => return Err(syntax()),
        }
    }

    i = skip_ws(b, i);
    if i != b.len() {
        return Err(syntax().with_detail("Junk after closing right brace."));
    }
    check_dim(kind, out.len())?;
    Ok(out)
}

/// NaN or infinity written in a literal makes the literal malformed: SQLSTATE 22P02
/// (DESIGN.md §4), where the same value from an array or binary input is 22023.
fn literal_element(kind: Kind, x: f32) -> Result<()> {
    check_element(kind, x).map_err(|mut e| {
        e.state = SqlState::InvalidTextRepresentation;
        e
    })
}

/// Parse `vector` text, e.g. `"[1,2.5,-3e-05]"` (pgvector `vector_in`).
///
/// The type modifier is not checked here; see [`crate::limits::check_typmod`].
pub fn parse_vector(s: &str) -> Result<Vec<f32>> {
    parse_dense(s, Kind::Vector, |scan, token| {
        if scan.erange && scan.value.is_infinite() {
            return Err(VecError::out_of_range(Kind::Vector, token));
        }
        literal_element(Kind::Vector, scan.value)?;
        Ok(scan.value)
    })
}

/// Parse `halfvec` text (pgvector `halfvec_in`): numbers are read as
/// `float4` and rounded to half precision (nearest, ties to even).
pub fn parse_halfvec(s: &str) -> Result<Vec<f16>> {
    parse_dense(s, Kind::Halfvec, |scan, token| {
        let val = scan.value;
        let h = f16::from_f32(val);
        if (scan.erange && val.is_infinite()) || (h.is_infinite() && !val.is_infinite()) {
            return Err(VecError::out_of_range(Kind::Halfvec, token));
        }
        literal_element(Kind::Halfvec, h.to_f32())?;
        Ok(h)
    })
}

/// Format a `vector` as pgvector's `vector_out` does: `[1,2.5,-3e-05]`.
pub fn format_vector(v: &[f32]) -> String {
    let mut out = String::with_capacity(2 + v.len() * 10);
    out.push('[');
    for (i, &x) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_f32(&mut out, x);
    }
    out.push(']');
    out
}

/// Format a `halfvec`: each element printed as the `float4` of its value.
pub fn format_halfvec(v: &[f16]) -> String {
    let mut out = String::with_capacity(2 + v.len() * 8);
    out.push('[');
    for (i, &x) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_f32(&mut out, x.to_f32());
    }
    out.push(']');
    out
}

/// Parse `sparsevec` text, e.g. `"{1:1.5,3:2}/5"` (pgvector `sparsevec_in`).
///
/// Indices are 1-based in text and 0-based in the result. Entries are sorted
/// by index; zero values are dropped (before duplicate/bounds checks, as in
/// pgvector); duplicates and out-of-range indices among the non-zero
/// entries are errors.
pub fn parse_sparsevec(s: &str) -> Result<SparseVec> {
    let kind = Kind::Sparsevec;
    let lit = c_str(s);
    let b = lit.as_bytes();
    let syntax = || VecError::syntax(kind, lit);

    // pgvector sizes its buffer from the comma count before parsing.
    let max_nnz = 1 + b.iter().filter(|&&c| c == b',').count();
    if max_nnz > crate::limits::SPARSEVEC_MAX_NNZ {
        return Err(too_many_nnz());
    }

    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return Err(syntax().with_detail("Vector contents must start with \"{\"."));
    }
    i = skip_ws(b, i + 1);

    let mut elements: Vec<(i32, f32)> = Vec::new();
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            i = skip_ws(b, i);
            if i == b.len() {
                return Err(syntax());
            }
            let (index, n) = strtol(&b[i..]);
            if n == 0 {
                return Err(syntax());
            }
            // Keep in int range, as pgvector does, for the bounds error later.
            let index = index.clamp(i64::from(i32::MIN) + 1, i64::from(i32::MAX)) as i32;
            i = skip_ws(b, i + n);
            if b.get(i) != Some(&b':') {
                return Err(syntax());
            }
            i = skip_ws(b, i + 1);
            let scan = strtof(&b[i..]).ok_or_else(syntax)?;
            let value = scan.value;
            if scan.erange && (value == 0.0 || value.is_infinite()) {
                return Err(VecError::out_of_range(kind, &lit[i..i + scan.len]));
            }
            literal_element(kind, value)?;
            if value != 0.0 {
                elements.push((index - 1, value));
            }
            i = skip_ws(b, i + scan.len);
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return Err(syntax()),
            }
        }
    }

    i = skip_ws(b, i);
    if b.get(i) != Some(&b'/') {
        return Err(syntax().with_detail("Unexpected end of input."));
    }
    i = skip_ws(b, i + 1);
    let (ldim, n) = strtol(&b[i..]);
    if n == 0 {
        return Err(syntax());
    }
    let dim = ldim.clamp(i64::from(i32::MIN), i64::from(i32::MAX));
    i = skip_ws(b, i + n);
    if i != b.len() {
        return Err(syntax().with_detail("Junk after closing."));
    }
    check_dim_i64(kind, dim)?;

    elements.sort_by_key(|e| e.0);
    let mut indices = Vec::with_capacity(elements.len());
    let mut values = Vec::with_capacity(elements.len());
    for (k, &(index, value)) in elements.iter().enumerate() {
        check_index(index, k.checked_sub(1).map(|p| elements[p].0), dim)?;
        indices.push(index as u32);
        values.push(value);
    }
    Ok(SparseVec {
        dim: dim as u32,
        indices,
        values,
    })
}

/// pgvector's sparsevec `CheckIndex` for the element at some position,
/// given the previous element's index (if any).
pub(crate) fn check_index(index: i32, prev: Option<i32>, dim: i64) -> Result<()> {
    if index < 0 || i64::from(index) >= dim {
        return Err(VecError::new(
            SqlState::DataException,
            "sparsevec index out of bounds",
        ));
    }
    if let Some(prev) = prev {
        if index < prev {
            return Err(VecError::new(
                SqlState::DataException,
                "sparsevec indices must be in ascending order",
            ));
        }
        if index == prev {
            return Err(VecError::new(
                SqlState::DataException,
                "sparsevec indices must not contain duplicates",
            ));
        }
    }
    Ok(())
}

/// Format a `sparsevec` as pgvector's `sparsevec_out`: `{1:1.5,3:2}/5`
/// (indices are given 0-based and printed 1-based).
pub fn format_sparsevec(dim: u32, indices: &[u32], values: &[f32]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(8 + indices.len() * 16);
    out.push('{');
    for (k, (&idx, &val)) in indices.iter().zip(values).enumerate() {
        if k > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}:", i64::from(idx) + 1);
        write_f32(&mut out, val);
    }
    let _ = write!(out, "}}/{dim}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_string_semantics() {
        assert_eq!(parse_vector("[1]\0garbage").unwrap(), vec![1.0]);
        let e = parse_vector("[1\0]").unwrap_err();
        assert_eq!(e.message, "invalid input syntax for type vector: \"[1\"");
    }
}
