//! Normalisation, binary quantisation and conversions between the types.

use half::f16;

use crate::error::{Result, VecError};
use crate::float_text::f32_to_string;
use crate::limits::Kind;
use crate::text::SparseVec;

fn l2_norm(v: impl Iterator<Item = f32>) -> f64 {
    v.map(|x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt()
}

/// `l2_normalize(vector)`: each element divided by the L2 norm (computed
/// in f64). A zero vector stays zero. Cannot overflow: |x| <= norm.
pub fn l2_normalize_f32(v: &[f32]) -> Vec<f32> {
    let norm = l2_norm(v.iter().copied());
    if norm > 0.0 {
        v.iter().map(|&x| (f64::from(x) / norm) as f32).collect()
    } else {
        vec![0.0; v.len()]
    }
}

/// `l2_normalize(halfvec)`. Error `22003` overflow (unreachable for valid
/// input, kept because pgvector checks it).
pub fn l2_normalize_f16(v: &[f16]) -> Result<Vec<f16>> {
    let norm = l2_norm(v.iter().map(|h| h.to_f32()));
    if norm > 0.0 {
        let r: Vec<f16> = v
            .iter()
            .map(|&h| f16::from_f32((f64::from(h.to_f32()) / norm) as f32))
            .collect();
        if r.iter().any(|h| h.is_infinite()) {
            return Err(VecError::overflow());
        }
        Ok(r)
    } else {
        Ok(vec![f16::ZERO; v.len()])
    }
}

/// `l2_normalize(sparsevec)`: entries that become zero are dropped.
pub fn l2_normalize_sparse(s: &SparseVec) -> SparseVec {
    let norm = l2_norm(s.values.iter().copied());
    if norm <= 0.0 {
        return s.clone();
    }
    let mut indices = Vec::with_capacity(s.indices.len());
    let mut values = Vec::with_capacity(s.values.len());
    for (&i, &x) in s.indices.iter().zip(&s.values) {
        let r = (f64::from(x) / norm) as f32;
        if r != 0.0 {
            indices.push(i);
            values.push(r);
        }
    }
    SparseVec {
        dim: s.dim,
        indices,
        values,
    }
}

fn quantize(n: usize, positive: impl Fn(usize) -> bool) -> Vec<u8> {
    let mut out = vec![0u8; n.div_ceil(8)];
    for i in 0..n {
        if positive(i) {
            out[i / 8] |= 0x80 >> (i % 8);
        }
    }
    out
}

/// `binary_quantize(vector)`: bit `i` is set iff `v[i] > 0`; bits packed
/// MSB-first as in PostgreSQL's `bit(n)` (`VARBITS`), `ceil(n/8)` bytes,
/// unused trailing bits zero. The bit length is `v.len()`.
pub fn binary_quantize_f32(v: &[f32]) -> Vec<u8> {
    quantize(v.len(), |i| v[i] > 0.0)
}

/// `binary_quantize(halfvec)`, see [`binary_quantize_f32`].
pub fn binary_quantize_f16(v: &[f16]) -> Vec<u8> {
    quantize(v.len(), |i| v[i].to_f32() > 0.0)
}

/// pgvector's `Float4ToHalf`: round to nearest (ties to even); a finite
/// value that rounds to infinity is `22003 "{x}" is out of range for type
/// {kind}` (pass `Kind::Halfvec` for pgvector's wording). Infinities and
/// NaN convert without error (callers reject them with `check_element`).
pub fn f32_to_f16_checked(kind: Kind, x: f32) -> Result<f16> {
    let h = f16::from_f32(x);
    if h.is_infinite() && !x.is_infinite() {
        return Err(VecError::out_of_range(kind, &f32_to_string(x)));
    }
    Ok(h)
}

/// Dense to sparse (`vector::sparsevec`): keeps the non-zero elements.
/// (pgvector's nnz limit cannot be exceeded by a valid dense value.)
pub fn to_sparse(dense: &[f32]) -> SparseVec {
    let mut indices = Vec::new();
    let mut values = Vec::new();
    for (i, &x) in dense.iter().enumerate() {
        if x != 0.0 {
            indices.push(i as u32);
            values.push(x);
        }
    }
    SparseVec {
        dim: dense.len() as u32,
        indices,
        values,
    }
}

/// Sparse to dense (`sparsevec::vector`). The caller checks the dense
/// type's dimension limit (`check_dim`) first; indices `>= dim` are ignored.
pub fn sparse_to_dense(s: &SparseVec) -> Vec<f32> {
    let mut out = vec![0.0f32; s.dim as usize];
    for (&i, &x) in s.indices.iter().zip(&s.values) {
        if let Some(slot) = out.get_mut(i as usize) {
            *slot = x;
        }
    }
    out
}
