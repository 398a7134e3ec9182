//! btree comparison functions (`vector_cmp`, `halfvec_cmp`, `sparsevec_cmp`).

use std::cmp::Ordering;

use half::f16;

/// Element-wise, then by dimension (shorter first) like PostgreSQL arrays.
fn cmp_dense<T: Copy>(a: &[T], b: &[T], val: impl Fn(T) -> f32) -> Ordering {
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (val(x), val(y));
        if x < y {
            return Ordering::Less;
        }
        if x > y {
            return Ordering::Greater;
        }
    }
    a.len().cmp(&b.len())
}

/// `vector_cmp`.
pub fn cmp_f32(a: &[f32], b: &[f32]) -> Ordering {
    cmp_dense(a, b, |x| x)
}

/// `halfvec_cmp` (compares the float4 values of the halves).
pub fn cmp_f16(a: &[f16], b: &[f16]) -> Ordering {
    cmp_dense(a, b, |x| x.to_f32())
}

/// `sparsevec_cmp`, arguments `(indices, values, dim)`.
///
/// Orders like the dense comparison of the two vectors over their common
/// dimensions (a missing entry is an implicit zero), then by dimension.
pub fn cmp_sparse(a: (&[u32], &[f32], u32), b: (&[u32], &[f32], u32)) -> Ordering {
    let (ai, ax, adim) = a;
    let (bi, bx, bdim) = b;
    let (anz, bnz) = (ai.len().min(ax.len()), bi.len().min(bx.len()));
    let nnz = anz.min(bnz);
    let sign = |x: f32, neg: Ordering| {
        if x < 0.0 {
            neg
        } else {
            neg.reverse()
        }
    };
    for i in 0..nnz {
        if ai[i] < bi[i] {
            // a has a non-zero where b has an implicit zero.
            return sign(ax[i], Ordering::Less);
        }
        if ai[i] > bi[i] {
            return sign(bx[i], Ordering::Greater);
        }
        if ax[i] < bx[i] {
            return Ordering::Less;
        }
        if ax[i] > bx[i] {
            return Ordering::Greater;
        }
    }
    if anz < bnz && bi[nnz] < adim {
        return sign(bx[nnz], Ordering::Greater);
    }
    if anz > bnz && ai[nnz] < bdim {
        return sign(ax[nnz], Ordering::Less);
    }
    adim.cmp(&bdim)
}
