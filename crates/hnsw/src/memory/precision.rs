//! Half-precision navigation for builds of `f32` graphs.
//!
//! A build spends most of its time reading vectors from memory (a 768-d `f32` vector is 48
//! cache lines, and the graph is far larger than the CPU caches), so a graph built over `f16`
//! copies of the vectors is built about 20% faster (at [`F16_NAVIGATION_DIMS`] dimensions
//! or more; the caller decides). The graph is only the *navigation*
//! structure: the index pages still store the exact vectors, and every search on the finished
//! index measures those. What changes is which near-equal neighbour the selection heuristic
//! keeps now and then, which the recall measurements do not distinguish (docs/benchmarks.md).
//!
//! `f16` has an 11-bit significand and a range of 2^-14 .. 65504, so the rows are first
//! multiplied by a power of two (exact, and it scales every L2, inner-product and L1 distance
//! by the same factor, so no ranking changes; cosine normalises anyway) that puts the largest
//! component at 2^13..2^14. When the rows' magnitudes differ so much that the smallest nonzero
//! row would then fall below 1 (2^13 times smaller than the largest), its components would
//! lose relative precision, and the build keeps `f32`.

/// Fewest dimensions for which a build navigates on `f16` copies. The rounding error of a
/// component is relative to the component, not to the (much smaller) distance between close
/// neighbours, and it averages out over many dimensions only. Measured: recall@10 per
/// `ef_search` identical with and without it on nfcorpus-minilm (384-d) and bge-m3 (1024-d),
/// unchanged on a 200k × 768 set with a 20% faster build; on a 1M × 128 set the build was 5%
/// faster and recall at small `ef_search` about 0.01 lower (less than pgvector's recall on that
/// set varies between its own builds, but not worth the risk for 5%).
pub const F16_NAVIGATION_DIMS: usize = 256;

/// The power of two to multiply `rows` (`dim` values each, finite) by before building an
/// `f16` graph over them, or `None` when `f16` would lose precision (see the module docs) or
/// there is nothing to scale.
pub fn f16_navigation_scale(rows: &[f32], dim: usize) -> Option<f32> {
    if dim == 0 || rows.is_empty() {
        return None;
    }
    let mut largest = 0.0f32;
    let mut smallest = f32::INFINITY;
    for row in rows.chunks_exact(dim) {
        let top = row.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        if top > 0.0 {
            largest = largest.max(top);
            smallest = smallest.min(top);
        }
    }
    if largest == 0.0 || !largest.is_finite() {
        return None;
    }
    // largest = f * 2^e with f in [0.5, 1): scaling by 2^(14 - e) puts it in [2^13, 2^14).
    let e = largest.log2().floor() as i32 + 1;
    let scale = 2f32.powi(14 - e);
    if !scale.is_finite() || scale == 0.0 || smallest * scale < 1.0 {
        return None;
    }
    Some(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_puts_the_largest_component_below_2_to_14() {
        for &top in &[1e-6f32, 0.3, 1.0, 255.0, 4096.0, 1e9] {
            let rows = [top, -top / 2.0, 0.0, top / 3.0];
            let s = f16_navigation_scale(&rows, 2).unwrap();
            let scaled = top * s;
            assert!((8192.0..16384.0).contains(&scaled), "{top}: {scaled}");
            assert_eq!(s.log2().fract(), 0.0, "a power of two");
        }
    }

    #[test]
    fn rows_of_very_different_magnitude_keep_f32() {
        // The second row would be 2^-14 of the first: below 1 after scaling.
        let rows = [1.0f32, 0.0, 1.0 / 16384.0, 0.0];
        assert_eq!(f16_navigation_scale(&rows, 2), None);
        // 2^-12 of it is still fine.
        let rows = [1.0f32, 0.0, 1.0 / 4096.0, 0.0];
        assert!(f16_navigation_scale(&rows, 2).is_some());
    }

    #[test]
    fn zero_rows_are_ignored_and_all_zero_gives_none() {
        let rows = [0.0f32, 0.0, 3.0, 4.0];
        assert!(f16_navigation_scale(&rows, 2).is_some());
        assert_eq!(f16_navigation_scale(&[0.0; 4], 2), None);
        assert_eq!(f16_navigation_scale(&[], 2), None);
    }

    #[test]
    fn scaled_values_are_exact_in_f32_and_fit_f16() {
        let rows: Vec<f32> = (0..512).map(|i| (i as f32 - 256.0) * 0.37).collect();
        let s = f16_navigation_scale(&rows, 128).unwrap();
        for &x in &rows {
            let y = x * s;
            assert_eq!(y / s, x, "power-of-two scaling is exact");
            assert!(half::f16::from_f32(y).is_finite());
        }
    }
}
