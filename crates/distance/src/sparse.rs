//! Sparse vector kernels: merge-join over 0-based, strictly increasing `u32`
//! indices with `f32` values, summed in `f32` in index order like pgvector's
//! `sparsevec.c`. Entries missing on one side count as zero there.
//!
//! Robustness: a side whose index and value slices differ in length uses the
//! shorter of the two; unsorted or duplicate indices give meaningless but
//! finite-time results and never panic.

#[inline]
fn trim<'a>(i: &'a [u32], v: &'a [f32]) -> (&'a [u32], &'a [f32]) {
    let n = i.len().min(v.len());
    (&i[..n], &v[..n])
}

/// Walks the union of the two index sets in order, calling `f(x, y)` with the
/// values at each index (0.0 where one side has no entry).
#[inline(always)]
fn merge_union(ai: &[u32], av: &[f32], bi: &[u32], bv: &[f32], mut f: impl FnMut(f32, f32)) {
    let (ai, av) = trim(ai, av);
    let (bi, bv) = trim(bi, bv);
    let (mut i, mut j) = (0, 0);
    while i < ai.len() && j < bi.len() {
        if ai[i] == bi[j] {
            f(av[i], bv[j]);
            i += 1;
            j += 1;
        } else if ai[i] < bi[j] {
            f(av[i], 0.0);
            i += 1;
        } else {
            f(0.0, bv[j]);
            j += 1;
        }
    }
    for &x in &av[i..] {
        f(x, 0.0);
    }
    for &y in &bv[j..] {
        f(0.0, y);
    }
}

/// Squared Euclidean distance of two sparse vectors.
pub fn l2_squared_sparse(ai: &[u32], av: &[f32], bi: &[u32], bv: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    merge_union(ai, av, bi, bv, |x, y| {
        let d = x - y;
        sum += d * d;
    });
    sum
}

/// Manhattan distance of two sparse vectors.
pub fn l1_sparse(ai: &[u32], av: &[f32], bi: &[u32], bv: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    merge_union(ai, av, bi, bv, |x, y| sum += (x - y).abs());
    sum
}

/// Inner product of two sparse vectors (only shared indices contribute).
pub fn dot_sparse(ai: &[u32], av: &[f32], bi: &[u32], bv: &[f32]) -> f32 {
    let (ai, av) = trim(ai, av);
    let (bi, bv) = trim(bi, bv);
    let (mut i, mut j) = (0, 0);
    let mut sum = 0.0f32;
    while i < ai.len() && j < bi.len() {
        match ai[i].cmp(&bi[j]) {
            core::cmp::Ordering::Equal => {
                sum += av[i] * bv[j];
                i += 1;
                j += 1;
            }
            core::cmp::Ordering::Less => i += 1,
            core::cmp::Ordering::Greater => j += 1,
        }
    }
    sum
}

/// Cosine distance of two sparse vectors with pgvector semantics: NaN when
/// either vector has zero norm (including no stored entries).
pub fn cosine_distance_sparse(ai: &[u32], av: &[f32], bi: &[u32], bv: &[f32]) -> f64 {
    let ab = dot_sparse(ai, av, bi, bv);
    let (_, av) = trim(ai, av);
    let (_, bv) = trim(bi, bv);
    let aa = av.iter().fold(0.0f32, |s, &x| s + x * x);
    let bb = bv.iter().fold(0.0f32, |s, &x| s + x * x);
    crate::cosine_from_parts(ab, aa, bb)
}
